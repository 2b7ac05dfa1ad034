"""Which50 emulator (foundation part: header auth and the contact lists; the vendors issue adds
contacts, communications and upserts). Which50's auth scheme is undocumented: the emulator
accepts one configurable header."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_contacts.sandbox.base import VendorEmulator

HEADER_NAME = "X-Api-Key"
API_KEY = "sandbox-which50-key"
DENIED = "Request has been denied as it lacks valid Authentication credentials"


class Which50Emulator(VendorEmulator):
    name = "which50"
    mount = "/which50"
    base_path = "/Which50API"

    def reset(self, seed: int | None = None, empty: bool = False) -> None:
        super().reset(seed, empty)
        self.lists = [{"Id": 1, "Name": "Newsletter", "Count": 0}, {"Id": 2, "Name": "Events", "Count": 0}]

    def build_router(self):
        router = APIRouter()

        @router.get("/Which50API/contactLists")
        def contact_lists(request: Request) -> Any:
            if request.headers.get(HEADER_NAME) != API_KEY:
                return JSONResponse({"Message": DENIED}, status_code=401)
            return self.lists

        return router

    def fault_response(self, status: int, retry_after: float):
        headers = {"Retry-After": f"{retry_after:g}"} if status == 429 else {}
        return JSONResponse({"Message": f"sandbox fault {status}"}, status_code=status, headers=headers)

    def connection(self, root_url: str) -> dict[str, Any]:
        return {
            "conn_type": "which50",
            "host": self.base_url(root_url),
            "extra": {"auth_type": "header", "auth_header_name": HEADER_NAME, "auth_header_value": API_KEY},
        }

    def credentials_text(self) -> str:
        return f"header {HEADER_NAME}: {API_KEY}"
