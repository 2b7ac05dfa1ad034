"""The sandbox ASGI application: one router per vendor emulator, an admin API under
``/_sandbox`` and a fault-injecting, request-logging wrapper around the vendor routes.

State lives in the emulator objects (plain Python, like moto's backends); the routers only
translate HTTP to and from them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from airflow_provider_contacts.sandbox.base import VendorEmulator
from airflow_provider_contacts.sandbox.faults import FaultConfig, FaultInjector, redirect_location

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_sandbox"


@dataclass
class SandboxConfig:
    seed: int = 42
    faults: FaultConfig = field(default_factory=FaultConfig)
    #: per-vendor options, e.g. {"mautic": {"rate_limit_per_hour": 100}}
    vendor_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: which vendors to serve (None = all)
    vendors: list[str] | None = None


class DroppedConnection(Exception):
    """Raised after a response was started, so the server cuts the connection."""


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def install_log_filter() -> None:
    for name in ("uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropFilter) for f in logger.filters):
            logger.addFilter(_DropFilter())


class Sandbox:
    """All emulators, the fault injector and the request log."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        from airflow_provider_contacts.sandbox.vendors import EMULATORS

        self.config = config or SandboxConfig()
        self.faults = FaultInjector(self.config.faults, seed=self.config.seed)
        self.emulators: dict[str, VendorEmulator] = {}
        for name, cls in EMULATORS.items():
            if self.config.vendors is None or name in self.config.vendors:
                self.emulators[name] = cls(
                    seed=self.config.seed, options=self.config.vendor_options.get(name, {})
                )
        self._log: deque[dict[str, Any]] = deque(maxlen=200_000)
        self._log_lock = threading.Lock()
        #: bumped by each clear of the log: a request that began before it is not logged after it
        self.log_epoch = 0
        self.root_url = ""

    # request log --------------------------------------------------------------------------
    def record(self, entry: dict[str, Any], epoch: int | None = None) -> None:
        """Log ``entry``, unless its request began (at ``epoch``) before the log was last cleared:
        a request a client gave up on can finish after the next test's reset."""
        with self._log_lock:
            if epoch is None or epoch == self.log_epoch:
                self._log.append(entry)

    def requests(self, vendor: str | None = None) -> list[dict[str, Any]]:
        with self._log_lock:
            return [e for e in self._log if vendor is None or e["vendor"] == vendor]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()
            self.log_epoch += 1

    # state --------------------------------------------------------------------------------
    def reset(self, seed: int | None = None, empty: bool = False) -> None:
        if seed is not None:
            self.config.seed = seed
        for emulator in self.emulators.values():
            emulator.reset(seed=self.config.seed, empty=empty)
        self.faults = FaultInjector(FaultConfig(), seed=self.config.seed)
        self.clear_requests()

    def set_faults(self, config: FaultConfig | dict[str, Any]) -> None:
        if isinstance(config, dict):
            config = FaultConfig.from_dict(config)
        self.faults.set(config)

    def emulator_for(self, path: str) -> VendorEmulator | None:
        for emulator in self.emulators.values():
            if path == emulator.mount or path.startswith(emulator.mount + "/"):
                return emulator
        return None

    def info(self, root_url: str) -> dict[str, Any]:
        return {
            "vendors": {
                name: {
                    "base_url": e.base_url(root_url),
                    "connection": e.connection(root_url),
                    "credentials": e.credentials_text(),
                }
                for name, e in self.emulators.items()
            }
        }


class SandboxASGI:
    """Outermost ASGI wrapper: logs vendor requests and injects faults."""

    def __init__(self, sandbox: Sandbox, app: Any) -> None:
        self.sandbox = sandbox
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        method = scope["method"]
        epoch = self.sandbox.log_epoch
        emulator = self.sandbox.emulator_for(path)
        vendor = emulator.name if emulator else "?"
        entry: dict[str, Any] = {
            "vendor": vendor,
            "method": method,
            "path": path,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "time": time.time(),
            "status": None,
            "fault": None,
        }
        action = self.sandbox.faults.decide(vendor, method, path) if emulator else None
        if action and action.get("latency_ms"):
            await asyncio.sleep(action["latency_ms"] / 1000.0)
        if action and "location" in action:
            entry["status"] = action["status"]
            entry["fault"] = f"redirect {action['status']}"
            self.sandbox.record(entry, epoch)
            location = redirect_location(action["location"], path, entry["query"])
            await JSONResponse({}, status_code=action["status"], headers={"Location": location})(
                scope, receive, send
            )
            return
        if emulator and action and "status" in action:
            entry["status"] = action["status"]
            entry["fault"] = str(action["status"])
            self.sandbox.record(entry, epoch)
            response = emulator.fault_response(action["status"], float(action.get("retry_after", 1.0)))
            await response(scope, receive, send)
            return
        if action and action.get("drop") == "drop":
            entry["fault"] = "drop"
            self.sandbox.record(entry, epoch)
            await _drop(send)
            return

        await self._serve(
            scope, receive, send, entry, epoch, drop_after=bool(action and action.get("drop") == "drop_after")
        )

    async def _serve(
        self, scope: dict, receive: Any, send: Any, entry: dict[str, Any], epoch: int, *, drop_after: bool
    ) -> None:
        """The emulator's answer, logged before its last piece leaves (a client that has the
        whole answer always finds its request in the log); ``drop_after``: the request is
        processed, then the connection is cut."""
        recorded = False

        async def capture(message: dict) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            elif not drop_after and not message.get("more_body"):
                self.sandbox.record(entry, epoch)
                recorded = True
            if not drop_after:
                await send(message)

        await self.app(scope, receive, capture)
        if drop_after:
            entry["fault"] = "drop_after"
            self.sandbox.record(entry, epoch)
            await _drop(send)
            return
        if not recorded:
            self.sandbox.record(entry, epoch)


