"""End to end under real Airflow components (``make e2e-events``; marked e2e, about 2 minutes):
the example DAG ``example_mautic_daily_form_followup`` in a private deployment (api-server,
scheduler, dag-processor, triggerer; SQLite; the sandbox's Mautic), where the SCHEDULER creates
the day's run and the TRIGGERER runs the deferred sensor's polls.

The day's form submissions are not in Mautic yet when the run starts: its deferrable sensor
finds none at its first poke and defers (the task is ``deferred``, a ``ContactEventsTrigger``
runs in the triggerer and polls); the submissions then reach Mautic late (time-stamped inside
the day), the trigger fires at its next poll, the sensor resumes with their count, and the
fetch and the segment update run on exactly those submissions.

The DAG file is the example's, copied into a private DAG folder with a short poke interval.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_contacts._time import to_iso
from tests.integration.airflow_deployment import example_dag_folder, running_deployment, wait_until

pytestmark = pytest.mark.e2e

DAG_ID = "example_mautic_daily_form_followup"
SENSOR = "wait_for_form_submissions"
TRIGGER = "airflow_provider_contacts.triggers.contact_events.ContactEventsTrigger"
EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / f"{DAG_ID}.py"
POKE = "POKE_SECONDS = 300"
FAST_POKE = "POKE_SECONDS = 2"


def activity_polls(sandbox) -> list[dict]:
    return [r for r in sandbox.requests("mautic") if r["path"].endswith("/activity")]


def the_sensor_defers(deployment, sandbox, timings: dict, started: float) -> tuple[str, datetime, datetime]:
    """The scheduler's run of the day; its sensor finds no submission and defers to the triggerer,
    whose polls find none either. Returns the run id and its data interval."""

    def the_days_run() -> list[dict]:
        deployment.check_alive()
        return deployment.dag_runs(DAG_ID)

    runs = wait_until(the_days_run, 180, f"the scheduler's run of {DAG_ID}")
    run_id = runs[0]["run_id"]
    assert runs[0]["run_type"] == "scheduled"
    interval = deployment.data_interval(DAG_ID, run_id)
    assert interval is not None
    start, end = interval
    assert end - start == timedelta(days=1) and (end.hour, end.minute) == (0, 0)

    def deferred() -> bool:
        deployment.check_alive()
        return deployment.task_states(DAG_ID, run_id).get(SENSOR) == "deferred"

    wait_until(deferred, 120, "the sensor to defer")
    timings["up to the deferral"] = time.monotonic() - started
    assert deployment.triggers() == [TRIGGER]
    polls_at_deferral = len(activity_polls(sandbox))
    wait_until(lambda: len(activity_polls(sandbox)) >= polls_at_deferral + 2, 30, "two polls of the trigger")
    assert deployment.task_states(DAG_ID, run_id)[SENSOR] == "deferred"  # nothing yet: still waiting
    return run_id, start, end


def late_submissions_finish_the_run(
    deployment, mautic, run_id: str, start: datetime, end: datetime, timings: dict
) -> None:
    """The day's submissions reach Mautic late: the trigger fires, the sensor resumes with their
    count, the fetch writes them and their contacts join the segment (exact counts)."""
    with mautic.lock:  # the day's submissions, all at once; and two that do not count
        for contact, hour in ((1, 9), (2, 10), (2, 17)):
            mautic.state.add_event("form.submitted", contact, start + timedelta(hours=hour))
        mautic.state.add_event("page.hit", 3, start + timedelta(hours=11))  # not a submission
        mautic.state.add_event("form.submitted", 3, start - timedelta(minutes=1))  # the day before
    added_at = time.monotonic()

    def finished() -> str | None:
        deployment.check_alive()
        state = next(r["state"] for r in deployment.dag_runs(DAG_ID) if r["run_id"] == run_id)
        return state if state in ("success", "failed") else None

    state = wait_until(finished, 120, "the run to finish")
    timings["late events to finished run"] = time.monotonic() - added_at
    assert state == "success", deployment.task_states(DAG_ID, run_id)
    assert deployment.task_states(DAG_ID, run_id) == {
        "add_to_newsletter": "success",
        "fetch_form_submissions": "success",
        SENSOR: "success",
    }
    assert deployment.triggers() == []  # the trigger fired and ended
    waited = deployment.xcom(DAG_ID, run_id, SENSOR)
    assert (waited["count"], waited["event_types"]) == (3, {"form.submitted": 3})
    assert waited["window"] == [to_iso(start), to_iso(end)]
    fetched = deployment.xcom(DAG_ID, run_id, "fetch_form_submissions")
    assert (fetched["events"], fetched["by_type"]) == (3, {"form.submitted": 3})
    added = deployment.xcom(DAG_ID, run_id, "add_to_newsletter")
    assert (added["added"], added["already"], added["duplicates"], added["rejected"]) == (2, 0, 1, 0)
    newsletter = next(s for s in mautic.state.segments.values() if s["name"] == "Newsletter")
    assert sorted(cid for cid, c in mautic.contacts.items() if newsletter["id"] in c["segments"]) == [1, 2]
    assert len(deployment.dag_runs(DAG_ID)) == 1  # one run for the day, no other


def test_the_daily_sensor_dag_defers_in_the_triggerer_and_acts_on_the_late_events(sandbox, tmp_path):
    sandbox.reset(empty=True)
    mautic = sandbox.emulator("mautic")
    for i in range(3):
        mautic.state.upsert({"email": f"signup{i}@example.com"})
    stale = "the example's poke interval changed: update POKE in this test"
    dags = example_dag_folder(tmp_path, EXAMPLE, POKE, FAST_POKE, stale)
    # paused until the API server is up: the run's first task must not start before it
    paused = {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}
    with running_deployment(tmp_path, dags, {**sandbox.connection_env(), **paused}) as (deployment, timings):
        started = time.monotonic()
        deployment.start_all()
        deployment.unpause(DAG_ID)
        run_id, start, end = the_sensor_defers(deployment, sandbox, timings, started)
        late_submissions_finish_the_run(deployment, mautic, run_id, start, end, timings)
        assert "async thread was blocked" not in deployment.log_text("triggerer")
