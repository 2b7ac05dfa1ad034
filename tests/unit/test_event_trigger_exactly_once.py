"""Exactly-once delivery of ContactEventsEventTrigger across poll cycles, late events and
restarts, driven by a scripted event source (the vendor side is covered by the emulator tests
in tests/integration/test_sensors.py; here the clock and arrival order are fully controlled)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any, cast

import pytest

from airflow_provider_contacts._time import to_iso as to_utc_iso
from airflow_provider_contacts.models import ContactEvent
from airflow_provider_contacts.triggers.contact_events import ContactEventsEventTrigger

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


class ScriptedSource:
    """Events become visible at ``visible_at`` (arrival), carrying their own ``occurred_at``."""

    conn_type = "mautic"

    def __init__(self) -> None:
        self.events: list[tuple[datetime, ContactEvent]] = []
        self.now = T0
        self.windows: list[tuple[datetime, datetime]] = []

    def add(self, event_id: str, occurred: datetime, visible: datetime | None = None, etype="email.read"):
        ev = ContactEvent("mautic", event_id, etype, "7", occurred)
        self.events.append((visible or occurred, ev))

    async def aiter_events(self, transport, since, until, **filters):
        self.windows.append((since, until))
        for visible, ev in self.events:
            if visible <= self.now and since <= ev.occurred_at < until:
                yield ev


class MemoryStore:
    """Same interface as Airflow 3.3's asset state store accessor (aget/aset)."""

    def __init__(self) -> None:
        self.data: dict = {}

    async def aget(self, key, default=None):
        return self.data.get(key, default)

    async def aset(self, key, value):
        import json

        self.data[key] = json.loads(json.dumps(value))  # must be JSON, like the real store


def poll(trigger, source):
    async def go():
        batch, next_state = await trigger.poll_once(source, None, source.now, await trigger.load_state())
        if batch is not None:
            await trigger.save_state(next_state)
        return batch

    return asyncio.run(go())


def restart(trigger, store):
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_contacts.triggers.contact_events.ContactEventsEventTrigger"
    fresh = ContactEventsEventTrigger(**kwargs)
    fresh.asset_state_store = store  # what the 3.3 triggerer injects before run()
    return fresh


def test_each_event_is_delivered_exactly_once_across_polls_late_events_and_restarts():
    source, store = ScriptedSource(), MemoryStore()
    trigger = ContactEventsEventTrigger(
        conn_id="mautic_default", lag_seconds=600, start_from=to_utc_iso(T0 - timedelta(hours=1))
    )
    trigger.asset_state_store = cast(Any, store)  # a stand-in with the store's aget/aset
    delivered: list[str] = []

    def cycle(minutes: int):
        source.now = T0 + timedelta(minutes=minutes)
        summary = poll(trigger, source)
        if summary:
            delivered.extend(e["event_id"] for e in summary["events"])
        return summary

    source.add("a", T0 - timedelta(minutes=30))
    source.add("b", T0 - timedelta(minutes=5))
    first = cycle(0)
    assert first["count"] == 2 and first["first_occurred_at"] < first["last_occurred_at"]
    assert cycle(1) is None  # nothing new: no DAG run

    source.add("c", T0 + timedelta(minutes=2))
    # "d" happened before the watermark but only becomes visible later (inside the lag)
    source.add("d", T0 - timedelta(minutes=3), visible=T0 + timedelta(minutes=4))
    # same timestamp as "c", different id: both must be delivered
    source.add("c2", T0 + timedelta(minutes=2))
    assert cycle(3)["count"] == 2  # c and c2

    trigger = restart(trigger, store)  # the triggerer restarts between polls
    assert cycle(5)["count"] == 1  # d, late but inside the lag
    assert cycle(6) is None

    source.add("e", T0 + timedelta(minutes=7), etype="form.submitted")
    trigger = restart(trigger, store)
    summary = cycle(8)
    assert summary["event_types"] == {"form.submitted": 1}
    assert cycle(9) is None

    assert sorted(delivered) == ["a", "b", "c", "c2", "d", "e"]
    assert len(delivered) == len(set(delivered))
    # the state kept is bounded: only keys inside the lag window after the newest event
    state = store.data["contact_events_watermark:mautic_default"]
    assert state["watermark"] == [to_utc_iso(T0 + timedelta(minutes=7)), "e"]
    assert set(state["recent"]) == {
        "mautic|email.read|c|7",
        "mautic|email.read|c2|7",
        "mautic|email.read|d|7",
        "mautic|form.submitted|e|7",
    }


