"""Importing the provider is cheap (issue 15): on top of what ``import airflow.sdk`` already
loads, no provider module pulls in an HTTP client, a web server, a decoder or a crypto library;
``requests`` arrives only when a sync client is built. Each check runs in a fresh interpreter.
(The milliseconds are measured by bench/import_time.py; these tests assert what is loaded.)

The package's own ``get_provider_info`` and the narrower checks are in test_provider_info.py
and test_http_client.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "airflow_provider_contacts"
#: loaded by nothing in the provider's import path, not even by airflow.sdk
NEVER = ("requests", "urllib3", "uvicorn", "fastapi", "starlette")
#: airflow.sdk may load these itself; the provider must not be the one that does
NOT_ADDED = (*NEVER, "httpx", "msgspec", "cryptography", "pendulum", "pandas")


def provider_modules() -> list[str]:
    """Every module but the sandbox (the emulators' FastAPI app) and ``testing``."""
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
        if parts[0] in ("sandbox", "testing"):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(("airflow_provider_contacts", *parts)))
    return names


def run_fresh(code: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_the_module_list_covers_hooks_operators_sensors_and_triggers():
    modules = provider_modules()
    for name in (
        "airflow_provider_contacts",
        "airflow_provider_contacts.get_provider_info",
        "airflow_provider_contacts.hooks.mautic.hook",
        "airflow_provider_contacts.operators.upsert",
        "airflow_provider_contacts.sensors.contact_events",
        "airflow_provider_contacts.triggers.contact_events",
    ):
        assert name in modules
    assert not [m for m in modules if ".sandbox" in m or m.endswith(".testing")]


@pytest.mark.slow  # fresh interpreters importing Airflow: about 6 s
def test_no_provider_module_adds_a_heavy_package_to_airflow_sdk():
    code = (
        "import importlib, json, sys\n"
        "import airflow.sdk\n"
        "tops = lambda: {m.split('.')[0] for m in sys.modules}\n"
        "before = tops()\n"
        f"added = {{}}\n"
        f"for name in {provider_modules()!r}:\n"
        "    have = tops()\n"
        "    importlib.import_module(name)\n"
        f"    new = sorted((tops() - have) & set({NOT_ADDED!r}))\n"
        "    if new:\n"
        "        added[name] = new\n"
        f"print(json.dumps({{'added': added, 'present': sorted(tops() & set({NEVER!r}))}}))\n"
    )
    result = run_fresh(code)
    assert result == {"added": {}, "present": []}


@pytest.mark.slow  # fresh interpreters importing Airflow: about 7 s
def test_requests_is_imported_when_a_sync_client_is_built_and_not_before():
    connection = {"conn_type": "mautic", "host": "http://127.0.0.1:9/mautic", "login": "u", "password": "p"}
    code = (
        "import json, sys\n"
        "from airflow_provider_contacts.hooks.mautic.hook import MauticHook\n"
        "from airflow_provider_contacts.operators.upsert import UpsertContactsOperator\n"
        "hook = MauticHook('mautic_lazy')\n"
        "steps = ['requests' in sys.modules]\n"
        "transport = hook.transport\n"
        "steps.append('requests' in sys.modules)\n"
        "transport.session\n"
        "steps.append('requests' in sys.modules)\n"
        "print(json.dumps(steps))\n"
    )
    steps = run_fresh(code, {"AIRFLOW_CONN_MAUTIC_LAZY": json.dumps(connection)})
    # hook built: no; transport object built: still no; its session (the sync client): yes
    assert steps == [False, False, True]
