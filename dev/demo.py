"""`make demo`: run the example DAGs end to end against the sandbox with an embedded SQLite Airflow.

1. AIRFLOW_HOME under the repo (.demo/airflow_home), SQLite metadata DB, examples off;
2. the sandbox in a subprocess on a free loopback port, the ``*_default`` connections pointed
   at it through AIRFLOW_CONN_* variables (stopped on exit, failure or Ctrl-C);
3. a SQLite "warehouse" (``sqlite_default``) with 2,000 contacts, a few bad rows and the
   Which50 ids of the sandbox's contacts;
4. ``airflow dags test`` for each demo DAG (the UI-actions DAG twice, with the configs a marketer
   would submit; the change-only sync twice, the demo changing a few warehouse contacts in
   between; the event-driven DAG with the batch found by one real poll of its watcher
   trigger; the daily sign-ups DAG after the demo gave the sandbox a few form submissions, so
   its sensor finds them at once), then a short report: state, task summaries (the XComs the tasks returned) and
   where the output files are.

A second run works without cleanup and tells the same story: the sandbox starts fresh, the
warehouse is re-created, and the Airflow DB and the change-only sync states are started anew
(otherwise the warehouse sync, which reads only rows changed since its last success, would see
just the bad rows of the new warehouse).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
HOME = DEMO / "airflow_home"
LOGS = DEMO / "logs"
DAGS_FOLDER = ROOT / "example_dags"
WAREHOUSE = DEMO / "warehouse.db"

#: DAG runs of the demo, in order: (dag_id, conf, label); conf "TRIGGER": the run gets the batch of
#: one poll of the DAG's watcher
DEMO_RUNS: list[tuple[str, dict | str | None, str]] = [
    ("example_contacts_connection_check", None, ""),
    ("example_mautic_warehouse_sync", None, ""),
    ("example_mautic_big_sync", {"rows_per_shard": 500}, ""),
    ("example_mautic_change_only_sync", None, "first run: state built from Mautic's contacts"),
    ("example_mautic_change_only_sync", "CHANGE_WAREHOUSE", "second run"),
    (
        "example_contacts_ui_actions",
        {
            "action": "adjust_points",
            "emails": ["<sample 0>", "<sample 1>", "nobody@example.com"],
            "point_group": "Engagement",
            "op": "plus",
            "value": 10,
        },
        "points",
    ),
    (
        "example_contacts_ui_actions",
        {
            "action": "add_to_do_not_contact",
            "emails": ["<sample 2>"],
            "reason": "unsubscribed",
            "comments": "demo",
        },
        "dnc",
    ),
    ("example_mautic_scheduled_campaign", None, ""),
    ("example_contacts_multi_vendor_activity", None, ""),
    ("example_contacts_event_driven", "TRIGGER", "the batch of one poll of its watcher"),
    ("example_mautic_daily_form_followup", "GIVE_EVENTS", "form submissions given to the sandbox"),
]
DEMO_DAGS = list(dict.fromkeys(run[0] for run in DEMO_RUNS))
#: warehouse contacts the demo changes before the second change-only sync
CHANGED = 5
#: form submissions the demo gives the sandbox (within the last 6 hours) before the sensor's DAG
#: runs: its sensor finds them at its first poke (no wait in the demo; `make e2e-events` runs it
#: under a real triggerer, where it waits for late submissions)
SUBMISSIONS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not answer at {url}") from None
            time.sleep(0.2)


def dag_ids_present() -> set[str]:
    present = set()
    for path in DAGS_FOLDER.glob("*.py"):
        text = path.read_text()
        for dag_id in DEMO_DAGS:
            if f'"{dag_id}"' in text:
                present.add(dag_id)
    return present


def seed_warehouse(env: dict[str, str]) -> dict:
    sys.path.insert(0, str(ROOT))
    from airflow_provider_contacts.sandbox.vendors.which50 import encrypt_id
    from airflow_provider_contacts.sandbox.warehouse import create_demo_warehouse, sqlite_connection

    facts = create_demo_warehouse(WAREHOUSE, contacts=2000, which50_ids=[encrypt_id(i) for i in range(1, 21)])
    env["AIRFLOW_CONN_SQLITE_DEFAULT"] = json.dumps(sqlite_connection(WAREHOUSE))
    return facts


def poll_watcher(env: dict[str, str]) -> dict | None:
    """One poll of the event-driven DAG's watcher trigger against the sandbox (what the
    triggerer does every poke_interval); returns the batch payload of the run it would cause."""
    code = (
        "import asyncio, json, sys\n"
        "from datetime import datetime, timezone\n"
        "from airflow_provider_contacts.triggers.contact_events import ContactEventsEventTrigger\n"
        "from airflow_provider_contacts.triggers.polling import open_hook\n"
        "async def main():\n"
        "    trigger = ContactEventsEventTrigger(conn_id='mautic_default', lag_seconds=3600)\n"
        "    hook, transport = await open_hook('mautic_default')\n"
        "    try:\n"
        "        batch, _ = await trigger.poll_once(hook, transport, datetime.now(timezone.utc))\n"
        "    finally:\n"
        "        await transport.aclose()\n"
        "    print(json.dumps(batch))\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-2000:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def give_form_submissions(env: dict[str, str]) -> None:
    """Mautic activity for the daily sign-ups DAG: form submissions of the last 6 hours."""
    request = urllib.request.Request(
        f"{env['CONTACTS_SANDBOX_URL']}/_sandbox/generate/mautic",
        data=json.dumps({"events": SUBMISSIONS, "days": 0.25, "types": ["form.submitted"]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def xcoms(dag_id: str) -> dict[str, object]:
    db = HOME / "airflow.db"
    con = sqlite3.connect(db)
    try:
        run_id = con.execute(
            "select run_id from dag_run where dag_id=? order by id desc limit 1", (dag_id,)
        ).fetchone()
        if not run_id:
            return {}
        rows = con.execute(
            "select task_id, map_index, value from xcom where dag_id=? and run_id=? and key='return_value'"
            " order by task_id, map_index",
            (dag_id, run_id[0]),
        ).fetchall()
        states = con.execute(
            "select state from dag_run where dag_id=? and run_id=?", (dag_id, run_id[0])
        ).fetchone()
    finally:
        con.close()
    out: dict[str, object] = {"_state": states[0] if states else None}
    for task_id, map_index, value in rows:
        try:
            parsed = json.loads(value)
        except (TypeError, ValueError):
            parsed = value
        key = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        out[key] = parsed
    return out


#: summary keys left out of the report (the full summary is the task's XCom)
QUIET = {
    "conn_id",
    "dry_run",
    "key",
    "retries",
    "seconds",
    "rows_per_second",
    "requests",
    "window",
    "since",
    "until",
    "first_occurred_at",
    "last_occurred_at",
    "emails_looked_up",
    "resent_after_retry",
    "already_applied",
}


def describe(task: str, value: object) -> list[str]:
    """Counts on one line, then each output file (rejects, exports) on its own line."""
    if not isinstance(value, dict):
        text = json.dumps(value, default=str)
        return [f"    {task}: {text if len(text) < 160 else text[:157] + '...'}"]
    paths = {k: v for k, v in value.items() if k.endswith("_path") or k.endswith("_paths")}
    counts = {k: v for k, v in value.items() if k not in paths and k not in QUIET}
    text = json.dumps(counts, default=str)
    lines = [f"    {task}: {text if len(text) < 220 else text[:217] + '...'}"]
    for key, path in paths.items():
        for one in path if isinstance(path, list) else [path]:
            lines.append(f"        {key.removesuffix('s') if isinstance(path, list) else key}: {one}")
    return lines


def errors_in(log_path: Path, limit: int = 5) -> list[str]:
    """The exception lines of a failed run's log (tracebacks end with ``pkg.Error: message``)."""
    pattern = re.compile(r"^([\w.]+(?:Error|Exception|Timeout|Unavailable)): (.*)$")
    seen: list[str] = []
    for line in log_path.read_text(errors="replace").splitlines():
        match = pattern.match(line.strip())
        if match and line.strip() not in seen:
            seen.append(line.strip()[:300])
    return seen[-limit:]


