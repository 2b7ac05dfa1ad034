"""Helpers of the operator tests: a task context, NDJSON files, the Mautic request log, contacts by email."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any


def context(tmp_path, **extra) -> Any:
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="task", map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti, **extra}


def read_ndjson(path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def vendor_calls(sandbox, part: str) -> list[dict]:
    return [r for r in sandbox.requests("mautic") if part in r["path"]]


def emails(emu) -> dict[str, dict]:
    return {c["values"]["email"].lower(): c for c in emu.contacts.values() if c["values"]["email"]}


def only_the_fields_read(sandbox) -> bool:
    """True when the only Mautic requests were the upsert's one read of its contact fields (the
    columns check, a GET): nothing was changed, nor read but that."""
    calls = [(r["method"], r["path"]) for r in sandbox.requests("mautic")]
    return calls == [("GET", "/mautic/api/fields/contact")]
