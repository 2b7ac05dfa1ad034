"""ContactEventsTrigger and ContactEventsSensor without a server: the trigger's serialization,
and a trigger timeout failing the sensor with AirflowSensorTimeout."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_contacts._compat import AirflowSensorTimeout
from airflow_provider_contacts.sensors.contact_events import ContactEventsSensor
from airflow_provider_contacts.triggers.contact_events import ContactEventsTrigger


def context(**extra):
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="wait", map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti, **extra}


def test_trigger_serialize_round_trips_exactly():
    trigger = ContactEventsTrigger(
        conn_id="c",
        since="2026-11-20T00:00:00Z",
        until="2026-11-21T00:00:00Z",
        min_events=2,
        include_types=["a"],
        exclude_types=["b"],
        contact_ids=["9"],
        poke_interval=1.5,
        max_consecutive_errors=4,
    )
    classpath, kwargs = trigger.serialize()
    again = ContactEventsTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert classpath == f"{ContactEventsTrigger.__module__}.ContactEventsTrigger"


def test_a_trigger_timeout_fails_the_sensor_with_airflow_sensor_timeout():
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

    sensor = ContactEventsSensor(
        task_id="wait", conn_id="mautic_default", since="2026-11-20T00:00:00Z", timeout=60, deferrable=True
    )
    with pytest.raises(AirflowSensorTimeout):
        sensor.resume_execution(TRIGGER_FAIL_REPR, {"error": TriggerFailureReason.TRIGGER_TIMEOUT}, context())
