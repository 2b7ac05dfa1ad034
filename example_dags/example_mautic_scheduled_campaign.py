"""Daily campaign scoring and targeting: yesterday's Mautic activity becomes point-group
adjustments, contacts whose emails bounced go on the do-not-contact list, and the contacts who
engaged become the audience of the follow-up campaign.

1. ``fetch_yesterday`` writes yesterday's (UTC) email reads, form submissions, page hits and
   failed emails to NDJSON;
2. ``score`` turns them into one adjustment per contact (read +2, page hit +1, form +10 on
   the "Engagement" group) and a list of bounced contacts, both as files (no rows in XCom);
3. ``apply_points`` adds the points exactly once (a retried task never adds twice);
4. ``bounced_to_dnc`` marks the bounced contacts do-not-contact (reason bounced);
5. ``plan_targets``: the contacts who engaged yesterday (and did not bounce) are this run's
   targets of the follow-up campaign, which starts from the segment ``TARGET_SEGMENT``; its
   members who are not targets any more are the previous run's, to take out (two files);
6. ``add_targets`` puts this run's targets into the segment and ``drop_previous_targets`` takes
   the previous ones out, before Mautic's campaign job next picks the segment up. Both read
   the segment's membership first and change only the differences, so a retry is exact.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator

POINTS = {"email.read": 2, "page.hit": 1, "form.submitted": 10}
GROUP = "Engagement"
#: the segment the follow-up campaign starts from (seeded in the sandbox)
TARGET_SEGMENT = "Webinar attendees"

with DAG(
    dag_id="example_mautic_scheduled_campaign",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "example", "mautic"],
    doc_md=__doc__,
):
    fetch = FetchContactActivityOperator(
        task_id="fetch_yesterday",
        conn_id="mautic_default",
        since="{{ logical_date.subtract(days=1).strftime('%Y-%m-%dT00:00:00Z') }}",
        until="{{ logical_date.strftime('%Y-%m-%dT00:00:00Z') }}",
        event_types=[*POINTS, "email.failed"],
    )

    @task
    def score(activity: dict) -> dict:
        import json

        from airflow.sdk import get_current_context

        from airflow_provider_contacts.rows.outputs import open_text, output_path

        context = get_current_context()
        points: dict[str, int] = {}
        bounced: set[str] = set()
        with open_text(activity["output_path"]) as events:
            for line in events:
                event = json.loads(line)
                if event["event_type"] == "email.failed":
                    bounced.add(event["contact_id"])
                elif event["contact_id"]:
                    points[event["contact_id"]] = (
                        points.get(event["contact_id"], 0) + POINTS[event["event_type"]]
                    )
        adjustments_path = output_path(context, "adjustments.ndjson")
        bounced_path = output_path(context, "bounced.ndjson")
        with open_text(adjustments_path, "w") as out:
            for contact_id, value in sorted(points.items(), key=lambda kv: int(kv[0])):
                out.write(
                    json.dumps({"contact": contact_id, "group": GROUP, "op": "plus", "value": value}) + "\n"
                )
        with open_text(bounced_path, "w") as out:
            for contact_id in sorted(bounced, key=int):
                out.write(json.dumps({"id": contact_id}) + "\n")
        return {
            "contacts_scored": len(points),
            "points": sum(points.values()),
            "bounced": len(bounced),
            "adjustments_path": adjustments_path,
            "bounced_path": bounced_path,
        }

    scored = score(fetch.output)  # type: ignore[arg-type]  # Airflow types @task calls without XComArg
    AdjustPointGroupsOperator(
        task_id="apply_points",
        conn_id="mautic_default",
        source_path="{{ ti.xcom_pull(task_ids='score')['adjustments_path'] }}",
        retries=2,
    ).set_upstream(scored)
    DoNotContactOperator(
        task_id="bounced_to_dnc",
        conn_id="mautic_default",
        source_path="{{ ti.xcom_pull(task_ids='score')['bounced_path'] }}",
        action="add",
        reason="bounced",
        comments="Bounced in the daily campaign run",
    ).set_upstream(scored)

    @task
    def plan_targets(scored: dict) -> dict:
        import json

        from airflow.sdk import get_current_context

        from airflow_provider_contacts.hooks.mautic.hook import MauticHook
        from airflow_provider_contacts.rows.outputs import open_text, output_path

        context = get_current_context()
        with open_text(scored["adjustments_path"]) as lines:
            engaged = {json.loads(line)["contact"] for line in lines}
        with open_text(scored["bounced_path"]) as lines:
            engaged -= {json.loads(line)["id"] for line in lines}
        hook = MauticHook("mautic_default")
        previous = set(hook.iter_members(hook.resolve_audience("segment", TARGET_SEGMENT))) - engaged
        paths = {}
        for name, ids in (("targets", engaged), ("previous", previous)):
            paths[f"{name}_path"] = output_path(context, f"{name}.ndjson")
            with open_text(paths[f"{name}_path"], "w") as out:
                out.writelines(json.dumps({"id": cid}) + "\n" for cid in sorted(ids, key=int))
        return {"targets": len(engaged), "previous": len(previous), **paths}

    planned = plan_targets(scored)  # type: ignore[arg-type]  # Airflow types @task calls without XComArg
    SetAudienceMembershipOperator(
        task_id="add_targets",
        conn_id="mautic_default",
        audience=TARGET_SEGMENT,
        action="add",
        source_path="{{ ti.xcom_pull(task_ids='plan_targets')['targets_path'] }}",
        retries=2,
    ).set_upstream(planned)
    SetAudienceMembershipOperator(
        task_id="drop_previous_targets",
        conn_id="mautic_default",
        audience=TARGET_SEGMENT,
        action="remove",
        source_path="{{ ti.xcom_pull(task_ids='plan_targets')['previous_path'] }}",
        retries=2,
    ).set_upstream(planned)
