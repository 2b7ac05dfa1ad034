"""Mautic emulator (skeleton: auth guard and an empty contact list; the Mautic issue fills it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from airflow_provider_contacts.sandbox.base import VendorEmulator, basic_credentials

USERNAME = "sandbox"
PASSWORD = "sandbox-password"


class MauticEmulator(VendorEmulator):
    name = "mautic"
    mount = "/mautic"

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.contacts: dict[int, dict[str, Any]] = {}

    def _authorized(self, header: str | None) -> bool:
        return basic_credentials(header) == (USERNAME, PASSWORD)

    def build_router(self):
        router = APIRouter()

        @router.get("/api/contacts")
        def list_contacts(request: Request) -> Any:
            if not self._authorized(request.headers.get("authorization")):
                return JSONResponse(
                    {"errors": [{"message": "API authorization denied.", "code": 401, "type": "access_denied"}]},
                    status_code=401,
                )
            return {"total": str(len(self.contacts)), "contacts": {}}

        return router

    def fault_response(self, status: int, retry_after: float):
        import time

        from fastapi.responses import JSONResponse

        if status == 429:
            return JSONResponse(
                {"errors": [{"code": 429, "message": "You exceeded the rate limit of 100 API calls per hour.", "details": []}]},
                status_code=429,
                headers={
                    "X-RateLimit-Limit": "100",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(time.time() + retry_after)),
                },
            )
        return JSONResponse(
            {"errors": [{"message": "Looks like I encountered an error (error #%d). If I do it again, please report me to the system administrator!" % status, "code": status, "type": None}]},
            status_code=status,
        )

    def connection(self, root_url: str) -> dict[str, Any]:
        return {
            "conn_type": "mautic",
            "host": self.base_url(root_url),
            "login": USERNAME,
            "password": PASSWORD,
            "extra": {"auth_type": "basic"},
        }

    def credentials_text(self) -> str:
        return f"Basic {USERNAME} / {PASSWORD}"
