"""The import paths a user guesses: ``hooks.mautic`` gives the hook, ``operators`` is a regular
package that gives every operator; both load their contents only when a name is used."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

OPERATORS = {
    "UpsertContactsOperator": "upsert",
    "DoNotContactOperator": "do_not_contact",
    "AdjustPointGroupsOperator": "point_groups",
    "FetchContactActivityOperator": "activity",
    "SetAudienceMembershipOperator": "audience",
}


def test_the_mautic_hook_imports_from_its_package():
    from airflow_provider_contacts.hooks.mautic import MauticHook
    from airflow_provider_contacts.hooks.mautic.hook import MauticHook as defined

    assert MauticHook is defined
    assert importlib.import_module("airflow_provider_contacts.hooks.mautic").__all__ == ["MauticHook"]


def test_operators_is_a_regular_package_exporting_every_operator():
    package = importlib.import_module("airflow_provider_contacts.operators")
    assert package.__file__ is not None and package.__file__.endswith("__init__.py")  # not a namespace
    assert sorted(package.__all__) == sorted(OPERATORS)
    for name, module in OPERATORS.items():
        defined = getattr(importlib.import_module(f"airflow_provider_contacts.operators.{module}"), name)
        assert getattr(package, name) is defined
    from airflow_provider_contacts.operators import UpsertContactsOperator

    assert UpsertContactsOperator.__name__ == "UpsertContactsOperator"


@pytest.mark.parametrize(
    "package", ["airflow_provider_contacts.hooks.mautic", "airflow_provider_contacts.operators"]
)
def test_an_unknown_name_is_an_attribute_error(package):
    with pytest.raises(AttributeError, match="NoSuchThing"):
        importlib.import_module(package).NoSuchThing  # noqa: B018


def test_the_packages_load_nothing_until_a_name_is_used():
    code = (
        "import json, sys\n"
        "import airflow_provider_contacts.operators, airflow_provider_contacts.hooks.mautic.wire\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('airflow_provider_contacts'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert "airflow_provider_contacts.hooks.mautic.hook" not in loaded
    assert not [m for m in loaded if m.startswith("airflow_provider_contacts.operators.")]
