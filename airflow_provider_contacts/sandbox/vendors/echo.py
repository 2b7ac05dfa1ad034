"""A vendor-neutral test target: answers what it is asked to answer.

``/echo/status/{code}`` answers ``code`` with ``{"message": ...}`` (the ``message`` query
parameter, default "echo {code}"); ``/echo/anything`` answers 200 with the request's method,
path and headers names. Faults apply to it like to any vendor, so transport tests use it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_contacts.sandbox.base import VendorEmulator


class EchoEmulator(VendorEmulator):
    name = "echo"
    mount = "/echo"

    def reset(self, seed: int | None = None, empty: bool = False) -> None:
        super().reset(seed, empty)
        self.hits = 0

    def build_router(self):
        router = APIRouter()

        @router.api_route("/status/{code}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def status(code: int, request: Request, message: str | None = None) -> Any:
            self.hits += 1
            headers = {}
            for name in ("Retry-After", "X-RateLimit-Reset"):
                value = request.query_params.get(name.lower().replace("-", "_"))
                if value is not None:
                    headers[name] = value
            return JSONResponse({"message": message or f"echo {code}"}, status_code=code, headers=headers)

        @router.api_route("/anything", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def anything(request: Request) -> Any:
            self.hits += 1
            body = await request.body()
            return {
                "method": request.method,
                "path": request.url.path,
                "header_names": sorted(request.headers.keys()),
                "authorization": request.headers.get("authorization"),
                "body_bytes": len(body),
            }

        return router

    def connection(self, root_url: str) -> dict[str, Any]:
        return {"conn_type": "http", "host": self.base_url(root_url)}
