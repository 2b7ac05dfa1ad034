"""The four action operators end to end against the Mautic emulator over real HTTP: exact
request counts, exact emulator state, exact rows in the rejects file."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    ContactsConnectionError,
    RejectedRowsError,
    UnsupportedActionError,
)
from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator


def context(tmp_path, **extra):
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="task", map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti, **extra}


def read_ndjson(path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def vendor_calls(sandbox, part: str) -> list[dict]:
    return [r for r in sandbox.requests("mautic") if part in r["path"]]


def emails(emu) -> dict[str, dict]:
    return {c["values"]["email"].lower(): c for c in emu.contacts.values() if c["values"]["email"]}


# ---- upsert -------------------------------------------------------------------------------
def test_upsert_inline_rows_duplicates_rejects_and_exact_state(sandbox, tmp_path):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    rows = [{"email": f"u{i}@example.com", "firstname": f"U{i}"} for i in range(450)]
    rows += [
        {"email": "U3@Example.com ", "firstname": "Last wins"},  # duplicate of u3
        {"firstname": "no key"},
        "not an object",
        {"email": "broken@"},
        {"email": "owner@example.com", "owner": 99},  # rejected by Mautic, per row
    ]
    rejects_path = tmp_path / "rejects.ndjson"
    op = UpsertContactsOperator(
        task_id="up", conn_id="mautic_default", rows=rows, rejects_path=str(rejects_path), max_rejected=10
    )
    summary = op.execute(context(tmp_path))
    assert {
        k: summary[k]
        for k in (
            "rows_read",
            "unique_keys",
            "duplicates_collapsed",
            "created",
            "updated",
            "rejected",
            "batches",
        )
    } == {
        "rows_read": 455,
        "unique_keys": 451,
        "duplicates_collapsed": 1,
        "created": 450,
        "updated": 0,
        "rejected": 4,
        "batches": 3,
    }
    assert len(vendor_calls(sandbox, "batch/new")) == 3 and summary["requests"] == 3
    stored = emails(emu)
    assert len(stored) == 450 and stored["u3@example.com"]["values"]["firstname"] == "Last wins"
    rejected = read_ndjson(rejects_path)
    assert [(r["index"], r["reason"]) for r in rejected] == [
        (451, 'missing key field "email" (or it is empty)'),
        (452, "row is not an object (got str); each row must map field names to values"),
        (453, "email 'broken@' is not a valid address"),
        (454, "rejected by the vendor"),
    ]
    assert rejected[3]["status"] == 400 and rejected[3]["message"] == "owner: This value is not valid."
    assert rejected[1]["row"] == "not an object"


def test_upsert_fails_after_writing_rejects_when_over_max_rejected(sandbox, tmp_path):
    rows = [{"email": "ok@example.com"}, {"email": "bad"}, {"email": "bad2"}]
    path = tmp_path / "r.ndjson"
    op = UpsertContactsOperator(task_id="up", conn_id="mautic_default", rows=rows, rejects_path=str(path))
    with pytest.raises(RejectedRowsError, match="2 of 3 rows were rejected before anything was sent"):
        op.execute(context(tmp_path))
    assert [r["index"] for r in read_ndjson(path)] == [1, 2]
    # the local rejections already break the threshold: nothing is sent
    assert sandbox.emulator("mautic").contact_by_email("ok@example.com") is None
    assert sandbox.requests("mautic") == []
    frac = UpsertContactsOperator(
        task_id="up2", conn_id="mautic_default", rows=rows, rejects_path=str(path), max_rejected=0.7
    )
    assert frac.execute(context(tmp_path))["rejected"] == 2


def test_upsert_from_ndjson_csv_and_json_array_files(sandbox, tmp_path):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    (tmp_path / "a.ndjson").write_text('{"email": "n1@example.com"}\n{oops\n\n{"email": "n2@example.com"}\n')
    (tmp_path / "b.csv").write_text(
        "email,firstname,city\nc1@example.com,Cee,Oslo\nc2@example.com,,\nc3@example.com,too,many,values\n"
    )
    (tmp_path / "c.json").write_text(
        '[{"email": "j1@example.com", "attribution": 7}, {"email": "j2@example.com"}]'
    )
    results = {}
    for name in ("a.ndjson", "b.csv", "c.json"):
        op = UpsertContactsOperator(
            task_id="up",
            conn_id="mautic_default",
            source_path=str(tmp_path / name),
            rejects_path=str(tmp_path / f"{name}.rejects"),
            max_rejected=5,
        )
        results[name] = op.execute(context(tmp_path))
    assert sorted(emails(emu)) == [
        "c1@example.com",
        "c2@example.com",
        "j1@example.com",
        "j2@example.com",
        "n1@example.com",
        "n2@example.com",
    ]
    assert emails(emu)["c1@example.com"]["values"]["city"] == "Oslo"
    assert emails(emu)["j1@example.com"]["values"]["attribution"] == 7
    assert [r["reason"] for r in read_ndjson(tmp_path / "a.ndjson.rejects")] == [
        "line 2 is not valid JSON (Expecting property name enclosed in double quotes)"
    ]
    assert [r["reason"] for r in read_ndjson(tmp_path / "b.csv.rejects")] == [
        "line 4 has 4 values for 3 columns"
    ]
    assert results["c.json"]["created"] == 2 and results["c.json"]["rejected"] == 0


def test_object_storage_paths_for_input_rejects_and_output(sandbox, tmp_path):
    source = f"file://{tmp_path}/in/rows.ndjson"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.ndjson").write_text('{"email": "os1@example.com"}\n{"email": "bad"}\n')
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        source_path=source,
        max_rejected=1,
        rejects_path=f"file://{tmp_path}/out/rejects.ndjson",
    )
    assert op.execute(context(tmp_path))["created"] == 1
    assert [r["row"] for r in read_ndjson(tmp_path / "out" / "rejects.ndjson")] == [{"email": "bad"}]


def test_upsert_from_sql_streams_with_fetchmany(sandbox, tmp_path, monkeypatch):
    sandbox.reset(empty=True)
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table customers (email text, firstname text, ltv integer)")
        conn.executemany(
            "insert into customers values (?, ?, ?)", [(f"s{i}@example.com", f"S{i}", i) for i in range(2500)]
        )
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        source_conn_id="warehouse",
        source_sql="select email, firstname, ltv as lifetime_value from customers where ltv >= 500",
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    summary = op.execute(context(tmp_path))
    assert (summary["rows_read"], summary["created"], summary["batches"]) == (2000, 2000, 10)
    assert emails(sandbox.emulator("mautic"))["s600@example.com"]["values"]["lifetime_value"] == 600


def test_bad_sources_fail_clearly_before_any_request(sandbox, tmp_path, monkeypatch):
    (tmp_path / "bad.csv").write_text("email,,email\nx@example.com,1,2\n")
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "w.db")})
    )
    cases = [
        (
            {"source_path": str(tmp_path / "bad.csv")},
            "the CSV header is not usable (empty column name at position(s) 2; duplicate column(s) email)",
        ),
        ({"source_path": str(tmp_path / "missing.ndjson")}, "cannot be read"),
        ({"source_path": str(tmp_path / "data.txt")}, "cannot tell the format"),
        (
            {"source_conn_id": "warehouse", "source_sql": "select * from nowhere"},
            "source_sql failed on connection 'warehouse': OperationalError: no such table: nowhere",
        ),
        ({"rows": [{"email": "a@example.com"}], "source_path": "x.csv"}, "give exactly one input"),
        ({"rows": "{not json"}, "rows is a string but not a JSON list"),
    ]
    for kwargs, message in cases:
        op = UpsertContactsOperator(
            task_id="up", conn_id="mautic_default", rejects_path=str(tmp_path / "r.ndjson"), **kwargs
        )
        with pytest.raises(ContactsConfigError) as err:
            op.execute(context(tmp_path))
        assert message in str(err.value), kwargs
    assert vendor_calls(sandbox, "/api/") == []


def test_upsert_dry_run_sends_nothing(sandbox, tmp_path):
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        dry_run=True,
        max_rejected=1,
        rows=[{"email": "d1@example.com"}, {"email": "d1@example.com"}, {"email": "nope"}],
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    summary = op.execute(context(tmp_path))
    assert (
        summary["unique_keys"],
        summary["duplicates_collapsed"],
        summary["rejected"],
        summary["requests"],
    ) == (1, 1, 1, 0)
    assert sandbox.requests("mautic") == []


@pytest.mark.parametrize("memory_rows, concurrency", [(10, 1), (50_000, 4), (7, 3)])
def test_upsert_spill_and_concurrency_give_the_same_state(sandbox, tmp_path, memory_rows, concurrency):
    sandbox.reset(empty=True)
    rows = [{"email": f"k{i % 600}@example.com", "firstname": f"v{i}"} for i in range(1000)]
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=rows,
        memory_rows=memory_rows,
        max_active_requests=concurrency,
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    summary = op.execute(context(tmp_path))
    assert (summary["unique_keys"], summary["duplicates_collapsed"], summary["created"]) == (600, 400, 600)
    assert len(vendor_calls(sandbox, "batch/new")) == 3
    stored = emails(sandbox.emulator("mautic"))
    assert len(stored) == 600
    assert all(
        stored[f"k{k}@example.com"]["values"]["firstname"] == f"v{k + 600 if k < 400 else k}"
        for k in range(600)
    )


def test_summary_is_attached_to_outlet_asset_events(sandbox, tmp_path):
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import OutletEventAccessors

    asset = Asset(name="mautic_contacts", uri="mautic://sandbox/contacts")
    # what a task's context["outlet_events"] is (Airflow 3.1's Asset itself is not hashable)
    events = OutletEventAccessors()
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=[{"email": "o@example.com"}],
        outlets=[asset],
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    op.execute(context(tmp_path, outlet_events=events))
    assert events[asset].extra["created"] == 1 and events[asset].extra["rejected"] == 0


def test_vendor_without_the_capability_is_named(sandbox, tmp_path):
    op = DoNotContactOperator(
        task_id="dnc", conn_id="dmartech_default", action="add", rows=[1], rejects_path=str(tmp_path / "r")
    )
    with pytest.raises(UnsupportedActionError, match="connection types that can: mautic"):
        op.execute(context(tmp_path))


# ---- do not contact -----------------------------------------------------------------------
def test_dnc_by_ids_and_emails_in_batches(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    for i in range(260):
        emu.state.upsert({"email": f"bulk{i}@example.com"})
    rows = [f"bulk{i}@example.com" for i in range(260)] + [
        1,
        "2",
        {"id": 3},
        {"email": "ghost@example.com"},
        "ghost2@example.com",
        {"name": "x"},
        1,
    ]
    op = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        reason="bounced",
        comments="hard bounce",
        rows=rows,
        rejects_path=str(tmp_path / "r.ndjson"),
        max_rejected=3,
    )
    summary = op.execute(context(tmp_path))
    assert (summary["updated"], summary["not_found"], summary["duplicates"], summary["rejected"]) == (
        263,
        2,
        1,
        3,
    )
    assert len(vendor_calls(sandbox, "batch/edit")) == 2  # 263 contacts, 200 per edit
    assert (
        len([r for r in vendor_calls(sandbox, "/api/contacts") if r["method"] == "GET"]) == 3
    )  # 262 emails, 100 per look-up
    assert all(
        any(d["channel"] == "email" and d["reason"] in (1, 2) for d in c["dnc"])
        for c in emu.contacts.values()
        if c["id"] <= 3 or c["id"] > 40
    )
    assert sorted((r["index"], r["reason"]) for r in read_ndjson(tmp_path / "r.ndjson")) == [
        (263, "contact not found"),
        (264, "contact not found"),
        (265, 'row has no "id", "contact_id" or "email"'),
    ]
    op = DoNotContactOperator(
        task_id="dnc2",
        conn_id="mautic_default",
        action="remove",
        rows=[1, 2, 3],
        rejects_path=str(tmp_path / "r2.ndjson"),
    )
    assert op.execute(context(tmp_path))["updated"] == 3
    assert [d for cid in (1, 2, 3) for d in emu.contacts[cid]["dnc"] if d["channel"] == "email"] == []


def test_dnc_bad_reason_and_action_are_refused_up_front(sandbox, tmp_path):
    with pytest.raises(ContactsConfigError, match="reason='spam'"):
        DoNotContactOperator(task_id="x", conn_id="mautic_default", action="add", reason="spam", rows=[1])
    with pytest.raises(ContactsConfigError, match="action='block'"):
        DoNotContactOperator(task_id="x", conn_id="mautic_default", action="block", rows=[1])
    templated = DoNotContactOperator(
        task_id="x", conn_id="mautic_default", action="{{ params.action }}", rows=[1]
    )
    templated.action = "pause"  # what the template rendered to
    with pytest.raises(ContactsConfigError, match="action='pause'"):
        templated.execute(context(tmp_path))
    assert sandbox.requests("mautic") == []


# ---- point groups -------------------------------------------------------------------------
def test_adjustments_catalogue_and_rounding(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    emu.state.group_scores.clear()
    emu.state.group_scores[(1, 1)] = 7
    rows = [
        {"contact": 1, "group": "Engagement", "op": "divide", "value": 2},  # 7/2 → 3
        {"contact": 1, "group": 1, "op": "plus", "value": "4"},  # same pair: 3+4 → 7
        {
            "contact": emails(emu) and next(iter(emails(emu))),
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
    kwargs = dict(
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
    base = dict(
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
