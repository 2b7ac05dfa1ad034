"""The point-group and activity operators end to end against the Mautic emulator over real HTTP:
exact request counts, exact emulator state, exact rows in the rejects file, exactly once.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    ContactsConnectionError,
)
from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from tests.integration.operator_support import context, emails, read_ndjson, vendor_calls


# ---- point groups -------------------------------------------------------------------------
def test_adjustments_catalogue_and_rounding(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    emu.state.group_scores.clear()
    emu.state.group_scores[(1, 1)] = 7
    rows = [
        {"contact": 1, "group": "Engagement", "op": "divide", "value": 2},  # 7/2 → 3
        {"contact": 1, "group": 1, "op": "plus", "value": "4"},  # same pair: 3+4 → 7
        {
            "contact": next(iter(emails(emu))),
            "group": "product interest",
            "op": "set",
            "value": 10,
        },
        {"contact": 1, "group": "Nope", "op": "plus", "value": 1},
        {"contact": 1, "group": 1, "op": "pow", "value": 2},
        {"contact": 1, "group": 1, "op": "plus", "value": 1.5},
        {"contact": 1, "group": 1, "op": "divide", "value": 0},
        {"contact": "ghost@example.com", "group": 1, "op": "plus", "value": 1},
        {"contact": 9999, "group": 1, "op": "plus", "value": 1},
        {"group": 1, "op": "plus", "value": 1},
    ]
    op = AdjustPointGroupsOperator(
        task_id="pts",
        conn_id="mautic_default",
        rows=rows,
        max_rejected=10,
        rejects_path=str(tmp_path / "r.ndjson"),
        ledger_path=str(tmp_path / "ledger.ndjson"),
    )
    summary = op.execute(context(tmp_path))
    assert summary["applied"] == 3 and summary["rejected"] == 7
    assert emu.state.group_scores[(1, 1)] == 7 and emu.state.group_scores[(1, 2)] == 10
    reasons = {r["index"]: (r["reason"], r["message"]) for r in read_ndjson(tmp_path / "r.ndjson")}
    assert reasons[3][0] == "unknown group" and "does not exist" in reasons[3][1]
    assert reasons[4][0] == "op 'pow' is not allowed; use one of plus, minus, times, divide, set"
    assert reasons[5][0] == "value 1.5 is not an integer; scores are whole numbers"
    assert reasons[6][0] == "divide by zero: value 0 with op divide"
    assert reasons[7][0] == "contact not found" and reasons[8] == (
        "contact not found",
        "Contact could not be found.",
    )
    assert reasons[9][0] == "missing field(s) contact"
    assert [r["status"] for r in sandbox.requests("mautic") if r["status"] and r["status"] >= 500] == []
    sets = [
        r["path"].rsplit("/", 2)[-2:]
        for r in vendor_calls(sandbox, "/points/groups/")
        if r["method"] == "POST"
    ]
    assert sets == [["set", "3"], ["set", "7"], ["set", "10"]]


def test_a_task_retry_never_applies_an_adjustment_twice(sandbox, tmp_path, monkeypatch):
    """The emulator applies the change and drops the answer, with no transport retries left:
    the try fails. The retry must finish the job without adding the points again."""
    emu = sandbox.emulator("mautic")
    conn = emu.connection(sandbox.url)
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAUTIC_NORETRY", json.dumps({**conn, "extra": {**conn["extra"], "max_retries": 0}})
    )
    emu.state.group_scores.clear()
    emu.state.group_scores.update({(1, 1): 10, (2, 1): 20})
    rows = [
        {"contact": 1, "group": 1, "op": "plus", "value": 5},
        {"contact": 2, "group": 1, "op": "minus", "value": 3},
    ]
    kwargs: dict[str, Any] = dict(
        task_id="pts",
        conn_id="mautic_noretry",
        rows=rows,
        ledger_path=str(tmp_path / "ledger.ndjson"),
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    posts = {"n": 0}

    def drop_second_post(vendor, method, path):
        if method == "POST" and "/points/groups/" in path:
            posts["n"] += 1
            if posts["n"] == 2:
                return {"drop": "drop_after"}
        return None

    monkeypatch.setattr(sandbox.sandbox.faults, "decide", drop_second_post)
    with pytest.raises(ContactsConnectionError):
        AdjustPointGroupsOperator(**kwargs).execute(context(tmp_path))
    assert emu.state.group_scores == {(1, 1): 15, (2, 1): 17}  # both applied, the second answer lost
    summary = AdjustPointGroupsOperator(**kwargs).execute(context(tmp_path))  # the task retry
    assert emu.state.group_scores == {(1, 1): 15, (2, 1): 17}
    assert summary["resent_after_retry"] == 2 and summary["applied"] == 2
    summary = AdjustPointGroupsOperator(**kwargs).execute(context(tmp_path))  # and once more
    assert summary["already_applied"] == 2 and summary["applied"] == 0
    assert emu.state.group_scores == {(1, 1): 15, (2, 1): 17}


def test_changed_input_on_retry_is_refused(sandbox, tmp_path):
    ledger = str(tmp_path / "ledger.ndjson")
    base: dict[str, Any] = dict(
        task_id="pts", conn_id="mautic_default", ledger_path=ledger, rejects_path=str(tmp_path / "r.ndjson")
    )
    AdjustPointGroupsOperator(rows=[{"contact": 1, "group": 1, "op": "plus", "value": 1}], **base).execute(
        context(tmp_path)
    )
    with pytest.raises(ContactsConfigError, match="differ from the previous try"):
        AdjustPointGroupsOperator(
            rows=[{"contact": 1, "group": 1, "op": "plus", "value": 2}], **base
        ).execute(context(tmp_path))


# ---- activity -----------------------------------------------------------------------------
def test_fetch_activity_writes_normalised_ndjson(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    since, until = now - timedelta(days=3), now
    expected = [e for e in emu.state.events if since <= e["timestamp"] < until]
    out = tmp_path / "events.ndjson"
    op = FetchContactActivityOperator(task_id="act", conn_id="mautic_default", output_path=str(out))
    summary = op.execute(context(tmp_path, data_interval_start=since, data_interval_end=until))
    lines = read_ndjson(out)
    assert summary["events"] == len(lines) == len(expected) > 50
    assert {(line["event_type"], line["event_id"]) for line in lines} == {
        (e["event"], e["eventId"]) for e in expected
    }
    assert set(lines[0]) == {
        "vendor",
        "event_id",
        "event_type",
        "contact_id",
        "occurred_at",
        "label",
        "campaign",
        "raw",
    }
    assert sum(summary["by_type"].values()) == len(lines)
    only = FetchContactActivityOperator(
        task_id="act",
        conn_id="mautic_default",
        output_path=str(out),
        since=since.isoformat(),
        until=until.isoformat(),
        event_types="email.read, form.submitted",
        contact_ids=[1, 2, 3],
    )
    summary = only.execute(context(tmp_path))
    assert set(summary["by_type"]) <= {"email.read", "form.submitted"}
    assert {line["contact_id"] for line in read_ndjson(out)} <= {"1", "2", "3"}


def test_fetch_activity_window_must_be_ordered(sandbox, tmp_path):
    op = FetchContactActivityOperator(
        task_id="act", conn_id="mautic_default", since="2026-11-20T00:00:00Z", until="2026-11-20T00:00:00Z"
    )
    with pytest.raises(ContactsConfigError, match="must be before until"):
        op.execute(context(tmp_path))
    assert sandbox.requests("mautic") == []
