"""Dmartech events carry no id: identical events (same contact, names, attributes and second)
are several events, told apart by their number among them; an event listed on two pages because
the listing moved while it was read is one event; a re-poll finds nothing new. Against the
emulator, whose contactEvents lists newest first."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_contacts._time import to_iso
from airflow_provider_contacts.hooks.dmartech import DmartechHook
from airflow_provider_contacts.triggers.contact_events import ContactEventsEventTrigger
from tests.integration.dmartech_support import arrivals_while_paging


@pytest.fixture
def emu(sandbox):
    sandbox.reset(empty=True)
    return sandbox.emulator("dmartech")


@pytest.fixture
def until():
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)


def pages_asked(sandbox) -> list[int]:
    from urllib.parse import parse_qs

    return [
        int(parse_qs(r["query"])["pageNo"][0])
        for r in sandbox.requests("dmartech")
        if r["path"].endswith("/contactEvents")
    ]


def with_pair(emu, until, before: int, after: int) -> tuple[str, datetime]:
    """A contact with ``before`` newer distinct events, two identical ones, ``after`` older ones."""
    cid = emu.add_contact("13900000003", "same@example.cn", "S")["customerId"]
    pair_at = until - timedelta(minutes=before + 1)
    for i in range(before):
        emu.add_event(cid, "email_open", until - timedelta(minutes=i + 1), attributes={"n": f"new{i}"})
    for _ in range(2):
        emu.add_event(cid, "email_click", pair_at, attributes={"link": "https://example.cn/x"})
    for i in range(after):
        emu.add_event(cid, "email_open", pair_at - timedelta(minutes=i + 1), attributes={"n": f"old{i}"})
    return cid, pair_at


def test_two_identical_events_on_one_page_are_two(sandbox, emu, until):
    cid, pair_at = with_pair(emu, until, before=3, after=3)
    events = list(DmartechHook().iter_events(until - timedelta(hours=1), until, contact_ids=[cid]))
    clicks = [e for e in events if e.event_type == "email_click"]
    assert len(events) == 8 and len({e.key for e in events}) == 8
    assert [e.occurred_at for e in clicks] == [pair_at, pair_at]
    base = clicks[0].event_id
    assert sorted(e.event_id for e in clicks) == [base, f"{base}-2"]
    assert pages_asked(sandbox) == [1]


def test_identical_events_split_by_a_page_boundary_are_two_and_ids_do_not_depend_on_pages(
    sandbox, emu, until
):
    cid, _ = with_pair(emu, until, before=19, after=5)  # page 1 ends with one, page 2 starts with the other
    hook = DmartechHook()
    window = (until - timedelta(hours=1), until)
    events = list(hook.iter_events(*window, contact_ids=[cid]))
    assert len(events) == 26 and len({e.key for e in events}) == 26
    assert pages_asked(sandbox) == [1, 2, 1]  # page 1 read again: unchanged, so both are real
    for size in (3, 1):  # other page layouts, the same ids
        again = list(hook.iter_events(*window, contact_ids=[cid], page_size=size))
        assert sorted(e.event_id for e in again) == sorted(e.event_id for e in events)


def shifting(hook, emu, cid: str, after_page: int, arrivals: int) -> list[int]:
    """``arrivals`` new events (now: newest) arrive right after page ``after_page`` is read."""
    return arrivals_while_paging(hook, emu, cid, after_page, arrivals, "form_submit")


def test_an_event_pushed_onto_the_next_page_is_returned_once(sandbox, emu, until):
    cid = emu.add_contact("13900000004", "moved@example.cn", "M")["customerId"]
    for i in range(30):
        emu.add_event(cid, "email_open", until - timedelta(minutes=i + 1), attributes={"n": str(i)})
    hook = DmartechHook()
    pages = shifting(hook, emu, cid, after_page=1, arrivals=1)  # the 20th event is listed again on page 2
    events = list(hook.iter_events(until - timedelta(hours=1), until, contact_ids=[cid]))
    assert sorted(e.raw["attributes"]["n"] for e in events) == sorted(str(i) for i in range(30))
    assert len({e.key for e in events}) == 30 and all("-" not in e.event_id for e in events)
    assert pages == [1, 2, 1]  # page 1 read again: it moved, so the repeat is skipped


def test_a_moved_listing_keeps_a_real_identical_event_behind_the_repeat(sandbox, emu, until):
    cid, _ = with_pair(emu, until, before=19, after=5)
    hook = DmartechHook()
    pages = shifting(
        hook, emu, cid, after_page=1, arrivals=1
    )  # page 2: the first copy again, then the second
    events = list(hook.iter_events(until - timedelta(hours=1), until, contact_ids=[cid]))
    assert Counter(e.event_type for e in events) == {"email_open": 24, "email_click": 2}
    assert len({e.key for e in events}) == 26 and pages == [1, 2, 1]


def test_a_re_poll_of_the_same_window_delivers_nothing_new_and_a_third_copy_once(sandbox, emu, until):
    cid, pair_at = with_pair(emu, until, before=2, after=0)
    trigger = ContactEventsEventTrigger(
        conn_id="dmartech_default",
        contact_ids=[cid],
        lag_seconds=3600,
        start_from=to_iso(until - timedelta(hours=1)),
    )

    async def poll(state):
        from airflow_provider_contacts.triggers.polling import open_hook

        hook, transport = await open_hook(trigger.conn_id)
        try:
            return await trigger.poll_once(hook, transport, datetime.now(timezone.utc), state)
        finally:
            await transport.aclose()

    batch, state = asyncio.run(poll(None))
    assert batch is not None and batch["count"] == 4
    clicks = sorted(ref["event_id"] for ref in batch["events"] if ref["event_type"] == "email_click")
    assert clicks == [clicks[0], f"{clicks[0]}-2"]
    assert asyncio.run(poll(state)) == (None, None)  # the same window again: nothing new
    emu.add_event(cid, "email_click", pair_at, attributes={"link": "https://example.cn/x"})  # a third copy
    batch, _ = asyncio.run(poll(state))
    assert batch is not None and [ref["event_id"] for ref in batch["events"]] == [f"{clicks[0]}-3"]
