"""Change-only sync (``UpsertContactsOperator(only_changed=True)``) against the Mautic emulator:
exact batch requests per run, the state after rejections and crashes, state identity,
bootstrap from the vendor, vanished keys, and arguments refused before any request."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks.mautic.hook import MauticHook
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from airflow_provider_contacts.rows import sync_state as sync_state_module
from airflow_provider_contacts.rows.sync_state import SyncState


@pytest.fixture(autouse=True)
def storage(tmp_path, monkeypatch):
    """Each test keeps its states (and outputs) in its own folder."""
    monkeypatch.setenv("AIRFLOW__CONTACTS__STORAGE_BASE", str(tmp_path / "storage"))
    return tmp_path / "storage"


def context(task_id: str = "sync", dag_id: str = "dag", run_id: str = "run_1"):
    ti = SimpleNamespace(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti}


def contacts(n: int, start: int = 0) -> list[dict]:
    return [
        {"email": f"c{i}@example.com", "firstname": f"F{i}", "lastname": "L"} for i in range(start, start + n)
    ]


def batch_requests(sandbox) -> int:
    return len([r for r in sandbox.requests("mautic") if r["path"].endswith("/contacts/batch/new")])


def sync(sandbox, rows, *, clear_log: bool = True, ctx=None, **kwargs):
    """One change-only run; returns (summary, batch requests it made)."""
    if clear_log:
        sandbox.clear_requests()
    kwargs.setdefault("task_id", "sync")
    op = UpsertContactsOperator(conn_id="mautic_default", rows=rows, only_changed=True, **kwargs)
    summary = op.execute(ctx or context(kwargs["task_id"]))
    return summary, batch_requests(sandbox)


def counts(summary, *names):
    return tuple(summary[n] for n in names)


def test_first_run_sends_all_then_only_the_k_changed_rows(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(1000)
    summary, batches = sync(sandbox, rows)
    assert batches == 5 and counts(summary, "created", "unchanged", "sent", "state_keys") == (
        1000,
        0,
        1000,
        1000,
    )

    # k = 7 rows change, 2 are new: one batch of 9
    for i in (3, 150, 151, 400, 401, 402, 999):
        rows[i]["lastname"] = "Changed"
    rows += contacts(2, start=1000)
    summary, batches = sync(sandbox, rows)
    assert batches == 1
    assert counts(summary, "created", "updated", "unchanged", "sent", "batches") == (2, 7, 993, 9, 1)
    emu = sandbox.emulator("mautic")
    assert emu.contact_by_email("c400@example.com")["values"]["lastname"] == "Changed"
    assert len(emu.contacts) == 1002

    # nothing changed: nothing sent; field order and key case do not count as changes
    rows = [dict(reversed(list(r.items()))) for r in rows]
    rows[0]["email"] = rows[0]["email"]
    summary, batches = sync(sandbox, rows)
    # one request: the fields read that checks the columns before any change
    assert (batches, summary["sent"], summary["unchanged"], summary["requests"]) == (0, 0, 1002, 1)


@pytest.mark.slow
def test_one_percent_changed_sends_ceil_changed_over_batch_size(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(4000)
    assert sync(sandbox, rows, batch_size=10)[1] == 400
    for i in range(0, 4000, 100):  # 1 % = 40 rows
        rows[i]["firstname"] = "New"
    summary, batches = sync(sandbox, rows, batch_size=10)
    assert batches == math.ceil(40 / 10) == summary["batches"]
    assert counts(summary, "updated", "unchanged") == (40, 3960)


def test_a_rejected_row_is_sent_again_next_run_and_only_it(sandbox, tmp_path):
    sandbox.reset(empty=True)
    rows = contacts(300)
    rows[42]["owner"] = 99  # Mautic refuses an unknown owner, for this row only
    summary, batches = sync(sandbox, rows, max_rejected=1, rejects_path=str(tmp_path / "r1.ndjson"))
    assert batches == 2 and counts(summary, "created", "rejected", "state_keys") == (299, 1, 299)

    summary, batches = sync(sandbox, rows, max_rejected=1, rejects_path=str(tmp_path / "r2.ndjson"))
    assert batches == 1 and counts(summary, "sent", "unchanged", "rejected") == (1, 299, 1)
    [reject] = [json.loads(line) for line in (tmp_path / "r2.ndjson").read_text().splitlines()]
    assert (reject["index"], reject["row"]["email"]) == (42, "c42@example.com")

    del rows[42]["owner"]  # fixed in the source: sent once more, then stored
    summary, batches = sync(sandbox, rows)
    assert batches == 1 and counts(summary, "created", "unchanged", "state_keys") == (1, 299, 300)
    assert sync(sandbox, rows)[1] == 0


def test_a_failure_midway_keeps_the_accepted_batches_and_resends_the_lost_one(sandbox, monkeypatch):
    """The third batch reaches Mautic but its answer is lost (the task fails): the state keeps the
    two batches accepted before, and the retry re-sends exactly the lost batch and the rest."""
    sandbox.reset(empty=True)
    rows = contacts(1000)
    real = MauticHook.upsert_batch
    calls = {"n": 0}

    def answer_lost_on_third(self, batch, key="email"):
        calls["n"] += 1
        outcomes = real(self, batch, key)
        if calls["n"] == 3:
            raise ConnectionError("worker lost the answer")
        return outcomes

    monkeypatch.setattr(MauticHook, "upsert_batch", answer_lost_on_third)
    with pytest.raises(ConnectionError):
        sync(sandbox, rows)
    assert batch_requests(sandbox) == 3 and len(sandbox.emulator("mautic").contacts) == 600
    monkeypatch.setattr(MauticHook, "upsert_batch", real)

    summary, batches = sync(sandbox, rows)
    assert batches == 3
    assert counts(summary, "updated", "created", "unchanged", "state_keys") == (200, 400, 400, 1000)
    assert len(sandbox.emulator("mautic").contacts) == 1000


def test_a_crash_before_the_state_is_stored_leaves_the_previous_state(sandbox, monkeypatch, storage):
    """The worker dies after every batch was accepted, before the state is written: the previous
    state (here: the first run's) is intact and the next run re-sends what it does not hold."""
    sandbox.reset(empty=True)
    rows = contacts(400)
    assert sync(sandbox, rows)[1] == 2
    [path] = list((storage / "sync_state").glob("*.sqlite"))
    lock = path.parent / f"{path.name}.lock"  # the write lock's file (empty)
    assert (
        sorted(p.name for p in path.parent.iterdir()) == [path.name, lock.name] and lock.stat().st_size == 0
    )
    before = path.read_bytes()
    rows += contacts(600, start=400)

    def killed(self):
        raise SystemExit("worker killed")

    real_commit = SyncState.commit
    monkeypatch.setattr(SyncState, "commit", killed)
    with pytest.raises(SystemExit):
        sync(sandbox, rows)
    assert batch_requests(sandbox) == 3 and path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, lock.name]  # no partial file left
    monkeypatch.setattr(SyncState, "commit", real_commit)

    summary, batches = sync(sandbox, rows)
    assert batches == 3 and counts(summary, "updated", "unchanged", "state_keys") == (600, 400, 1000)


