"""``send_valid_rows``: when the rows rejected before sending are over ``max_rejected``, the
idempotent actions (upsert, do-not-contact, audience membership) send the valid rows and then
fail, naming the rejects; point-group adjustments (not idempotent) fail before sending anything
unless asked. Exact requests, vendor state and rejects, against the Mautic emulator."""

from __future__ import annotations

import re

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError, RejectedRowsError
from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from tests.integration.operator_support import context, only_the_fields_read, read_ndjson
from tests.integration.test_change_only_sync import batch_requests, contacts, counts, storage, sync  # noqa: F401

SENT = "the valid rows WERE sent all the same (send_valid_rows=True"


def writes(sandbox) -> list[tuple[str, str]]:
    return [
        (r["method"], r["path"].split("/api/", 1)[1])
        for r in sandbox.requests("mautic")
        if r["method"] in ("POST", "PUT", "PATCH", "DELETE")
    ]


def test_an_hourly_change_only_sync_keeps_good_rows_flowing(sandbox, tmp_path):
    """3 changed rows read, 2 bad, 5 % allowed (a limit of 0): the good row is sent and stored,
    the task fails naming the rejects; the next run sends only what changed, and fails again
    while the bad rows are there; once fixed they are sent."""
    sandbox.reset(empty=True)
    rows = contacts(3)
    rows[1]["email"] = "not-an-email"
    del rows[2]["email"]
    rejects = str(tmp_path / "r.ndjson")
    with pytest.raises(RejectedRowsError) as err:
        sync(sandbox, rows, max_rejected=0.05, rejects_path=rejects)
    message = str(err.value)
    assert message.startswith("2 of 3 rows were rejected, more than max_rejected (5.00% of 3 = 0)")
    assert f"are in {rejects}" in message and SENT in message
    assert batch_requests(sandbox) == 1
    assert sandbox.emulator("mautic").contact_by_email("c0@example.com")["values"]["firstname"] == "F0"
    assert [(r["index"], r["reason"]) for r in read_ndjson(rejects)] == [
        (1, "email 'not-an-email' is not a valid address"),
        (2, 'missing key field "email" (or it is empty)'),
    ]

    with pytest.raises(RejectedRowsError, match="2 of 3 rows were rejected"):  # the next hour, same rows
        sync(sandbox, rows, max_rejected=0.05, rejects_path=rejects)
    assert batch_requests(sandbox) == 0  # the good row's fingerprint was stored before the failure

    rows[1]["email"], rows[2]["email"] = "c1@example.com", "c2@example.com"  # fixed
    summary, batches = sync(sandbox, rows, max_rejected=0.05, rejects_path=rejects)
    assert batches == 1 and counts(summary, "created", "unchanged", "rejected", "state_keys") == (2, 1, 0, 3)


def test_send_valid_rows_false_sends_nothing_also_when_rendered(sandbox, tmp_path):
    rows = [{"email": "ok@example.com"}, {"email": "bad"}, {"email": "bad2"}]
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=rows,
        rejects_path=str(tmp_path / "r.ndjson"),
        send_valid_rows="{{ params.send_valid_rows }}",
    )
    op.send_valid_rows = "False"  # as the trigger form renders it
    sandbox.clear_requests()
    with pytest.raises(RejectedRowsError, match="2 of 3 rows were rejected before anything was sent"):
        op.execute(context(tmp_path))
    assert only_the_fields_read(sandbox)
    with pytest.raises(ContactsConfigError, match="send_valid_rows='sometimes': use True or False"):
        UpsertContactsOperator(task_id="up", conn_id="mautic_default", rows=rows, send_valid_rows="sometimes")


def test_a_dry_run_counts_the_valid_rows_and_does_not_say_they_were_sent(sandbox, tmp_path):
    rows = [{"email": "dry@example.com"}, {"email": "bad"}]
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=rows,
        rejects_path=str(tmp_path / "r.ndjson"),
        dry_run=True,
    )
    sandbox.clear_requests()
    with pytest.raises(RejectedRowsError) as err:
        op.execute(context(tmp_path))
    assert "1 of 2 rows were rejected, more than max_rejected (0)" in str(err.value) and SENT not in str(
        err.value
    )
    assert op.last_summary["would_send"] == 1 and writes(sandbox) == []


def test_do_not_contact_sends_the_valid_contacts_then_fails(sandbox, tmp_path):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    UpsertContactsOperator(
        task_id="seed",
        conn_id="mautic_default",
        rows=[{"email": "a@example.com"}, {"email": "b@example.com"}],
    ).execute(context(tmp_path))
    sandbox.clear_requests()
    rows = [{"email": "a@example.com"}, {"email": "ghost@example.com"}, "??", {"email": "b@example.com"}]
    op = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        rows=rows,
        action="add",
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    with pytest.raises(RejectedRowsError) as err:
        op.execute(context(tmp_path))
    assert str(err.value).startswith("2 of 4 rows were rejected, more than max_rejected (0)") and SENT in str(
        err.value
    )
    assert [w[1] for w in writes(sandbox)] == ["contacts/batch/edit"]
    dnc = {
        c["values"]["email"]: [(d["channel"], d["reason"]) for d in c["dnc"]] for c in emu.contacts.values()
    }
    assert dnc == {"a@example.com": [("email", 3)], "b@example.com": [("email", 3)]}
    assert op.last_summary["updated"] == 2 and op.last_summary["not_found"] == 1


def test_audience_membership_sends_the_valid_contacts_then_fails(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    first = sorted(emu.contacts)[0]
    before = {cid for cid, c in emu.contacts.items() if 3 in c["segments"]}
    op = SetAudienceMembershipOperator(
        task_id="aud",
        conn_id="mautic_default",
        rows=[first, {"email": "ghost@example.com"}],
        audience=3,
        action="add",
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    sandbox.clear_requests()
    with pytest.raises(RejectedRowsError, match=re.escape(SENT)):
        op.execute(context(tmp_path))
    assert {cid for cid, c in emu.contacts.items() if 3 in c["segments"]} == before | {first}
    assert [w[1] for w in writes(sandbox)] == ["segments/3/contacts/add"]


@pytest.mark.parametrize("send_valid_rows", [None, True])
def test_point_groups_send_nothing_unless_asked(sandbox, tmp_path, send_valid_rows):
    emu = sandbox.emulator("mautic")
    emu.state.group_scores.clear()
    emu.state.group_scores[(1, 1)] = 10
    rows = [
        {"contact": 1, "group": 1, "op": "plus", "value": 5},
        {"contact": 1, "group": 1, "op": "pow", "value": 2},
    ]
    extra = {} if send_valid_rows is None else {"send_valid_rows": send_valid_rows}
    op = AdjustPointGroupsOperator(
        task_id="pts",
        conn_id="mautic_default",
        rows=rows,
        rejects_path=str(tmp_path / "r.ndjson"),
        ledger_path=str(tmp_path / "ledgers"),
        **extra,
    )
    sandbox.clear_requests()
    with pytest.raises(RejectedRowsError) as err:
        op.execute(context(tmp_path))
    if send_valid_rows is None:  # the default for a non-idempotent action
        assert "before anything was sent" in str(err.value) and writes(sandbox) == []
        assert emu.state.group_scores[(1, 1)] == 10
    else:
        assert SENT in str(err.value) and [w[1] for w in writes(sandbox)] == [
            "contacts/1/points/groups/1/set/15"
        ]
        assert emu.state.group_scores[(1, 1)] == 15
