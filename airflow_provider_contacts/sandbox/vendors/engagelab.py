"""EngageLab LiveDesk emulator (foundation part: Basic auth and an empty contact list; the
vendors issue adds contacts, search, create/update and errors)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_contacts.sandbox.base import VendorEmulator, basic_credentials

API_KEY = "sandbox-api-key"
API_SECRET = "sandbox-api-secret"
INBOX_ID = 1


class EngageLabEmulator(VendorEmulator):
    name = "engagelab"
    mount = "/engagelab"

    def _authorized(self, header: str | None) -> bool:
        return basic_credentials(header) == (API_KEY, API_SECRET)

    def build_router(self):
        router = APIRouter()

        @router.get("/api/v2/accounts/contacts")
        def list_contacts(request: Request) -> Any:
            if not self._authorized(request.headers.get("authorization")):
                return JSONResponse({"error": "Invalid Access Token"}, status_code=401)
            page = request.query_params.get("page")
            # Chatwoot echoes the raw page parameter: a string when sent, the integer 1 when not
            return {"meta": {"count": 0, "current_page": page if page is not None else 1}, "payload": []}

        return router

    def fault_response(self, status: int, retry_after: float):
        from fastapi.responses import PlainTextResponse

        if status == 429:  # Rack::Attack's default throttled answer
            return PlainTextResponse("Retry later\n", status_code=429, headers={"Retry-After": f"{retry_after:g}"})
        return JSONResponse({"error": "Internal Server Error"}, status_code=status)

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
