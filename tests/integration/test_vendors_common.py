"""What every vendor shares, against the sandbox: one activity schema, clear errors for actions
a vendor lacks, and the deferrable trigger's async path on each vendor's event source."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_contacts._time import to_iso as iso
from airflow_provider_contacts.exceptions import UnsupportedActionError
from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from airflow_provider_contacts.triggers.contact_events import ContactEventsTrigger

SCHEMA = ["vendor", "event_id", "event_type", "contact_id", "occurred_at", "label", "campaign", "raw"]


def context():
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="task", map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti}


def one_event_per_vendor(sandbox, when: datetime) -> dict[str, str]:
    """An email open at ``when`` in Mautic, Dmartech and Which50 (empty emulators); contact ids."""
    sandbox.reset(empty=True)
    mautic = sandbox.emulator("mautic")
    mautic.state.upsert({"email": "one@example.com"})
    mautic.add_event("email.read", 1, when)
    dm = sandbox.emulator("dmartech")
    dm_id = dm.add_contact("13800001111", "one@example.cn", "One")["customerId"]
    dm.add_event(dm_id, "email_open", when)
    w50 = sandbox.emulator("which50")
    w50_id = w50.add_contact(1, {"Email": "one@example.ie"})["EncContactId"]
    w50.add_interaction(w50_id, "Email", "News", "Opened", when)
    return {"mautic": "1", "dmartech": dm_id, "which50": w50_id}


def test_activity_has_one_schema_for_mautic_dmartech_and_which50(sandbox, tmp_path):
    when = datetime(2026, 11, 21, 8, 30, tzinfo=timezone.utc)
    ids = one_event_per_vendor(sandbox, when)
    rows = {}
    for vendor, contact_id in ids.items():
        out = tmp_path / f"{vendor}.ndjson"
        summary = FetchContactActivityOperator(
            task_id=f"fetch_{vendor}",
            conn_id=f"{vendor}_default",
            since="2026-11-21T00:00:00Z",
            until="2026-11-22T00:00:00Z",
            contact_ids=[contact_id],
            output_path=str(out),
        ).execute(context())
        assert summary["events"] == 1, vendor
        [rows[vendor]] = [json.loads(line) for line in out.read_text().splitlines()]
    for vendor, row in rows.items():
        assert list(row) == SCHEMA, vendor
        assert (row["vendor"], row["contact_id"], row["occurred_at"]) == (
            vendor,
            ids[vendor],
            "2026-11-21T08:30:00.000000Z",
        )
    assert {v: r["event_type"] for v, r in rows.items()} == {
        "mautic": "email.read",
        "dmartech": "email_open",
        "which50": "email",
    }


@pytest.mark.parametrize(
    "operator, kwargs, conn_id, action",
    [
        (
            AdjustPointGroupsOperator,
            {"rows": [{"contact": "x", "group": "g", "op": "plus", "value": 1}]},
            "dmartech_default",
            "adjust point groups",
        ),
        (
            DoNotContactOperator,
            {"rows": [{"email": "a@example.com"}], "action": "add"},
            "engagelab_default",
            "do-not-contact",
        ),
        (
            UpsertContactsOperator,
            {"rows": [{"email": "a@example.com"}]},
            "dmartech_default",
            "upsert contacts",
        ),
    ],
)
def test_an_action_the_vendor_lacks_is_a_clear_error_before_any_request(
    sandbox, tmp_path, operator, kwargs, conn_id, action
):
    op = operator(task_id="t", conn_id=conn_id, rejects_path=str(tmp_path / "r.ndjson"), **kwargs)
    with pytest.raises(UnsupportedActionError) as info:
        op.execute(context())
    assert action.split()[0] in str(info.value) and "connection types that can:" in str(info.value)
    assert sandbox.requests() == []


@pytest.mark.parametrize("vendor", ["dmartech", "which50", "engagelab"])
def test_the_deferrable_trigger_polls_every_vendor_on_the_async_transport(sandbox, vendor):
    when = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    ids = one_event_per_vendor(sandbox, when)
    contact_ids = None if vendor == "engagelab" else [ids[vendor]]
    if vendor == "engagelab":
        sandbox.emulator("engagelab").add_contact(email="new@example.com", created_at=int(when.timestamp()))
    trigger = ContactEventsTrigger(
        conn_id=f"{vendor}_default",
        since=iso(when - timedelta(minutes=5)),
        contact_ids=contact_ids,
        poke_interval=0.2,
    )

    async def first():
        return [e async for e in trigger.run()]

    [event] = asyncio.run(asyncio.wait_for(first(), timeout=20))
    assert event.payload["status"] == "success", event.payload
    assert event.payload["summary"]["count"] == 1 and event.payload["summary"]["vendor"] == vendor
