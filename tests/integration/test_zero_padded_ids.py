"""Contact ids written with leading zeros (``015``, ``0015``: a zero-padded export) are the
contact with that number, as Mautic's integer ids are: not "contact not found", and one contact
named three ways is changed once (``duplicates``)."""

from __future__ import annotations

import pytest

from airflow_provider_contacts.hooks.mautic import MauticHook
from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from tests.integration.operator_support import context, read_ndjson

ROWS = ["015", 15, {"id": "0015"}, {"contact_id": "017"}]


def test_dnc_reads_zero_padded_ids_as_the_contact(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    summary = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        reason="bounced",
        rows=ROWS,
        rejects_path=str(tmp_path / "r.ndjson"),
    ).execute(context(tmp_path))
    assert (summary["updated"], summary["duplicates"], summary["not_found"], summary["rejected"]) == (
        2,
        2,
        0,
        0,
    )
    assert [[(d["channel"], d["reason"]) for d in emu.contacts[cid]["dnc"]] for cid in (15, 17)] == [
        [("email", 2)]
    ] * 2
    edits = [r for r in sandbox.requests("mautic") if r["path"].endswith("/contacts/batch/edit")]
    assert len(edits) == 1 and read_ndjson(tmp_path / "r.ndjson") == []


def test_audience_membership_reads_zero_padded_ids_as_the_contact(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    newsletter = {cid for cid, c in emu.contacts.items() if 1 in c["segments"]}
    assert not {15, 17} & newsletter
    summary = SetAudienceMembershipOperator(
        task_id="aud",
        conn_id="mautic_default",
        audience=1,
        action="add",
        rows=ROWS,
        rejects_path=str(tmp_path / "r.ndjson"),
    ).execute(context(tmp_path))
    assert (summary["added"], summary["duplicates"], summary["not_found"], summary["rejected"]) == (
        2,
        2,
        0,
        0,
    )
    assert {cid for cid, c in emu.contacts.items() if 1 in c["segments"]} == newsletter | {15, 17}
    assert read_ndjson(tmp_path / "r.ndjson") == []


def test_point_groups_read_zero_padded_ids_as_the_contact(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    emu.state.group_scores.clear()
    rows = [{"contact": c, "group": 1, "op": "plus", "value": 1} for c in ("015", 15, "0015")]
    summary = AdjustPointGroupsOperator(
        task_id="pts",
        conn_id="mautic_default",
        rows=rows,
        rejects_path=str(tmp_path / "r.ndjson"),
        ledger_path=str(tmp_path / "ledger.ndjson"),
    ).execute(context(tmp_path))
    # three adjustments of one contact's score (adjustments add up; they are not duplicates)
    assert (summary["applied"], summary["rejected"]) == (3, 0)
    assert emu.state.group_scores == {(15, 1): 3}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("0", "contact id '0' is not valid"),
        ("000", "contact id '000' is not valid"),
        ("１５", "'１５' is neither a contact id nor an email"),  # fullwidth digits: not an id
    ],
)
def test_ids_that_are_no_mautic_id_are_rejected_before_any_change(sandbox, tmp_path, row, reason):
    summary = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        rows=[row, 15],
        max_rejected=1,
        rejects_path=str(tmp_path / "r.ndjson"),
    ).execute(context(tmp_path))
    assert (summary["updated"], summary["rejected"]) == (1, 1)
    assert [(r["index"], r["reason"]) for r in read_ndjson(tmp_path / "r.ndjson")] == [(0, reason)]


def test_the_hook_reads_zero_padded_ids_too(sandbox):
    hook = MauticHook()
    assert hook.existing_contact_ids(["015", "0017", "9999"]) == {"15", "17"}
    outcomes = hook.set_do_not_contact(["015"], action="add", reason="manual")
    assert [(o.outcome, o.contact_id) for o in outcomes] == [("updated", "15")]
