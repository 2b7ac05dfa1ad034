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
            ("contacts_test_dags", _ROOT / "tests" / "dags"),
        )
    ]
)
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """The metadata DB created once (about 8 s), for ``dag.test()``."""
    from airflow.utils import db

    db.resetdb()
    return _HOME


@pytest.fixture(scope="session")
def DagBag():  # noqa: N802 - the class
    """Airflow's DagBag class: ``airflow.dag_processing.dagbag`` from 3.2, ``airflow.models.dagbag`` on 3.1."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag
    return DagBag


@pytest.fixture
def hook_meta() -> dict:
    """The connection forms as Airflow's API server hands them to the UI, by connection type.
    Airflow 3.1 builds them only when the hooks are first imported there (with its stand-ins for
    WTForms), so on 3.1 the providers manager starts afresh."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    from airflow_provider_contacts._compat import AIRFLOW_V_3_2_PLUS

    if not AIRFLOW_V_3_2_PLUS:
        import sys
        from unittest.mock import MagicMock

        from airflow.providers_manager import ProvidersManager

        ProvidersManager()._cleanup()
        HookMetaService.hook_meta_data.cache_clear()
        # the stand-in modules a previous call left behind make the next one fail
        for name in [n for n, module in sys.modules.items() if isinstance(module, MagicMock)]:
            del sys.modules[name]
    return {m.connection_type: m for m in HookMetaService.hook_meta_data()}
