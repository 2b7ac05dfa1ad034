"""End to end under real Airflow components (``make e2e-events``; marked e2e, about 3 minutes):
the example DAG ``example_contacts_event_driven`` in a private deployment (api-server,
scheduler, dag-processor, triggerer; SQLite; the sandbox's Mautic), where the ASSET WATCHER
creates the runs, not ``dags test``.

1. N batches of new events give N runs, each event in exactly one run's output file;
2. the Mautic API disabled (403): no asset event, no run, polls back off (capped exponential),
   the watermark is kept; re-enabled: the next events arrive in one run;
3. the triggerer SIGKILLed right after Airflow wrote a batch, before the watcher committed it:
   the restarted triggerer delivers it again with the same batch_id, the DAG skips it, and
   every event is still processed exactly once.

The DAG file is the example's, copied into a private DAG folder with shorter intervals.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.airflow_deployment import example_dag_folder, running_deployment, wait_until

pytestmark = pytest.mark.e2e

DAG_ID = "example_contacts_event_driven"
ASSET = "mautic_new_contact_events"
EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / f"{DAG_ID}.py"
WATCHER = "ContactEventsEventTrigger(conn_id=CONN_ID, poke_interval=60, lag_seconds=300)"
FAST_WATCHER = (
    "ContactEventsEventTrigger(conn_id=CONN_ID, poke_interval=2, lag_seconds=300, handover_seconds=6, "
    "max_backoff_seconds=8)"
)


def activity_requests(sandbox, since: float = 0.0) -> list[dict]:
    return [r for r in sandbox.requests("mautic") if r["path"].endswith("/activity") and r["time"] >= since]


def finished_runs(deployment) -> list[dict]:
    return [r for r in deployment.dag_runs(DAG_ID) if r["state"] in ("success", "failed")]


def wait_for_runs(deployment, count: int, timeout: float = 120) -> list[dict]:
    def done():
        deployment.check_alive()
        runs = deployment.dag_runs(DAG_ID)
        return runs if len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs) else None

    return wait_until(done, timeout, f"{count} finished runs of {DAG_ID}")


def outputs(deployment) -> dict[str, list[dict]]:
    """batch_id -> the rows of its output file."""
    folder = deployment.tmp / "airflow-contacts" / DAG_ID
    return {
        p.stem: [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
        for p in sorted(folder.glob("*.ndjson"))
    }


def keys_of(events) -> list[tuple[str, str, str]]:
    return [(e["event"], e["eventId"], str(e["contactId"])) for e in events]


def row_keys(rows) -> list[tuple[str, str, str]]:
    return [(r["event_type"], r["event_id"], r["contact_id"]) for r in rows]


def batches_give_runs(deployment, sandbox, mautic, timings: dict, added: list) -> None:
    """1. N batches -> N runs, each event in exactly one run's output."""
    batches = [
        [("form.submitted", 1), ("email.read", 2)],
        [("page.hit", 1), ("email.read", 3), ("form.submitted", 3)],
        [("email.read", 1)],
    ]
    for n, batch in enumerate(batches, start=1):
        added += [mautic.add_event(kind, contact) for kind, contact in batch]
        t0 = time.monotonic()
        runs = wait_for_runs(deployment, n)
        timings[f"batch {n}: events to finished run"] = time.monotonic() - t0
        assert len(runs) == n
    time.sleep(6)  # three more polls: nothing new, no run
    runs = deployment.dag_runs(DAG_ID)
    assert [(r["run_type"], r["state"]) for r in runs] == [("asset_triggered", "success")] * 3
    results = [deployment.xcom(DAG_ID, r["run_id"], "process_new_events") for r in runs]
    assert [len(r["processed"]) for r in results] == [1, 1, 1] and all(r["skipped"] == [] for r in results)
    assert [r["events"] for r in results] == [len(b) for b in batches]
    files = outputs(deployment)
    assert sorted(files) == sorted(r["processed"][0] for r in results)
    written = [k for rows in files.values() for k in row_keys(rows)]
    assert sorted(written) == sorted(keys_of(added))  # every event, each in one run only
    events = deployment.asset_events(ASSET)
    assert [e["payload"]["count"] for e in events] == [2, 3, 1]
    assert [e["payload"]["batch_id"] for e in events] == [r["processed"][0] for r in results]


