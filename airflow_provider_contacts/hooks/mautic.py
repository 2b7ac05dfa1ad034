"""Mautic hook: HTTP Basic or OAuth2 client credentials; API under ``<base>/api``."""

from __future__ import annotations

import threading
from typing import Any

from airflow_provider_contacts.hooks.base import ContactsHook
from airflow_provider_contacts.transport import basic_auth_header


class MauticHook(ContactsHook):
    conn_name_attr = "conn_id"
    default_conn_name = "mautic_default"
    conn_type = "mautic"
    hook_name = "Mautic"

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(conn_id, **kwargs)
        self._token_lock = threading.Lock()

    @property
    def auth_type(self) -> str:
        return self.extras.choice("auth_type", ("basic", "oauth2"), "basic")

    def auth_headers(self) -> dict[str, str]:
        if self.auth_type == "basic":
            conn = self.connection
            login = self.require(conn.login, "login", "set the Mautic username (Basic auth)")
            password = self.require(conn.password, "password", "set the Mautic user's password")
            return {"Authorization": basic_auth_header(login, password)}
        raise NotImplementedError("OAuth2 arrives with the Mautic issue")

    def probe(self) -> str:
        self.transport.request("GET", "/api/contacts", params={"limit": 1, "minimal": 1})
        return f"Connected to Mautic at {self.base_url} ({self.auth_type} auth)"
