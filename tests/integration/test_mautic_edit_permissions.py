"""An API user that may edit only its own contacts (a Mautic role with ``lead:leads:editown``
but not ``editother``): the emulator's ``contact_edit_scope`` "own", over raw HTTP, and what the
operators leave in the sandbox and in the rejects file.

Read from mautic/mautic (``app/bundles``): ``CoreBundle/Security/Permissions/CorePermissions.php``
(``hasEntityAccess``: an ownerless record needs the "other" permission), ``LeadBundle/Entity/
Lead.php::getPermissionUser`` (the owner, else the creator), ``LeadBundle/Controller/
LeadAccessTrait.php``, ``ApiBundle/Controller/CommonApiController.php`` (``newEntitiesAction`` and
``editEntitiesAction``: a 403 item; ``newEntityAction`` checks only the create permission),
``LeadBundle/Controller/Api/ListApiController.php::addLeadsAction`` and
``CampaignBundle/Controller/Api/CampaignApiController.php::addLeadAction`` (the owner only).
See ``docs/vendors/mautic.md`` §1.4.
"""

from __future__ import annotations

import pytest

from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from tests.integration.mautic_raw import api, new_contact
from tests.integration.operator_support import context, emails, read_ndjson, vendor_calls

ACCESS = "You do not have access to the requested area/action."
SANDBOX_USER = 3  # the API user "sandbox" (Basic auth in the sandbox connection)


@pytest.fixture
def mautic(sandbox):
    """The seeded instance (its contacts are owned by users 1 and 2), the API user limited to
    its own contacts."""
    sandbox.reset()
    emu = sandbox.emulator("mautic")
    emu.settings["contact_edit_scope"] = "own"
    return emu, sandbox.base_url("mautic")


def others(emu) -> list[dict]:
    """Seeded contacts: owned by another user."""
    found = [c for c in emu.contacts.values() if c["owner"] not in (None, SANDBOX_USER)]
    assert len(found) >= 3
    return found


def test_a_created_contact_belongs_to_its_creator_and_another_users_contact_is_403(mautic):
    emu, base = mautic
    mine = new_contact(base, email="mine@example.com")
    assert (mine["createdBy"], mine["createdByUser"]) == (SANDBOX_USER, "Sandbox API")
    theirs = others(emu)[0]
    before = (
        dict(theirs["values"]),
        list(theirs["dnc"]),
        dict(theirs["segments"]),
        theirs["points"],
        theirs["stage"],
    )
    r = api("PATCH", base, f"contacts/{mine['id']}/edit", json={"city": "Oslo"})
    assert r.status_code == 200 and r.json()["contact"]["fields"]["all"]["city"] == "Oslo"
    assert (r.json()["contact"]["modifiedBy"], r.json()["contact"]["modifiedByUser"]) == (
        SANDBOX_USER,
        "Sandbox API",
    )
    for method, path, body in (
        ("PATCH", f"contacts/{theirs['id']}/edit", {"city": "Oslo"}),
        ("PUT", f"contacts/{theirs['id']}/edit", {"email": "x@example.com"}),
        ("POST", f"contacts/{theirs['id']}/dnc/email/add", {}),
        ("POST", f"contacts/{theirs['id']}/dnc/email/remove", {}),
        ("POST", f"contacts/{theirs['id']}/points/plus/5", {}),
        ("POST", f"segments/1/contact/{theirs['id']}/add", {}),
        ("POST", f"stages/1/contact/{theirs['id']}/add", {}),
    ):
        r = api(method, base, path, json=body)
        assert (r.status_code, r.json()["errors"][0]["message"]) == (403, ACCESS), path
    # an unknown contact is still a 404 first
    r = api("POST", base, "contacts/99999/points/plus/5")
    assert (r.status_code, r.json()["errors"][0]["message"]) == (404, "Contact not found.")
    assert (
        dict(theirs["values"]),
        theirs["dnc"],
        theirs["segments"],
        theirs["points"],
        theirs["stage"],
    ) == before
    # reading is not editing: the list and the single GET still answer
    assert api("GET", base, f"contacts/{theirs['id']}").status_code == 200


