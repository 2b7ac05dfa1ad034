"""Which50 emulator (skeleton; the vendors issue fills it)."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts.sandbox.base import VendorEmulator

HEADER_NAME = "X-Api-Key"
API_KEY = "sandbox-which50-key"


class Which50Emulator(VendorEmulator):
    name = "which50"
    mount = "/which50"
    base_path = "/Which50API"

    def connection(self, root_url: str) -> dict[str, Any]:
        return {
            "conn_type": "which50",
            "host": self.base_url(root_url),
            "extra": {"auth_type": "header", "auth_header_name": HEADER_NAME, "auth_header_value": API_KEY},
        }

    def credentials_text(self) -> str:
        return f"header {HEADER_NAME}: {API_KEY}"
