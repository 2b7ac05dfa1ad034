"""What the user sees of a run: the rejected count per reason in the summary, the first rejected
rows in the task log (secrets masked), the summary as lines then JSON, the default rejects path,
the do-not-contact reason by name, and no false ERROR at the end of a successful task."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import pytest

from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from airflow_provider_contacts.sandbox.vendors.mautic import PASSWORD
from tests.integration.operator_support import context, only_the_fields_read, read_ndjson


def upsert(tmp_path, rows, **kwargs) -> tuple[UpsertContactsOperator, dict]:
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=rows,
        rejects_path=str(tmp_path / "rejects.ndjson"),
        max_rejected=1.0,
        **kwargs,
    )
    return op, op.execute(context(tmp_path))


@pytest.fixture
def task_log():
    """What the operators log (their ``self.log`` is a structlog logger), as event dicts."""
    import structlog

    with structlog.testing.capture_logs() as logs:
        yield logs


def messages(logs, level: str = "info") -> list[str]:
    return [str(e["event"]) for e in logs if e["log_level"] == level]


MIXED = [
    {"email": "ok@example.com"},
    {"firstname": "no key"},
    {"email": ""},
    {"email": "ann@broken"},  # an invalid email: the address must not become a summary key
    "not an object",
    {"email": "nan@example.com", "points": float("nan")},
    {"email": "owner@example.com", "owner": 99},  # refused by Mautic: HTTP 400, per row
    {"email": "bob@example"},
]


# ---- the summary: counts per reason -----------------------------------------------------------
def test_summary_counts_the_rejections_per_reason_category(sandbox, tmp_path):
    sandbox.reset(empty=True)
    _, summary = upsert(tmp_path, MIXED)
    assert summary["rejected_by_reason"] == {
        "missing key field": 2,
        "invalid email": 2,
        "row is not an object": 1,
        "NaN or Infinity": 1,
        "rejected by the vendor (HTTP 400)": 1,
    }
    assert sum(summary["rejected_by_reason"].values()) == summary["rejected"] == 7
    assert summary["created"] == 1
    # the reasons themselves (with the values they refuse) stay in the rejects file
    reasons = [r["reason"] for r in read_ndjson(tmp_path / "rejects.ndjson")]
    assert "email 'ann@broken' is not a valid address" in reasons
    assert not any("@" in key for key in summary["rejected_by_reason"])


def test_past_ten_reasons_the_rest_are_counted_together(sandbox, tmp_path):
    sandbox.reset(empty=True)
    # twelve kinds of problem with a value each (the CSV column counts differ), the most
    # frequent first: the ten most frequent are named, the other two counted together
    lines = ["email,firstname"]
    for extra in range(1, 13):
        lines += [f"x{extra}@example.com" + ",v" * (extra + 1)] * (13 - extra)
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        source_path=str(tmp_path / "in.csv"),
        rejects_path=str(tmp_path / "rejects.ndjson"),
        max_rejected=1.0,
    )
    summary = op.execute(context(tmp_path))
    # one category for every column count: the numbers are not part of it
    assert summary["rejected_by_reason"] == {"wrong number of CSV values": 78}
    assert summary["rejected"] == 78 and only_the_fields_read(sandbox)


# ---- the task log -----------------------------------------------------------------------------
def test_the_log_shows_the_first_ten_rejected_rows_with_secrets_masked(sandbox, tmp_path, task_log):
    sandbox.reset(empty=True)
    rows = [{"email": f"bad{i}", "address1": f"pw {PASSWORD} in row {i}"} for i in range(12)]
    rows[0]["address2"] = "x" * 5000  # a long row: its line is cut
    _, summary = upsert(tmp_path, rows)
    assert summary["rejected"] == 12
    warned = messages(task_log, "warning")
    assert warned[0] == (
        f"12 row(s) rejected, all in {tmp_path / 'rejects.ndjson'}; the first 10 with their reasons:"
    )
    shown = [m for m in warned if m.startswith("  index ")]
    assert len(shown) == 10
    assert shown[1] == (
        '  index 1: email \'bad1\' is not a valid address; row {"email": "bad1", "address1": "pw *** in row 1"}'
    )
    assert all(len(line) <= 400 for line in shown) and shown[0].endswith("…")
    assert not any(PASSWORD in str(e) for e in task_log)
    # the rejects file keeps the rows as they were
    assert read_ndjson(tmp_path / "rejects.ndjson")[1]["row"]["address1"] == f"pw {PASSWORD} in row 1"


def test_the_rejected_rows_are_in_the_log_when_max_rejected_fails_the_task(sandbox, tmp_path, task_log):
    from airflow_provider_contacts.exceptions import RejectedRowsError

    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=[{"email": "a@example.com"}, {"email": "nope"}],
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    with pytest.raises(RejectedRowsError):
        op.execute(context(tmp_path))
    assert '  index 1: email \'nope\' is not a valid address; row {"email": "nope"}' in messages(
        task_log, "warning"
    )
    assert op.last_summary["rejected_by_reason"] == {"invalid email": 1}


def test_the_summary_is_a_line_per_count_then_the_json(sandbox, tmp_path, task_log):
    sandbox.reset(empty=True)
    rows = [{"email": f"n{i}@example.com"} for i in range(12)] + [{"firstname": "a"}, {"firstname": "b"}]
    _, summary = upsert(tmp_path, rows)
    logged = messages(task_log)
    start = logged.index("Summary:")
    end = next(i for i, m in enumerate(logged) if m.startswith("Summary (JSON): "))
    lines = logged[start + 1 : end]
    assert "  created: 12" in lines and "  rows_read: 14" in lines
    assert "  rejected: 2 (missing key field: 2)" in lines
    assert not any(line.strip().startswith(("conn_id", "key:", "rejects_path", "dry_run")) for line in lines)
    assert '"rejected_by_reason": {"missing key field": 2}' in logged[end]
    assert summary["created"] == 12


def test_upsert_progress_gives_the_total_and_the_last_line_once(sandbox, tmp_path, caplog, monkeypatch):
    from airflow_provider_contacts.operators import upsert as upsert_module

    sandbox.reset(empty=True)
    # a line after every batch (the default is at most one every 10 s)
    monkeypatch.setattr(upsert_module, "Progress", functools.partial(upsert_module.Progress, every=0.0))
    rows = [{"email": f"p{i}@example.com"} for i in range(450)]
    with caplog.at_level(logging.INFO):
        upsert(tmp_path, rows)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("upsert into")]
    assert [line.split(" (")[0].rsplit(",", 1)[0] for line in lines] == [
        "upsert into mautic_default: 200 of 450 rows, 44 %",
        "upsert into mautic_default: 400 of 450 rows, 88 %",
        "upsert into mautic_default: 450 of 450 rows, 100 %",
    ]


def test_do_not_contact_progress_counts_the_contacts_of_the_total(sandbox, tmp_path, caplog, monkeypatch):
    from airflow_provider_contacts.operators import add_remove as base

    monkeypatch.setattr(base, "Progress", functools.partial(base.Progress, every=0.0))
    ids = sorted(sandbox.emulator("mautic").contacts)[:3]
    op = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        rows=[{"id": i} for i in ids] + [{"id": ids[0]}],  # a duplicate: counted once
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    with caplog.at_level(logging.INFO):
        op.execute(context(tmp_path))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("do-not-contact add")]
    assert [line.split(", done in")[0] for line in lines] == [
        "do-not-contact add on mautic_default: 3 of 3 contacts, 100 %"
    ]


# ---- where the rejects go ---------------------------------------------------------------------
def test_the_default_rejects_path_is_under_storage_base(sandbox, tmp_path, monkeypatch):
    base = tmp_path / "shared"
    monkeypatch.setenv("AIRFLOW__CONTACTS__STORAGE_BASE", f"{base}/")
    op = UpsertContactsOperator(
        task_id="up", conn_id="mautic_default", rows=[{"email": "nope"}], max_rejected=1
    )
    summary = op.execute(context(tmp_path))
    expected = base / "dag" / "manual__1" / "task" / "rejects.ndjson"
    assert summary["rejects_path"] == str(expected)
    assert [r["row"] for r in read_ndjson(expected)] == [{"email": "nope"}]


# ---- do-not-contact -------------------------------------------------------------------------
@pytest.mark.parametrize(("reason", "code"), [("unsubscribed", 1), ("bounced", 2), ("manual", 3), (7, 7)])
def test_do_not_contact_summary_names_the_reason(sandbox, tmp_path, reason, code):
    emu = sandbox.emulator("mautic")
    contact = next(c for c in emu.contacts.values() if c["values"]["email"] and not c["dnc"])
    op = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        reason=reason,
        rows=[{"id": contact["id"]}],
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    summary = op.execute(context(tmp_path))
    assert (summary["reason"], summary["reason_code"]) == (str(reason), code)
    assert [(d["channel"], d["reason"]) for d in contact["dnc"]] == [("email", code)]


# ---- no false ERROR -------------------------------------------------------------------------
@pytest.mark.slow  # dag.test()
def test_a_successful_task_that_touched_no_contact_logs_no_error(sandbox, airflow_db, DagBag, caplog):
    """tests/integration/dags/test_contacts_visible_summary.py: every row rejected (allowed), so no
    contact was touched and the task has no vendor link; Airflow still asks the link at the end."""
    import structlog

    dag = DagBag(dag_folder=str(Path(__file__).parent / "dags")).get_dag("test_contacts_visible_summary")
    with structlog.testing.capture_logs() as logs:
        run = dag.test()
    assert run.state == "success"
    assert [e for e in logs if e.get("log_level") in ("error", "critical", "exception")] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    events = [str(e.get("event")) for e in logs]
    assert "  rejected: 2 (not a contact id or email: 1, contact not found: 1)" in events
    assert "  reason_code: 1" not in events and any('"reason": "unsubscribed"' in e for e in events)


def test_the_vendor_link_is_the_operators_own_and_reads_no_xcom(sandbox, tmp_path):
    """Airflow asks ``get_link`` with the operator that ran when the task ends (and stores the
    answer): the link must not depend on an XCom the task may never have pushed."""
    from airflow_provider_contacts.links import VendorContactLink

    sandbox.reset(empty=True)
    one, _ = upsert(tmp_path, [{"email": "one@example.com"}])
    contact = sandbox.emulator("mautic").contact_by_email("one@example.com")
    link = VendorContactLink()
    assert link.get_link(one, ti_key=None) == f"{sandbox.base_url('mautic')}/s/contacts/view/{contact['id']}"
    none, summary = upsert(tmp_path, [{"email": "nope"}])
    assert summary["rejected"] == 1 and link.get_link(none, ti_key=None) == ""
