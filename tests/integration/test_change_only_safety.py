"""Change-only sync never loses what the user asked to keep: reported keys survive a failed
try, ``max_removed`` guards do-not-contact, an unusable state is refused before any request,
``full_sync`` overwrites vendor edits on demand, and a NULL is not a change where the vendor
treats it as a missing column. Exact requests and the exact state left, against the Mautic
emulator."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError, RejectedRowsError
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from airflow_provider_contacts.rows import sync_state as sync_state_module
from tests.integration.operator_support import only_the_fields_read
from tests.integration.test_change_only_sync import (  # noqa: F401 (storage: the autouse fixture)
    batch_requests,
    contacts,
    context,
    counts,
    storage,
    sync,
)


def state_keys(path: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [k for (k,) in db.execute("select key from state order by key")]


def listed(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["key"] for line in handle]


def dnc_emails(sandbox) -> list[str]:
    emu = sandbox.emulator("mautic")
    return sorted(c["values"]["email"] for c in emu.contacts.values() if c["dnc"])


# ---- on_removed="report": the keys stay reported until a try succeeds ------------------------
def test_a_failed_try_keeps_the_reported_keys_for_its_retry(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(10)
    first, _ = sync(sandbox, rows)
    path = first["sync_state_path"]
    rows = rows[:7] + [dict(rows[8], owner=99)]  # c8: Mautic refuses the unknown owner; c7, c9 vanished
    with pytest.raises(RejectedRowsError, match="1 of 8 rows were rejected"):
        sync(sandbox, rows, on_removed="report")
    removed_path = os.path.join(
        os.path.dirname(os.path.dirname(path)), "dag", "run_1", "sync", "removed.ndjson"
    )
    assert listed(removed_path) == ["c7@example.com", "c9@example.com"]
    assert state_keys(path) == sorted(f"c{i}@example.com" for i in range(10))  # c7, c9 still held

    # the retry (same task instance) reports them again, and forgets them once it succeeds
    summary, batches = sync(sandbox, rows, on_removed="report", max_rejected=1)
    assert batches == 1 and counts(summary, "removed", "sent", "unchanged", "state_keys") == (2, 1, 7, 8)
    assert summary["removed_path"] == removed_path
    assert listed(removed_path) == ["c7@example.com", "c9@example.com"]
    assert state_keys(path) == sorted(f"c{i}@example.com" for i in (0, 1, 2, 3, 4, 5, 6, 8))
    # a later run: nothing left to report
    assert sync(sandbox, rows[:7] + [rows[7]], on_removed="report", max_rejected=1)[0]["removed"] == 0


# ---- on_removed="do_not_contact": max_removed ------------------------------------------------
def test_more_removed_than_max_removed_is_refused_before_any_request(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(20)
    path = sync(sandbox, rows)[0]["sync_state_path"]
    before = open(path, "rb").read()
    rows[0]["firstname"] = "Changed"
    sandbox.clear_requests()
    with pytest.raises(ContactsConfigError) as err:
        sync(sandbox, rows[:15], on_removed="do_not_contact")  # 5 of 20 = 25 % > the default 10 %
    message = str(err.value)
    assert "would opt out 5 of the 20 contacts in the sync state" in message
    assert (
        "more than max_removed (10.00% of 20 = 2)" in message and "raise max_removed for this run" in message
    )
    assert only_the_fields_read(sandbox) and open(path, "rb").read() == before and dnc_emails(sandbox) == []

    # raised for this run, as the trigger form renders it (a string): 1 changed row, 5 opted out
    summary, batches = sync(sandbox, rows[:15], on_removed="do_not_contact", max_removed="5")
    assert batches == 1 and counts(summary, "sent", "removed", "removed_do_not_contact", "state_keys") == (
        1,
        5,
        5,
        15,
    )
    assert dnc_emails(sandbox) == sorted(f"c{i}@example.com" for i in range(15, 20))
    # the default again, of the 15 keys left: 10 % of 15 = 1 may go, 2 may not
    with pytest.raises(ContactsConfigError, match=r"would opt out 2 of the 15 .*10.00% of 15 = 1"):
        sync(sandbox, rows[:13], on_removed="do_not_contact")
    summary, _ = sync(sandbox, rows[:14], on_removed="do_not_contact")
    assert counts(summary, "removed_do_not_contact", "state_keys") == (1, 14)


@pytest.mark.parametrize("max_removed", [None, 1.0, 100])
def test_an_empty_source_opts_out_nobody(sandbox, max_removed):
    sandbox.reset(empty=True)
    path = sync(sandbox, contacts(30))[0]["sync_state_path"]
    sandbox.clear_requests()
    extra = {} if max_removed is None else {"max_removed": max_removed}
    with pytest.raises(
        ContactsConfigError, match="the source gave no rows, so on_removed='do_not_contact' would"
    ):
        sync(sandbox, [], on_removed="do_not_contact", **extra)
    assert sandbox.requests("mautic") == [] and dnc_emails(sandbox) == []
    assert len(state_keys(path)) == 30


def test_reporting_is_never_refused(sandbox):
    sandbox.reset(empty=True)
    sync(sandbox, contacts(30))
    summary, batches = sync(sandbox, [], on_removed="report")
    assert batches == 0 and counts(summary, "removed", "state_keys") == (30, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"on_removed": "report", "max_removed": 5},
            "max_removed only applies with on_removed='do_not_contact'",
        ),
        ({"max_removed": 5}, "max_removed only applies with on_removed='do_not_contact'"),
        ({"on_removed": "do_not_contact", "max_removed": "many"}, "max_removed='many' is not a number"),
        ({"on_removed": "do_not_contact", "max_removed": 1.5}, "a float is a fraction of the state's keys"),
        ({"on_removed": "do_not_contact", "max_removed": -1}, "max_removed=-1 is negative"),
        ({"full_sync": "maybe"}, "full_sync='maybe': use True or False"),
    ],
)
def test_bad_max_removed_and_full_sync_are_refused_when_the_task_is_built(kwargs, message):
    with pytest.raises(ContactsConfigError, match=message):
        UpsertContactsOperator(task_id="x", conn_id="mautic_default", rows=[], only_changed=True, **kwargs)


def test_full_sync_without_only_changed_is_refused_also_once_rendered(sandbox):
    with pytest.raises(ContactsConfigError, match="full_sync=True only applies with only_changed=True"):
        UpsertContactsOperator(task_id="x", conn_id="mautic_default", rows=[], full_sync=True)
    op = UpsertContactsOperator(task_id="x", conn_id="mautic_default", rows=[], full_sync="{{ params.full }}")
    op.full_sync = "True"  # as rendered
    sandbox.clear_requests()
    with pytest.raises(ContactsConfigError, match="full_sync=True only applies with only_changed=True"):
        op.execute(context("x"))
    assert sandbox.requests("mautic") == []


# ---- a state that cannot be used: refused before any request -------------------------------
def _truncated(path):
    data = open(path, "rb").read()
    return data[: len(data) // 2]


def _not_a_state(path):
    other = f"{path}.other"
    with sqlite3.connect(other) as db:
        db.execute("create table orders (id integer primary key)")
    db.close()
    return open(other, "rb").read()


def _damaged_page(path):
    data = bytearray(open(path, "rb").read())
    data[4096 : 4096 + 512] = b"\xff" * 512
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: b"", "the file is empty (0 bytes)"),
        (_truncated, "damaged or truncated"),
        (lambda path: b"not a database at all\n" * 50, "not a readable SQLite file"),
        (_not_a_state, "an SQLite file but not a sync state (tables: orders)"),
        (_damaged_page, "damaged or truncated"),
    ],
    ids=["zero-bytes", "truncated", "garbage", "another-sqlite-file", "damaged-page"],
)
@pytest.mark.parametrize("where", ["local", "object storage"])
def test_an_unusable_state_is_refused_before_any_request(
    sandbox, tmp_path, monkeypatch, make, problem, where
):
    sandbox.reset(empty=True)
    rows = contacts(600)
    location = str(tmp_path / "states" / "crm.sqlite")
    if where == "object storage":  # through ObjectStoragePath (file:// taken the object-storage way)
        monkeypatch.setattr(sync_state_module, "_local", lambda location: None)
        location = f"file://{location}"
    sync(sandbox, rows, sync_state=location)
    local = str(tmp_path / "states" / "crm.sqlite")
    bad = make(local)
    with open(local, "wb") as handle:
        handle.write(bad)
    sandbox.clear_requests()
    for _ in range(2):  # every run says the same, and leaves the file as it was
        with pytest.raises(ContactsConfigError) as err:
            sync(sandbox, rows, sync_state=location)
        assert sandbox.requests("mautic") == [] and open(local, "rb").read() == bad
    message = str(err.value)
    assert f"sync_state {location!r} cannot be used: " in message and problem in message
    assert "Nothing was sent. Delete it" in message and "sync_state_bootstrap='vendor'" in message

    os.remove(local)  # the fix: the next run sends every row and stores a good state
    summary, batches = sync(sandbox, rows, sync_state=location)
    assert batches == 3 and counts(summary, "sent", "updated", "state_keys") == (600, 600, 600)
    assert len(state_keys(local)) == 600


def test_a_state_damaged_while_the_run_worked_is_replaced_by_a_good_one(sandbox, tmp_path, monkeypatch):
    """Someone breaks the stored file after this run read it: storing does not fail on it (the
    run's own state, read whole before, replaces it), so no run after is left with a bad state."""
    sandbox.reset(empty=True)
    location = str(tmp_path / "crm.sqlite")
    rows = contacts(50)
    sync(sandbox, rows, sync_state=location)
    rows[0]["firstname"] = "Changed"
    real_commit = sync_state_module.SyncState.commit

    def broken_meanwhile(self):
        with open(location, "wb") as handle:
            handle.write(b"\0" * 100)
        real_commit(self)

    monkeypatch.setattr(sync_state_module.SyncState, "commit", broken_meanwhile)
    summary, batches = sync(sandbox, rows, sync_state=location)
    assert batches == 1 and summary["state_keys"] == 50
    monkeypatch.undo()
    summary, batches = sync(sandbox, rows, sync_state=location)
    assert batches == 0 and summary["unchanged"] == 50


# ---- full_sync: vendor edits are overwritten only when asked ---------------------------------
def test_full_sync_sends_every_row_once_and_overwrites_vendor_edits(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(300)
    sync(sandbox, rows)
    emu = sandbox.emulator("mautic")
    emu.contact_by_email("c5@example.com")["values"]["firstname"] = "Edited in Mautic"
    summary, batches = sync(sandbox, rows)  # the source row is unchanged: the edit stays
    assert batches == 0 and summary["full_sync"] is False
    assert emu.contact_by_email("c5@example.com")["values"]["firstname"] == "Edited in Mautic"

    summary, batches = sync(sandbox, rows, full_sync="True", sync_state_bootstrap="vendor")  # as rendered
    assert batches == 2 and counts(summary, "sent", "updated", "unchanged", "state_keys") == (
        300,
        300,
        0,
        300,
    )
    assert summary["full_sync"] is True and "bootstrapped" not in summary
    assert [
        r for r in sandbox.requests("mautic") if r["path"].endswith("/api/contacts")
    ] == []  # no vendor read
    assert emu.contact_by_email("c5@example.com")["values"]["firstname"] == "F5"
    assert sync(sandbox, rows)[1] == 0  # the state was refreshed


def test_a_full_sync_dry_run_counts_every_row_and_stores_nothing(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(10)
    path = sync(sandbox, rows[:4])[0]["sync_state_path"]
    before = open(path, "rb").read()
    summary, batches = sync(sandbox, rows, full_sync=True, dry_run=True)
    assert batches == 0 and counts(summary, "would_send", "unchanged") == (10, 0)
    assert open(path, "rb").read() == before and only_the_fields_read(sandbox)


# ---- NULL and a missing column: the same when the vendor treats them the same ---------------
def test_null_then_missing_column_sends_nothing_when_mautic_keeps_blank_values(sandbox):
    sandbox.reset(empty=True)
    with_nulls = [dict(row, company=None, city="") for row in contacts(250)]
    assert sync(sandbox, with_nulls)[1] == 2
    without = [{k: v for k, v in row.items() if k not in ("company", "city")} for row in with_nulls]
    summary, batches = sync(sandbox, without)
    assert batches == 0 and counts(summary, "sent", "unchanged") == (0, 250)
    assert sync(sandbox, with_nulls)[1] == 0  # and back
    # a value that is sent is still a change
    without[3]["company"] = "Acme"
    summary, batches = sync(sandbox, without)
    assert batches == 1 and summary["updated"] == 1


def test_null_and_missing_column_differ_when_blank_values_clear(sandbox):
    """``blank_values="clear"``: a NULL clears the field at Mautic, a missing column leaves it
    alone, so the two are different rows and the switch is sent."""
    sandbox.reset(empty=True)
    rows = [dict(row, company="Acme") for row in contacts(250)]
    clear: dict[str, Any] = {"hook_params": {"blank_values": "clear"}}
    assert sync(sandbox, rows, **clear)[1] == 2
    with_nulls = [dict(row, company=None) for row in rows]
    assert sync(sandbox, with_nulls, **clear)[1] == 2
    emu = sandbox.emulator("mautic")
    assert emu.contact_by_email("c1@example.com")["values"]["company"] in (None, "")
    without = [{k: v for k, v in row.items() if k != "company"} for row in with_nulls]
    summary, batches = sync(sandbox, without, **clear)
    assert batches == 2 and summary["sent"] == 250


def test_a_bootstrap_matches_empty_vendor_fields_to_missing_columns(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(5)
    UpsertContactsOperator(task_id="plain", conn_id="mautic_default", rows=rows).execute(context("plain"))
    # Mautic holds no company for them; three rows say NULL, two have no such column
    rows = [dict(row, company=None) for row in rows[:3]] + rows[3:]
    summary, batches = sync(sandbox, rows, sync_state_bootstrap="vendor")
    assert batches == 0 and counts(summary, "bootstrapped", "unchanged") == (5, 5)


# ---- rows that cannot be read: their contacts are not "vanished" -------------------------------
@pytest.mark.parametrize("on_removed", ["do_not_contact", "report"])
def test_rows_that_cannot_be_read_hold_back_on_removed(sandbox, tmp_path, on_removed):
    """A garbled line names a contact nobody can tell: it is not opted out (nor reported) as
    vanished, nor is any other this run; the run says so, and the next clean run handles the
    contacts that really left. A row without its email names no contact: c4 has left."""
    sandbox.reset(empty=True)
    rows = contacts(20)
    path = sync(sandbox, rows)[0]["sync_state_path"]
    lines = [json.dumps(r) for r in rows]
    lines[3] = lines[3][:-5]  # c3's line cut short: not JSON
    lines[4] = json.dumps({"firstname": "F4", "lastname": "L"})  # c4's row without its email
    source = tmp_path / "garbled.ndjson"
    source.write_text("\n".join(lines) + "\n")
    summary, _ = sync(sandbox, None, source_path=str(source), on_removed=on_removed, max_rejected=2)
    assert summary["removed_held_back_unreadable_rows"] == 1 and "removed" not in summary
    assert dnc_emails(sandbox) == [] and len(state_keys(path)) == 20
    assert not [r for r in sandbox.requests("mautic") if "dnc" in r["path"]]
    lines[3] = json.dumps(rows[3])  # fixed; c4's row still has no email
    source.write_text("\n".join(lines) + "\n")
    summary, _ = sync(sandbox, None, source_path=str(source), on_removed=on_removed, max_rejected=1)
    assert summary["removed"] == 1 and "removed_held_back_unreadable_rows" not in summary
    assert dnc_emails(sandbox) == (["c4@example.com"] if on_removed == "do_not_contact" else [])
