"""Auth as objects: what a hook builds once from its connection and hands to the client.

An :class:`Auth` answers three questions the client's attempt loop asks, in the spirit of
``requests.auth.AuthBase`` (sign a request) and ``httpx.Auth`` (a sans-IO flow of requests):

* :meth:`Auth.sign` - the request with its credentials, for every attempt (so a retry after a
  long wait carries a fresh signature or token);
* :meth:`Auth.refresh_flow` - None when the credentials are ready, else a generator that yields
  the :class:`~airflow_provider_contacts.http.plan.Call` objects the auth needs answered first
  (an OAuth token request) and receives each response. The client runs each of them through its
  own attempt loop (retries, redirect rules, error mapping; never signed), one refresh at a time;
* :meth:`Auth.renew` - on a 401 of a signed request: True when the credentials were dropped and
  the request should be repeated once with fresh ones.

Derived secrets (Basic tokens, header values, access tokens) are registered with Airflow's
masker when they are made.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Collection, Generator, Mapping
from dataclasses import replace
from typing import Any

from airflow_provider_contacts.exceptions import AuthenticationError, ContactsHTTPError
from airflow_provider_contacts.http.errors import ResponseLike, safe_json
from airflow_provider_contacts.http.logging import register_secret
from airflow_provider_contacts.http.plan import Call

#: what :meth:`Auth.refresh_flow` returns: yields calls, receives their responses
AuthFlow = Generator[Call, ResponseLike, None]


class Auth:
    """No credentials (the base of every auth object)."""

    def headers(self) -> Mapping[str, str]:
        """The headers that authenticate a request now."""
        return {}

    def sign(self, call: Call) -> Call:
        headers = self.headers()
        return replace(call, headers={**call.headers, **headers}) if headers else call

    def refresh_flow(self) -> AuthFlow | None:
        return None

    def renew(self, err: ContactsHTTPError) -> bool:
        return False


class HeaderAuth(Auth):
    """Fixed headers, e.g. an API key in ``X-Api-Key``; the values are masked."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        for value in headers.values():
            register_secret(value)
        self._headers = dict(headers)

    def headers(self) -> Mapping[str, str]:
        return self._headers


class BasicAuth(HeaderAuth):
    """``Authorization: Basic base64(username:password)`` (Mautic users, EngageLab
    ``api_key:api_secret``, Which50 in basic mode); the token and the header are masked."""

    def __init__(self, username: str, password: str) -> None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        register_secret(token)
        super().__init__({"Authorization": f"Basic {token}"})


class OAuth2ClientCredentials(Auth):
    """OAuth2 client-credentials grant (RFC 6749 §4.4) with a cached bearer token.

    The token is fetched on first use and again shortly before the ``expires_in`` the server
    gave (:attr:`refresh_margin`, at most a tenth of the lifetime, for servers configured with
    very short lifetimes), and once more when a request is answered 401 with one of
    ``renew_codes`` (a token expired or revoked early)."""

    refresh_margin = 60.0

    def __init__(
        self,
        token_path: str,
        client_id: str,
        client_secret: str,
        *,
        renew_codes: Collection[str] = ("invalid_token",),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        register_secret(client_secret)
        self.token_path = token_path
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        self.renew_codes = frozenset(renew_codes)
        self._clock = clock
        self.token: str | None = None
        self.expires_at = 0.0  # on ``clock``
        self.token_requests = 0

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def valid(self) -> bool:
        return self.token is not None and self._clock() < self.expires_at

    def refresh_flow(self) -> AuthFlow | None:
        return None if self.valid() else self._fetch()

    def _fetch(self) -> AuthFlow:
        if self.valid():  # fetched by another request while this one waited its turn
            return
        response = yield Call("POST", self.token_path, data=dict(self._form), idempotent=True)
        self._store(safe_json(response))

    def _store(self, body: Any) -> None:
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError("the token endpoint answered without an access_token")
        register_secret(token)
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        self.token = token
        self.expires_at = self._clock() + lifetime - min(self.refresh_margin, lifetime / 10)
        self.token_requests += 1

    def renew(self, err: ContactsHTTPError) -> bool:
        if err.vendor_code not in self.renew_codes:
            return False
        self.token, self.expires_at = None, 0.0
        return True
