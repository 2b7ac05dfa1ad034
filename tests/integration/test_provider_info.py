"""The provider as Airflow's providers manager and a fresh interpreter see it: listed with its
connection types, no warning on 3.2+, and importing the package or an operator module is cheap."""

from __future__ import annotations

import os

import pytest

from airflow_provider_contacts._compat import AIRFLOW_V_3_2_PLUS
from airflow_provider_contacts.get_provider_info import get_provider_info

CONN_TYPES = {"mautic", "dmartech", "engagelab", "which50"}


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
    if not AIRFLOW_V_3_2_PLUS:
        return  # Airflow 3.1 builds the forms in its API server only: test_the_forms_airflow_3_1_builds
    widgets = pm.connection_form_widgets
    assert widgets["extra__mautic__client_secret"].is_sensitive is True
    assert widgets["extra__mautic__auth_type"].field["schema"]["enum"] == ["basic", "oauth2"]
    assert widgets["extra__engagelab__inbox_id"].is_sensitive is False
    behaviours = pm.field_behaviours
    assert behaviours["dmartech"]["relabeling"]["login"] == "Access key"
    assert behaviours["engagelab"]["relabeling"]["password"] == "API secret"


@pytest.mark.slow
@pytest.mark.skipif(not AIRFLOW_V_3_2_PLUS, reason="Airflow 3.2+ reads the declarative conn-fields")
def test_airflow_3_2_plus_uses_the_declarations_and_warns_nothing():
    import subprocess
    import sys

    from airflow_provider_contacts.hooks import hook_class

    # a fresh process: Airflow warns once per hook, when it first imports it
    code = (
        "import warnings; warnings.simplefilter('always');"
        "from airflow.providers_manager import ProvidersManager; pm = ProvidersManager();"
        f"print('HOOKS=' + ','.join(sorted(t for t in {sorted(CONN_TYPES)!r} if pm.hooks[t] is not None)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"HOOKS={','.join(sorted(CONN_TYPES))}" in out.stdout
    assert "get_connection_form_widgets" not in out.stdout + out.stderr
    assert "get_ui_field_behaviour" not in out.stdout + out.stderr
    # the 3.1 methods exist on every hook class (3.1 reads them from the class's own __dict__)
    for conn_type in CONN_TYPES:
        assert {"get_connection_form_widgets", "get_ui_field_behaviour"} <= set(vars(hook_class(conn_type)))


@pytest.mark.slow
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


@pytest.mark.slow
def test_operator_modules_are_listed_and_import_cheaply():
    import subprocess
    import sys

    modules = [m for entry in get_provider_info()["operators"] for m in entry["python-modules"]]
    assert len(modules) == 5
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
