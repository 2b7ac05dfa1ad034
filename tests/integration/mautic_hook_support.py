"""Helpers of the MauticHook tests: a connection from a dict, the emptied emulator with three
contacts, the request log filtered."""

from __future__ import annotations

import json


def set_conn(monkeypatch, conn_id: str, conn: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def three_contacts(sandbox):
    """The emulator emptied, then contacts 1, 2 and 3."""
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    for i in range(3):
        emu.state.upsert({"email": f"a{i}@example.com"})
    return emu


def calls(sandbox, path_part: str = "", method: str | None = None) -> list[dict]:
    return [
        r
        for r in sandbox.requests("mautic")
        if path_part in r["path"] and (method is None or r["method"] == method)
    ]
