"""Daily sign-ups, composed with a sensor: each day's form submissions, once they are in Mautic,
put the contacts who sent them into the newsletter segment.

Each run covers one UTC day, its data interval ``[day 00:00, next day 00:00)`` (the run starts
when the day is over; a manual run covers the 24 hours before it):

1. ``wait_for_form_submissions`` (``ContactEventsSensor``, deferrable) waits until Mautic lists
   at least ``MIN_SUBMISSIONS`` form submissions in the day. Activity can reach Mautic late (a queued
   form, a tracking request replayed), so the sensor polls from the triggerer (no worker slot is
   held meanwhile) for up to ``WAIT`` and then skips the run's other tasks: a quiet day is not a
   failure;
2. ``fetch_form_submissions`` (``FetchContactActivityOperator``) writes the day's submissions
   to NDJSON (the same window: the run's data interval);
3. ``add_to_newsletter`` (``SetAudienceMembershipOperator``) adds their contacts to the segment
   ``audience`` (a contact who sent two forms is added once; one already in it is counted
   ``already``, so a retried run is exact).

Windows are half-open and the days follow each other, so every submission is handled by
exactly one run.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator
from airflow_provider_contacts.sensors.contact_events import ContactEventsSensor

CONN_ID = "mautic_default"
EVENT_TYPES = ["form.submitted"]
#: submissions that make a day worth acting on
MIN_SUBMISSIONS = 1
#: how often the triggerer asks Mautic, and how long the run waits for the day's submissions
POKE_SECONDS = 300
WAIT = timedelta(hours=6)

with DAG(
    dag_id="example_mautic_daily_form_followup",
    # at 00:00 UTC, for the day that just ended (data interval: the previous 24 hours)
    schedule=CronTriggerTimetable("0 0 * * *", timezone="UTC", interval=timedelta(days=1)),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["contacts", "example", "mautic", "sensor"],
    doc_md=__doc__,
    params={
        "audience": Param("Newsletter", type="string", description="Segment (name or id) to add them to"),
    },
):
    wait = ContactEventsSensor(
        task_id="wait_for_form_submissions",
        conn_id=CONN_ID,
        event_types=EVENT_TYPES,
        min_events=MIN_SUBMISSIONS,
        until="{{ data_interval_end }}",  # since: the data interval's start (the default)
        deferrable=True,
        poke_interval=POKE_SECONDS,
        timeout=WAIT.total_seconds(),
        soft_fail=True,  # not enough submissions by then: the run's other tasks are skipped
    )
    fetch = FetchContactActivityOperator(
        task_id="fetch_form_submissions",
        conn_id=CONN_ID,
        event_types=EVENT_TYPES,  # since/until: the run's data interval, as the sensor's
    )
    add = SetAudienceMembershipOperator(
        task_id="add_to_newsletter",
        conn_id=CONN_ID,
        action="add",
        audience="{{ params.audience }}",
        # the file the fetch wrote; its contact_id column names the contacts
        source_path="{{ ti.xcom_pull(task_ids='fetch_form_submissions')['output_path'] }}",
        # each event row names its contact (contact_id); its other columns (event_type, occurred_at,
        # raw...) are not the contact's: dropped, and named once in the task log
        unknown_columns="ignore",
    )
    wait >> fetch >> add
