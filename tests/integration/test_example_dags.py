"""Every example DAG runs with ``dag.test()`` against the sandbox; each test asserts the state
left in the emulators and the files written, not just "success"."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_contacts._compat import AIRFLOW_V_3_3_PLUS
from airflow_provider_contacts._time import parse_iso, to_iso
from airflow_provider_contacts.sandbox.warehouse import create_demo_warehouse, sqlite_connection

# each test runs a DAG with dag.test()
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture(scope="module")
def bag(DagBag):
    return DagBag(dag_folder=str(EXAMPLES))


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_SQLITE_DEFAULT", json.dumps(sqlite_connection(path)))
    return path


def xcom(run, task_id: str, map_index: int = -1):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(
                dag_id=run.dag_id, run_id=run.run_id, task_id=task_id, map_index=map_index, key="return_value"
            )
            .one()
        )
        return XComModel.deserialize_value(row)


def asset_event_extras(run) -> list[dict]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter_by(source_dag_id=run.dag_id, source_run_id=run.run_id).all()
        return [dict(e.extra) for e in events]


def states(run) -> dict[str, str]:
    return {
        (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): ti.state
        for ti in run.get_task_instances()
    }


def read_ndjson(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def test_warehouse_sync(bag, sandbox, airflow_db, warehouse):
    sandbox.reset(empty=True)
    expected = create_demo_warehouse(warehouse, contacts=300)
    run = bag.get_dag("example_mautic_warehouse_sync").test()
    assert run.state == "success"
    summary = xcom(run, "upsert_changed_contacts")
    assert (
        summary["rows_read"],
        summary["created"],
        summary["duplicates_collapsed"],
        summary["rejected"],
    ) == (303, 300, 1, 2)
    emu = sandbox.emulator("mautic")
    assert len(emu.contacts) == 300
    assert (
        emu.contact_by_email(expected["renamed_email"])["values"]["firstname"] == "Renamed"
    )  # the later row won
    assert sorted(r["reason"] for r in read_ndjson(summary["rejects_path"])) == sorted(
        ["email 'not-an-email' is not a valid address", 'missing key field "email" (or it is empty)']
    )
    assert len([r for r in sandbox.requests("mautic") if r["path"].endswith("/contacts/batch/new")]) == 2
    # the outlet Asset's event carries the counts
    assert [(e["created"], e["rejected"], e["rows_read"]) for e in asset_event_extras(run)] == [(300, 2, 303)]


def test_big_sync_shards_and_sums(bag, sandbox, airflow_db, warehouse):
    sandbox.reset(empty=True)
    create_demo_warehouse(warehouse, contacts=300)
    run = bag.get_dag("example_mautic_big_sync").test(run_conf={"rows_per_shard": 100})
    assert run.state == "success"
    # 301 distinct non-empty keys (300 contacts and "not-an-email") in shards of 100
    assert {k: v for k, v in states(run).items() if k.startswith("upsert_shard")} == {
        f"upsert_shard[{i}]": "success" for i in range(4)
    }
    total = xcom(run, "total")
    assert (total["shards"], total["rows_read"], total["created"], total["rejected"]) == (4, 303, 300, 2)
    per_shard = [xcom(run, "upsert_shard", i)["rows_read"] for i in range(4)]
    assert sum(per_shard) == 303 and max(per_shard) <= 102  # no key in two shards, the empty email in shard 0
    assert len(sandbox.emulator("mautic").contacts) == 300


def test_ui_actions_adjust_points_exactly_once_with_the_state_store_ledger(bag, sandbox, airflow_db):
    emu = sandbox.emulator("mautic")
    a, b = [c for c in emu.contacts.values() if c["values"]["email"]][:2]
    group = next(g for g in emu.state.point_groups.values() if g["name"] == "Engagement")
    before = {c["id"]: emu.state.group_scores.get((c["id"], group["id"]), 0) for c in (a, b)}
    conf = {
        "action": "adjust_points",
        "emails": [
            a["values"]["email"],
            b["values"]["email"],
            "nobody@example.com",
            "nobody.else@example.com",
        ],
        "point_group": "Engagement",
        "op": "plus",
        "value": 7,
    }
    run = bag.get_dag("example_contacts_ui_actions").test(run_conf=conf)
    assert run.state == "success"
    assert states(run)["do_not_contact"] == "skipped" and states(run)["adjust_points"] == "success"
    summary = xcom(run, "adjust_points")
    assert (summary["applied"], summary["rejected"]) == (2, 2)  # max_rejected=1.0 is 100 %, not a count of 1
    if AIRFLOW_V_3_3_PLUS:
        assert summary["ledger"] == "the task state store"
    else:  # no task state store before Airflow 3.3: the ledger file of this task instance
        records = read_ndjson(summary["ledger"])
        assert Path(summary["ledger"]).name == "adjust_points.ndjson"
        assert [(r["chunk"], bool(r.get("applied"))) for r in records] == [
            (1, False),
            (1, True),
        ]  # planned, sent
        assert all(
            r["owner"]
            == {
                "dag_id": "example_contacts_ui_actions",
                "run_id": run.run_id,
                "task_id": "adjust_points",
                "map_index": -1,
            }
            for r in records
        )
    assert {c["id"]: emu.state.group_scores[(c["id"], group["id"])] for c in (a, b)} == {
        k: v + 7 for k, v in before.items()
    }


def test_ui_actions_do_not_contact_add(bag, sandbox, airflow_db):
    emu = sandbox.emulator("mautic")
    contact = next(c for c in emu.contacts.values() if c["values"]["email"] and not c["dnc"])
    conf = {
        "action": "add_to_do_not_contact",
        "emails": [contact["values"]["email"]],
        "reason": "unsubscribed",
        "comments": "asked by phone",
    }
    run = bag.get_dag("example_contacts_ui_actions").test(run_conf=conf)
    assert run.state == "success" and states(run)["adjust_points"] == "skipped"
    assert [(d["channel"], d["reason"], d["comments"]) for d in contact["dnc"]] == [
        ("email", 1, "asked by phone")
    ]
    # the task's extra link goes to that contact's page in Mautic
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from airflow_provider_contacts.links import VendorContactLink

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(run_id=run.run_id, task_id="do_not_contact", key=VendorContactLink().xcom_key)
            .one()
        )
        assert (
            XComModel.deserialize_value(row)
            == f"{sandbox.base_url('mautic')}/s/contacts/view/{contact['id']}"
        )
    assert (
        bag.get_dag("example_contacts_ui_actions").get_task("do_not_contact").operator_extra_links[0].name
        == "Contacts in the vendor"
    )


def test_scheduled_campaign_scores_yesterday_and_blocks_bounces(bag, sandbox, airflow_db):
    emu = sandbox.emulator("mautic")
    now = datetime.now(timezone.utc)
    day_end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_start = day_end - timedelta(days=1)
    # make yesterday's activity known and deterministic
    target = next(c for c in emu.contacts.values() if c["values"]["email"] and not c["dnc"])
    emu.add_event("form.submitted", target["id"], day_start + timedelta(hours=9))
    bouncer = next(
        c for c in emu.contacts.values() if c["values"]["email"] and not c["dnc"] and c is not target
    )
    emu.add_event("email.failed", bouncer["id"], day_start + timedelta(hours=10))
    points = {"email.read": 2, "page.hit": 1, "form.submitted": 10}
    expected: dict[int, int] = {}
    bounced: set[int] = set()
    for event in emu.state.events:
        if day_start <= event["timestamp"] < day_end and event["contactId"]:
            if event["event"] in points:
                expected[event["contactId"]] = expected.get(event["contactId"], 0) + points[event["event"]]
            elif event["event"] == "email.failed":
                bounced.add(event["contactId"])
    group = next(g for g in emu.state.point_groups.values() if g["name"] == "Engagement")
    before = {cid: emu.state.group_scores.get((cid, group["id"]), 0) for cid in emu.contacts}

    run = bag.get_dag("example_mautic_scheduled_campaign").test(logical_date=now)
    assert run.state == "success", states(run)
    scored = xcom(run, "score")
    assert (scored["contacts_scored"], scored["points"], scored["bounced"]) == (
        len(expected),
        sum(expected.values()),
        len(bounced),
    )
    after = {cid: emu.state.group_scores.get((cid, group["id"]), 0) for cid in emu.contacts}
    assert {cid: after[cid] - before[cid] for cid in emu.contacts if after[cid] != before[cid]} == expected
    assert all(
        any(d["channel"] == "email" and d["reason"] == 2 for d in emu.contacts[cid]["dnc"]) for cid in bounced
    )
    assert bouncer["id"] in bounced and expected[target["id"]] >= 10


def watcher_poll(trigger) -> dict | None:
    """One poll of the watcher against the sandbox, its state committed (what the triggerer does
    every poke_interval): the batch payload of the asset event it would create."""
    import asyncio

    from airflow_provider_contacts.triggers.polling import open_hook as _open_hook

    async def go():
        hook, transport = await _open_hook(trigger.conn_id)
        try:
            batch, next_state = await trigger.poll_once(
                hook, transport, datetime.now(timezone.utc), await trigger.load_state()
            )
        finally:
            await transport.aclose()
        if batch is not None:
            await trigger.save_state(next_state)
        return batch

    return asyncio.run(go())


def test_event_driven_processes_each_batch_once_and_no_event_in_two_runs(bag, sandbox, airflow_db, tmp_path):
    from airflow_provider_contacts.triggers.contact_events import ContactEventsEventTrigger

    sandbox.reset(empty=True)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    mautic = sandbox.emulator("mautic")
    for i in range(2):
        mautic.state.upsert({"email": f"m{i}@example.com"})
    mautic.add_event("email.read", 1, now - timedelta(hours=3))  # before the watcher started
    first_events = [
        mautic.add_event(kind, 1 + i % 2, now - timedelta(minutes=20 - i))
        for i, kind in enumerate(["form.submitted", "email.read", "page.hit", "email.read"])
    ]
    # the window of every poll starts an hour (lag_seconds) before the watermark
    watcher = ContactEventsEventTrigger(
        conn_id="mautic_default", lag_seconds=3600, start_from=(now - timedelta(hours=1)).isoformat()
    )
    batch1 = watcher_poll(watcher)
    mautic.add_event("form.submitted", 2, now - timedelta(minutes=1))
    batch2 = watcher_poll(watcher)
    assert batch1 is not None and batch2 is not None
    assert (batch1["count"], batch2["count"]) == (4, 1)
    assert datetime.fromisoformat(batch2["window"][0].replace("Z", "+00:00")) < now - timedelta(minutes=20)

    dag = bag.get_dag("example_contacts_event_driven")
    out = str(tmp_path / "batches")
    runs = [dag.test(run_conf={"batch": batch, "output_dir": out}) for batch in (batch1, batch2)]
    assert [r.state for r in runs] == ["success", "success"]
    outputs = []
    for run, batch in zip(runs, (batch1, batch2), strict=True):
        result = xcom(run, "process_new_events")
        assert (
            result["processed"] == [batch["batch_id"]] and result["skipped"] == [] and result["missing"] == 0
        )
        assert result["output_paths"] == [f"{out}/{batch['batch_id']}.ndjson"]
        outputs.append(read_ndjson(result["output_paths"][0]))
    assert [len(rows) for rows in outputs] == [4, 1]  # batch 2's window covers batch 1: not its events
    keys = [(r["event_type"], r["event_id"]) for rows in outputs for r in rows]
    assert len(keys) == len(set(keys)) == 5  # no event in two runs
    assert {r["event_type"] for r in outputs[0]} == {e["event"] for e in first_events}
    assert all(
        set(r)
        == {"vendor", "event_id", "event_type", "contact_id", "occurred_at", "label", "campaign", "raw"}
        for rows in outputs
        for r in rows
    )

    # the same batch delivered again (a triggerer restart): skipped, its file untouched
    again = dag.test(run_conf={"batch": batch1, "output_dir": out})
    assert again.state == "success"
    assert (xcom(again, "process_new_events")["skipped"], xcom(again, "process_new_events")["events"]) == (
        [batch1["batch_id"]],
        0,
    )
    assert read_ndjson(f"{out}/{batch1['batch_id']}.ndjson") == outputs[0]


def test_event_driven_manual_run_never_guesses_a_window(bag, sandbox, airflow_db, tmp_path):
    sandbox.reset(empty=True)
    sandbox.emulator("mautic").state.upsert({"email": "m@example.com"})
    sandbox.emulator("mautic").add_event("email.read", 1)
    dag = bag.get_dag("example_contacts_event_driven")
    # every param given: dag.test() keeps the previous test's conf in the shared DAG object
    run = dag.test(run_conf={"batch": None, "since": "", "until": "", "output_dir": str(tmp_path)})
    assert run.state == "failed"
    assert list(tmp_path.iterdir()) == []
    assert [r for r in sandbox.requests("mautic") if "activity" in r["path"]] == []
    # an explicit window is fine
    now = datetime.now(timezone.utc)
    run = dag.test(
        run_conf={
            "batch": None,
            "since": (now - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(seconds=1)).isoformat(),
            "output_dir": str(tmp_path),
        }
    )
    assert run.state == "success" and xcom(run, "process_new_events")["events"] == 1


def test_multi_vendor_activity_one_file_one_schema(bag, sandbox, airflow_db, warehouse):
    from airflow_provider_contacts.sandbox.vendors.which50 import encrypt_id

    w50 = sandbox.emulator("which50")
    create_demo_warehouse(warehouse, contacts=50, which50_ids=[encrypt_id(i) for i in range(1, 21)])
    now = datetime.now(timezone.utc)
    run = bag.get_dag("example_contacts_multi_vendor_activity").test(logical_date=now)
    assert run.state == "success", states(run)
    merged = xcom(run, "merge")
    since = now - timedelta(days=1)
    expect_w50 = sum(
        1 for items in w50.interactions.values() for i in items if since <= parse_iso(i["Occurred"]) < now
    )  # 7 decimals: not for 3.10's fromisoformat
    dm = sandbox.emulator("dmartech")
    expect_dm = sum(1 for items in dm.events.values() for e in items if since <= e["_at"] < now)
    mautic = sandbox.emulator("mautic")
    expect_mautic = sum(1 for e in mautic.state.events if since <= e["timestamp"] < now)
    assert merged["by_vendor"] == {
        "mautic_default": expect_mautic,
        "dmartech_default": expect_dm,
        "which50_default": expect_w50,
    }
    rows = read_ndjson(merged["output_path"])
    assert len(rows) == merged["events"] == expect_mautic + expect_dm + expect_w50 > 0
    assert {tuple(r) for r in rows} == {
        ("vendor", "event_id", "event_type", "contact_id", "occurred_at", "label", "campaign", "raw")
    }


def test_daily_form_followup_waits_in_the_triggerer_then_adds_the_submitters(
    bag, sandbox, airflow_db, caplog
):
    import logging
    import threading

    sandbox.reset(empty=True)
    mautic = sandbox.emulator("mautic")
    for i in range(3):
        mautic.state.upsert({"email": f"f{i}@example.com"})
    day_end = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    day_start = day_end - timedelta(days=1)
    mautic.add_event("form.submitted", 3, day_start - timedelta(minutes=1))  # the day before: not this run's
    mautic.add_event("page.hit", 3, day_start + timedelta(hours=8))  # the day's, not a submission

    def late_submissions() -> None:
        """After the sensor's first poke found nothing, the day's submissions reach Mautic late."""
        deadline = time.monotonic() + 60
        while not [r for r in sandbox.requests("mautic") if r["path"].endswith("/activity")]:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        with mautic.lock:  # all three at once: one poll sees them together
            for contact, hour in ((1, 9), (2, 10), (2, 17)):
                mautic.state.add_event("form.submitted", contact, day_start + timedelta(hours=hour))

    dag = bag.get_dag("example_mautic_daily_form_followup")
    sensor = dag.get_task("wait_for_form_submissions")
    assert sensor.deferrable and sensor.soft_fail and sensor.poke_interval == 300
    sensor.poke_interval = 0.2  # the triggerer's polls, fast for the test
    helper = threading.Thread(target=late_submissions, daemon=True)
    helper.start()
    try:
        with caplog.at_level(logging.INFO):
            run = dag.test(logical_date=day_end)  # the run of the day that just ended
    finally:
        sensor.poke_interval = 300
    helper.join(timeout=5)
    assert run.state == "success", states(run)
    polls = [r for r in sandbox.requests("mautic") if r["path"].endswith("/activity")]
    waited = xcom(run, "wait_for_form_submissions")
    assert (waited["count"], waited["event_types"]) == (3, {"form.submitted": 3})
    assert waited["window"] == [to_iso(day_start), to_iso(day_end)]
    fetched = xcom(run, "fetch_form_submissions")
    assert (fetched["events"], fetched["by_type"]) == (3, {"form.submitted": 3})
    assert (fetched["since"], fetched["until"]) == (to_iso(day_start), to_iso(day_end))
    added = xcom(run, "add_to_newsletter")
    assert (added["added"], added["already"], added["duplicates"], added["rejected"]) == (2, 0, 1, 0)
    newsletter = next(s for s in mautic.state.segments.values() if s["name"] == "Newsletter")
    members = sorted(cid for cid, c in mautic.contacts.items() if newsletter["id"] in c["segments"])
    assert members == [1, 2]
    # the first poke (in the task) found none; the sensor deferred and the trigger's polls found them
    assert len(polls) >= 3  # first poke, the trigger's polls (at least one that found them), the fetch
    assert caplog.text.count("[DAG TEST] running trigger in line") == 1
    assert "mautic_default: 3 event(s) in the window, waiting for 1" in caplog.text