def test_events_later_than_the_lag_are_not_delivered_and_windows_are_half_open():
    source, store = ScriptedSource(), MemoryStore()
    trigger = ContactEventsEventTrigger(conn_id="m", lag_seconds=60, start_from=to_utc_iso(T0))
    trigger.asset_state_store = cast(Any, store)  # a stand-in with the store's aget/aset
    source.add("at-start", T0)
    source.add("at-now", T0 + timedelta(minutes=10))  # occurred_at == now: outside [since, now)
    source.now = T0 + timedelta(minutes=10)
    assert [e["event_id"] for e in poll(trigger, source)["events"]] == ["at-start"]
    assert source.windows[-1] == (T0, T0 + timedelta(minutes=10))
    source.now = T0 + timedelta(minutes=11)
    assert [e["event_id"] for e in poll(trigger, source)["events"]] == ["at-now"]
    # 5 minutes older than the watermark, lag is 1 minute: too late
    source.add("too-late", T0 + timedelta(minutes=5), visible=T0 + timedelta(minutes=12))
    source.now = T0 + timedelta(minutes=12)
    assert poll(trigger, source) is None
    assert source.windows[-1][0] == T0 + timedelta(minutes=9)  # watermark - lag


def test_state_in_a_file_survives_restarts_without_a_state_store(tmp_path):
    path = tmp_path / "watermark.json"
    source = ScriptedSource()
    trigger = ContactEventsEventTrigger(
        conn_id="m", lag_seconds=60, start_from=to_utc_iso(T0), state_path=str(path)
    )
    source.add("x", T0 + timedelta(minutes=1))
    source.now = T0 + timedelta(minutes=2)
    assert poll(trigger, source)["count"] == 1
    assert path.exists()
    again = ContactEventsEventTrigger(**trigger.serialize()[1])
    assert poll(again, source) is None
    assert "the file" in again.state.where()


def test_memory_only_state_says_so():
    trigger = ContactEventsEventTrigger(conn_id="m")
    assert "memory only" in trigger.state.where()


def test_serialize_round_trips_exactly():
    kwargs: dict[str, Any] = {
        "conn_id": "mautic_default",
        "include_types": ["email.read"],
        "exclude_types": None,
        "contact_ids": ["1", "2"],
        "poke_interval": 30.0,
        "lag_seconds": 120.0,
        "start_from": "2026-11-20T00:00:00Z",
        "state_key": "k",
        "state_path": None,
        "max_batch_events": 200,
        "handover_seconds": 5.0,
        "max_backoff_seconds": 600.0,
    }
    trigger = ContactEventsEventTrigger(**kwargs)
    assert trigger.serialize() == (
        "airflow_provider_contacts.triggers.contact_events.ContactEventsEventTrigger",
        kwargs,
    )
    assert ContactEventsEventTrigger(**trigger.serialize()[1]).serialize() == trigger.serialize()


@pytest.mark.parametrize("bad", ["yesterday", ""])
def test_bad_start_from_is_a_clear_error(bad):
    from airflow_provider_contacts.exceptions import ContactsConfigError

    trigger = ContactEventsEventTrigger(conn_id="m", start_from=bad or " ")
    with pytest.raises(ContactsConfigError, match="start_from"):
        poll(trigger, ScriptedSource())


def test_watchers_with_other_filters_keep_their_own_watermark_in_a_shared_state_file(tmp_path):
    """Two watchers of one connection sharing ``state_path``: each has its own key, so one's
    watermark never makes the other skip events; without filters the 0.1.0 key is kept."""
    from airflow_provider_contacts.triggers.contact_events import ContactEventsEventTrigger

    path = str(tmp_path / "state.json")
    plain = ContactEventsEventTrigger("mautic_default", state_path=path)
    reads = ContactEventsEventTrigger("mautic_default", include_types=["email.read"], state_path=path)
    forms = ContactEventsEventTrigger("mautic_default", include_types=["form.submitted"], state_path=path)
    same = ContactEventsEventTrigger("mautic_default", include_types=["email.read"], state_path=path)
    assert plain.state_key == "contact_events_watermark:mautic_default"
    assert len({plain.state_key, reads.state_key, forms.state_key}) == 3
    assert same.state_key == reads.state_key  # the same watch is the same state
    assert ContactEventsEventTrigger(**reads.serialize()[1]).state_key == reads.state_key
