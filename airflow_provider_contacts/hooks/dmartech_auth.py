"""Dmartech's request signature, as an auth object.

``access-sign`` = URL-encoded Base64 of AES/ECB/PKCS5(epoch milliseconds as text), keyed with
the raw bytes of the accessKeySecret (16, 24 or 32 bytes: an AES key), sent with the access key
in ``access-key``. Dmartech accepts a signature for 5 minutes either side of its time.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import quote_plus

from airflow_provider_contacts.http.auth import Auth
from airflow_provider_contacts.http.logging import register_secret


def sign(secret: str, timestamp_ms: int) -> str:
    """The ``access-sign`` header value for ``timestamp_ms`` (not registered with the masker)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = secret.encode("utf-8")
    padder = padding.PKCS7(128).padder()
    data = padder.update(str(timestamp_ms).encode("ascii")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - the vendor's scheme
    return quote_plus(
        base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii"), safe=""
    )


class DmartechSigner(Auth):
    """``access-key`` + ``access-sign`` headers. A signature is valid for +-5 minutes. Each one is
    registered with Airflow's masker, which recompiles its pattern set on every new secret, so a
    signature is reused for :attr:`reuse_seconds` (well inside the window) instead of minting
    one per request."""

    reuse_seconds = 60.0

    def __init__(self, access_key: str, secret: str) -> None:
        self._key = access_key
        self._secret = secret
        self._signature: str | None = None
        self._signed_at = 0.0

    def headers(self) -> dict[str, str]:
        now = time.monotonic()
        if self._signature is None or now - self._signed_at > self.reuse_seconds:
            self._signature = sign(self._secret, int(time.time() * 1000))
            self._signed_at = now
            register_secret(self._signature)
        return {"access-key": self._key, "access-sign": self._signature}
