"""What every part of the Mautic hook stands on: settings, auth and errors handed to the
client, Test Connection, and the low-level calls under ``<base>/api``.

The quirks handled by the hook, so callers get plain Python:

* errors are matched on HTTP status and ``type`` (:mod:`.errors`);
* ``total`` is a string for contacts; ``contacts`` is an object keyed by id (``{}`` when empty);
* batch endpoints answer per item (:mod:`.wire`); a batch over the server's
  ``api_batch_max_limit`` is split, the rest continues and the limit is remembered;
* a 429 has no ``Retry-After`` but ``X-RateLimit-Reset`` (the client waits for it);
* activity ``limit`` applies per event type: paged by ``page`` up to ``maxPages`` and
  de-duplicated on (event, eventId, contactId); dates are sent as UTC ``Y-m-d H:i:s``;
* the default contact order (``last_active DESC``) drifts while paging: listing goes by id.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConfigError,
    ContactsError,
    PermissionDeniedError,
)
from airflow_provider_contacts.hooks.base import ContactsHook
from airflow_provider_contacts.hooks.mautic.auth import mautic_auth
from airflow_provider_contacts.hooks.mautic.errors import (
    BatchLimitExceeded,
    batch_error_mapper,
    map_mautic_error,
)
from airflow_provider_contacts.hooks.mautic.wire import (
    BatchItem,
    as_int,
    decode_batch_answer,
    entities,
    parse_batch,
)
from airflow_provider_contacts.hooks.registry import MauticExtras
from airflow_provider_contacts.http.auth import Auth
from airflow_provider_contacts.http.errors import safe_json
from airflow_provider_contacts.http.plan import Call, Page, paged, run_plan

log = logging.getLogger(__name__)


class MauticBase(ContactsHook):
    """The Mautic hook's foundation (see :class:`~.hook.MauticHook`)."""

    extras_model = MauticExtras
    error_mapper = staticmethod(map_mautic_error)

    def __init__(self, conn_id: str | None = None, *, blank_values: str = "keep", **kwargs: Any) -> None:
        super().__init__(conn_id, **kwargs)
        self._learned_batch_limit: int | None = None
        self._unique_fields: set[str] | None = None
        self._contact_fields: list[dict[str, Any]] | None = None
        if blank_values not in ("keep", "clear"):
            raise ContactsConfigError(
                f"blank_values={blank_values!r}: use 'keep' (Mautic keeps a field's current value when "
                "the data holds an empty one) or 'clear' (an empty value clears the field)",
                conn_id=conn_id,
            )
        #: what an empty value ("" or null) does on create/update (POST/PATCH): Mautic skips it
        #: ("keep") unless the body asks ``overwriteWithBlank`` ("clear")
        self.blank_values = blank_values
        self._blank_values_told = False

    # ---- settings -------------------------------------------------------------------------
    @property
    def blank_is_missing(self) -> bool:
        """True when an empty value ("" or null) in upserted data does what an absent field does
        (``blank_values="keep"``: Mautic skips it), so change-only fingerprints leave it out."""
        return self.blank_values == "keep"

    @property
    def auth_type(self) -> str:
        return self.extras.auth_type

    @property
    def batch_limit(self) -> int:
        configured = self.extras.batch_limit
        if self._learned_batch_limit is not None:
            return min(configured, self._learned_batch_limit)
        return configured

    @property
    def upsert_batch_size(self) -> int:
        return self.batch_limit

    @property
    def dnc_batch_size(self) -> int:
        return self.batch_limit

    def build_auth(self) -> Auth:
        return mautic_auth(self, self.auth_type, self.transport_options.get("clock") or time.monotonic)

    # ---- Test Connection ------------------------------------------------------------------
    def explain(self, err: ContactsError) -> str:
        where = self.base_url if "base_url" in self.__dict__ else "the host"
        code = getattr(err, "vendor_code", None)
        if isinstance(err, PermissionDeniedError) and code == "api_disabled":
            return (
                f"API disabled: Mautic at {where} has its API switched off. In Mautic open Settings → "
                "Configuration → API Settings, set 'API enabled?' to Yes, save, and clear Mautic's cache."
            )
        if isinstance(err, PermissionDeniedError) and code == "access_denied":
            return (
                "Basic auth disabled: Mautic refuses HTTP Basic. Enable 'Enable HTTP basic auth?' in "
                "Configuration → API Settings, or set auth_type to oauth2 with API credentials."
            )
        if isinstance(err, PermissionDeniedError) and code == "unauthorized_client":
            return (
                "No permission: these API credentials may not use the client-credentials grant. "
                "Create them (Settings → API Credentials, OAuth 2) while logged in as an administrator."
            )
        if isinstance(err, PermissionDeniedError):
            return (
                f"No permission: the credentials are valid but the user's role may not view contacts "
                f"(HTTP {err.status}): {err.message}. Give the role contact view/edit permissions."
            )
        if isinstance(err, AuthenticationError):
            what = "client id/secret" if self._safe_auth_type() == "oauth2" else "username/password"
            return f"Bad credentials: Mautic refused the {what} (HTTP {err.status} {code or ''}): {err.message.rstrip('.')}. {self.auth_hint(err)}".replace(
                " )", ")"
            )
        return super().explain(err)

    def auth_hint(self, err: ContactsError) -> str:
        """The credentials to check (Test Connection and a task's 401 say the same)."""
        if self._safe_auth_type() == "oauth2":
            return (
                f"Check the client_id and client_secret in the extra of connection {self.conn_id!r}: an API "
                "credential of Mautic (Settings > API Credentials, OAuth 2)"
            )
        hint = f"Check the login and password of connection {self.conn_id!r}: a Mautic user allowed to use the API"
        if getattr(err, "vendor_code", None) == "access_denied" and err.status == 401:
            hint += (
                ". If the credentials are right, the web server may be stripping the Authorization header "
                "(a FastCGI setting)"
            )
        return hint

    def rate_hint(self, err: ContactsError) -> str:
        """Mautic's limit is per hour (``api_rate_limiter_limit``; Basic-auth callers of a site share
        one bucket, each OAuth token has its own): the extra to set is ``rate_limit_per_hour``."""
        # "You exceeded the rate limit of 500 API calls per hour." (translated on some servers)
        limits = [n for n in re.findall(r"\d+", err.message or "") if n != "429"]
        value = f" (at most {limits[0]}, the limit Mautic names)" if limits else ""
        return (
            f"Mautic's API rate limit (api_rate_limiter_limit, calls per hour) outlasted the retries: set "
            f"rate_limit_per_hour in the extra of connection {self.conn_id!r}{value} so requests wait "
            "their turn instead of being refused; every Basic-auth caller of the site shares the limit"
        )

    def _safe_auth_type(self) -> str:
        try:
            return self.auth_type
        except ContactsError:
            return "basic"

    def contacts_url(self, contact_id: str | None = None) -> str | None:
        """``{base}/s/contacts/view/{id}``, or ``{base}/s/contacts`` (Mautic's admin UI)."""
        return (
            f"{self.base_url}/s/contacts/view/{contact_id}" if contact_id else f"{self.base_url}/s/contacts"
        )

    def probe(self) -> str:
        response = self.transport.request("GET", "/api/contacts", params={"limit": 1, "minimal": 1})
        version = response.headers.get("Mautic-Version")
        total = as_int((safe_json(response) or {}).get("total"))
        who = (
            f"basic auth as {self.connection.login}"
            if self.auth_type == "basic"
            else "OAuth2 client credentials"
        )
        shown = f"Mautic {version}" if version else "Mautic"
        return f"Connected to {shown} at {self.base_url} ({who}); {total} contacts visible"

    # ---- low level ------------------------------------------------------------------------
    def _get(self, path: str, params: Any = None) -> Any:
        return self.transport.request("GET", f"/api/{path.lstrip('/')}", params=params).json()

    def _entity_pages(
        self,
        path: str,
        key: str,
        params: Callable[[int], dict[str, Any]],
        limit: int,
        *,
        keyset: bool = False,
    ) -> Iterator[Any]:
        """Every entity of a Mautic list route (the answer's ``key``), page by page: ``params(cursor)``
        is the query of a page, the cursor an offset (``start``), or with ``keyset`` the last id
        read (for ``where id > last`` ordered by id: stable while entities change)."""

        def read(body: Any, _cursor: int) -> Page:
            rows = entities(body, key)
            return Page(rows, last=len(rows) < limit)

        def advance(cursor: int, page: Page) -> int:
            return max(int(r["id"]) for r in page.rows) if keyset else cursor + len(page.rows)

        plan = paged(
            lambda cursor: Call("GET", f"/api/{path}", params=params(cursor)), read, start=0, advance=advance
        )
        return run_plan(self.transport, plan)

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        idempotent: bool | None = None,
        error_mapper: Any = None,
        decode: Any = None,
    ) -> Any:
        response = self.transport.request(
            method,
            f"/api/{path.lstrip('/')}",
            json=json,
            params=params,
            idempotent=idempotent,
            error_mapper=error_mapper,
        )
        if decode is not None and response.content:
            return decode(response.content)
        return safe_json(response)

    def _learn_limit(self, err: BatchLimitExceeded) -> None:
        log.warning(
            "%s: Mautic accepts at most %d items per batch (HTTP 500 '%s'); splitting and continuing. "
            'Set "batch_limit": %d in the connection extra to avoid the failed request.',
            self.conn_id,
            err.limit,
            err.message,
            err.limit,
        )
        self._learned_batch_limit = err.limit

    def _batched(
        self, method: str, path: str, items: list[dict[str, Any]], *, idempotent: bool
    ) -> list[BatchItem]:
        """A batch endpoint over ``items``, split to the batch limit (learnt on the way when
        the server says it is lower); one :class:`BatchItem` per item, in input order."""
        results: list[BatchItem] = []
        start = 0
        while start < len(items):
            chunk = items[start : start + self.batch_limit]
            try:
                body = self._send(
                    method,
                    path,
                    json=chunk,
                    idempotent=idempotent,
                    error_mapper=batch_error_mapper(len(chunk)),
                    decode=decode_batch_answer,
                )
            except BatchLimitExceeded as err:
                self._learn_limit(err)
                continue
            for item in parse_batch(body, len(chunk)):
                item.index += start
                results.append(item)
            start += len(chunk)
        return results
