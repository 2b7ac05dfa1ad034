"""Event-driven: each batch of new Mautic contact events runs this DAG, which writes exactly
that batch's events (full records) to one NDJSON file named after the batch.

The Asset's watcher (`ContactEventsEventTrigger`) polls Mautic from the triggerer (no worker
slot is held). Each asset event's payload is a *batch*: a `batch_id` derived from its content
and a reference to every event in it. Delivery is at-least-once: after a triggerer crash the
same batch can arrive again, with the same `batch_id`; this DAG skips a batch whose file is
already written, so each event is processed exactly once. A vendor error never runs this DAG
(the watcher logs it, backs off and resumes).

A manual run needs a config: `{"batch": <a batch payload>}` replays one batch, or
`{"since": ..., "until": ...}` fetches an explicit window; there is no default window.
`output_dir` (a local folder or an object-storage URI shared by the workers) holds the files.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, Param, task

from airflow_provider_contacts.triggers.contact_events import ContactEventsEventTrigger

CONN_ID = "mautic_default"
NEW_MAUTIC_EVENTS = Asset(
    name="mautic_new_contact_events",
    uri="mautic://mautic_default/contact-events",
    watchers=[
        AssetWatcher(
            name="mautic_contact_events_watcher",
            trigger=ContactEventsEventTrigger(conn_id=CONN_ID, poke_interval=60, lag_seconds=300),
        )
    ],
)


def exists(path: str) -> bool:
    import os

    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(path).exists() if "://" in path else os.path.exists(path)


def write(path: str, events) -> int:
    """All lines, then the file appears under its name (a crash leaves no half file)."""
    import json
    import os

    from airflow_provider_contacts.rows.outputs import open_text

    partial = path if "://" in path else f"{path}.partial"  # object stores publish whole objects
    count = 0
    with open_text(partial, "w") as out:
        for event in events:
            out.write(json.dumps(event.to_dict(), default=str, ensure_ascii=False) + "\n")
            count += 1
    if partial != path:
        os.replace(partial, path)
    return count


with DAG(
    dag_id="example_contacts_event_driven",
    schedule=[NEW_MAUTIC_EVENTS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["contacts", "example", "event-driven"],
    doc_md=__doc__,
    params={
        "batch": Param(None, type=["null", "object"], description="Manual runs: a batch payload to replay"),
        "since": Param("", type="string", description="Manual runs: ISO 8601 start of an explicit window"),
        "until": Param("", type="string", description="Manual runs: ISO 8601 end of an explicit window"),
        "output_dir": Param(
            "",
            type="string",
            description="Where batch files go (default: <[contacts] storage_base>/example_contacts_event_driven)",
        ),
    },
):

    @task
    def process_new_events(triggering_asset_events=None, params=None) -> dict:
        import pendulum
        from airflow.sdk import get_current_context

        from airflow_provider_contacts.exceptions import ContactsConfigError
        from airflow_provider_contacts.hooks import get_hook, require_capability
        from airflow_provider_contacts.rows.outputs import output_path, storage_base
        from airflow_provider_contacts.triggers.batches import check_batch, iter_batch_events

        out_dir = (params.get("output_dir") or "").rstrip(
            "/"
        ) or f"{storage_base()}/example_contacts_event_driven"
        batches = [
            check_batch((event.extra or {}).get("payload"))
            for events in (triggering_asset_events or {}).values()
            for event in events
        ]
        if not batches and params.get("batch"):
            batches = [check_batch(params["batch"])]
        window = None
        if not batches:
            if not (params.get("since") and params.get("until")):
                raise ContactsConfigError(
                    "no batch to process: this run was not triggered by the watcher; give a config with "
                    '"batch" (a batch payload) or "since" and "until" (ISO 8601)'
                )
            window = (pendulum.parse(params["since"]), pendulum.parse(params["until"]))

        hook = require_capability(get_hook(CONN_ID), "activity", "fetch contact events")
        report: dict[str, Any] = {
            "processed": [],
            "skipped": [],
            "events": 0,
            "missing": 0,
            "output_paths": [],
        }
        try:
            if window is not None:
                path = output_path(get_current_context(), "window-events.ndjson")
                report["events"] = write(path, hook.iter_events(*window))
                report["output_paths"].append(path)
                return report
            for batch in batches:
                path = f"{out_dir}/{batch['batch_id']}.ndjson"
                if exists(path):  # delivered again after a triggerer restart: already done
                    report["skipped"].append(batch["batch_id"])
                    continue
                missing: list[dict] = []
                report["events"] += write(path, iter_batch_events(hook, batch, missing))
                report["missing"] += len(missing)  # events the vendor no longer lists
                report["processed"].append(batch["batch_id"])
                report["output_paths"].append(path)
        finally:
            hook.close()
        return report

    process_new_events()
