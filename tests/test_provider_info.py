"""The provider registers with Airflow: schema-valid info, canonical name, connection types and forms."""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path

import jsonschema
import pytest
from packaging.utils import canonicalize_name

from airflow_provider_contacts._compat import AIRFLOW_V_3_2_PLUS
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
    assert [ep.value for ep in entry_points] == [
        "airflow_provider_contacts.get_provider_info:get_provider_info"
    ]


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
    assert secrets == {("mautic", "client_secret"), ("which50", "api_key")}


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
    if not AIRFLOW_V_3_2_PLUS:
        return  # Airflow 3.1 builds the forms in its API server only: test_the_forms_airflow_3_1_builds
    widgets = pm.connection_form_widgets
    assert widgets["extra__mautic__client_secret"].is_sensitive is True
    assert widgets["extra__mautic__auth_type"].field["schema"]["enum"] == ["basic", "oauth2"]
    assert widgets["extra__engagelab__inbox_id"].is_sensitive is False
    behaviours = pm.field_behaviours
    assert behaviours["dmartech"]["relabeling"]["login"] == "Access key"
    assert behaviours["engagelab"]["relabeling"]["password"] == "API secret"


def _form_fields(conn_type: str) -> dict:
    """The ``conn-fields`` as a UI gets them: ``{name: (title, type, format, enum, default)}``."""
    conf = next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == conn_type)
    return {
        name: (
            f["label"],
            f["schema"]["type"][0],
            f["schema"].get("format"),
            f["schema"].get("enum"),
            f["schema"].get("default"),
        )
        for name, f in conf["conn-fields"].items()
    }


@pytest.mark.skipif(AIRFLOW_V_3_2_PLUS, reason="Airflow 3.1 only: 3.2+ reads the declarative conn-fields")
def test_the_forms_airflow_3_1_builds_from_the_same_declarations(hook_meta):
    metas = hook_meta
    for conn_type in CONN_TYPES:
        shown = {}
        for name, field in metas[conn_type].extra_fields.items():
            schema = field["schema"]
            shown[name] = (
                schema["title"],
                schema["type"][0],
                schema.get("format"),
                schema.get("enum"),
                field["value"],
            )
        expected = {
            # 3.1 has no number field: a number is a text field (the hooks read "0.5" as 0.5)
            name: (
                title,
                "string" if kind == "number" else kind,
                fmt,
                enum,
                str(default) if kind == "number" and default is not None else default,
            )
            for name, (title, kind, fmt, enum, default) in _form_fields(conn_type).items()
        }
        assert shown == expected, conn_type
    standard = metas["dmartech"].standard_fields
    assert (standard.login.title, standard.url_schema.hidden) == ("Access key", True)
    assert metas["engagelab"].standard_fields.password.title == "API secret"


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


def test_every_third_party_import_is_declared():
    """What the package imports is in its own dependencies, not only there because Airflow
    happens to bring it (the test extra may bring pytest, which only the pytest plugin imports, and
    openlineage, which only the lineage methods import, inside them: the openlineage extra)."""
    import ast
    import sys

    from packaging.requirements import Requirement

    package = Path(__file__).resolve().parent.parent / "airflow_provider_contacts"
    imported: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    # the 3.1 connection form's field classes: only Airflow 3.1's API server calls that code, and
    # it puts stand-ins for these modules in place first (_compat.legacy_form_widgets)
    airflow_3_1_form = {"wtforms", "flask_appbuilder", "flask_babel"}
    third_party = imported - set(sys.stdlib_module_names) - {"airflow_provider_contacts"} - airflow_3_1_form
    distributions = importlib.metadata.packages_distributions()
    requirements = [
        Requirement(r) for r in importlib.metadata.distribution("airflow-provider-contacts").requires
    ]
    declared = {canonicalize_name(r.name) for r in requirements if r.marker is None}
    test_extra = {canonicalize_name(r.name) for r in requirements if r.marker is not None}
    missing = {}
    for module in sorted(third_party):
        names = {canonicalize_name(d) for d in distributions.get(module, [module])}
        if module == "airflow":
            names = {"apache-airflow"}
        optional = {"pytest": {"pytest"}, "openlineage": {"openlineage-python"}}.get(module, set())
        if not names & declared and not optional & test_extra:
            missing[module] = sorted(names)
    assert missing == {}


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
