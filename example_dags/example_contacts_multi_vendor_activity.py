"""Multi-vendor activity export: the last day of Mautic, Dmartech and Which50 activity in one
run, in one schema (``vendor, event_id, event_type, contact_id, occurred_at, label, campaign,
raw``), merged into a single NDJSON file.

Which50 lists activity per contact, so its contact ids (EncContactId) come from the warehouse
(``crm_contacts.which50_id``), where an upsert or an import stored them.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_contacts.operators.activity import FetchContactActivityOperator

SINCE = "{{ logical_date.subtract(days=1).isoformat() }}"
UNTIL = "{{ logical_date.isoformat() }}"

with DAG(
    dag_id="example_contacts_multi_vendor_activity",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "example", "mautic", "dmartech", "which50"],
    doc_md=__doc__,
):

    @task
    def which50_contact_ids() -> list[str]:
        from airflow.sdk import BaseHook

        db = BaseHook.get_connection("sqlite_default").get_hook()
        return [
            row[0]
            for row in db.get_records(
                "select which50_id from crm_contacts where which50_id is not null order by id"
            )
        ]

    exports = [
        FetchContactActivityOperator(
            task_id="mautic_activity", conn_id="mautic_default", since=SINCE, until=UNTIL
        ),
        FetchContactActivityOperator(
            task_id="dmartech_activity", conn_id="dmartech_default", since=SINCE, until=UNTIL
        ),
        FetchContactActivityOperator(
            task_id="which50_activity",
            conn_id="which50_default",
            since=SINCE,
            until=UNTIL,
            contact_ids=which50_contact_ids(),
        ),
    ]

    @task
    def merge(summaries: list[dict]) -> dict:
        import shutil

        from airflow.sdk import get_current_context

        from airflow_provider_contacts.rows.outputs import open_text, output_path

        path = output_path(get_current_context(), "activity-all-vendors.ndjson")
        with open_text(path, "w") as out:
            for summary in summaries:
                with open_text(summary["output_path"]) as part:
                    shutil.copyfileobj(part, out)
        return {
            "output_path": path,
            "events": sum(s["events"] for s in summaries),
            "by_vendor": {s["conn_id"]: s["events"] for s in summaries},
        }

    merge([op.output for op in exports])  # type: ignore[misc]  # Airflow types @task calls without XComArg
