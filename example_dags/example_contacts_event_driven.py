"""Event-driven: new Mautic contact events trigger this DAG, which fetches every vendor's events
of that window into one normalised NDJSON file.

The Asset's watcher polls Mautic from the triggerer (no worker slot is held) and creates one
asset event per batch of new events, exactly once: the watermark is kept in the asset's state
store (Airflow 3.3; ``state_path`` on 3.1/3.2). The triggering event's extra carries the batch
summary (count, window, types), from which ``window`` takes ``[since, until)``; a manual run
takes ``since``/``until`` from its config, or the last hour.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, Param, task

from airflow_provider_contacts.triggers.contact_events import ContactEventsEventTrigger

NEW_MAUTIC_EVENTS = Asset(
    name="mautic_new_contact_events",
    uri="mautic://mautic_default/contact-events",
    watchers=[AssetWatcher(
        name="mautic_contact_events_watcher",
        trigger=ContactEventsEventTrigger(conn_id="mautic_default", poke_interval=60, lag_seconds=300),
    )],
)
VENDORS = ["mautic_default", "dmartech_default", "engagelab_default"]

with DAG(
    dag_id="example_contacts_event_driven",
    schedule=[NEW_MAUTIC_EVENTS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["contacts", "example", "event-driven"],
    doc_md=__doc__,
    params={"since": Param("", type="string", description="Manual runs: ISO 8601 start (default: an hour ago)"),
            "until": Param("", type="string", description="Manual runs: ISO 8601 end (default: now)")},
):

    @task
    def window(triggering_asset_events=None, params=None) -> dict:
        from datetime import datetime, timedelta, timezone

        for events in (triggering_asset_events or {}).values():
            for event in events:
                payload = (event.extra or {}).get("payload") or {}
                if payload.get("window"):
                    return {"since": payload["window"][0], "until": payload["window"][1], "from": "asset event",
                            "count": payload.get("count")}
        now = datetime.now(timezone.utc)
        return {"since": params.get("since") or (now - timedelta(hours=1)).isoformat(),
                "until": params.get("until") or now.isoformat(), "from": "manual run"}

    @task
    def fetch_all_vendors(win: dict) -> dict:
        import json

        from airflow.sdk import get_current_context

        from airflow_provider_contacts.hooks import get_hook, require_capability
        from airflow_provider_contacts.rows.outputs import output_path, open_text
        from airflow_provider_contacts.triggers.contact_events import parse_when

        since, until = parse_when(win["since"], "since"), parse_when(win["until"], "until")
        path = output_path(get_current_context(), "new-events.ndjson")
        counts = {}
        with open_text(path, "w") as out:
            for conn_id in VENDORS:
                hook = require_capability(get_hook(conn_id), "activity", "fetch contact events")
                counts[conn_id] = 0
                try:
                    for event in hook.iter_events(since, until):
                        out.write(json.dumps(event.to_dict(), default=str, ensure_ascii=False) + "\n")
                        counts[conn_id] += 1
                finally:
                    hook.close()
        return {"window": [win["since"], win["until"]], "from": win["from"], "by_vendor": counts,
                "events": sum(counts.values()), "output_path": path}

    fetch_all_vendors(window())
