"""Reliability under faults: a 20,000-row upsert through 10% injected 429 / 503 / dropped
answers (half of the drops after Mautic processed the batch) ends with exactly the valid
contacts, once each, with the right fields, and exactly the invalid rows in the rejects file."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

# 20 000 rows through 10 % faults
pytestmark = pytest.mark.slow


def test_20k_upsert_through_10_percent_faults(sandbox, tmp_path, monkeypatch):
    sandbox.reset(empty=True, seed=7)
    emu = sandbox.emulator("mautic")
    conn = emu.connection(sandbox.url)
    extra = {**conn["extra"], "max_retries": 10, "retry_backoff_seconds": 0.01}
    monkeypatch.setenv("AIRFLOW_CONN_MAUTIC_FLAKY", json.dumps({**conn, "extra": extra}))
    rows, invalid = [], []
    for i in range(20_000):
        if i % 100 == 37:  # 1% invalid emails
            rows.append({"email": f"user{i}-at-example.com", "firstname": f"F{i}"})
            invalid.append(i)
        else:
            rows.append({"email": f"user{i}@example.com", "firstname": f"F{i}", "city": f"C{i % 17}"})
    path = tmp_path / "rows.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sandbox.set_faults(rate_429=0.03, rate_5xx=0.03, rate_drop=0.02, rate_drop_after=0.02, vendors=["mautic"])
    ti: Any = SimpleNamespace(dag_id="rel", run_id="r", task_id="up", map_index=-1)
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_flaky",
        source_path=str(path),
        rejects_path=str(tmp_path / "rejects.ndjson"),
        max_rejected=0.02,
    )
    summary = op.execute({"ti": ti})
    faults = [r["fault"] for r in sandbox.requests("mautic") if r["fault"]]
    assert len(faults) >= 5 and summary["retries"] == len(faults)
    valid = {f"user{i}@example.com": (f"F{i}", f"C{i % 17}") for i in range(20_000) if i not in set(invalid)}
    stored = {
        c["values"]["email"]: (c["values"]["firstname"], c["values"]["city"]) for c in emu.contacts.values()
    }
    assert len(emu.contacts) == len(valid) == 19_800  # once each: no duplicate contact
    assert stored == valid
    rejected = [json.loads(line) for line in (tmp_path / "rejects.ndjson").read_text().splitlines()]
    assert [r["index"] for r in rejected] == invalid
    assert summary["created"] + summary["updated"] == 19_800 and summary["rejected"] == 200
