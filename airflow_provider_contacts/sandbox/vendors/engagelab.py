"""EngageLab LiveDesk emulator (skeleton; the vendors issue fills it)."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts.sandbox.base import VendorEmulator

API_KEY = "sandbox-api-key"
API_SECRET = "sandbox-api-secret"
INBOX_ID = 1


class EngageLabEmulator(VendorEmulator):
    name = "engagelab"
    mount = "/engagelab"

    def connection(self, root_url: str) -> dict[str, Any]:
        return {
            "conn_type": "engagelab",
            "host": self.base_url(root_url),
            "login": API_KEY,
            "password": API_SECRET,
            "extra": {"inbox_id": INBOX_ID},
        }

    def credentials_text(self) -> str:
        return f"Basic {API_KEY} / {API_SECRET}, inbox_id {INBOX_ID}"
