"""Used by tests/integration/test_sensors.py: a deferrable sensor waits for new Mautic events, then the
exact window it saw is fetched. ``since`` and the output path come from the run's conf."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.sensors.contact_events import ContactEventsSensor

WINDOW = "{{ ti.xcom_pull(task_ids='wait')['window'][%d] }}"

with DAG(
    "test_contacts_sensor_then_fetch",
    schedule=None,
    catchup=False,
    params={"since": Param("", type="string"), "output": Param("", type="string")},
    tags=["test"],
) as dag:
    wait = ContactEventsSensor(
        task_id="wait",
        conn_id="mautic_default",
        since="{{ params.since }}",
        min_events=3,
        poke_interval=0.3,
        timeout=120,
        deferrable=True,
    )
    fetch = FetchContactActivityOperator(
        task_id="fetch",
        conn_id="mautic_default",
        since=WINDOW % 0,
        until=WINDOW % 1,
        output_path="{{ params.output }}",
    )
    wait >> fetch
