"""Which50 hook. The vendor does not document its auth scheme: header or Basic, configurable."""

from __future__ import annotations

from airflow_provider_contacts.hooks.base import ContactsHook
from airflow_provider_contacts.transport import basic_auth_header, register_secret


class Which50Hook(ContactsHook):
    conn_name_attr = "conn_id"
    default_conn_name = "which50_default"
    conn_type = "which50"
    hook_name = "Which50"
    default_base_url = "https://app.which50.com/Which50API"

    def auth_headers(self) -> dict[str, str]:
        mode = self.extras.choice("auth_type", ("header", "basic"), "header")
        conn = self.connection
        if mode == "basic":
            login = self.require(conn.login, "login", "set the Which50 username (auth_type basic)")
            password = self.require(conn.password, "password", "set the Which50 password")
            return {"Authorization": basic_auth_header(login, password)}
        name = self.extras.str("auth_header_name", "X-Api-Key")
        value = self.extras.str("auth_header_value") or conn.password
        self.require(value, "auth_header_value", 'set extra "auth_header_value" (or the password) to the API key')
        register_secret(value)
        return {name: value}

    def probe(self) -> str:
        self.transport.request("GET", "/contactLists")
        return f"Connected to Which50 at {self.base_url}"