def test_the_owner_decides_before_the_creator_and_nobody_owns_an_ownerless_seed(mautic):
    emu, base = mautic
    theirs = others(emu)[0]
    theirs["owner"] = SANDBOX_USER  # created by Ada Admin, now owned by the API user
    assert api("PATCH", base, f"contacts/{theirs['id']}/edit", json={"city": "Oslo"}).status_code == 200
    theirs["owner"] = None  # neither owned nor created by the API user: editother needed
    assert api("PATCH", base, f"contacts/{theirs['id']}/edit", json={"city": "Rome"}).status_code == 403
    assert theirs["values"]["city"] == "Oslo"


def test_batch_new_and_batch_edit_answer_403_items_and_change_nothing_of_them(mautic):
    emu, base = mautic
    theirs = others(emu)[:2]
    before = [dict(c["values"]) for c in theirs]
    mine = new_contact(base, email="mine@example.com")
    items = [
        {"email": "fresh@example.com", "city": "Oslo"},
        {"email": theirs[0]["values"]["email"], "city": "Oslo"},
        {"email": "mine@example.com", "city": "Oslo"},
    ]
    body = api("POST", base, "contacts/batch/new", json=items).json()
    assert body["statusCodes"] == [201, 403, 200]
    assert body["errors"] == {"1": {"message": ACCESS, "code": 403, "type": "api"}}
    assert sorted(body["contacts"]) == ["0", "2"]
    body = api(
        "PATCH",
        base,
        "contacts/batch/edit",
        json=[{"id": mine["id"], "city": "Rome"}, {"id": theirs[1]["id"], "city": "Rome"}],
    ).json()
    assert body["statusCodes"] == [200, 403]
    assert body["errors"] == {"1": {"message": ACCESS, "code": 403, "type": "api"}}
    assert [dict(c["values"]) for c in theirs] == before
    assert emails(emu)["mine@example.com"]["values"]["city"] == "Rome"


def test_the_single_create_route_checks_only_the_create_permission(mautic):
    """``newEntityAction`` asks ``checkEntityAccess($entity, 'create')`` even when the email
    matched an existing contact: the single route updates a contact the batch route refuses."""
    emu, base = mautic
    theirs = others(emu)[0]
    r = api("POST", base, "contacts/new", json={"email": theirs["values"]["email"], "city": "Oslo"})
    assert r.status_code == 200 and theirs["values"]["city"] == "Oslo"


def test_segment_batch_add_says_false_for_another_users_contact(mautic):
    emu, base = mautic
    mine = new_contact(base, email="mine@example.com")
    theirs = others(emu)[0]
    theirs["segments"].pop(1, None)
    r = api("POST", base, "segments/1/contacts/add", json={"ids": [mine["id"], theirs["id"], 99999]})
    assert r.json() == {
        "success": 1,
        "details": {
            str(mine["id"]): {"success": True},
            str(theirs["id"]): {"success": False},
            "99999": {"success": False},
        },
    }
    assert 1 in emu.contacts[mine["id"]]["segments"] and 1 not in theirs["segments"]


def test_campaign_add_checks_the_owner_only(mautic):
    """``addLeadAction`` passes ``getOwner()``: a contact the API user created but nobody owns
    cannot be added (an ownerless record needs editother), yet ``removeLeadAction`` (the creator
    counts there) may remove it."""
    emu, base = mautic
    mine = new_contact(base, email="mine@example.com")
    r = api("POST", base, f"campaigns/1/contact/{mine['id']}/add")
    assert (r.status_code, r.json()["errors"][0]["message"]) == (403, ACCESS)
    assert api("POST", base, f"campaigns/1/contact/{mine['id']}/remove").json() == {"success": 1}
    emu.contacts[mine["id"]]["owner"] = SANDBOX_USER
    assert api("POST", base, f"campaigns/1/contact/{mine['id']}/add").json() == {"success": 1}


