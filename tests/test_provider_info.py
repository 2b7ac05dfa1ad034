"""The provider registers with Airflow: schema-valid info, canonical name, connection types and forms."""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path

import jsonschema
import pytest
from packaging.utils import canonicalize_name

from airflow_provider_contacts.get_provider_info import get_provider_info

CONN_TYPES = {"mautic", "dmartech", "engagelab", "which50"}


def test_info_is_valid_against_the_installed_airflow_schema():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_package_name_is_the_canonical_distribution_name():
    dist = importlib.metadata.distribution("airflow-provider-contacts")
    assert get_provider_info()["package-name"] == canonicalize_name(dist.metadata["Name"])
    entry_points = [ep for ep in dist.entry_points if ep.group == "apache_airflow_provider"]
    assert [ep.value for ep in entry_points] == ["airflow_provider_contacts.get_provider_info:get_provider_info"]


def test_every_connection_type_is_declared_with_its_form():
    info = get_provider_info()
    types = {c["connection-type"]: c for c in info["connection-types"]}
    assert set(types) == CONN_TYPES
    for conn_type, conf in types.items():
        assert conf["hook-name"]
        assert conf["ui-field-behaviour"]["hidden-fields"]
        assert conf["conn-fields"]
        module, _, cls = conf["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), cls)
        assert hook.conn_type == conn_type
        assert hook.default_conn_name == f"{conn_type}_default"
        assert hook.hook_name == conf["hook-name"]
    secrets = {
        (t, name)
        for t, conf in types.items()
        for name, field in conf["conn-fields"].items()
        if field["schema"].get("format") == "password"
    }
    assert secrets == {("mautic", "client_secret"), ("which50", "auth_header_value")}


import importlib  # noqa: E402


@pytest.fixture(scope="module")
def providers_manager():
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_providers_manager_lists_the_provider_and_its_connection_types(providers_manager):
    pm = providers_manager
    assert "airflow-provider-contacts" in pm.providers
    hooks = pm.hooks
    for conn_type in CONN_TYPES:
        info = hooks[conn_type]
        assert info is not None, conn_type
        assert info.package_name == "airflow-provider-contacts"
        assert info.connection_testable is True
    widgets = pm.connection_form_widgets
    assert widgets["extra__mautic__client_secret"].is_sensitive is True
    assert widgets["extra__mautic__auth_type"].field["schema"]["enum"] == ["basic", "oauth2"]
    assert widgets["extra__engagelab__inbox_id"].is_sensitive is False
    behaviours = pm.field_behaviours
    assert behaviours["dmartech"]["relabeling"]["login"] == "Access key"
    assert behaviours["engagelab"]["relabeling"]["password"] == "API secret"


def test_importing_the_package_is_cheap():
    import subprocess
    import sys

    # What our modules add on top of what Airflow's own SDK import already loads.
    code = (
        "import sys, airflow.sdk; before=set(sys.modules);"
        "import airflow_provider_contacts.get_provider_info, airflow_provider_contacts.hooks;"
        "import airflow_provider_contacts.hooks.mautic.hook;"
        "added=set(sys.modules)-before;"
        "heavy=sorted(m for m in added if m.split('.')[0] in ('fastapi','uvicorn','httpx','requests','pandas','starlette','cryptography'));"
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY=\n" in out


def test_operator_modules_are_listed_and_import_cheaply():
    import subprocess
    import sys

    modules = [m for entry in get_provider_info()["operators"] for m in entry["python-modules"]]
    assert len(modules) == 4
    code = (
        "import sys, airflow.sdk; before = set(sys.modules); "
        + "; ".join(f"import {m}" for m in modules)
        + "; new = set(sys.modules) - before; "
        "heavy = sorted(m for m in new if m.split('.')[0] in ('requests', 'httpx', 'fastapi', 'uvicorn', 'msgspec', 'sqlalchemy')); "
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy = [line for line in out.stdout.splitlines() if line.startswith("HEAVY=")]
    assert heavy == ["HEAVY="]  # no HTTP client, web framework or decoder pulled in by importing operators
