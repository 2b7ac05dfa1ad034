"""Warehouse → Mautic, change-only: read the whole audience every day, send only what changed.

The query reads every contact of ``crm_contacts`` (no date filter, so no run type can miss or
repeat a change); ``only_changed=True`` compares each row with a fingerprint of the fields
Mautic last accepted for that email and sends only new and changed rows, so a day with 1 %
changes costs 1 % of the batch requests. The summary counts them: ``sent``, ``unchanged``.

- The first run reads Mautic's current contacts (``sync_state_bootstrap="vendor"``, keyset
  paging) instead of sending everything: an audience already in Mautic costs only its real
  differences.
- Contacts that vanished from the table since the last run are listed in ``removed.ndjson``
  and counted (``on_removed="report"``); ``"do_not_contact"`` would opt them out in Mautic.
- The state is this task's own (keyed by connection, Mautic host, key field and the state's
  name), kept under ``[contacts] storage_base`` and updated only for rows Mautic accepted: a
  rejected row, or a row of a run that crashed, is sent again next run.
- A contact edited in Mautic keeps the edit while its row is unchanged here. To overwrite such
  edits, trigger the DAG by hand with ``full_sync`` ticked in the trigger form: that run sends
  every row and refreshes the state.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

WHOLE_AUDIENCE = "select email, firstname, lastname, company, country from crm_contacts order by id"

with DAG(
    dag_id="example_mautic_change_only_sync",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one writer of the state at a time
    tags=["contacts", "example", "mautic"],
    doc_md=__doc__,
    params={
        "full_sync": Param(
            False,
            type="boolean",
            title="Full sync",
            description="Send every row this run (overwrites contacts edited in Mautic), not only the changed ones",
        ),
    },
):
    UpsertContactsOperator(
        task_id="upsert_changed_contacts",
        conn_id="mautic_default",
        source_conn_id="sqlite_default",
        source_sql=WHOLE_AUDIENCE,
        key="email",
        only_changed=True,
        sync_state="crm_audience",
        sync_state_bootstrap="vendor",
        on_removed="report",
        full_sync="{{ params.full_sync }}",
        max_rejected=0.05,
    )
