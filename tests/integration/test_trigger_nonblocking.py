"""No trigger path blocks the triggerer's event loop: a fresh Python process (as a triggerer
starting its first watcher) runs each trigger against the sandbox with an audit hook that
records every import, file open and directory listing made ON the event loop's thread (Airflow
warns about a "badly-written trigger" when the loop stalls; module imports and file reads are
what stalled it)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# a subprocess runs every trigger under an event-loop guard
pytestmark = pytest.mark.slow

PROBE = textwrap.dedent("""
    import asyncio, json, sys, threading
    import airflow.jobs.triggerer_job_runner  # loaded by the triggerer before any trigger runs
    from airflow_provider_contacts.triggers import contact_events  # imported by the triggerer (import_string)

    WATCHED = ("import", "open", "os.listdir", "os.scandir")
    seen = []
    loop_thread = {"id": None, "on": False}

    def audit(name, args):
        if loop_thread["on"] and name in WATCHED and threading.get_ident() == loop_thread["id"]:
            seen.append([name, str(args[0])[-90:]])

    sys.addaudithook(audit)

    async def first_events(trigger, how_many):
        agen = trigger.run()
        try:
            for _ in range(how_many):
                await asyncio.wait_for(agen.__anext__(), 60)
        finally:
            await agen.aclose()

    async def main(cases):
        loop_thread["id"] = threading.get_ident()
        loop_thread["on"] = True
        for kind, kwargs, how_many in cases:
            cls = getattr(contact_events, kind)
            await first_events(cls(**kwargs), how_many)
        loop_thread["on"] = False

    asyncio.run(main(json.loads(sys.argv[1])))
    print(json.dumps(seen))
""")


def test_no_trigger_imports_or_reads_files_on_the_event_loop(sandbox, tmp_path):
    from datetime import datetime, timedelta, timezone

    from airflow_provider_contacts._time import to_iso as to_utc_iso

    since = to_utc_iso(datetime.now(timezone.utc) - timedelta(days=30))
    which50 = sandbox.emulator("which50")
    which50_contact = next(c for c, items in which50.interactions.items() if items)
    cases = [
        # the watcher's first start and two polls (state in a file, as on Airflow < 3.3)
        (
            "ContactEventsEventTrigger",
            {
                "conn_id": "mautic_default",
                "poke_interval": 0.05,
                "lag_seconds": 30 * 86400,
                "max_batch_events": 5,
                "handover_seconds": 0.05,
                "state_path": str(tmp_path / "state.json"),
            },
            2,
        ),
        ("ContactEventsTrigger", {"conn_id": "dmartech_default", "since": since, "poke_interval": 0.05}, 1),
        ("ContactEventsTrigger", {"conn_id": "engagelab_default", "since": since, "poke_interval": 0.05}, 1),
        (
            "ContactEventsTrigger",
            {
                "conn_id": "which50_default",
                "since": since,
                "poke_interval": 0.05,
                "contact_ids": [which50_contact],
            },
            1,
        ),
    ]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(cases)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    on_the_loop = json.loads(proc.stdout.strip().splitlines()[-1])
    assert on_the_loop == []
