"""Run the sandbox with uvicorn, in the foreground (CLI) or in a background thread (tests)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from email.utils import formatdate
from typing import Any

from airflow_provider_contacts.sandbox.app import Sandbox, SandboxConfig, create_app
from airflow_provider_contacts.sandbox.faults import FaultConfig


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def with_date_and_server(app: Any) -> Any:
    """``app`` answering with ``Date`` and ``Server`` headers named as HTTP servers name them
    (uvicorn's own are written ``date`` and ``server`` whatever the protocol)."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_named(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                date = formatdate(usegmt=True).encode("latin-1")
                headers = [(b"Date", date), (b"Server", b"uvicorn"), *message.get("headers", [])]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_named)

    return wrapped


class SandboxServer:
    """The sandbox on ``host:port`` (port 0 = a free one). Use as a context manager."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        http: str = "h11",
    ) -> None:
        self.sandbox = Sandbox(config)
        self.host = host
        self._sock = _bind(host, port)
        self.port = self._sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self.sandbox.root_url = self.url
        self.log_level = log_level
        #: uvicorn's HTTP protocol: "h11" (the default: header names as the emulators write
        #: them, e.g. Mautic's ``Content-Type``) or "auto"/"httptools" (httptools when installed:
        #: faster, lowercases every header name on the wire)
        self.http = http
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # lifecycle ----------------------------------------------------------------------------
    def _make_server(self):
        import uvicorn

        config = uvicorn.Config(
            with_date_and_server(create_app(self.sandbox)),
            log_level=self.log_level,
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            http=self.http,
            date_header=False,  # uvicorn writes "date" and "server" in lower case: see above
            server_header=False,
        )
        return uvicorn.Server(config)

    def start(self) -> SandboxServer:
        self._server = self._make_server()
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="contacts-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        self._server = self._make_server()
        self._server.run(sockets=[self._sock])

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # conveniences -------------------------------------------------------------------------
    def emulator(self, name: str):
        return self.sandbox.emulators[name]

    def base_url(self, vendor: str) -> str:
        return self.sandbox.emulators[vendor].base_url(self.url)

    def connections(self) -> dict[str, dict[str, Any]]:
        """``{"<vendor>_default": <connection JSON>}`` for every vendor emulator."""
        return {
            f"{name}_default": e.connection(self.url)
            for name, e in self.sandbox.emulators.items()
            if name != "echo"
        }

    def connection_env(self, suffix: str = "default") -> dict[str, str]:
        """``AIRFLOW_CONN_<VENDOR>_DEFAULT`` environment variables (JSON form)."""
        env = {}
        for conn_id, conn in self.connections().items():
            conn_id = conn_id.replace("default", suffix)
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
        return env

    def export_connections(self) -> None:
        os.environ.update(self.connection_env())

    def set_faults(self, **settings: Any) -> None:
        self.sandbox.set_faults(FaultConfig.from_dict(settings))

    def clear_faults(self) -> None:
        self.sandbox.set_faults(FaultConfig())

    def requests(self, vendor: str | None = None) -> list[dict[str, Any]]:
        return self.sandbox.requests(vendor)

    def clear_requests(self) -> None:
        """Empty the request log (the emulators' state is kept)."""
        self.sandbox.clear_requests()

    def reset(self, seed: int | None = None, empty: bool = False) -> None:
        """Back to the seeded state (``empty=True``: no contacts, events or groups)."""
        self.sandbox.reset(seed, empty)
