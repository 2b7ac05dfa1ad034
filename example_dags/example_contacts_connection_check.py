"""Check every contacts connection: the same call as the UI's Test Connection button.

Runs against the sandbox in ``make demo``; in a deployment, point the ``*_default``
connections at your vendors (or change ``conn_id``) and trigger it by hand.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

CONNECTIONS = ["mautic_default", "dmartech_default", "engagelab_default", "which50_default"]


@dag(
    dag_id="example_contacts_connection_check",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["contacts", "example"],
    doc_md=__doc__,
)
def contacts_connection_check():
    @task(retries=0)
    def check(conn_id: str) -> dict:
        from airflow_provider_contacts.exceptions import ContactsError
        from airflow_provider_contacts.hooks import get_hook

        ok, message = get_hook(conn_id).test_connection()
        if not ok:
            raise ContactsError(message, conn_id=conn_id)
        return {"conn_id": conn_id, "ok": ok, "message": message}

    check.expand(conn_id=CONNECTIONS)


contacts_connection_check()
