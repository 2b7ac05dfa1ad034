"""Dmartech open-platform emulator (skeleton; the vendors issue fills it)."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts.sandbox.base import VendorEmulator

ACCESS_KEY = "sandbox-access-key"
ACCESS_SECRET = "0123456789abcdef"


class DmartechEmulator(VendorEmulator):
    name = "dmartech"
    mount = "/dmartech"
    base_path = "/openapi"

    def connection(self, root_url: str) -> dict[str, Any]:
        return {"conn_type": "dmartech", "host": self.base_url(root_url), "login": ACCESS_KEY, "password": ACCESS_SECRET}

    def credentials_text(self) -> str:
        return f"access-key {ACCESS_KEY} / accessKeySecret {ACCESS_SECRET}"