def demo_env() -> dict[str, str]:
    """A private Airflow home for the demo; files handed between tasks under .demo/files."""
    DEMO.mkdir(exist_ok=True)
    LOGS.mkdir(exist_ok=True)
    (HOME / "airflow.db").unlink(missing_ok=True)  # each demo starts from no previous run
    shutil.rmtree(DEMO / "event_batches", ignore_errors=True)  # nor its processed event batches
    shutil.rmtree(DEMO / "files" / "sync_state", ignore_errors=True)  # nor change-only sync states
    return {
        **os.environ,
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CONTACTS__STORAGE_BASE": str(DEMO / "files"),
        "CONTACTS_DEMO_OUTPUT": str(DEMO / "output"),
    }


def start_sandbox(env: dict[str, str]) -> subprocess.Popen:
    """The sandbox in its own process; its connections go into ``env``."""
    port = free_port()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_contacts.sandbox", "--port", str(port)],
        stdout=open(LOGS / "sandbox.log", "w"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    info = wait_for(f"http://127.0.0.1:{port}/_sandbox/info")
    for vendor, data in info["vendors"].items():
        if vendor != "echo":
            env[f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT"] = json.dumps(data["connection"])
    env["CONTACTS_SANDBOX_URL"] = f"http://127.0.0.1:{port}"
    print(f"sandbox: http://127.0.0.1:{port}  (log: {LOGS / 'sandbox.log'})")
    return sandbox


def run_dag(env: dict[str, str], dag_id: str, conf: Any, label: str, facts: dict[str, Any]) -> tuple:
    """One ``airflow dags test`` run: (title, state, seconds, XCom outcome, log path)."""
    if isinstance(conf, dict) and "emails" in conf:  # emails the warehouse sync just created
        conf = {
            **conf,
            "emails": [
                facts["sample_emails"][int(e[8:-1])] if e.startswith("<sample ") else e
                for e in conf["emails"]
            ],
        }
    if conf == "CHANGE_WAREHOUSE":  # a day in the CRM between two change-only syncs
        from airflow_provider_contacts.sandbox.warehouse import change_contacts

        label = f"{label}, after the demo changed {len(change_contacts(WAREHOUSE, CHANGED))} contacts"
        conf = None
    if conf == "GIVE_EVENTS":
        give_form_submissions(env)
        label = f"{SUBMISSIONS} {label}"
        conf = None
    if conf == "TRIGGER":
        batch = poll_watcher(env)
        label = (
            f"{label}: batch of {batch['count']} new Mautic events" if batch else f"{label}: no new events"
        )
        conf = {"batch": batch, "output_dir": str(DEMO / "event_batches")} if batch else None
    t0 = time.monotonic()
    name = f"{dag_id}.{label.split(':')[0].split(',')[0].replace(' ', '_')}" if label else dag_id
    log_path = LOGS / f"{name}.log"
    command = [str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id]
    if conf:
        command += ["--conf", json.dumps(conf)]
    with open(log_path, "w") as log:
        proc = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    outcome = xcoms(dag_id)
    state = outcome.pop("_state", None) or ("failed" if proc.returncode else "?")
    return (f"{dag_id} ({label})" if label else dag_id), state, time.monotonic() - t0, outcome, log_path


def report(results: list[tuple]) -> int:
    print()
    print("=" * 78)
    failed = 0
    for dag_id, state, seconds, outcome, log_path in results:
        print(f"{dag_id}: {state} in {seconds:.1f} s   (log: {log_path.relative_to(ROOT)})")
        for task, value in outcome.items():
            for line in describe(task, value):
                print(line)
        if state != "success":
            for line in errors_in(log_path):
                print(f"    ! {line}")
        failed += state != "success"
    missing = [d for d in DEMO_DAGS if not any(r[0].split(" ")[0] == d for r in results)]
    if missing:
        print(f"not in example_dags yet: {', '.join(missing)}")
    print("=" * 78)
    print(f"{len(results) - failed} of {len(results)} DAG runs succeeded")
    return 1 if failed or not results else 0


def main() -> int:
    env = demo_env()
    sandbox = start_sandbox(env)

    def stop(*_: Any) -> None:
        if sandbox.poll() is None:
            sandbox.terminate()
            try:
                sandbox.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sandbox.kill()

    def stop_and_exit(*_: Any) -> None:
        stop()
        sys.exit(143)

    signal.signal(signal.SIGTERM, stop_and_exit)
    results = []
    try:
        t0 = time.monotonic()
        migrate = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
            env=env,
            capture_output=True,
            text=True,
        )
        if migrate.returncode != 0:
            print(migrate.stdout[-3000:], migrate.stderr[-3000:])
            return 1
        print(f"airflow: SQLite DB ready in {time.monotonic() - t0:.1f} s  (AIRFLOW_HOME={HOME})")
        facts = seed_warehouse(env)
        print(
            f"warehouse: {WAREHOUSE.relative_to(ROOT)} with {facts['rows']} rows "
            f"({facts['valid_contacts']} contacts, {facts['rejected']} bad rows, {facts['duplicates']} duplicate)"
        )
        present = dag_ids_present()
        results = [
            run_dag(env, dag_id, conf, label, facts) for dag_id, conf, label in DEMO_RUNS if dag_id in present
        ]
    except KeyboardInterrupt:
        print("interrupted")
        return 130
    finally:
        stop()
    return report(results)


if __name__ == "__main__":
    sys.exit(main())
