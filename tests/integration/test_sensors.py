"""ContactEventsSensor and ContactEventsTrigger against the Mautic emulator over real HTTP:
poke, deferral (TaskDeferred carrying the exact trigger), the trigger's success event,
timeouts, a 401 that fails fast, and a real ``dag.test()`` with a deferrable sensor."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from airflow_provider_contacts._compat import AirflowSensorTimeout, TaskDeferred
from airflow_provider_contacts._time import to_iso as iso
from airflow_provider_contacts.exceptions import AuthenticationError, ContactsError
from airflow_provider_contacts.sensors.contact_events import ContactEventsSensor
from airflow_provider_contacts.triggers.contact_events import ContactEventsTrigger


def context(**extra):
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="wait", map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti, **extra}


def empty_mautic(sandbox, contacts: int = 3):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    for i in range(contacts):
        emu.state.upsert({"email": f"c{i}@example.com"})
    return emu


def activity_calls(sandbox) -> list[dict]:
    return [r for r in sandbox.requests("mautic") if r["path"].endswith("/activity")]


def run_trigger(trigger) -> list:
    """Every event the trigger yields (it yields one and stops)."""

    async def go():
        return [event async for event in trigger.run()]

    return asyncio.run(asyncio.wait_for(go(), timeout=30))


# ---- poke ------------------------------------------------------------------------------------
def test_poke_counts_new_events_in_the_window_and_returns_a_summary(sandbox):
    emu = empty_mautic(sandbox)
    since = (datetime.now(timezone.utc) - timedelta(minutes=10)).replace(microsecond=0)
    emu.add_event("email.read", 1, since - timedelta(seconds=1))  # before the window: not new
    sensor = ContactEventsSensor(
        task_id="wait",
        conn_id="mautic_default",
        since=iso(since),
        min_events=2,
        event_types=["email.read", "form.submitted"],
        poke_interval=0.1,
        timeout=10,
    )
    first = sensor.poke(context())
    assert not first.is_done and first.xcom_value is not None and first.xcom_value["count"] == 0

    emu.add_event("email.read", 2, since + timedelta(minutes=1))
    emu.add_event("page.hit", 2, since + timedelta(minutes=2))  # type not asked for
    emu.add_event("form.submitted", 3, since + timedelta(minutes=3))
    second = sensor.poke(context())
    assert second.is_done
    summary = second.xcom_value
    assert summary is not None and summary["count"] == 2
    assert summary["event_types"] == {"email.read": 1, "form.submitted": 1}
    assert summary["first_occurred_at"] == iso(since + timedelta(minutes=1))
    assert summary["last_occurred_at"] == iso(since + timedelta(minutes=3))
    assert summary["window"][0] == iso(since)
    assert [e["contact_id"] for e in summary["events"]] == ["2", "3"]
    json.dumps(summary)  # an XCom value: JSON only


def test_poke_mode_execute_waits_until_events_appear(sandbox):
    emu = empty_mautic(sandbox)
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    sensor = ContactEventsSensor(
        task_id="wait",
        conn_id="mautic_default",
        since=iso(since),
        poke_interval=0.2,
        timeout=20,
        deferrable=False,
    )
    timer = threading.Timer(0.7, lambda: emu.add_event("email.sent", 1))
    timer.start()
    try:
        summary = sensor.execute(context())
    finally:
        timer.cancel()
    assert summary["count"] == 1 and summary["event_types"] == {"email.sent": 1}
    assert len(activity_calls(sandbox)) >= 3  # it polled, empty, until the event existed


def test_poke_mode_timeout_raises_airflow_sensor_timeout(sandbox):
    empty_mautic(sandbox)
    sensor = ContactEventsSensor(
        task_id="wait",
        conn_id="mautic_default",
        since=iso(datetime.now(timezone.utc) - timedelta(minutes=1)),
        poke_interval=0.1,
        timeout=0.5,
        deferrable=False,
    )
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute(context())


def test_a_401_fails_fast_in_poke_mode_with_one_request(sandbox, monkeypatch):
    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_MAUTIC_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_MAUTIC_BAD", json.dumps({**conn, "password": "wrong"}))
    sensor = ContactEventsSensor(
        task_id="wait",
        conn_id="mautic_bad",
        since="2026-01-01T00:00:00Z",
        poke_interval=0.1,
        timeout=30,
        deferrable=False,
    )
    started = time.monotonic()
    with pytest.raises(AuthenticationError) as info:
        sensor.execute(context())
    assert time.monotonic() - started < 5
    assert info.value.status == 401 and "mautic_bad" in str(info.value)
    assert len(sandbox.requests("mautic")) == 1  # not retried


# ---- deferrable ------------------------------------------------------------------------------
def test_deferrable_execute_pokes_once_then_defers_with_the_exact_trigger(sandbox):
    empty_mautic(sandbox)
    sensor = ContactEventsSensor(
        task_id="wait",
        conn_id="mautic_default",
        since="2026-11-20T00:00:00Z",
        min_events=3,
        event_types=["email.read"],
        contact_ids=[1, "2"],
        poke_interval=7,
        timeout=3600,
        deferrable=True,
    )
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(context())
    deferred = info.value
    # the one poke before deferring: one activity request per contact asked for
    assert [r["path"] for r in activity_calls(sandbox)] == [
        "/mautic/api/contacts/1/activity",
        "/mautic/api/contacts/2/activity",
    ]
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(hours=1)
    assert isinstance(deferred.trigger, ContactEventsTrigger)
    assert deferred.trigger.serialize() == (
        "airflow_provider_contacts.triggers.contact_events.ContactEventsTrigger",
        {
            "conn_id": "mautic_default",
            "since": "2026-11-20T00:00:00.000000Z",
            "until": None,
            "min_events": 3,
            "include_types": ["email.read"],
            "exclude_types": None,
            "contact_ids": ["1", "2"],
            "poke_interval": 7.0,
            "max_consecutive_errors": 3,
        },
    )


def test_deferrable_execute_returns_at_once_when_the_first_poke_is_enough(sandbox):
    emu = empty_mautic(sandbox)
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    emu.add_event("email.read", 1, since + timedelta(minutes=1))
    sensor = ContactEventsSensor(task_id="wait", conn_id="mautic_default", since=iso(since), deferrable=True)
    assert sensor.execute(context())["count"] == 1


def test_trigger_against_the_emulator_yields_success_when_events_arrive(sandbox):
    emu = empty_mautic(sandbox)
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    trigger = ContactEventsTrigger(
        conn_id="mautic_default", since=iso(since), min_events=2, poke_interval=0.2
    )
    adder = threading.Timer(0.5, lambda: [emu.add_event("form.submitted", 1), emu.add_event("email.read", 2)])
    adder.start()
    try:
        events = run_trigger(trigger)
    finally:
        adder.cancel()
    assert len(events) == 1
    payload = events[0].payload
    assert payload["status"] == "success"
    assert payload["summary"]["count"] == 2
    assert payload["summary"]["event_types"] == {"email.read": 1, "form.submitted": 1}
    assert len(activity_calls(sandbox)) >= 2
    # the sensor resumes with that event and returns the summary
    sensor = ContactEventsSensor(task_id="wait", conn_id="mautic_default", since=iso(since), deferrable=True)
    assert sensor.execute_complete(context(), payload) == payload["summary"]


def test_trigger_401_yields_an_error_event_at_once_and_the_task_fails_with_it(sandbox, monkeypatch):
    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_MAUTIC_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_MAUTIC_BAD", json.dumps({**conn, "password": "wrong"}))
    trigger = ContactEventsTrigger(conn_id="mautic_bad", since="2026-11-20T00:00:00Z", poke_interval=60)
    started = time.monotonic()
    events = run_trigger(trigger)
    assert time.monotonic() - started < 5  # did not sleep the poke_interval
    assert len(events) == 1 and events[0].payload["status"] == "error"
    assert events[0].payload["error_type"] == "AuthenticationError"
    assert "401" in events[0].payload["message"]
    assert len(sandbox.requests("mautic")) == 1
    sensor = ContactEventsSensor(
        task_id="wait", conn_id="mautic_bad", since="2026-11-20T00:00:00Z", deferrable=True
    )
    with pytest.raises(ContactsError, match="waiting for contact events failed: .*401"):
        sensor.execute_complete(context(), events[0].payload)


def test_bad_settings_fail_before_any_request(sandbox):
    sensor = ContactEventsSensor(task_id="wait", conn_id="mautic_default", since="yesterday")
    with pytest.raises(ContactsError, match="since='yesterday' is not an ISO 8601"):
        sensor.poke(context())
    sensor = ContactEventsSensor(
        task_id="wait", conn_id="mautic_default", since="2026-11-20T00:00:00Z", min_events=0
    )
    with pytest.raises(ContactsError, match="min_events=0 must be >= 1"):
        sensor.poke(context())
    assert sandbox.requests("mautic") == []


def test_reschedule_mode_gives_the_slot_back_between_pokes(sandbox):
    from airflow_provider_contacts._compat import AirflowRescheduleException

    empty_mautic(sandbox)
    sensor = ContactEventsSensor(
        task_id="wait",
        conn_id="mautic_default",
        since="2026-11-20T00:00:00Z",
        mode="reschedule",
        poke_interval=30,
        timeout=600,
        deferrable=False,
    )
    before = datetime.now(timezone.utc)
    ctx = context()
    ctx["ti"].get_first_reschedule_date = lambda _context: None  # the first try
    with pytest.raises(AirflowRescheduleException) as info:
        sensor.execute(ctx)
    assert 25 <= (info.value.reschedule_date - before).total_seconds() <= 35
    assert len(activity_calls(sandbox)) == 1


@pytest.mark.slow
def test_event_trigger_run_against_the_emulator_delivers_each_event_once_across_a_restart(sandbox):
    """The asset-watcher trigger, running for real (its own loop and sleeps) on the emulator."""
    from airflow_provider_contacts.triggers.contact_events import ContactEventsEventTrigger

    emu = empty_mautic(sandbox)
    store: dict = {}

    class Store:  # the 3.3 asset state store accessor (aget/aset), JSON values
        async def aget(self, key, default=None):
            return json.loads(store[key]) if key in store else default

        async def aset(self, key, value):
            store[key] = json.dumps(value)

    def first_event(trigger):
        trigger.asset_state_store = Store()

        async def go():
            agen = trigger.run()
            try:
                event = await asyncio.wait_for(agen.__anext__(), timeout=20)
                # the triggerer iterates on: the state is saved, then nothing new comes
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(agen.__anext__(), timeout=1)
                return event
            finally:
                await agen.aclose()

        return asyncio.run(go()).payload

    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=2)
    trigger = ContactEventsEventTrigger(
        conn_id="mautic_default",
        poke_interval=0.2,
        lag_seconds=120,
        start_from=iso(start),
        handover_seconds=0.1,
    )
    emu.add_event("email.read", 1, start + timedelta(seconds=10))
    emu.add_event("form.submitted", 2, start + timedelta(seconds=20))
    first = first_event(trigger)
    assert first["count"] == 2 and first["batch_id"]

    # restart from the serialized form; one new event and one late one (inside the lag)
    _, kwargs = trigger.serialize()
    emu.add_event("page.hit", 3)
    emu.add_event("email.read", 3, start + timedelta(seconds=15))
    second = first_event(ContactEventsEventTrigger(**kwargs))
    assert second["count"] == 2
    assert sorted(e["event_type"] for e in second["events"]) == ["email.read", "page.hit"]
    delivered = [e["event_id"] for e in first["events"] + second["events"]]
    assert len(delivered) == len(set(delivered)) == len(emu.state.events) == 4


# ---- a real DAG run -------------------------------------------------------------------------
@pytest.mark.slow
def test_dag_test_deferrable_sensor_waits_for_events_then_fetches_exactly_those(
    sandbox, airflow_db, tmp_path, DagBag
):
    """tests/integration/dags/test_contacts_sensor_then_fetch.py: the trigger runs in line under dag.test()."""
    emu = empty_mautic(sandbox)
    emu.add_event("email.read", 1, datetime.now(timezone.utc) - timedelta(hours=2))  # older: not new
    since = iso(datetime.now(timezone.utc).replace(microsecond=0))
    output = tmp_path / "new-events.ndjson"
    dag = DagBag(dag_folder=str(Path(__file__).parent / "dags")).get_dag("test_contacts_sensor_then_fetch")
    added: list[dict] = []

    def produce():
        deadline = time.monotonic() + 60
        while not activity_calls(sandbox) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the sensor's first poke (which finds nothing)
        time.sleep(0.5)
        for i, kind in enumerate(["form.submitted", "email.read", "page.hit"]):
            added.append(emu.add_event(kind, i + 1))
            time.sleep(0.4)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        run = dag.test(run_conf={"since": since, "output": str(output)})
    finally:
        producer.join()
    assert run.state == "success"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"wait": "success", "fetch": "success"}
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted((r["event_type"], r["contact_id"]) for r in rows) == [
        ("email.read", "2"),
        ("form.submitted", "1"),
        ("page.hit", "3"),
    ]
    assert len(added) == 3
    # the sensor's one poke, at least two trigger polls while the events arrived, one fetch
    assert len(activity_calls(sandbox)) >= 4


@pytest.mark.slow
def test_readme_example_on_a_manual_run_of_an_unscheduled_dag_waits_from_run_after(
    sandbox, airflow_db, tmp_path, DagBag
):
    """A run without a logical date has no data interval: ``since`` defaults to its run_after."""
    emu = empty_mautic(sandbox)
    emu.add_event("form.submitted", 1, datetime.now(timezone.utc) - timedelta(minutes=5))  # before the run
    output = tmp_path / "new-events.ndjson"
    dag = DagBag(dag_folder=str(Path(__file__).parent / "dags")).get_dag("test_contacts_readme_sensor")
    started = datetime.now(timezone.utc)

    def produce():
        deadline = time.monotonic() + 60
        while not activity_calls(sandbox) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.1)  # Mautic times are whole seconds: past the second of run_after
        for i in range(3):
            emu.add_event("form.submitted", i + 1)
            time.sleep(0.3)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        run = dag.test(logical_date=None, run_conf={"output": str(output)})
    finally:
        producer.join()
    assert run.logical_date is None and run.data_interval_start is None
    assert {ti.task_id: ti.state for ti in run.get_task_instances()} == {
        "wait": "success",
        "fetch": "success",
    }
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(r["contact_id"] for r in rows) == ["1", "2", "3"]  # not the event from before the run
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(XComModel).filter_by(run_id=run.run_id, task_id="wait", key="return_value").one()
        window = XComModel.deserialize_value(row)["window"]
    assert (
        started <= datetime.fromisoformat(window[0].replace("Z", "+00:00")) <= started + timedelta(seconds=30)
    )


def test_since_defaults_to_run_after_without_a_data_interval(sandbox):
    empty_mautic(sandbox)
    run_after = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    sensor = ContactEventsSensor(task_id="wait", conn_id="mautic_default")
    summary = sensor.poke(
        context(data_interval_start=None, dag_run=SimpleNamespace(run_after=run_after))
    ).xcom_value
    assert summary is not None and summary["window"][0] == iso(run_after)
    with pytest.raises(ContactsError, match="since is missing") as info:
        sensor.poke(context(data_interval_start=None))
    assert "{{" not in str(info.value)  # no template that cannot render without a run
