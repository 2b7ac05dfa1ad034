"""Used by tests/integration/test_visible_rejects.py: a do-not-contact task whose rows name no
contact (every row rejected, allowed by ``max_rejected=1.0``): a successful task that changed
nothing."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator

with DAG("test_contacts_visible_summary", schedule=None, catchup=False, tags=["test"]) as dag:
    DoNotContactOperator(
        task_id="do_not_contact",
        conn_id="mautic_default",
        action="add",
        reason="unsubscribed",
        rows=[{"email": "nobody@example.com"}, {"id": "x y"}],
        max_rejected=1.0,
    )
