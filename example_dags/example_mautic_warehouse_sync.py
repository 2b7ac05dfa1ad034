"""Warehouse → Mautic: upsert the contacts that changed since the last successful run.

Reads ``crm_contacts`` through any DB-API connection (``sqlite_default`` in the demo; point
``source_conn_id`` at Postgres, Snowflake, BigQuery...), upserts in batches of 200 keyed on
email, writes every rejected row (invalid email, missing email, Mautic's own refusals) to the
rejects file and fails only above 5 % rejected. The Asset ``mautic://mautic_default/contacts``
gets an event whose extra holds the counts, so downstream DAGs can be scheduled on it.

Every run type is incremental: the SQL reads the rows changed since the last successful run
when Airflow knows one, and a run that does not (a manual run without a logical date: `airflow
dags trigger`, the REST API with ``logical_date: null``; ``prev_start_date_success`` is None
there and the query reads from 1970) still sends only the rows whose fields differ from what
Mautic last accepted: ``only_changed=True`` keeps a fingerprint per email in the sync's own
state (under ``[contacts] storage_base``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset

from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

MAUTIC_CONTACTS = Asset(name="mautic_contacts", uri="mautic://mautic_default/contacts")

CHANGED_SINCE_LAST_SUCCESS = """
select email, firstname, lastname, company, country
from crm_contacts
where updated_at >= '{{ prev_start_date_success.strftime("%Y-%m-%d %H:%M:%S") if prev_start_date_success else "1970-01-01 00:00:00" }}'
order by updated_at, id
"""

with DAG(
    dag_id="example_mautic_warehouse_sync",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "example", "mautic"],
    doc_md=__doc__,
):
    UpsertContactsOperator(
        task_id="upsert_changed_contacts",
        conn_id="mautic_default",
        source_conn_id="sqlite_default",
        source_sql=CHANGED_SINCE_LAST_SUCCESS,
        key="email",
        max_active_requests=2,
        only_changed=True,
        max_rejected=0.05,
        outlets=[MAUTIC_CONTACTS],
    )
