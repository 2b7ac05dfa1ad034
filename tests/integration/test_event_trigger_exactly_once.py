"""ContactEventsEventTrigger against the Mautic emulator: a consumer fetches exactly the events of
a batch (the scripted cases, with the clock and arrival order fully controlled, are in
tests/unit/test_event_trigger_exactly_once.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_contacts._time import to_iso as to_utc_iso
from airflow_provider_contacts.triggers.contact_events import ContactEventsEventTrigger


@pytest.mark.parametrize("vendor", ["mautic", "dmartech", "which50"])
def test_a_consumer_fetches_exactly_the_events_of_a_batch(sandbox, vendor):
    """iter_batch_events: the batch's events in full, not an event that arrived later inside the
    batch's time span, and a reference the vendor no longer lists is reported missing."""
    from airflow_provider_contacts.hooks import get_hook
    from airflow_provider_contacts.triggers.batches import iter_batch_events
    from airflow_provider_contacts.triggers.polling import open_hook as _open_hook

    sandbox.reset(empty=True)
    emu = sandbox.emulator(vendor)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    times = [now - timedelta(minutes=m) for m in (30, 20, 10)]
    contact_ids = None
    if vendor == "mautic":
        for i in range(2):
            emu.state.upsert({"email": f"b{i}@example.com"})
        for i, when in enumerate(times):
            emu.add_event("email.read", 1 + i % 2, when)
        late = lambda: emu.add_event("page.hit", 1, times[1] + timedelta(minutes=1))  # noqa: E731
    elif vendor == "dmartech":
        cid = emu.add_contact("13900000009", "b@example.cn", "B")["customerId"]
        for i, when in enumerate(times):
            emu.add_event(cid, "email_open", when, attributes={"n": str(i)})
        contact_ids = [cid]
        late = lambda: emu.add_event(cid, "email_click", times[1] + timedelta(minutes=1))  # noqa: E731
    else:
        enc = emu.add_contact(1, {"Email": "b@example.ie"})["EncContactId"]
        for when in times:
            emu.add_interaction(enc, "Email", "News", "Opened", when)
        contact_ids = [enc]
        late = lambda: emu.add_interaction(enc, "SMS", "Late", "Delivered", times[1] + timedelta(minutes=1))  # noqa: E731
    trigger = ContactEventsEventTrigger(
        conn_id=f"{vendor}_default",
        contact_ids=contact_ids,
        lag_seconds=3600,
        start_from=to_utc_iso(now - timedelta(hours=1)),
    )

    async def poll_once():
        hook, transport = await _open_hook(trigger.conn_id)
        try:
            return (await trigger.poll_once(hook, transport, datetime.now(timezone.utc)))[0]
        finally:
            await transport.aclose()

    batch = asyncio.run(poll_once())
    assert batch["count"] == 3 and len(batch["events"]) == 3
    late()  # inside the batch's time span, but not in the batch
    hook = get_hook(f"{vendor}_default")
    events = list(iter_batch_events(hook, batch))
    assert sorted(e.event_id for e in events) == sorted(ref["event_id"] for ref in batch["events"])
    gone = dict(batch, events=batch["events"] + [dict(batch["events"][0], event_id="no-such-event")])
    missing: list = []
    assert len(list(iter_batch_events(hook, gone, missing))) == 3
    assert [m["event_id"] for m in missing] == ["no-such-event"]
