"""The connection extras models (hooks/registry.py) are the one declaration of the connection
types: the provider info, the forms, the hooks' attributes, the parsing and the README tables
all come from them."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.get_provider_info import get_provider_info
from airflow_provider_contacts.hooks.extras import ConnExtras
from airflow_provider_contacts.hooks.fields import Integer, Number
from airflow_provider_contacts.hooks.registry import MODELS, hook_class
from airflow_provider_contacts.http.policy import TransportSettings

ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_connection_types_equal_the_hand_written_ones_they_replace():
    """``expected_connection_types.json`` is what get_provider_info() returned before the models
    (key order included); change it only with a model, on purpose."""
    expected = json.loads((Path(__file__).parent / "expected_connection_types.json").read_text())
    generated = json.loads(json.dumps(get_provider_info()["connection-types"]))
    assert generated == expected
    assert json.dumps(generated) == json.dumps(expected)  # the forms keep their field order


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.connection.conn_type)
def test_each_hook_takes_its_declaration_from_its_model(model):
    connection = model.connection
    module, _, name = connection.hook_class_name.rpartition(".")
    hook = getattr(importlib.import_module(module), name)
    assert hook is hook_class(connection.conn_type)
    assert issubclass(hook.extras_model, model) and hook.extras_model is model
    assert (hook.conn_type, hook.hook_name, hook.default_conn_name) == (
        connection.conn_type,
        connection.hook_name,
        f"{connection.conn_type}_default",
    )


def test_the_model_of_a_connection_type_reads_its_extras_typed():
    extras: Any = ConnExtras(
        "m1",
        "mautic",
        {"batch_limit": "50", "extra__mautic__auth_type": " OAuth2 ", "client_id": "id", "timeout": 5},
    )
    assert type(extras).__name__ == "MauticExtras"
    assert (extras.batch_limit, extras.auth_type, extras.client_id, extras.client_secret) == (
        50,
        "oauth2",
        "id",
        None,
    )
    assert extras.timeout == 5.0 and extras.max_retries == 4  # the form's default when unset
    defaults: Any = ConnExtras("d1", "dmartech", None)
    assert (defaults.timezone, defaults.list_page_size, defaults.max_active_requests) == (
        "Asia/Shanghai",
        100,
        4,
    )
    assert defaults.rate_limit_per_second == 20  # Dmartech's own declaration of a common option
    engagelab: Any = ConnExtras("e1", "engagelab", {})
    assert engagelab.sort_style == "direction"


def test_older_names_are_read_after_the_new_one():
    old: Any = ConnExtras(
        "w1", "which50", {"auth_header_name": "X-Key", "extra__which50__auth_header_value": "k"}
    )
    assert (old.header_name, old.api_key) == ("X-Key", "k")
    both: Any = ConnExtras("w1", "which50", {"api_key": "new", "auth_header_value": "stale"})
    assert (both.header_name, both.api_key) == ("X-Api-Key", "new")


@pytest.mark.parametrize(
    "conn_type, extra, message",
    [
        (
            "mautic",
            {"batch_limit": 0},
            'extra field "batch_limit" is 0; it must be a whole number from 1 to 10000',
        ),
        (
            "mautic",
            {"auth_type": "jwt"},
            "extra field \"auth_type\" is 'jwt'; it must be one of basic, oauth2",
        ),
        ("dmartech", {"max_active_requests": "inf"}, "extra field \"max_active_requests\" is 'inf'"),
        ("engagelab", {"sort_style": "up"}, "it must be one of direction, prefix"),
    ],
)
def test_a_bad_value_read_from_the_model_names_the_connection_and_the_field(conn_type, extra, message):
    extras = ConnExtras("c9", conn_type, extra)
    (name,) = extra
    with pytest.raises(ContactsConfigError) as info:
        getattr(extras, name)
    assert message in str(info.value) and "conn_id='c9'" in str(info.value)


def test_a_type_without_a_model_has_the_transport_options_alone():
    from airflow_provider_contacts.get_provider_info import COMMON_FIELDS

    extras = ConnExtras("x", "echo", '{"timeout": 3}')
    assert type(extras) is ConnExtras and extras.timeout == 3.0
    assert list(extras.fields) == list(COMMON_FIELDS)


def test_verify_ssl_is_a_flag_or_a_ca_bundle_path():
    assert ConnExtras("x", "which50", {"verify_ssl": "/etc/ca.pem"}).verify_ssl == "/etc/ca.pem"
    assert ConnExtras("x", "which50", {"verify_ssl": "Off"}).verify_ssl is False
    assert ConnExtras("x", "which50", {}).verify_ssl is True


def test_the_forms_show_the_transport_defaults_the_hooks_use():
    fields, defaults = ConnExtras.fields, TransportSettings()
    assert fields["timeout"].default == defaults.timeouts.read
    assert fields["connect_timeout"].default == defaults.timeouts.connect
    assert fields["max_retries"].default == defaults.policy.max_attempts - 1
    assert fields["retry_backoff_seconds"].default == defaults.policy.backoff_initial
    assert fields["retry_max_wait_seconds"].default == defaults.policy.max_wait
    assert fields["retry_total_seconds"].default == defaults.policy.max_total_seconds
    assert fields["verify_ssl"].default is defaults.verify
    assert fields["allow_insecure_http"].default is defaults.allow_insecure_http
    dmartech = hook_class("dmartech").transport_defaults.rate_per_second
    assert ConnExtras.model_for("dmartech").fields["rate_limit_per_second"].default == dmartech


def test_a_numeric_field_needs_its_range():
    with pytest.raises(ValueError, match="needs a minimum and a maximum"):
        Integer("Size", "How many.")
    with pytest.raises(ValueError, match="needs a minimum and a maximum"):
        Number("Wait", "Seconds.", within=(1,))  # type: ignore[arg-type]


def test_the_readme_extras_tables_are_generated_from_the_models():
    spec = importlib.util.spec_from_file_location("readme_extras", ROOT / "dev" / "readme_extras.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert module.updated(text) == text, (
        "README.md's extras tables are stale: run python dev/readme_extras.py"
    )
    for model in MODELS:
        for name in model.fields:
            assert f"| `{name}` |" in text
