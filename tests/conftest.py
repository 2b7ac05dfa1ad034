from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

# A private Airflow home (SQLite metadata DB) for the whole test session, set before Airflow is
# imported: the tests never touch the developer's own ~/airflow or its database.
_HOME = tempfile.mkdtemp(prefix="contacts-tests-airflow-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# files handed between tasks and change-only sync states stay inside the session's home
os.environ.setdefault("AIRFLOW__CONTACTS__STORAGE_BASE", f"{_HOME}/storage")
# dag.test() on Airflow 3.3 syncs the DAG from its bundle: the provider's example DAGs and the
# DAGs written for the tests are the two bundles.
_ROOT = Path(__file__).resolve().parent.parent
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(path), "refresh_interval": 0},
        }
        for name, path in (
            ("contacts_examples", _ROOT / "example_dags"),
            ("contacts_test_dags", _ROOT / "tests" / "integration" / "dags"),
        )
    ]
)
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


@pytest.fixture(scope="session")
def DagBag():  # noqa: N802 - the class
    """Airflow's DagBag class: ``airflow.dag_processing.dagbag`` from 3.2, ``airflow.models.dagbag`` on 3.1."""
    try:
        from airflow.dag_processing.dagbag import DagBag as dag_bag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag as dag_bag_3_1

        return dag_bag_3_1
    return dag_bag


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The ``e2e`` tests (real Airflow components, minutes each) run only when ``-m`` names them
    (``make e2e-events``): a plain ``pytest``, ``-m slow`` or ``-m "not slow"`` leaves them out."""
    if "e2e" in (config.option.markexpr or ""):
        return
    e2e = [item for item in items if item.get_closest_marker("e2e")]
    if e2e:
        config.hook.pytest_deselected(items=e2e)
        items[:] = [item for item in items if not item.get_closest_marker("e2e")]
