"""pytest fixtures for testing DAGs against the sandbox (registered as a pytest plugin).

* ``contacts_sandbox`` (session): the sandbox running on a free loopback port, with
  ``AIRFLOW_CONN_MAUTIC_DEFAULT``, ``..._DMARTECH_DEFAULT``, ``..._ENGAGELAB_DEFAULT`` and
  ``..._WHICH50_DEFAULT`` pointing at it for the whole session.
* ``sandbox`` (function): the same server, reset to its seeded state with no faults and an
  empty request log before each test.

Example::

    def test_my_dag(sandbox):
        sandbox.set_faults(rate_429=0.1)
        my_dag.test()
        assert len(sandbox.emulator("mautic").contacts) == 100
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from airflow_provider_contacts.sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def contacts_sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer().start()
    env = server.connection_env()
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


@pytest.fixture
def sandbox(contacts_sandbox: SandboxServer) -> Iterator[SandboxServer]:
    contacts_sandbox.reset()
    os.environ.update(contacts_sandbox.connection_env())
    yield contacts_sandbox
    contacts_sandbox.clear_faults()
