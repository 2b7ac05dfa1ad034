"""EngageLab LiveDesk hook: Basic base64(api_key:api_secret)."""

from __future__ import annotations

from airflow_provider_contacts.hooks.base import ContactsHook
from airflow_provider_contacts.transport import basic_auth_header


class EngageLabHook(ContactsHook):
    conn_name_attr = "conn_id"
    default_conn_name = "engagelab_default"
    conn_type = "engagelab"
    hook_name = "EngageLab LiveDesk"
    default_base_url = "https://livedesk-api.engagelab.com"

    def auth_headers(self) -> dict[str, str]:
        conn = self.connection
        key = self.require(conn.login, "login", "set the LiveDesk API key as the login")
        secret = self.require(conn.password, "password", "set the LiveDesk API secret as the password")
        return {"Authorization": basic_auth_header(key, secret)}

    def probe(self) -> str:
        self.transport.request("GET", "/api/v2/accounts/contacts", params={"page": 1})
        return f"Connected to EngageLab LiveDesk at {self.base_url}"
