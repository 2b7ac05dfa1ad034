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


@pytest.fixture
def mautic(sandbox):
    """An empty Mautic (no contacts, events, point groups or companies) and its base URL."""
    sandbox.reset(empty=True)
    return sandbox.emulator("mautic"), sandbox.base_url("mautic")


@pytest.fixture
def seeded(sandbox):
    """The seeded Mautic and its base URL."""
    return sandbox.emulator("mautic"), sandbox.base_url("mautic")


@pytest.fixture
def oauth_conn(sandbox, monkeypatch):
    """A Mautic connection with OAuth2 client credentials, ``mautic_oauth``."""
    from tests.integration.mautic_hook_support import set_conn

    set_conn(monkeypatch, "mautic_oauth", sandbox.emulator("mautic").oauth_connection(sandbox.url))
    return "mautic_oauth"
