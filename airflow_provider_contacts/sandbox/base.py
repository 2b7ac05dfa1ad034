"""Base class of the vendor emulators.

An emulator owns its state (plain Python, reset from a seed) and builds a FastAPI router that
speaks the vendor's HTTP dialect: same paths, auth checks, shapes, limits and error bodies as
vendor pages in ``docs/vendors/``. The app mounts the router under :attr:`mount`.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import Any


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic ...`` header, or None."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except Exception:
        return None
    return user, password


class VendorEmulator:
    #: vendor / connection type name
    name: str = "?"
    #: where the router is mounted in the sandbox app
    mount: str = "/"
    #: path appended to the root URL to form the base URL a user puts in the connection host
    base_path: str = ""
    #: run-time settings (``PATCH /_sandbox/settings/<name>``), overridden by ``options``
    defaults: dict[str, Any] = {}

    def __init__(self, seed: int = 42, options: dict[str, Any] | None = None) -> None:
        self.options = dict(options or {})
        self.lock = threading.RLock()
        self.seed = seed
        self.reset(seed=seed)
        self.router = self.build_router()

    # to implement -------------------------------------------------------------------------
    def reset(self, seed: int | None = None, empty: bool = False) -> None:
        """Drop all state and load the seeded data (none when ``empty``). Subclasses call this
        first: it restores the settings from ``defaults`` and ``options`` and keeps a clock
        (epoch seconds) that tests may replace."""
        if seed is not None:
            self.seed = seed
        self.settings: dict[str, Any] = {**self.defaults, **self.options}
        if not hasattr(self, "clock"):
            self.clock: Callable[[], float] = time.time

    def build_router(self):
        from fastapi import APIRouter

        return APIRouter()

    def fault_response(self, status: int, retry_after: float):
        """The vendor's answer for an injected fault (429 with its rate-limit headers, 5xx)."""
        from fastapi.responses import JSONResponse

        headers = {"Retry-After": f"{retry_after:g}"} if status == 429 else {}
        return JSONResponse({"message": f"sandbox fault {status}"}, status_code=status, headers=headers)

    def connection(self, root_url: str) -> dict[str, Any]:
        """Airflow connection (JSON form) pointing ``<name>_default`` at this emulator."""
        return {"conn_type": self.name, "host": self.base_url(root_url)}

    def credentials_text(self) -> str:
        return ""

    def snapshot(self) -> dict[str, Any]:
        """A JSON view of the state, for tests and the admin API."""
        return {}

    # helpers ------------------------------------------------------------------------------
    def base_url(self, root_url: str) -> str:
        return f"{root_url.rstrip('/')}{self.mount}{self.base_path}"
