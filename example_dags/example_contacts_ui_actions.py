"""Actions a marketer triggers from the Airflow UI: do-not-contact add/remove and point-group
adjustments for a list of emails, chosen in the trigger form.

Trigger with config (the form shows every field with its choices). Point adjustments are
applied exactly once even if the task is retried (the ledger is the task's state store on
Airflow 3.3); unknown emails and groups end in the rejects file, never silently.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator

with DAG(
    dag_id="example_contacts_ui_actions",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["contacts", "example", "mautic", "ui"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    params={
        "action": Param(
            "adjust_points",
            type="string",
            title="Action",
            enum=["add_to_do_not_contact", "remove_from_do_not_contact", "adjust_points"],
            description="What to do with the contacts below.",
        ),
        "emails": Param(
            ["ana.silva.0@example.com"],
            type="array",
            items={"type": "string", "format": "email"},
            minItems=1,
            title="Contacts (emails)",
            description="One email per line.",
        ),
        "conn_id": Param(
            "mautic_default", type="string", title="Connection", description="A Mautic connection."
        ),
        "channel": Param("email", type="string", enum=["email", "sms"], title="Channel (do-not-contact)"),
        "reason": Param(
            "manual",
            type="string",
            enum=["unsubscribed", "bounced", "manual"],
            title="Reason (do-not-contact add)",
        ),
        "comments": Param("Requested in the Airflow UI", type="string", title="Comment (do-not-contact add)"),
        "point_group": Param("Engagement", type="string", title="Point group (name or id)"),
        "op": Param(
            "plus", type="string", enum=["plus", "minus", "times", "divide", "set"], title="Operation"
        ),
        "value": Param(
            10, type="integer", title="Value", description="Whole number; divide rounds toward zero."
        ),
    },
):

    @task.branch
    def choose(params=None) -> str:
        return "point_rows" if params["action"] == "adjust_points" else "dnc_rows"

    @task
    def dnc_rows(params=None) -> list[dict]:
        return [{"email": e} for e in params["emails"]]

    @task
    def point_rows(params=None) -> list[dict]:
        return [
            {"contact": e, "group": params["point_group"], "op": params["op"], "value": params["value"]}
            for e in params["emails"]
        ]

    branch = choose()
    emails_for_dnc, adjustments = dnc_rows(), point_rows()
    branch >> [emails_for_dnc, adjustments]
    DoNotContactOperator(
        task_id="do_not_contact",
        conn_id="{{ params.conn_id }}",
        rows=emails_for_dnc,
        action="{{ 'add' if params.action == 'add_to_do_not_contact' else 'remove' }}",
        channel="{{ params.channel }}",
        reason="{{ params.reason }}",
        comments="{{ params.comments }}",
        max_rejected=1.0,  # a fraction: up to 100% may be rejected (unknown emails are reported in the rejects file)
    )
    AdjustPointGroupsOperator(
        task_id="adjust_points",
        conn_id="{{ params.conn_id }}",
        rows=adjustments,
        max_rejected=1.0,  # a fraction: unknown emails or groups are reported, the task does not fail
        retries=2,  # a retry never applies an adjustment twice (the ledger)
        retry_delay=timedelta(seconds=15),
    )
