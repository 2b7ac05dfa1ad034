"""Shared bench plumbing: the sandbox in its own process (its own core), admin calls, RSS."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import requests

if TYPE_CHECKING:
    from airflow.sdk import Context

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SandboxProcess:
    """``python -m airflow_provider_contacts.sandbox`` on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> SandboxProcess:
        self.proc = subprocess.Popen(
            # httptools (when installed): the faster protocol, as the published figures were measured
            [
                sys.executable,
                "-m",
                "airflow_provider_contacts.sandbox",
                "--port",
                str(self.port),
                "--http",
                "auto",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/_sandbox/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise RuntimeError("the sandbox did not start")
        info = requests.get(f"{self.url}/_sandbox/info", timeout=10).json()
        for vendor, data in info["vendors"].items():
            if vendor != "echo":
                os.environ[f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT"] = json.dumps(data["connection"])
        self.info = info
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def reset(self, empty: bool = True) -> None:
        requests.post(f"{self.url}/_sandbox/reset", json={"empty": empty}, timeout=60).raise_for_status()

    def settings(self, vendor: str, **changes) -> None:
        requests.patch(f"{self.url}/_sandbox/settings/{vendor}", json=changes, timeout=10).raise_for_status()

    def request_count(self, vendor: str, path_part: str = "") -> int:
        entries = requests.get(f"{self.url}/_sandbox/requests", params={"vendor": vendor}, timeout=60).json()[
            "requests"
        ]
        return sum(1 for e in entries if path_part in e["path"])

    def base_url(self, vendor: str) -> str:
        return self.info["vendors"][vendor]["base_url"]


def task_context(name: str) -> Context:
    """The part of a task's context the operators read (the task instance's identity)."""
    ti = SimpleNamespace(dag_id="bench", run_id=name, task_id=name, map_index=-1)
    return cast("Context", {"ti": ti})


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