async def _drop(send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"partial":', "more_body": True})
    raise DroppedConnection("sandbox fault: connection dropped")


def create_app(sandbox: Sandbox) -> SandboxASGI:
    app = FastAPI(
        title="airflow-provider-contacts sandbox",
        docs_url=f"{ADMIN_PREFIX}/docs",
        openapi_url=f"{ADMIN_PREFIX}/openapi.json",
    )
    _add_admin_routes(app, sandbox)
    _add_emulator_admin_routes(app, sandbox)
    for emulator in sandbox.emulators.values():
        app.include_router(emulator.router, prefix=emulator.mount)

    install_log_filter()
    return SandboxASGI(sandbox, app)


def _add_admin_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """Health, info, faults, the request log and reset."""

    @app.get(f"{ADMIN_PREFIX}/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "vendors": sorted(sandbox.emulators)}

    @app.get(f"{ADMIN_PREFIX}/info")
    def info(request: Request) -> dict[str, Any]:
        root = sandbox.root_url or str(request.base_url).rstrip("/")
        return sandbox.info(root)

    @app.get(f"{ADMIN_PREFIX}/faults")
    def get_faults() -> dict[str, Any]:
        return {**sandbox.faults.config.as_dict(), "injected": sandbox.faults.injected}

    @app.post(f"{ADMIN_PREFIX}/faults")
    @app.put(f"{ADMIN_PREFIX}/faults")
    def set_faults(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        try:
            sandbox.set_faults(body)
        except (TypeError, ValueError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return sandbox.faults.config.as_dict()

    @app.delete(f"{ADMIN_PREFIX}/faults")
    def clear_faults() -> dict[str, Any]:
        sandbox.set_faults(FaultConfig())
        return sandbox.faults.config.as_dict()

    @app.get(f"{ADMIN_PREFIX}/requests")
    def get_requests(vendor: str | None = None) -> dict[str, Any]:
        entries = sandbox.requests(vendor)
        return {"count": len(entries), "requests": entries}

    @app.delete(f"{ADMIN_PREFIX}/requests")
    def clear_requests() -> dict[str, Any]:
        sandbox.clear_requests()
        return {"count": 0}

    @app.post(f"{ADMIN_PREFIX}/reset")
    def reset(body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        sandbox.reset(seed=body.get("seed"), empty=bool(body.get("empty")))
        return {"status": "reset", "seed": sandbox.config.seed, "empty": bool(body.get("empty"))}


def _add_emulator_admin_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """One emulator's settings, bulk data and state."""

    @app.get(f"{ADMIN_PREFIX}/settings/{{vendor}}")
    def get_settings(vendor: str) -> dict[str, Any]:
        emulator = sandbox.emulators.get(vendor)
        if emulator is None:
            raise HTTPException(status_code=404, detail=f"no emulator {vendor!r}")
        return dict(getattr(emulator, "settings", {}))

    @app.patch(f"{ADMIN_PREFIX}/settings/{{vendor}}")
    def patch_settings(vendor: str, body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """Change an emulator's settings at run time (e.g. Mautic's ``api_enabled``); a reset
        restores the configured ones."""
        emulator = sandbox.emulators.get(vendor)
        settings = getattr(emulator, "settings", None)
        if emulator is None or settings is None:
            raise HTTPException(status_code=404, detail=f"emulator {vendor!r} has no settings")
        unknown = sorted(set(body) - set(settings))
        if unknown:
            raise HTTPException(
                status_code=400, detail=f"unknown settings {unknown}; known: {sorted(settings)}"
            )
        with emulator.lock:
            settings.update(body)
        return dict(settings)

    @app.post(f"{ADMIN_PREFIX}/generate/{{vendor}}")
    def generate(vendor: str, body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """Bulk data (benchmarks, demos), e.g. ``{"events": 1000000, "days": 7}`` for Mautic."""
        emulator = sandbox.emulators.get(vendor)
        if emulator is None or not hasattr(emulator, "generate"):
            raise HTTPException(status_code=404, detail=f"emulator {vendor!r} cannot generate data")
        return emulator.generate(body)

    @app.get(f"{ADMIN_PREFIX}/state/{{vendor}}")
    def state(vendor: str) -> dict[str, Any]:
        emulator = sandbox.emulators.get(vendor)
        if emulator is None:
            raise HTTPException(status_code=404, detail=f"no emulator {vendor!r}")
        return emulator.snapshot()
