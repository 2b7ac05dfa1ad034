"""Replay of a rejects file (``source_format="rejects"``) with each action operator, against
the Mautic emulator over real HTTP: a run with rejections, then the replay of exactly the
failed rows after the vendor setting or the data is fixed (exact requests, exact state, exact
rejects, the ``replayed`` count); a replay whose rows fail again writes the same rows again."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

LONG = "Maximilian-Alexander " * 4  # 84 characters: over a fresh Mautic's 64, within 191


def context(task_id: str):
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id=task_id, map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti}


def read_ndjson(path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def calls(sandbox) -> list[tuple[str, str]]:
    """(method, path below /api/) of each request the emulator answered."""
    return [(r["method"], r["path"].split("/api/", 1)[-1]) for r in sandbox.requests("mautic")]


def rows_and_reasons(path) -> list[tuple[int, object, str]]:
    return [(r["index"], r["row"], r["reason"]) for r in read_ndjson(path)]


def run(cls, task_id: str, rejects, **kwargs) -> dict:
    """Run ``cls`` on mautic_default as task ``task_id``, its rejects to ``rejects``."""
    op = cls(task_id=task_id, conn_id="mautic_default", rejects_path=str(rejects), **kwargs)
    return op.execute(context(task_id))


def replay(cls, task_id: str, of, rejects, **kwargs) -> dict:
    """Replay the rejects file ``of``."""
    return run(cls, task_id, rejects, source_path=str(of), source_format="rejects", **kwargs)


def counts(summary: dict, *keys: str) -> tuple:
    return tuple(summary[key] for key in keys)


# ---- upsert: the vendor setting fixed, then the replay -------------------------------------
def test_upsert_replay_after_fixing_the_vendor_setting(sandbox, tmp_path):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    rows = [
        {"email": "a@example.com", "firstname": "Ann"},
        {"email": "b@example.com", "firstname": LONG},  # over the vendor's 64 characters
        {"email": "broken@"},  # never valid: rejected locally, before sending
        {"email": "c@example.com", "lastname": LONG},
    ]
    first = tmp_path / "first.ndjson"
    summary = run(UpsertContactsOperator, "up", first, rows=rows, max_rejected=3)
    assert counts(summary, "created", "rejected", "replayed") == (1, 3, 0)
    assert sorted(emu_emails(emu)) == ["a@example.com"]
    too_long = "This value is too long. It should have 64 characters or less."
    assert [(r["index"], r["reason"], r["message"]) for r in read_ndjson(first)] == [
        (2, "email 'broken@' is not a valid address", None),
        (1, "rejected by the vendor", f"firstname: {too_long}"),
        (3, "rejected by the vendor", f"lastname: {too_long}"),
    ]

    # 1. replayed before anything is fixed: the same rows fail again, in a new rejects file
    before = len(sandbox.requests("mautic"))
    again = tmp_path / "again.ndjson"
    summary = replay(UpsertContactsOperator, "up", first, again, max_rejected=1.0)
    assert counts(summary, "rows_read", "replayed", "created", "rejected") == (3, 3, 0, 3)
    assert calls(sandbox)[before:] == [("GET", "fields/contact"), ("POST", "contacts/batch/new")]
    assert [r["row"] for r in read_ndjson(again)] == [r["row"] for r in read_ndjson(first)]
    assert [r["index"] for r in read_ndjson(again)] == [0, 1, 2]  # the lines of the replayed file

    # 2. the vendor setting fixed (an instance upgraded to 255 characters): the replay sends
    # exactly the two rows the vendor refused; the invalid address is rejected again
    emu.settings["char_length_limit"] = 255
    before = len(sandbox.requests("mautic"))
    fixed = tmp_path / "fixed.ndjson"
    summary = replay(UpsertContactsOperator, "up", first, fixed, max_rejected=1)
    assert counts(summary, "rows_read", "replayed", "created", "updated", "rejected", "batches") == (
        3,
        3,
        2,
        0,
        1,
        1,
    )
    assert calls(sandbox)[before:] == [("GET", "fields/contact"), ("POST", "contacts/batch/new")]
    stored = emu_emails(emu)
    assert sorted(stored) == ["a@example.com", "b@example.com", "c@example.com"]
    assert stored["b@example.com"]["values"]["firstname"] == LONG
    assert stored["c@example.com"]["values"]["lastname"] == LONG
    assert rows_and_reasons(fixed) == [(0, {"email": "broken@"}, "email 'broken@' is not a valid address")]


def emu_emails(emu) -> dict[str, dict]:
    return {c["values"]["email"]: c for c in emu.contacts.values() if c["values"]["email"]}


# ---- do not contact: the data fixed (the contact now exists), then the replay ---------------
def test_dnc_replay_after_the_missing_contact_is_created(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    first = tmp_path / "first.ndjson"
    rows = [1, "late@example.com", {"email": "late2@example.com"}]
    dnc = dict(action="add", reason="unsubscribed")
    summary = run(DoNotContactOperator, "dnc", first, rows=rows, max_rejected=2, **dnc)
    assert counts(summary, "updated", "not_found", "rejected") == (1, 2, 2)
    assert rows_and_reasons(first) == [
        (1, "late@example.com", "contact not found"),
        (2, {"email": "late2@example.com"}, "contact not found"),
    ]
    late = [emu.state.upsert({"email": e})[0]["id"] for e in ("late@example.com", "late2@example.com")]
    before = len(sandbox.requests("mautic"))
    again = tmp_path / "again.ndjson"
    summary = replay(DoNotContactOperator, "dnc", first, again, **dnc)
    assert counts(summary, "replayed", "updated", "rejected") == (2, 2, 0)
    assert [(m, p.split("?")[0]) for m, p in calls(sandbox)[before:]] == [
        ("GET", "contacts"),  # the two emails looked up together
        ("PATCH", "contacts/batch/edit"),
    ]
    assert [[d["reason"] for d in emu.contacts[cid]["dnc"] if d["channel"] == "email"] for cid in late] == [
        [1],
        [1],
    ]
    assert read_ndjson(again) == []


# ---- point groups: the group created at the vendor, then the replay --------------------------
def test_point_group_replay_after_the_group_is_created(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    emu.state.group_scores.clear()
    rows = [
        {"contact": 1, "group": 1, "op": "plus", "value": 5},
        {"contact": 2, "group": "Loyalty", "op": "set", "value": 40},
        {"contact": 3, "group": "Loyalty", "op": "plus", "value": 2},
    ]
    first = tmp_path / "first.ndjson"
    ledgers = str(tmp_path / "ledgers")
    summary = run(AdjustPointGroupsOperator, "pts", first, rows=rows, max_rejected=2, ledger_path=ledgers)
    assert counts(summary, "applied", "rejected") == (1, 2)
    assert [(i, reason) for i, _, reason in rows_and_reasons(first)] == [
        (1, "unknown group"),
        (2, "unknown group"),
    ]
    group = emu.state.create_point_group({"name": "Loyalty"})["id"]
    before = len(sandbox.requests("mautic"))
    again = tmp_path / "again.ndjson"
    # another task instance (as a replay is): a ledger of its own
    summary = replay(AdjustPointGroupsOperator, "pts_replay", first, again, ledger_path=ledgers)
    assert counts(summary, "replayed", "applied", "rejected") == (2, 2, 0)
    assert emu.state.group_scores == {(1, 1): 5, (2, group): 40, (3, group): 2}
    assert [(m, p) for m, p in calls(sandbox)[before:] if m == "POST"] == [
        ("POST", f"contacts/2/points/groups/{group}/set/40"),
        ("POST", f"contacts/3/points/groups/{group}/set/2"),
    ]
    assert read_ndjson(again) == []


# ---- audience membership: the contacts created, then the replay -----------------------------
def test_audience_replay_after_the_contacts_are_created(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    first, again = tmp_path / "first.ndjson", tmp_path / "again.ndjson"
    newcomers = ["new1@example.com", {"email": "new2@example.com"}]
    kwargs = dict(audience=1, action="add", max_rejected=2)  # segment 1: "Newsletter"
    summary = run(SetAudienceMembershipOperator, "aud", first, rows=newcomers, **kwargs)
    assert counts(summary, "added", "not_found", "rejected", "replayed") == (0, 2, 2, 0)
    assert rows_and_reasons(first) == [
        (0, "new1@example.com", "contact not found"),
        (1, {"email": "new2@example.com"}, "contact not found"),
    ]
    created = [emu.state.upsert({"email": e})[0]["id"] for e in ("new1@example.com", "new2@example.com")]
    before = len(sandbox.requests("mautic"))
    summary = replay(SetAudienceMembershipOperator, "aud", first, again, **kwargs)
    assert counts(summary, "replayed", "added", "already", "rejected") == (2, 2, 0, 0)
    assert calls(sandbox)[before:] == [
        ("GET", "segments"),  # the audience: 1 is an id, and no segment's name
        ("GET", "contacts"),  # the two emails
        ("GET", "contacts"),  # who of them is a member
        ("POST", "segments/1/contacts/add"),
    ]
    assert all(1 in emu.contacts[cid]["segments"] for cid in created)
    assert read_ndjson(again) == []


# ---- which file is a rejects file ----------------------------------------------------------
def test_a_rejects_file_is_never_read_as_rows_by_mistake(sandbox, tmp_path):
    """Named .ndjson without a source_format, a rejects file is refused before any request with
    both choices named; source_format='ndjson' reads its records as rows (here: no email, so
    rejected), source_format='rejects' refuses a file that is not one, naming the line."""
    rejects = tmp_path / "rejects.ndjson"
    run(UpsertContactsOperator, "up", rejects, rows=[{"email": "bad"}], max_rejected=1)
    before = len(sandbox.requests("mautic"))

    def upsert(**kwargs):
        return run(UpsertContactsOperator, "up", tmp_path / "out.ndjson", max_rejected=1.0, **kwargs)

    with pytest.raises(
        ContactsConfigError, match="looks like a rejects file.*source_format='rejects'.*'ndjson'"
    ):
        upsert(source_path=str(rejects))
    # read as rows, its records have no email column: one error naming the columns they have
    with pytest.raises(ContactsConfigError, match="no column 'email'.*its columns: 'index', 'row', 'reason'"):
        upsert(source_path=str(rejects), source_format="ndjson")
    plain = tmp_path / "contacts.ndjson"
    plain.write_text('{"email": "x@example.com"}\n', encoding="utf-8")
    with pytest.raises(
        ContactsConfigError, match=r"line 1 is not a rejects record \(it has no 'index', 'row'"
    ):
        upsert(source_path=str(plain), source_format="rejects")
    assert len(sandbox.requests("mautic")) == before