def test_upsert_rejects_exactly_the_rows_of_other_users_contacts(mautic, sandbox, tmp_path):
    emu, base = mautic
    theirs = others(emu)[:2]
    new_contact(base, email="mine@example.com")
    rows = [
        {"email": "fresh@example.com", "city": "Oslo"},
        {"email": theirs[0]["values"]["email"], "city": "Oslo"},
        {"email": "mine@example.com", "city": "Oslo"},
        {"email": theirs[1]["values"]["email"], "city": "Oslo"},
    ]
    sandbox.clear_requests()
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=rows,
        rejects_path=str(tmp_path / "rejects.ndjson"),
        max_rejected=2,
    )
    summary = op.execute(context(tmp_path))
    assert (summary["created"], summary["updated"], summary["rejected"], summary["batches"]) == (1, 1, 2, 1)
    assert len(vendor_calls(sandbox, "contacts/batch/new")) == 1
    rejected = read_ndjson(tmp_path / "rejects.ndjson")
    assert [(r["index"], r["status"], r["message"], r["row"]["email"]) for r in rejected] == [
        (1, 403, ACCESS, theirs[0]["values"]["email"]),
        (3, 403, ACCESS, theirs[1]["values"]["email"]),
    ]
    assert all(c["values"]["city"] != "Oslo" for c in theirs)


def test_change_only_sync_sends_a_refused_row_again_once_the_permission_is_granted(
    mautic, sandbox, tmp_path, monkeypatch
):
    emu, _ = mautic
    monkeypatch.setenv("AIRFLOW__CONTACTS__STORAGE_BASE", str(tmp_path / "storage"))
    theirs = others(emu)[0]
    rows = [{"email": f"c{i}@example.com", "city": "Oslo"} for i in range(5)]
    rows.append({"email": theirs["values"]["email"], "city": "Oslo"})

    def sync(path: str) -> dict:
        sandbox.clear_requests()
        op = UpsertContactsOperator(
            task_id="sync",
            conn_id="mautic_default",
            rows=[dict(r) for r in rows],
            only_changed=True,
            rejects_path=str(tmp_path / path),
            max_rejected=1,
        )
        return op.execute(context(tmp_path))

    first = sync("first.ndjson")
    assert (first["created"], first["rejected"], first["sent"]) == (5, 1, 6)
    emu.settings["contact_edit_scope"] = "other"  # the role gets editother
    second = sync("second.ndjson")
    assert (second["updated"], second["unchanged"], second["sent"], second["rejected"]) == (1, 5, 1, 0)
    sent = vendor_calls(sandbox, "contacts/batch/new")
    assert len(sent) == 1
    assert theirs["values"]["city"] == "Oslo"


def test_dnc_and_segment_membership_reject_other_users_contacts_per_row(mautic, sandbox, tmp_path):
    emu, base = mautic
    mine = new_contact(base, email="mine@example.com")
    theirs = others(emu)[0]
    theirs["segments"].pop(1, None)
    dnc_before = list(theirs["dnc"])

    summary = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        rows=[mine["id"], theirs["id"]],
        rejects_path=str(tmp_path / "dnc.ndjson"),
        max_rejected=1,
    ).execute(context(tmp_path))
    assert (summary["updated"], summary["rejected"]) == (1, 1)
    assert [(r["status"], r["message"]) for r in read_ndjson(tmp_path / "dnc.ndjson")] == [(403, ACCESS)]
    assert theirs["dnc"] == dnc_before
    assert [(d["channel"], d["reason"]) for d in emu.contacts[mine["id"]]["dnc"]] == [("email", 3)]  # manual

    sandbox.clear_requests()
    summary = SetAudienceMembershipOperator(
        task_id="aud",
        conn_id="mautic_default",
        audience_type="segment",
        audience=1,
        action="add",
        rows=[mine["id"], theirs["id"]],
        rejects_path=str(tmp_path / "aud.ndjson"),
        max_rejected=1,
    ).execute(context(tmp_path))
    assert (summary["added"], summary["rejected"]) == (1, 1)
    assert [(r["status"], r["message"]) for r in read_ndjson(tmp_path / "aud.ndjson")] == [
        (403, "the API user may not edit this contact")
    ]
    assert len(vendor_calls(sandbox, "/contacts/add")) == 1
    assert 1 in emu.contacts[mine["id"]]["segments"] and 1 not in theirs["segments"]
