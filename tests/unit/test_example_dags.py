"""Every example DAG imports cleanly (the runs with ``dag.test()`` against the sandbox are in
tests/integration/test_example_dags.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture(scope="module")
def bag(DagBag):
    return DagBag(dag_folder=str(EXAMPLES))


def test_every_example_imports_without_errors(bag):
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == [
        "example_contacts_connection_check",
        "example_contacts_event_driven",
        "example_contacts_multi_vendor_activity",
        "example_contacts_ui_actions",
        "example_mautic_big_sync",
        "example_mautic_change_only_sync",
        "example_mautic_daily_form_followup",
        "example_mautic_scheduled_campaign",
        "example_mautic_warehouse_sync",
    ]
    for dag in bag.dags.values():
        assert "example" in dag.tags and dag.doc_md
        conn_ids = {getattr(t, "conn_id", None) for t in dag.tasks} - {None}
        assert all(str(c).endswith("_default") or c == "{{ params.conn_id }}" for c in conn_ids), conn_ids
