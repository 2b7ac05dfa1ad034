"""Dmartech open platform hook: signed requests (``access-key`` + ``access-sign``).

``access-sign`` = URL-encoded Base64 of AES/ECB/PKCS5(epoch milliseconds as text), keyed with
the raw bytes of the accessKeySecret (research/vendors.md A.3). Errors are keyed on the
envelope's ``code`` whatever the HTTP status.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote_plus

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConfigError,
    ContactsHTTPError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)
from airflow_provider_contacts.hooks.base import ContactsHook
from airflow_provider_contacts.transport import TransportSettings, default_error_mapper, register_secret, safe_json


def sign(secret: str, timestamp_ms: int) -> str:
    """The ``access-sign`` header value for ``timestamp_ms`` (not registered with the masker)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = secret.encode("utf-8")
    padder = padding.PKCS7(128).padder()
    data = padder.update(str(timestamp_ms).encode("ascii")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - the vendor's scheme
    import base64

    return quote_plus(base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii"), safe="")


class DmartechHook(ContactsHook):
    conn_name_attr = "conn_id"
    default_conn_name = "dmartech_default"
    conn_type = "dmartech"
    hook_name = "Dmartech Open Platform"
    default_base_url = "https://api.dmartech.cn/openapi"
    transport_defaults = TransportSettings(rate_per_second=20)

    AUTH_CODES = {40001, 10002, 401}
    PERMISSION_CODES = {40003}
    RETRY_CODES = {-1, 40006}
    SIGNATURE_REUSE_SECONDS = 60.0

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(conn_id, **kwargs)
        self._signature: str | None = None
        self._signed_at = 0.0

    def auth_headers(self) -> dict[str, str]:
        conn = self.connection
        key = self.require(conn.login, "login", "set the Dmartech access key as the login")
        secret = self.require(conn.password, "password", "set the Dmartech accessKeySecret as the password")
        if len(secret.encode("utf-8")) not in (16, 24, 32):
            raise ContactsConfigError(
                "password (accessKeySecret) must be 16, 24 or 32 characters (an AES key); "
                "copy it again from the Dmartech console",
                conn_id=self.conn_id,
            )
        # A signature is valid for +-5 minutes. Each one is registered with Airflow's masker,
        # which recompiles its pattern set on every new secret, so a signature is reused for
        # SIGNATURE_REUSE_SECONDS (well inside the window) instead of minting one per request.
        now = time.monotonic()
        if self._signature is None or now - self._signed_at > self.SIGNATURE_REUSE_SECONDS:
            self._signature = sign(secret, int(time.time() * 1000))
            self._signed_at = now
            register_secret(self._signature)
        return {"access-key": key, "access-sign": self._signature}

    def map_error(self, response: Any) -> ContactsHTTPError | None:
        body = safe_json(response)
        if isinstance(body, dict) and "code" in body:
            try:
                code = int(body["code"])
            except (TypeError, ValueError):
                code = None
            if code == 0:
                return None
            message = str(body.get("message") or f"code {code}")
            status = response.status_code
            if code in self.AUTH_CODES:
                err: ContactsHTTPError = AuthenticationError(message, status=status, vendor_code=code)
            elif code in self.PERMISSION_CODES:
                err = PermissionDeniedError(message, status=status, vendor_code=code)
            elif code == 40006:
                err = RateLimitedError(message, status=status, vendor_code=code)
            elif code == -1:
                err = ServerError(message, status=status, vendor_code=code)
            else:
                err = InvalidRequestError(message, status=status, vendor_code=code)
            err.retry_decision = code in self.RETRY_CODES
            return err
        return default_error_mapper(response)

    def probe(self) -> str:
        self.transport.request("GET", "/open-api/v1/contact/contactFieldDetails")
        return f"Connected to Dmartech at {self.base_url}"

    def explain(self, err):
        message = super().explain(err)
        if getattr(err, "vendor_code", None) in (40001, 40003):
            message += " (Dmartech also answers this when the caller's IP is not whitelisted in the console)"
        return message
