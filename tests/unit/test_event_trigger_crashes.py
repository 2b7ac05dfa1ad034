"""ContactEventsEventTrigger under Airflow 3.3's triggerer loop, crashed at each point where a
batch is between the trigger and the database (see tests/unit/triggerer_sim.py for the model and
the Airflow source it follows). What a user relies on: every event reaches at least one asset
event, and a consumer that skips a batch_id it has processed processes each event once."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_contacts._compat import AIRFLOW_V_3_3_PLUS
from airflow_provider_contacts._time import to_iso as to_utc_iso
from airflow_provider_contacts.exceptions import AuthenticationError, ServerError
from airflow_provider_contacts.triggers.contact_events import ContactEventsEventTrigger
from tests.unit.triggerer_sim import (
    T0,
    Database,
    ScriptedSource,
    Triggerer,
    VirtualClock,
    delivered,
    install,
    processed_once,
)

# The model follows 3.3's triggerer (TriggerEventEntry, the asset state store); 3.1 and 3.2 keep
# other internals (and no asset state store: the watcher's state_path), so the model is 3.3 only.
pytestmark = pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="a model of Airflow 3.3's triggerer loop")


@pytest.fixture
def world(monkeypatch):
    clock = VirtualClock(T0)
    source = ScriptedSource(clock)
    install(monkeypatch, clock, source)
    return clock, source, Database()


def new_trigger(**overrides):
    kwargs: dict[str, Any] = {
        "conn_id": "mautic_default",
        "poke_interval": 60,
        "lag_seconds": 600,
        "start_from": to_utc_iso(T0 - timedelta(hours=1)),
    }
    kwargs.update(overrides)
    return ContactEventsEventTrigger(**kwargs)


def rebuilt(trigger):
    """What a new triggerer runs: the trigger built again from its serialized kwargs."""
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_contacts.triggers.contact_events.ContactEventsEventTrigger"
    return ContactEventsEventTrigger(**kwargs)


async def run_loop(clock, triggerer, until: float) -> None:
    """The triggerer's loops from now to ``until``: once a second the runner syncs its events to
    the supervisor, which writes them to the database."""
    tick = int(clock.t) + 1
    while tick <= until:
        await clock.advance(tick)
        triggerer.sync()
        triggerer.write()
        tick += 1
    assert triggerer.failed is None


def three_events(source):
    for name, minutes in (("a", 30), ("b", 20), ("c", 10)):
        source.add(name, T0 - timedelta(minutes=minutes), visible_at=0)


# ---- crash points ---------------------------------------------------------------------------
@pytest.mark.parametrize("held_by", ["runner", "supervisor"])
async def test_crash_after_the_yield_before_the_database_write_loses_nothing(world, held_by):
    """The batch was yielded (Airflow holds it in memory: in the runner's deque, or already sent
    to the supervisor) when the triggerer dies: the restarted trigger delivers it again."""
    clock, source, db = world
    three_events(source)
    first = Triggerer(db, new_trigger())
    await clock.advance(0.5)  # polled at t=0, yielded, resumed; the triggerer has not synced yet
    assert [e.event.payload["count"] for e in first.runner.events] == [3]
    if held_by == "supervisor":
        first.sync()
        assert len(first.supervisor_events) == 1
    await first.crash()
    assert db.asset_events == []

    second = Triggerer(db, rebuilt(first.trigger))
    await run_loop(clock, second, until=clock.t + 5)
    assert sorted(processed_once(db)) == ["a", "b", "c"]
    assert len(db.asset_events) == 1


async def test_crash_after_the_database_write_before_the_next_poll_repeats_the_same_batch_id(world):
    clock, source, db = world
    three_events(source)
    first = Triggerer(db, new_trigger())
    await run_loop(clock, first, until=1)  # synced and written at t=1
    assert [p["count"] for p in db.asset_events] == [3]
    await clock.advance(30)  # the next poll (t=60) has not started: the batch is not committed
    await first.crash()

    second = Triggerer(db, rebuilt(first.trigger))
    await run_loop(clock, second, until=clock.t + 5)
    assert len(db.asset_events) == 2  # delivered twice ...
    assert db.asset_events[0]["batch_id"] == db.asset_events[1]["batch_id"]  # ... recognisably
    assert db.asset_events[0]["events"] == db.asset_events[1]["events"]
    assert sorted(processed_once(db)) == ["a", "b", "c"]

    # then it carries on from the committed watermark: a new event once, nothing repeated
    source.add("d", T0 + timedelta(seconds=40), visible_at=clock.t)
    await run_loop(clock, second, until=clock.t + 130)
    assert sorted(processed_once(db)) == ["a", "b", "c", "d"]
    assert [e for _, e in delivered(db)].count("d") == 1


async def test_crash_between_saving_the_batch_and_yielding_it(world):
    clock, source, db = world
    three_events(source)
    db.store.crash_after_set = lambda value: "pending" in value
    first = Triggerer(db, new_trigger())
    await clock.advance(0.5)
    assert first.task.cancelled()  # died right after the batch was saved, before the yield
    await first.crash()
    assert db.asset_events == []

    db.store.crash_after_set = None
    second = Triggerer(db, rebuilt(first.trigger))
    await run_loop(clock, second, until=clock.t + 5)
    assert sorted(processed_once(db)) == ["a", "b", "c"] and len(db.asset_events) == 1


async def test_crash_right_after_the_commit_neither_repeats_nor_loses(world):
    clock, source, db = world
    three_events(source)
    first = Triggerer(db, new_trigger())
    await run_loop(clock, first, until=5)
    source.add("d", T0 + timedelta(seconds=30), visible_at=30)
    db.store.crash_after_set = lambda value: "pending" not in value  # the commit at the next poll
    await clock.advance(61)
    assert first.task.cancelled()
    await first.crash()

    db.store.crash_after_set = None
    second = Triggerer(db, rebuilt(first.trigger))
    await run_loop(clock, second, until=clock.t + 5)
    assert [sorted(e["event_id"] for e in p["events"]) for p in db.asset_events] == [["a", "b", "c"], ["d"]]


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
async def test_random_crashes_never_lose_an_event_and_batch_ids_make_processing_exactly_once(world, seed):
    clock, source, db = world
    rng = random.Random(seed)
    ids = []
    for i in range(40):
        visible = rng.uniform(0, 900)
        occurred = T0 + timedelta(seconds=visible - rng.uniform(0, 200))  # up to 200 s late, lag is 600
        ids.append(f"e{i}")
        source.add(f"e{i}", occurred, visible_at=visible, etype=rng.choice(["email.read", "page.hit"]))
    trigger = new_trigger(
        poke_interval=15,
        start_from=to_utc_iso(T0 - timedelta(minutes=10)),
        max_batch_events=4,
        handover_seconds=3,
    )
    triggerer = Triggerer(db, trigger)
    crashes = 0
    tick = 1
    while tick <= 1000:
        await clock.advance(tick)
        if rng.random() < 0.03:  # dies while the runner may hold events
            await triggerer.crash()
        else:
            triggerer.sync()
            if rng.random() < 0.03:  # dies with events only in the supervisor's memory
                await triggerer.crash()
            else:
                triggerer.write()
        if not triggerer.alive:
            crashes += 1
            down = rng.randint(0, 40)
            await clock.advance(tick + down)
            tick += down
            triggerer = Triggerer(db, rebuilt(triggerer.trigger))
        tick += 1
    await run_loop(clock, triggerer, until=clock.t + 120)
    assert crashes >= 2
    processed = processed_once(db)
    assert sorted(processed) == sorted(ids)  # every event, each once
    assert all(p.get("batch_id") for p in db.asset_events)
    repeats = len(db.asset_events) - len({p["batch_id"] for p in db.asset_events})
    assert repeats <= crashes  # a batch is repeated only after a crash


# ---- batches ----------------------------------------------------------------------------------
async def test_a_backlog_is_split_into_batches_handed_over_one_after_the_other(world):
    clock, source, db = world
    for i in range(7):
        source.add(f"x{i}", T0 - timedelta(minutes=10 - i), visible_at=0)
    triggerer = Triggerer(db, new_trigger(max_batch_events=3, handover_seconds=2))
    await run_loop(clock, triggerer, until=10)
    assert [[e["event_id"] for e in p["events"]] for p in db.asset_events] == [
        ["x0", "x1", "x2"],
        ["x3", "x4", "x5"],
        ["x6"],
    ]
    assert [p["more"] for p in db.asset_events] == [True, True, False]
    assert source.polls == 3  # the next batch followed after the handover, not after poke_interval


async def test_the_batch_id_is_derived_from_the_content(world):
    clock, source, db = world
    three_events(source)
    triggerer = Triggerer(db, new_trigger())
    await run_loop(clock, triggerer, until=2)
    other_db = Database()
    other = Triggerer(other_db, new_trigger())
    await run_loop(clock, other, until=clock.t + 2)
    assert db.asset_events[0]["batch_id"] == other_db.asset_events[0]["batch_id"]  # same events, same id
    renamed = Triggerer(Database(), new_trigger(conn_id="mautic_other"))
    await run_loop(clock, renamed, until=clock.t + 2)
    assert renamed.db.asset_events[0]["batch_id"] != db.asset_events[0]["batch_id"]


# ---- vendor errors (item 5) -------------------------------------------------------------------
@pytest.mark.slow
async def test_a_vendor_error_is_never_an_asset_event_and_polling_backs_off_then_resumes(world):
    clock, source, db = world
    three_events(source)
    triggerer = Triggerer(db, new_trigger(max_backoff_seconds=600))
    await run_loop(clock, triggerer, until=2)
    assert [p["count"] for p in db.asset_events] == [3]

    source.error = AuthenticationError("HTTP 403: API disabled", status=403)
    clock.sleeps.clear()
    await run_loop(clock, triggerer, until=3000)
    assert [p["count"] for p in db.asset_events] == [3]  # no error event, no DAG run
    waits = [s for s in clock.sleeps if s >= 1]
    assert waits[:6] == [60, 120, 240, 480, 600, 600]  # poke_interval, then doubling, capped
    state = db.store.rows["contact_events_watermark:mautic_default"]
    assert '"c"' in state  # the watermark is kept

    source.error = None
    source.add("d", T0 + timedelta(minutes=30), visible_at=clock.t)
    await run_loop(clock, triggerer, until=clock.t + 601)
    assert [sorted(e["event_id"] for e in p["events"]) for p in db.asset_events] == [["a", "b", "c"], ["d"]]
    assert clock.sleeps[-1] == 60  # back to the normal interval


async def test_transient_errors_and_a_missing_connection_are_retried_without_events(world, monkeypatch):
    from airflow_provider_contacts.triggers import polling as module

    clock, source, db = world
    three_events(source)
    attempts = []
    real_open = module.open_hook

    async def flaky_open(conn_id):
        attempts.append(clock.t)
        if len(attempts) < 3:
            raise ServerError("HTTP 503", status=503) if attempts[-1] else KeyError(conn_id)
        return await real_open(conn_id)

    monkeypatch.setattr(module, "open_hook", flaky_open)
    triggerer = Triggerer(db, new_trigger(poke_interval=10))
    await run_loop(clock, triggerer, until=40)
    assert attempts == [0, 10, 30]  # failed, 10 s, 20 s, then connected
    assert [p["count"] for p in db.asset_events] == [3]
