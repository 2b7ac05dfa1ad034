"""Empty values on create/update: Mautic's POST/PATCH skip them (a warehouse NULL leaves the
contact's value as it was) unless the body asks ``overwriteWithBlank``. The Mautic hook option
``blank_values`` chooses ("keep", the default, said once in the log; or "clear"); PUT always
clears. Checked against the emulator's stored contacts."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks.mautic.hook import MauticHook
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from tests.integration.operator_support import context, emails, vendor_calls

FULL = [{"email": f"b{i}@example.com", "firstname": f"F{i}", "city": "Oslo"} for i in range(300)]
#: the same contacts, the city now NULL in the warehouse and the first name an empty text
EMPTIED = [{"email": f"b{i}@example.com", "firstname": "", "city": None} for i in range(300)]


def upsert(tmp_path, rows, **kwargs) -> dict:
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=[dict(r) for r in rows],
        rejects_path=str(tmp_path / "rejects.ndjson"),
        **kwargs,
    )
    return op.execute(context(tmp_path))


def stored(sandbox) -> set[tuple[str | None, str | None]]:
    return {
        (c["values"].get("firstname"), c["values"].get("city"))
        for c in emails(sandbox.emulator("mautic")).values()
    }


def test_empty_values_keep_mautics_values_by_default_and_the_log_says_so_once(sandbox, tmp_path, caplog):
    sandbox.reset(empty=True)
    upsert(tmp_path, FULL)
    with caplog.at_level(logging.WARNING):
        summary = upsert(tmp_path, EMPTIED)
    assert (summary["updated"], summary["batches"]) == (300, 2)
    assert stored(sandbox) == {(f"F{i}", "Oslo") for i in range(300)}
    told = [r.getMessage() for r in caplog.records if "empty field value" in r.getMessage()]
    assert told == [
        "mautic_default: 400 empty field value(s) in a batch; Mautic keeps a contact's current value for an "
        "empty one on create/update, so those fields are not cleared. To clear them, use "
        "hook_params={'blank_values': 'clear'} (said once per task)."
    ]


def test_blank_values_clear_empties_the_fields_in_every_batch(sandbox, tmp_path, caplog):
    sandbox.reset(empty=True)
    upsert(tmp_path, FULL)
    with caplog.at_level(logging.WARNING):
        summary = upsert(tmp_path, EMPTIED, hook_params={"blank_values": "clear"})
    assert (summary["updated"], summary["batches"], summary["rejected"]) == (300, 2, 0)
    assert stored(sandbox) == {(None, None)}
    assert len(vendor_calls(sandbox, "contacts/batch/new")) == 4  # 2 batches per run
    assert not [r for r in caplog.records if "empty field value" in r.getMessage()]


def test_blank_values_clear_on_single_create_and_patch(sandbox):
    sandbox.reset(empty=True)
    keep, clear = MauticHook("mautic_default"), MauticHook("mautic_default", blank_values="clear")
    contact, created = keep.create_contact({"email": "one@example.com", "city": "Oslo", "firstname": "Ann"})
    assert created
    keep.edit_contact(contact["id"], {"city": ""})
    assert sandbox.emulator("mautic").contacts[contact["id"]]["values"]["city"] == "Oslo"
    clear.edit_contact(contact["id"], {"city": ""})
    assert sandbox.emulator("mautic").contacts[contact["id"]]["values"]["city"] is None
    clear.create_contact({"email": "one@example.com", "firstname": None})
    assert sandbox.emulator("mautic").contacts[contact["id"]]["values"]["firstname"] is None


def test_an_unknown_blank_values_is_refused_before_any_request(sandbox, tmp_path):
    sandbox.reset(empty=True)
    with pytest.raises(ContactsConfigError, match=r"blank_values='skip': use 'keep' .* or 'clear'"):
        upsert(tmp_path, FULL, hook_params={"blank_values": "skip"})
    assert sandbox.requests("mautic") == []
