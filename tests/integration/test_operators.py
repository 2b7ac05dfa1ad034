"""The four action operators end to end against the Mautic emulator over real HTTP: exact
request counts, exact emulator state, exact rows in the rejects file."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    RejectedRowsError,
    UnsupportedActionError,
)
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from tests.integration.operator_support import context, emails, read_ndjson, vendor_calls


# ---- upsert -------------------------------------------------------------------------------
def test_upsert_inline_rows_duplicates_rejects_and_exact_state(sandbox, tmp_path):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    rows: list[Any] = [{"email": f"u{i}@example.com", "firstname": f"U{i}"} for i in range(450)]
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
    # the contact fields read once (the columns' check), then the batches
    assert len(vendor_calls(sandbox, "batch/new")) == 3 and summary["requests"] == 4
    assert len(vendor_calls(sandbox, "fields/contact")) == 1
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
    op = UpsertContactsOperator(
        task_id="up", conn_id="mautic_default", rows=rows, rejects_path=str(path), send_valid_rows=False
    )
    with pytest.raises(RejectedRowsError, match="2 of 3 rows were rejected before anything was sent"):
        op.execute(context(tmp_path))
    assert [r["index"] for r in read_ndjson(path)] == [1, 2]
    # the local rejections already break the threshold: nothing is sent (the columns were checked)
    assert sandbox.emulator("mautic").contact_by_email("ok@example.com") is None
    assert [r["method"] for r in sandbox.requests("mautic")] == ["GET"]
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
    cases: list[tuple[dict[str, Any], str]] = [
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
    ) == (1, 1, 1, 1)
    assert [r["method"] for r in sandbox.requests("mautic")] == ["GET"]  # the fields read only


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
        {"email": ""},
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
    targets = [cid for cid in emu.contacts if cid <= 3 or cid > 40]
    assert len(targets) == 263
    # bounced is Mautic's DoNotContact::BOUNCED (2)
    assert {
        cid: [d["reason"] for d in emu.contacts[cid]["dnc"] if d["channel"] == "email"] for cid in targets
    } == {cid: [2] for cid in targets}
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


@pytest.mark.parametrize(("reason", "code"), [("unsubscribed", 1), ("bounced", 2), ("manual", 3)])
def test_dnc_operator_sets_mautics_code_for_each_reason(sandbox, tmp_path, reason, code):
    emu = sandbox.emulator("mautic")
    email = emu.contacts[2]["values"]["email"]
    op = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        reason=reason,
        rows=[1, email],
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    assert op.execute(context(tmp_path))["updated"] == 2
    assert [[(d["channel"], d["reason"]) for d in emu.contacts[cid]["dnc"]] for cid in (1, 2)] == [
        [("email", code)]
    ] * 2


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
