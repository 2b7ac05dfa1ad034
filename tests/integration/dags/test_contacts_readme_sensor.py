"""Used by tests/integration/test_sensors.py: the README's sensor example as written (no ``since``), in an
unscheduled DAG, with short intervals."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.sensors.contact_events import ContactEventsSensor

with DAG(
    "test_contacts_readme_sensor",
    schedule=None,
    catchup=False,
    params={"output": Param("", type="string")},
    tags=["test"],
):
    wait = ContactEventsSensor(
        task_id="wait",
        conn_id="mautic_default",
        min_events=3,
        event_types=["form.submitted"],
        poke_interval=0.3,
        timeout=120,
        deferrable=True,
    )
    fetch = FetchContactActivityOperator(
        task_id="fetch",
        conn_id="mautic_default",
        since="{{ ti.xcom_pull(task_ids='wait')['window'][0] }}",
        until="{{ ti.xcom_pull(task_ids='wait')['window'][1] }}",
        output_path="{{ params.output }}",
    )
    wait >> fetch
