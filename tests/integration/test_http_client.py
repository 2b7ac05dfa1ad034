"""The HTTP layer over real sockets and in a fresh interpreter: a redirect to another host is
refused unsent, one token fetch at a time across threads and coroutines, one client and one auth
per hook, and importing the layer loads no HTTP client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import RedirectRefusedError
from airflow_provider_contacts.http.auth import HeaderAuth
from airflow_provider_contacts.http.loop import AttemptLoop
from airflow_provider_contacts.http.plan import Call
from tests.shared import FakeResponse, drive

BASE = "https://api.example.com/v1"


def test_the_attempt_loop_refuses_a_redirect_to_another_host_without_sending():
    loop = AttemptLoop(BASE, conn_id="fake", auth=HeaderAuth({"X-Api-Key": "k-1"}))
    record: list = []
    with pytest.raises(RedirectRefusedError, match="another host"):
        drive(
            loop.exchange(Call("GET", "/items")),
            [FakeResponse(302, headers={"Location": "https://evil.example.net/x"})],
            record,
        )
    assert record == [("send", "GET", f"{BASE}/items", None)]


# ---- one token fetch at a time ---------------------------------------------------------------------
def test_concurrent_threads_wait_for_one_token_request(sandbox, monkeypatch):
    from airflow_provider_contacts.hooks.mautic.hook import MauticHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_MAUTIC_THREADS", json.dumps(sandbox.emulator("mautic").oauth_connection(sandbox.url))
    )
    sandbox.set_faults(vendors=["mautic"], paths=["/oauth/v2/token"], latency_ms=200)  # a slow token endpoint
    hook = MauticHook("mautic_threads")
    start = threading.Barrier(8)

    def one(_: int) -> str:
        start.wait()
        return hook.get_contact(1)["id"]

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(8))) == {1}
    paths = [r["path"] for r in sandbox.requests("mautic")]
    assert sum(p.endswith("/oauth/v2/token") for p in paths) == 1 and len(paths) == 9


def test_concurrent_coroutines_wait_for_one_token_request(sandbox, monkeypatch):
    from airflow_provider_contacts.hooks.mautic.hook import MauticHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_MAUTIC_TASKS", json.dumps(sandbox.emulator("mautic").oauth_connection(sandbox.url))
    )
    sandbox.set_faults(vendors=["mautic"], paths=["/oauth/v2/token"], latency_ms=200)
    hook = MauticHook("mautic_tasks")

    async def run() -> list:
        async with hook.make_async_transport() as client:
            return await asyncio.gather(*(client.get_json("/api/contacts/1") for _ in range(6)))

    assert [body["contact"]["id"] for body in asyncio.run(run())] == [1] * 6
    paths = [r["path"] for r in sandbox.requests("mautic")]
    assert sum(p.endswith("/oauth/v2/token") for p in paths) == 1 and len(paths) == 7


def test_the_async_client_is_complete_when_built_and_shares_the_hooks_auth(sandbox, monkeypatch):
    from airflow_provider_contacts.hooks.mautic.errors import map_mautic_error
    from airflow_provider_contacts.hooks.mautic.hook import MauticHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_MAUTIC_SHARED", json.dumps(sandbox.emulator("mautic").oauth_connection(sandbox.url))
    )
    hook = MauticHook("mautic_shared")
    hook.get_contact(1)  # the blocking client fetches the token

    async def run() -> Any:
        async with hook.make_async_transport() as client:
            assert client.auth is hook.transport.auth and client.error_mapper is map_mautic_error
            return await client.get_json("/api/contacts/2")

    assert asyncio.run(run())["contact"]["id"] == 2
    assert (
        sum(r["path"].endswith("/oauth/v2/token") for r in sandbox.requests("mautic")) == 1
    )  # one token, shared


@pytest.mark.slow
def test_importing_the_http_layer_and_every_hook_loads_no_http_client():
    code = (
        "import sys, airflow.sdk; before = set(sys.modules);"
        "import airflow_provider_contacts.http.client, airflow_provider_contacts.http.auth,"
        " airflow_provider_contacts.hooks.mautic.hook, airflow_provider_contacts.hooks.dmartech,"
        " airflow_provider_contacts.hooks.engagelab, airflow_provider_contacts.hooks.which50;"
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} & {'requests', 'httpx', 'urllib3'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_threads_first_using_a_hook_share_one_client_and_one_auth(sandbox, monkeypatch):
    """Python 3.12+ ``cached_property`` has no lock: threads touching a fresh hook at once
    would each build a client (and fetch a token, and count requests apart)."""
    from airflow_provider_contacts.hooks.mautic.hook import MauticHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_MAUTIC_FRESH", json.dumps(sandbox.emulator("mautic").oauth_connection(sandbox.url))
    )
    for _ in range(5):
        hook = MauticHook("mautic_fresh")
        start = threading.Barrier(8)

        def touch(_: int) -> tuple[int, int]:
            start.wait()  # noqa: B023 (each round's threads finish inside the round)
            return id(hook.transport), id(hook.auth)  # noqa: B023

        with ThreadPoolExecutor(8) as pool:
            assert len(set(pool.map(touch, range(8)))) == 1
