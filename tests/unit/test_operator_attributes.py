"""No operator or sensor of the provider stores an attribute under the name of a method (or
read-only property) of Airflow's BaseOperator / BaseSensorOperator: such an attribute hides the
method from Airflow (``UpsertContactsOperator.dry_run`` once hid ``BaseOperator.dry_run()``)."""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from pathlib import Path

from airflow.sdk import BaseOperator

import airflow_provider_contacts
from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from airflow_provider_contacts.sensors.contact_events import ContactEventsSensor

PACKAGE = airflow_provider_contacts.__name__


def airflow_members(cls: type) -> set[str]:
    """Names an instance attribute of ``cls`` must not take: the methods and the properties
    without a setter of every Airflow class in its MRO."""
    names: set[str] = set()
    for base in cls.__mro__:
        if base.__module__.startswith(PACKAGE) or base is object:
            continue
        for name, member in vars(base).items():
            if inspect.isroutine(member) or (isinstance(member, property) and member.fset is None):
                names.add(name)
    return names


def provider_operator_classes() -> list[type]:
    """Every BaseOperator subclass defined in the provider (the sandbox excepted; some folders
    have no ``__init__.py``, so the files are listed rather than the packages walked)."""
    root = Path(airflow_provider_contacts.__file__).parent
    found: dict[str, type] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[0] == "sandbox" or parts[-1] in ("__init__", "__main__"):
            continue
        name = ".".join((PACKAGE, *parts))
        for value in vars(importlib.import_module(name)).values():
            # the module first: on Python 3.10 a ``Generator[...]`` alias passes isinstance(type)
            if getattr(value, "__module__", None) == name and inspect.isclass(value):
                if issubclass(value, BaseOperator):
                    found[f"{name}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def assigned_attributes(cls: type) -> set[str]:
    """The ``self.<name> = ...`` targets in the methods ``cls`` defines itself."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    names: set[str] = set()
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        while targets:
            target = targets.pop()
            if isinstance(target, (ast.Tuple, ast.List)):
                targets.extend(target.elts)
            elif isinstance(target, ast.Starred):
                targets.append(target.value)
            elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                if target.value.id == "self":
                    names.add(target.attr)
    return names


def test_the_scan_finds_the_operators_and_sensors():
    classes = set(provider_operator_classes())
    assert {
        UpsertContactsOperator,
        DoNotContactOperator,
        AdjustPointGroupsOperator,
        FetchContactActivityOperator,
        ContactEventsSensor,
    } <= classes
    assert "dry_run" in airflow_members(UpsertContactsOperator)
    assert "poke" in airflow_members(ContactEventsSensor)


def test_no_provider_class_assigns_an_attribute_named_like_an_airflow_method():
    shadowing = [
        (cls.__qualname__, own.__qualname__, sorted(assigned_attributes(own) & airflow_members(cls)))
        for cls in provider_operator_classes()
        for own in cls.__mro__
        if own.__module__.startswith(PACKAGE)
    ]
    assert [found for found in shadowing if found[2]] == []


def test_built_operators_keep_airflow_methods(tmp_path):
    built = [
        UpsertContactsOperator(task_id="u", conn_id="mautic_default", rows=[], dry_run=True),
        DoNotContactOperator(task_id="d", conn_id="mautic_default", action="add", rows=[]),
        AdjustPointGroupsOperator(task_id="p", conn_id="mautic_default", rows=[], ledger_path=str(tmp_path)),
        FetchContactActivityOperator(task_id="a", conn_id="mautic_default"),
        ContactEventsSensor(task_id="s", conn_id="mautic_default"),
    ]
    for op in built:
        assert sorted(set(vars(op)) & airflow_members(type(op))) == [], type(op).__name__
    upsert = built[0]
    assert (
        isinstance(upsert, UpsertContactsOperator)
        and upsert.is_dry_run is True
        and inspect.ismethod(upsert.dry_run)
    )
