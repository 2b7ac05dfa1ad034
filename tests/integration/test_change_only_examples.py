"""The example DAGs that sync incrementally on every run type, with ``dag.test()`` against the
sandbox: exact rows and batch requests of a second run, including a manual run without a
logical date (``prev_start_date_success`` is None there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_contacts.sandbox.warehouse import (
    change_contacts,
    create_demo_warehouse,
    sqlite_connection,
)

# each test runs an example DAG with dag.test()
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture(scope="module")
def bag(DagBag):
    return DagBag(dag_folder=str(EXAMPLES))


def forget_runs(*dag_ids: str) -> None:
    """Delete the DAGs' runs, so "the last successful run" of one test is not another's."""
    from airflow.models import DagRun, TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        for model in (XComModel, TaskInstance, DagRun):
            session.query(model).filter(model.dag_id.in_(dag_ids)).delete(synchronize_session=False)


@pytest.fixture
def fresh_runs(airflow_db):
    dag_ids = ("example_mautic_warehouse_sync", "example_mautic_change_only_sync")
    forget_runs(*dag_ids)
    yield
    forget_runs(*dag_ids)


@pytest.fixture
def warehouse(tmp_path, monkeypatch, fresh_runs):
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_SQLITE_DEFAULT", json.dumps(sqlite_connection(path)))
    monkeypatch.setenv("AIRFLOW__CONTACTS__STORAGE_BASE", str(tmp_path / "storage"))
    return path


def summary_of(run, task_id: str = "upsert_changed_contacts") -> dict:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(
                dag_id=run.dag_id, run_id=run.run_id, task_id=task_id, map_index=-1, key="return_value"
            )
            .one()
        )
        return XComModel.deserialize_value(row)


def batch_requests(sandbox) -> int:
    return len([r for r in sandbox.requests("mautic") if r["path"].endswith("/contacts/batch/new")])


def picked(summary: dict, *names: str) -> tuple:
    return tuple(summary.get(n) for n in names)


def test_warehouse_sync_is_incremental_on_a_manual_run_without_logical_date(
    bag, sandbox, airflow_db, warehouse
):
    sandbox.reset(empty=True)
    create_demo_warehouse(warehouse, contacts=300)
    dag = bag.get_dag("example_mautic_warehouse_sync")
    first = dag.test()
    assert first.state == "success" and batch_requests(sandbox) == 2
    assert picked(summary_of(first), "created", "sent", "rejected") == (300, 300, 2)

    changed = change_contacts(warehouse, 4)
    sandbox.sandbox.clear_requests()
    second = dag.test(logical_date=None)  # a manual run: no logical date, no data interval
    assert second.state == "success" and second.logical_date is None
    summary = summary_of(second)
    assert batch_requests(sandbox) == 1
    assert picked(summary, "sent", "updated", "created", "rejected") == (4, 4, 0, 2)
    emu = sandbox.emulator("mautic")
    assert [emu.contact_by_email(e)["values"]["firstname"] for e in changed] == [
        f"Changed {i}" for i in range(4)
    ]

    sandbox.sandbox.clear_requests()
    third = dag.test(logical_date=None)
    assert third.state == "success" and batch_requests(sandbox) == 0 and summary_of(third)["sent"] == 0


def test_change_only_example_bootstraps_then_sends_only_the_changes(bag, sandbox, airflow_db, warehouse):
    sandbox.reset(empty=True)
    create_demo_warehouse(warehouse, contacts=300)
    bag.get_dag("example_mautic_warehouse_sync").test()  # the audience is in Mautic already
    dag = bag.get_dag("example_mautic_change_only_sync")

    sandbox.sandbox.clear_requests()
    first = dag.test()
    assert first.state == "success"
    summary = summary_of(first)
    # 300 contacts read back from Mautic (2 keyset pages) and found equal: nothing sent
    assert picked(summary, "bootstrapped", "sent", "unchanged", "rejected", "removed") == (300, 0, 300, 2, 0)
    assert batch_requests(sandbox) == 0

    changed = change_contacts(warehouse, 5)
    sandbox.sandbox.clear_requests()
    second = dag.test(logical_date=None)
    summary = summary_of(second)
    assert second.state == "success" and batch_requests(sandbox) == 1
    assert picked(summary, "sent", "updated", "unchanged", "bootstrapped") == (5, 5, 295, None)
    # the vendor's contacts are not read again: the fields read (the columns' check), then the batch
    assert [r["path"].rsplit("/api/", 1)[1] for r in sandbox.requests("mautic")] == [
        "fields/contact",
        "contacts/batch/new",
    ]
    emu = sandbox.emulator("mautic")
    assert emu.contact_by_email(changed[4])["values"]["firstname"] == "Changed 4"

    # a contact edited in Mautic keeps the edit until a manual run with full_sync from the trigger form
    emu.contact_by_email(changed[0])["values"]["firstname"] = "Edited in Mautic"
    sandbox.sandbox.clear_requests()
    assert summary_of(dag.test(logical_date=None))["sent"] == 0
    assert emu.contact_by_email(changed[0])["values"]["firstname"] == "Edited in Mautic"
    sandbox.sandbox.clear_requests()
    full = dag.test(logical_date=None, run_conf={"full_sync": True})
    summary = summary_of(full)
    assert full.state == "success" and batch_requests(sandbox) == 2
    assert picked(summary, "full_sync", "sent", "unchanged", "rejected") == (True, 300, 0, 2)
    assert emu.contact_by_email(changed[0])["values"]["firstname"] == "Changed 0"
