"""Fixtures only the integration tests use (the root conftest.py sets up Airflow for both)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """The metadata DB created once (about 8 s), for ``dag.test()``."""
    from airflow.utils import db

    db.resetdb()
    return os.environ["AIRFLOW_HOME"]  # the private home the root conftest.py set


# the DAG files the tests load with DagBag (dags/test_*.py) hold no tests
collect_ignore_glob = ["dags/*"]