def vendor_errors_back_off(deployment, sandbox, mautic, timings: dict, added: list) -> None:
    """2. the vendor fails: no asset event, no run, capped exponential backoff, then resumes."""
    mautic.settings["api_enabled"] = False
    off_at = time.time()
    time.sleep(30)
    failed = [r for r in activity_requests(sandbox, off_at) if r["status"] == 403]
    gaps = [round(b["time"] - a["time"], 1) for a, b in zip(failed, failed[1:], strict=False)]
    assert len(deployment.asset_events(ASSET)) == 3 and len(deployment.dag_runs(DAG_ID)) == 3
    assert 3 <= len(failed) <= 8, gaps  # not a storm: 2, 4, 8, 8... seconds apart
    assert all(later >= earlier - 1 for earlier, later in zip(gaps, gaps[1:], strict=False)), gaps
    assert max(gaps) <= 8 + 2 and max(gaps) >= 7, gaps
    assert "no asset event; next try in 8 s" in deployment.log_text("triggerer")
    timings["403 polls, seconds apart"] = gaps
    mautic.settings["api_enabled"] = True
    resumed = [mautic.add_event("form.submitted", 2), mautic.add_event("page.hit", 2)]
    added += resumed
    runs = wait_for_runs(deployment, 4, timeout=60)
    fourth = deployment.xcom(DAG_ID, runs[3]["run_id"], "process_new_events")
    assert fourth["events"] == 2
    assert sorted(row_keys(outputs(deployment)[fourth["processed"][0]])) == sorted(keys_of(resumed))


def skipped_batches(deployment) -> int:
    results = [deployment.xcom(DAG_ID, r["run_id"], "process_new_events") for r in finished_runs(deployment)]
    return sum(len(r["skipped"]) for r in results if r)


def a_crashed_triggerer_repeats_the_batch(deployment, sandbox, mautic, timings: dict, added: list) -> None:
    """3. the triggerer dies after Airflow wrote a batch, before the watcher committed it."""
    added += [mautic.add_event("email.read", 3), mautic.add_event("email.read", 2)]
    wait_until(lambda: len(deployment.asset_events(ASSET)) == 5, 60, "the fifth asset event", interval=0.05)
    deployment.kill("triggerer")  # within handover_seconds of the yield: not committed
    deployment.start("triggerer")
    t0 = time.monotonic()
    wait_until(
        lambda: deployment.check_alive() or len(deployment.asset_events(ASSET)) >= 6,
        120,
        "the batch delivered again by the restarted triggerer",
    )
    timings["triggerer restart to re-delivery"] = time.monotonic() - t0
    events = deployment.asset_events(ASSET)
    assert events[5]["payload"]["batch_id"] == events[4]["payload"]["batch_id"]
    assert events[5]["payload"]["events"] == events[4]["payload"]["events"]
    assert "again: the triggerer stopped before it was confirmed" in deployment.log_text("triggerer")
    wait_until(
        lambda: (
            len(deployment.dag_runs(DAG_ID)) >= 5
            and len(finished_runs(deployment)) == len(deployment.dag_runs(DAG_ID))
            and skipped_batches(deployment) >= 1
        ),
        120,
        "the repeated batch to be skipped",
    )
    time.sleep(5)
    runs = deployment.dag_runs(DAG_ID)
    assert all(r["state"] == "success" for r in runs)
    results = [deployment.xcom(DAG_ID, r["run_id"], "process_new_events") for r in runs]
    processed = [b for r in results for b in r["processed"]]
    skipped = [b for r in results for b in r["skipped"]]
    assert len(processed) == len(set(processed)) == 5 and skipped == [events[4]["payload"]["batch_id"]]
    written = [k for rows in outputs(deployment).values() for k in row_keys(rows)]
    assert sorted(written) == sorted(keys_of(added))  # still every event exactly once
    assert sum(r["events"] for r in results) == len(added)


def test_watcher_runs_the_example_dag_once_per_batch_under_a_real_triggerer(sandbox, tmp_path):
    sandbox.reset(empty=True)
    mautic = sandbox.emulator("mautic")
    for i in range(3):
        mautic.state.upsert({"email": f"e2e{i}@example.com"})
    stale = "the example's watcher changed: update WATCHER in this test"
    dags = example_dag_folder(tmp_path, EXAMPLE, WATCHER, FAST_WATCHER, stale)
    added: list[dict] = []
    with running_deployment(tmp_path, dags, sandbox.connection_env()) as (deployment, timings):
        started = time.monotonic()
        deployment.start_all()

        def first_poll() -> Any:
            deployment.check_alive()  # fails at once when a component exited
            return activity_requests(sandbox)

        wait_until(first_poll, 180, "the watcher's first poll")
        timings["up to the first poll"] = time.monotonic() - started
        for phase in (batches_give_runs, vendor_errors_back_off, a_crashed_triggerer_repeats_the_batch):
            phase(deployment, sandbox, mautic, timings, added)
        # Airflow's "badly-written trigger" warning never appeared
        assert "async thread was blocked" not in deployment.log_text("triggerer")
