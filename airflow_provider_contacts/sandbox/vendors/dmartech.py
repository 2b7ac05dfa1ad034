"""Dmartech open-platform emulator (foundation part: signature verification, envelope, field
details; the vendors issue adds contacts and events)."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_contacts.sandbox.base import VendorEmulator

ACCESS_KEY = "sandbox-access-key"
ACCESS_SECRET = "0123456789abcdef"
WINDOW_MS = 300_000


def verify_signature(value: str | None, secret: str, now_ms: int) -> bool:
    """URL-decode (raw Base64 accepted too), Base64-decode, AES-ECB-decrypt, unpad, compare."""
    if not value:
        return False
    try:
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        raw = base64.b64decode(unquote(value) if "%" in value else value)
        decryptor = Cipher(algorithms.AES(secret.encode()), modes.ECB()).decryptor()  # noqa: S305
        padded = decryptor.update(raw) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        ts = int(unpadder.update(padded) + unpadder.finalize())
    except Exception:
        return False
    return abs(now_ms - ts) <= WINDOW_MS


class DmartechEmulator(VendorEmulator):
    name = "dmartech"
    mount = "/dmartech"
    base_path = "/openapi"

    def envelope(self, data: Any = None, code: int = 0, message: str = "Successful.", status: int = 200):
        return JSONResponse(
            {"code": code, "message": message, "traceNumber": uuid.uuid4().hex, "data": data}, status_code=status
        )

    def build_router(self):
        router = APIRouter()

        def guard(request: Request):
            if request.headers.get("access-key") != ACCESS_KEY or not verify_signature(
                request.headers.get("access-sign"), ACCESS_SECRET, int(time.time() * 1000)
            ):
                return self.envelope(None, 40001, "accessKey or accessSign invalid")
            return None

        @router.get("/openapi/open-api/v1/contact/contactFieldDetails")
        def field_details(request: Request) -> Any:
            denied = guard(request)
            if denied is not None:
                return denied
            return self.envelope(
                {"resultList": [
                    {"fieldName": "mobile", "sn": "f_mobile", "name": "手机号", "searchType": True, "sortType": False},
                    {"fieldName": "email", "sn": "f_email", "name": "邮箱", "searchType": True, "sortType": False},
                ]}
            )

        return router

    def fault_response(self, status: int, retry_after: float):
        if status == 429:
            return self.envelope(None, 40006, "call count/frequency limit reached", status=200)
        return self.envelope(None, -1, "system busy, retry", status=status)

    def connection(self, root_url: str) -> dict[str, Any]:
        return {"conn_type": "dmartech", "host": self.base_url(root_url), "login": ACCESS_KEY, "password": ACCESS_SECRET}

    def credentials_text(self) -> str:
        return f"access-key {ACCESS_KEY} / accessKeySecret {ACCESS_SECRET}"
