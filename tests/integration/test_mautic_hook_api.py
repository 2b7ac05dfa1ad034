"""The MauticHook methods a DAG calls directly (no operator uses them): each one's request and
the state it leaves in the emulator."""

from __future__ import annotations

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError, NotFoundError
from airflow_provider_contacts.hooks.mautic.hook import MauticHook


def calls(sandbox, path_part: str, method: str) -> list[dict]:
    return [r for r in sandbox.requests("mautic") if path_part in r["path"] and r["method"] == method]


def test_batch_edit_patches_and_puts_and_needs_ids(sandbox):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    hook = MauticHook()
    a = emu.state.upsert({"email": "a@example.com", "firstname": "A", "city": "Oslo"})[0]["id"]
    b = emu.state.upsert({"email": "b@example.com", "firstname": "B", "city": "Rome"})[0]["id"]
    items = hook.batch_edit([{"id": a, "firstname": "Ann"}, {"id": 9999, "firstname": "Nobody"}])
    assert [(i.ok, i.status) for i in items] == [(True, 200), (False, 404)]
    assert (emu.contacts[a]["values"]["firstname"], emu.contacts[a]["values"]["city"]) == ("Ann", "Oslo")
    hook.batch_edit([{"id": b, "email": "b@example.com", "firstname": "Bea"}], method="PUT")
    assert (emu.contacts[b]["values"]["firstname"], emu.contacts[b]["values"]["city"]) == (
        "Bea",
        None,
    )  # PUT blanks
    assert (
        len(calls(sandbox, "/contacts/batch/edit", "PATCH")) == 1
        and len(calls(sandbox, "/contacts/batch/edit", "PUT")) == 1
    )
    before = len(sandbox.requests("mautic"))
    with pytest.raises(ContactsConfigError, match="id"):
        hook.batch_edit([{"firstname": "no id"}])
    with pytest.raises(ContactsConfigError, match="method 'POST'"):
        hook.batch_edit([{"id": a}], method="POST")  # type: ignore[arg-type]
    assert len(sandbox.requests("mautic")) == before


def test_delete_contact(sandbox):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    cid = emu.state.upsert({"email": "gone@example.com"})[0]["id"]
    deleted = MauticHook().delete_contact(cid)
    assert deleted["fields"]["all"]["email"] == "gone@example.com" and cid not in emu.contacts
    with pytest.raises(NotFoundError):
        MauticHook().delete_contact(cid)


def test_point_groups_create_get_and_a_contacts_scores(sandbox):
    emu = sandbox.emulator("mautic")
    hook = MauticHook()
    group = hook.create_point_group("Loyalty", "repeat buyers")
    assert hook.get_point_group(group["id"])["name"] == "Loyalty"
    assert emu.state.point_groups[int(group["id"])]["description"] == "repeat buyers"
    hook.adjust_group_score(1, group["id"], "set", 12)
    scores = {str(s["group"]["id"]): s["score"] for s in hook.get_contact_group_scores(1)}
    assert scores[str(group["id"])] == 12 and emu.state.group_scores[(1, int(group["id"]))] == 12


def test_remove_utm_tag(sandbox):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    hook = MauticHook()
    cid = emu.state.upsert({"email": "utm@example.com"})[0]["id"]
    hook.add_utm_tags(cid, {"utm_source": "newsletter"})
    utm_id = emu.contacts[cid]["utmtags"][0]["id"]
    answer = hook.remove_utm_tag(cid, utm_id)
    assert answer["utmtags"] == [] and emu.contacts[cid]["utmtags"] == []
