"""Mautic's two ways in, as auth objects.

* ``basic``: Login/Password of a Mautic user (needs "Enable HTTP basic auth?" in Mautic's API
  settings);
* ``oauth2``: the client-credentials grant on ``POST /oauth/v2/token`` with the ``client_id``
  and ``client_secret`` of API credentials an administrator created. Mautic answers a token
  that expired or was revoked before its ``expires_in`` with HTTP 401 and an error of type
  ``invalid_grant`` (not RFC 6750's ``invalid_token``): the token is then fetched once more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from airflow_provider_contacts.http.auth import Auth, BasicAuth, OAuth2ClientCredentials

if TYPE_CHECKING:
    from airflow_provider_contacts.hooks.base import ContactsHook

TOKEN_PATH = "/oauth/v2/token"
RENEW_CODES = ("invalid_grant",)


def mautic_auth(hook: ContactsHook, auth_type: str, clock: Callable[[], float]) -> Auth:
    """The auth object of a Mautic connection (``auth_type`` basic or oauth2); a missing
    credential is named here."""
    conn = hook.connection
    if auth_type == "basic":
        login = hook.require(conn.login, "login", "set the Mautic username (Basic auth)")
        password = hook.require(conn.password, "password", "set the Mautic user's password")
        return BasicAuth(login, password)
    client_id = hook.require(
        hook.extras.client_id or conn.login,
        "client_id",
        'set "client_id" (extra) to the public id of Mautic API credentials',
    )
    secret = hook.require(
        hook.extras.client_secret or conn.password,
        "client_secret",
        'set "client_secret" (extra) to the secret of those API credentials',
    )
    return OAuth2ClientCredentials(TOKEN_PATH, client_id, secret, renew_codes=RENEW_CODES, clock=clock)