def test_a_crash_after_the_state_is_stored_sends_nothing_again(sandbox, monkeypatch):
    sandbox.reset(empty=True)
    rows = contacts(1000)

    def fails_after(self, *args, **kwargs):
        raise RuntimeError("the worker died after storing the state")

    real_finish = UpsertContactsOperator.finish
    monkeypatch.setattr(UpsertContactsOperator, "finish", fails_after)
    with pytest.raises(RuntimeError):
        sync(sandbox, rows)
    assert batch_requests(sandbox) == 5
    monkeypatch.setattr(UpsertContactsOperator, "finish", real_finish)
    summary, batches = sync(sandbox, rows)
    assert batches == 0 and counts(summary, "sent", "unchanged") == (0, 1000)


def test_two_dags_with_their_own_states_do_not_interfere(sandbox, tmp_path):
    sandbox.reset(empty=True)
    rows = contacts(300)
    assert sync(sandbox, rows, ctx=context(dag_id="crm_a"))[1] == 2
    # another DAG writing the same contacts keeps its own fingerprints: its first run sends all
    assert sync(sandbox, rows, ctx=context(dag_id="crm_b"))[1] == 2
    rows[0]["firstname"] = "Changed"
    assert sync(sandbox, rows, ctx=context(dag_id="crm_a"))[1] == 1
    assert sync(sandbox, rows, ctx=context(dag_id="crm_b"))[1] == 1
    # named states: the name, not the DAG, is the identity
    assert sync(sandbox, rows, sync_state="audience", ctx=context(dag_id="crm_c"))[1] == 2
    assert sync(sandbox, rows, sync_state="audience", ctx=context(dag_id="crm_d"))[1] == 0

    # one file given to two syncs of another key: refused before any request
    shared = str(tmp_path / "shared.sqlite")
    sync(sandbox, rows, sync_state=shared)
    sandbox.clear_requests()
    with pytest.raises(ContactsConfigError, match="sync_state .*belongs to another sync"):
        sync(sandbox, [dict(r, id=i) for i, r in enumerate(rows)], sync_state=shared, key="firstname")
    assert sandbox.requests("mautic") == []


