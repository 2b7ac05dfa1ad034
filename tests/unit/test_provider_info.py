"""The provider registers with Airflow: schema-valid info, canonical name, connection types and
forms, every third-party import declared."""

from __future__ import annotations

import importlib.metadata
import json
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


def test_every_third_party_import_is_declared():
    """What the package imports is in its own dependencies, not only there because Airflow
    happens to bring it (the test extra may bring pytest, which only the pytest plugin imports, and
    openlineage, which only the lineage methods import, inside them: the openlineage extra)."""
    import ast
    import sys

    from packaging.requirements import Requirement

    package = Path(__file__).resolve().parents[2] / "airflow_provider_contacts"
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
        Requirement(r) for r in importlib.metadata.distribution("airflow-provider-contacts").requires or []
    ]
    declared = {canonicalize_name(r.name) for r in requirements if r.marker is None}
    test_extra = {canonicalize_name(r.name) for r in requirements if r.marker is not None}
    missing = {}
    for module in sorted(third_party):
        names = {canonicalize_name(d) for d in distributions.get(module, [module])}
        if module == "airflow":
            names = {canonicalize_name("apache-airflow")}
        optional = {"pytest": {"pytest"}, "openlineage": {"openlineage-python"}}.get(module, set())
        if not names & declared and not optional & test_extra:
            missing[module] = sorted(names)
    assert missing == {}