def test_bootstrap_from_the_vendor_sends_only_real_differences(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(300)
    UpsertContactsOperator(task_id="plain", conn_id="mautic_default", rows=rows).execute(context("plain"))
    rows[10]["firstname"] = "Changed"
    rows[11]["lastname"] = "Other"
    rows[12]["firstname"] = "Also"
    rows += contacts(2, start=300)
    sandbox.clear_requests()
    summary, batches = sync(sandbox, rows, sync_state_bootstrap="vendor")
    pages = [
        r for r in sandbox.requests("mautic") if r["path"].endswith("/api/contacts") and r["method"] == "GET"
    ]
    assert len(pages) == 2  # 300 contacts, keyset pages of 200
    assert batches == 1
    assert counts(summary, "bootstrapped", "sent", "updated", "created", "unchanged") == (300, 5, 3, 2, 297)
    assert sandbox.emulator("mautic").contact_by_email("c11@example.com")["values"]["lastname"] == "Other"
    # the state exists now: no second read of the vendor
    summary, batches = sync(sandbox, rows, sync_state_bootstrap="vendor")
    assert [r["path"] for r in sandbox.requests("mautic")] == [
        "/mautic/api/fields/contact"
    ]  # the columns' check
    assert summary["unchanged"] == 302


def test_bootstrap_does_not_adopt_vendor_contacts_the_source_never_had(sandbox):
    """Seeded Mautic contacts outside the input are not put in the state (so they can never
    count as vanished from the source)."""
    sandbox.reset()
    seeded = len(sandbox.emulator("mautic").contacts)
    assert seeded > 0
    summary, _ = sync(sandbox, contacts(5), sync_state_bootstrap="vendor", on_removed="report")
    assert counts(summary, "bootstrapped", "created", "removed", "state_keys") == (0, 5, 0, 5)


def test_on_removed_report_lists_and_forgets_vanished_keys(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(10)
    sync(sandbox, rows)
    summary, batches = sync(
        sandbox,
        rows[:7] + [{"email": "C8@example.com", "firstname": None}],
        on_removed="report",
        max_rejected=0,
    )
    assert batches == 1 and counts(summary, "removed", "unchanged", "sent", "state_keys") == (2, 7, 1, 8)
    lines = [json.loads(line) for line in open(summary["removed_path"], encoding="utf-8")]
    assert lines == [{"key": "c7@example.com"}, {"key": "c9@example.com"}]
    summary, _ = sync(sandbox, rows[:7], on_removed="report")
    assert summary["removed"] == 1  # c8 only: c7 and c9 were reported once
    assert len(sandbox.emulator("mautic").contacts) == 10  # report touches nothing in Mautic


def test_a_row_rejected_before_sending_has_not_vanished(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(5)
    sync(sandbox, rows)
    rows[2]["firstname"] = float("nan")
    summary, _ = sync(sandbox, rows, on_removed="report", max_rejected=1)
    assert counts(summary, "removed", "rejected", "unchanged") == (0, 1, 4)


def test_on_removed_do_not_contact_and_ignore(sandbox):
    sandbox.reset(empty=True)
    rows = contacts(250)
    sync(sandbox, rows)
    sync(sandbox, rows[:240], on_removed="ignore")
    summary, _ = sync(sandbox, rows[:240], on_removed="ignore")
    assert "removed" not in summary and summary["state_keys"] == 250

    summary, _ = sync(sandbox, rows[:240], on_removed="do_not_contact")
    assert counts(summary, "removed", "removed_do_not_contact", "removed_not_found", "state_keys") == (
        10,
        10,
        0,
        240,
    )
    edits = [r for r in sandbox.requests("mautic") if r["path"].endswith("/contacts/batch/edit")]
    assert len(edits) == 1
    emu = sandbox.emulator("mautic")
    dnc = sorted(
        (c["values"]["email"], d["reason"], d["comments"])
        for c in emu.contacts.values()
        for d in c["dnc"]
        if d["channel"] == "email"
    )
    # manual: Mautic's DoNotContact::MANUAL (3)
    assert dnc == sorted((f"c{i}@example.com", 3, "removed from the sync source") for i in range(240, 250))
    assert sync(sandbox, rows[:240], on_removed="do_not_contact")[0]["removed"] == 0


@pytest.mark.parametrize(
    ("conn_id", "kwargs", "message"),
    [
        ("engagelab_default", {"sync_state_bootstrap": "vendor"}, "sync_state_bootstrap='vendor'"),
        ("engagelab_default", {"on_removed": "do_not_contact"}, "on_removed='do_not_contact' needs a vendor"),
        ("mautic_default", {"on_removed": "do_not_contact", "key": "{{ params.k }}"}, "needs key='email'"),
    ],
)
def test_what_the_vendor_cannot_do_is_refused_before_any_request(sandbox, conn_id, kwargs, message):
    op = UpsertContactsOperator(task_id="x", conn_id=conn_id, rows=contacts(3), only_changed=True, **kwargs)
    if kwargs.get("key", "").startswith("{{"):
        op.key = "phone"  # as rendered
    sandbox.clear_requests()
    with pytest.raises(ContactsConfigError, match=message):
        op.execute(context())
    assert sandbox.requests() == []


def test_a_state_on_object_storage(sandbox, tmp_path, monkeypatch):
    """A ``sync_state`` URI goes through ObjectStoragePath (the ``file://`` filesystem here, taken
    the object-storage way): downloaded into a local working copy, uploaded whole at the end."""
    monkeypatch.setattr(sync_state_module, "_local", lambda location: None)
    sandbox.reset(empty=True)
    uri = f"file://{tmp_path}/bucket/states/crm.sqlite"
    rows = contacts(250)
    summary, batches = sync(sandbox, rows, sync_state=uri)
    assert (batches, summary["sync_state_path"], summary["state_keys"]) == (2, uri, 250)
    assert sorted(p.name for p in (tmp_path / "bucket" / "states").iterdir()) == [
        "crm.sqlite",
        "crm.sqlite.generation",
    ]
    rows[7]["firstname"] = "Changed"
    summary, batches = sync(sandbox, rows, sync_state=uri)
    assert batches == 1 and counts(summary, "sent", "unchanged") == (1, 249)


def test_a_failure_while_opting_out_vanished_keys_still_stores_the_accepted_rows(sandbox, monkeypatch):
    sandbox.reset(empty=True)
    rows = contacts(20)
    sync(sandbox, rows)
    rows[0]["firstname"] = "Changed"
    real = MauticHook.set_do_not_contact

    def down(self, *args, **kwargs):
        raise ConnectionError("Mautic went away")

    monkeypatch.setattr(MauticHook, "set_do_not_contact", down)
    with pytest.raises(ConnectionError):
        sync(sandbox, rows[:15], on_removed="do_not_contact", max_removed=5)
    assert batch_requests(sandbox) == 1
    monkeypatch.setattr(MauticHook, "set_do_not_contact", real)
    summary, batches = sync(sandbox, rows[:15], on_removed="do_not_contact", max_removed=5)
    assert batches == 0 and counts(summary, "unchanged", "removed", "removed_do_not_contact") == (15, 5, 5)


def test_a_dry_run_counts_what_the_first_bootstrapped_sync_would_send_and_stores_nothing(sandbox, storage):
    sandbox.reset(empty=True)
    rows = contacts(300)
    UpsertContactsOperator(task_id="plain", conn_id="mautic_default", rows=rows).execute(context("plain"))
    rows[10]["firstname"] = "Changed"
    rows[11]["lastname"] = "Other"
    rows += contacts(2, start=300)
    summary, batches = sync(sandbox, rows, sync_state_bootstrap="vendor", dry_run=True)
    assert {r["method"] for r in sandbox.requests("mautic")} == {"GET"} and batches == 0
    assert counts(summary, "bootstrapped", "would_send", "unchanged", "created", "updated") == (
        300,
        4,
        298,
        0,
        0,
    )
    assert not (storage / "sync_state").exists() or list((storage / "sync_state").glob("*.sqlite")) == []
    assert sandbox.emulator("mautic").contact_by_email("c11@example.com")["values"]["lastname"] == "L"
    # the real run sends exactly what the dry run counted
    summary, batches = sync(sandbox, rows, sync_state_bootstrap="vendor")
    assert batches == 1 and counts(summary, "sent", "unchanged") == (4, 298)
    # without a state: every valid row would be sent
    plain = UpsertContactsOperator(task_id="p2", conn_id="mautic_default", rows=rows, dry_run=True)
    assert plain.execute(context("p2"))["would_send"] == 302
