"""Connection handling shared by every hook, without a server: lazy loading, extras and their
declared ranges, clear errors, the registry."""

from __future__ import annotations

import json

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks import get_hook, hook_class, require_capability
from airflow_provider_contacts.hooks.extras import ConnExtras
from airflow_provider_contacts.http.policy import TransportSettings
from tests.shared import NUMERIC_FIELDS, EchoHook, set_conn


def test_construction_touches_nothing(monkeypatch):
    # no such connection anywhere: constructing hooks must still work (DAG parsing is offline)
    for conn_type in ("mautic", "dmartech", "engagelab", "which50"):
        hook = hook_class(conn_type)("does_not_exist")
        assert hook.conn_id == "does_not_exist"
        assert hook._connection is None
        assert "transport" not in hook.__dict__


def test_default_connection_ids():
    for conn_type in ("mautic", "dmartech", "engagelab", "which50"):
        assert hook_class(conn_type)().conn_id == f"{conn_type}_default"


def test_malformed_extra_is_a_clear_error():
    with pytest.raises(ContactsConfigError) as info:
        ConnExtras("bad_extra", "echo", "{not json")
    assert "conn_id='bad_extra'" in str(info.value) and '"extra"' in str(info.value)
    with pytest.raises(ContactsConfigError, match="must be a JSON object"):
        ConnExtras("bad_extra", "echo", "[1, 2]")


@pytest.mark.parametrize(
    "extra, field, expected",
    [
        ({"timeout": "soon"}, "timeout", "a number"),
        ({"max_retries": -1}, "max_retries", "a whole number from 0 to 50"),
        ({"max_retries": "x"}, "max_retries", "a whole number"),
        ({"allow_insecure_http": "maybe"}, "allow_insecure_http", "true or false"),
        ({"rate_limit_per_hour": 0}, "rate_limit_per_hour", "a whole number from 1 to 10000000"),
        ({"timeout": "nan"}, "timeout", "a number from 0.001 to 3600"),
        ({"connect_timeout": "inf"}, "connect_timeout", "a number from 0.001 to 600"),
    ],
)
def test_bad_transport_extras_name_the_field(extra, field, expected):
    extras = ConnExtras("c1", "echo", json.dumps(extra))
    with pytest.raises(ContactsConfigError) as info:
        extras.transport_settings(EchoHook.transport_defaults)
    assert f'"{field}"' in str(info.value) and expected in str(info.value) and "c1" in str(info.value)


# ---- every numeric extra: finite and within the range its form declares -----------------------
def test_every_numeric_extra_has_a_range_and_the_transport_options_are_on_every_form():
    from airflow_provider_contacts.get_provider_info import COMMON_FIELDS

    assert {t for t, *_ in NUMERIC_FIELDS} == {"mautic", "dmartech", "engagelab", "which50"}
    common = {n for n, f in COMMON_FIELDS.items() if {"integer", "number"} & set(f["schema"]["type"])}
    assert common == {
        "timeout",
        "connect_timeout",
        "max_retries",
        "retry_backoff_seconds",
        "retry_max_wait_seconds",
        "retry_total_seconds",
        "rate_limit_per_second",
        "rate_limit_per_hour",
    }
    for conn_type in ("mautic", "dmartech", "engagelab", "which50"):
        assert common <= {n for t, n, *_ in NUMERIC_FIELDS if t == conn_type}


def test_every_numeric_extra_the_code_reads_is_declared_with_its_range():
    """Scan the hooks for the extras they read: each must be a field of its connection type's
    model, and each numeric one a numeric field (so its range is checked before the first
    request). Vendor extras are read as the model's attributes (``self.extras.batch_limit``)."""
    import re
    from pathlib import Path

    from airflow_provider_contacts.hooks.extras import ConnExtras, numeric_extras

    root = Path(__file__).resolve().parents[2] / "airflow_provider_contacts" / "hooks"
    pattern = re.compile(r'(?:extras|self)\.(?:int|float)\(\s*"(\w+)"|int_setting\(\s*"(\w+)"')
    attribute = re.compile(r"\bextras\.([a-z_]+)\b(?!\s*\()")
    found: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        text = path.read_text()
        names = {a or b for a, b in pattern.findall(text)}
        module = path.stem if path.parent == root else path.parent.name  # hooks/mautic/*.py: mautic
        shared = module in ("base", "extras", "fields", "registry")
        conn_type = "echo" if shared else module  # the shared modules read the transport options
        attributes = set() if shared else set(attribute.findall(text))
        undeclared = attributes - set(ConnExtras.model_for(conn_type).fields)
        assert not undeclared, f"{path.name} reads extras its model does not declare: {sorted(undeclared)}"
        found.setdefault(module, set()).update(names, attributes & set(numeric_extras(conn_type)))
        missing = names - set(numeric_extras(conn_type))
        assert not missing, f"{path.name} reads numeric extras with no declared range: {sorted(missing)}"
    assert {"timeout", "connect_timeout", "max_retries", "rate_limit_per_hour"} <= found["extras"]
    assert found["mautic"] >= {"batch_limit"} and found["dmartech"] >= {
        "list_page_size",
        "max_active_requests",
    }
    assert "inbox_id" in found["engagelab"] and "contact_list_id" in found["which50"]


def test_good_numbers_in_every_spelling_are_accepted():
    extras = ConnExtras(
        "c1",
        "dmartech",
        {
            "timeout": "1e1",
            "max_retries": 3.0,
            "rate_limit_per_second": 0,
            "extra__dmartech__max_active_requests": " 32 ",
            "list_page_size": 1000,
            "retry_backoff_seconds": 0,
        },
    )
    extras.check_numbers()
    settings = extras.transport_settings(TransportSettings(rate_per_second=20))
    assert settings.timeouts.read == 10.0 and settings.policy.max_attempts == 4
    assert settings.rate_limiter() is None  # 0 = no client-side limit
    assert extras.int("max_active_requests") == 32 and extras.int("list_page_size") == 1000


def test_transport_extras_are_applied_and_ui_prefixed_keys_are_read():
    extras = ConnExtras(
        "c1",
        "echo",
        {
            "timeout": 30,
            "extra__echo__connect_timeout": "3",
            "max_retries": 2,
            "rate_limit_per_second": 5,
            "rate_limit_per_hour": "1000",
            "verify_ssl": "/etc/ssl/ca.pem",
            "allow_insecure_http": "true",
        },
    )
    settings = extras.transport_settings(EchoHook.transport_defaults)
    assert settings.timeouts.read == 30 and settings.timeouts.connect == 3
    assert settings.policy.max_attempts == 3
    assert settings.rate_per_second == 5 and settings.rate_per_hour == 1000
    assert settings.verify == "/etc/ssl/ca.pem"
    assert settings.allow_insecure_http is True


def test_base_url_from_host_schema_and_port(monkeypatch):
    set_conn(monkeypatch, "h1", conn_type="echo", host="mautic.example.com", port=8443)
    assert EchoHook("h1").base_url == "https://mautic.example.com:8443"
    set_conn(
        monkeypatch, "h2", conn_type="echo", host="https://mautic.example.com/marketing/", schema="ignored"
    )
    assert EchoHook("h2").base_url == "https://mautic.example.com/marketing"
    set_conn(monkeypatch, "h3", conn_type="echo", host="10.0.0.5", schema="http")
    hook = EchoHook("h3")
    assert hook.base_url == "http://10.0.0.5"
    with pytest.raises(ContactsConfigError, match="allow_insecure_http"):
        _ = hook.transport  # plain http to a non-loopback host


def test_wrong_connection_type_for_a_hook(monkeypatch):
    set_conn(monkeypatch, "some_http", conn_type="http", host="https://x")
    with pytest.raises(ContactsConfigError, match="needs 'echo'"):
        _ = EchoHook("some_http").connection


def test_get_hook_picks_the_hook_by_connection_type(monkeypatch):
    set_conn(monkeypatch, "m1", conn_type="mautic", host="https://m.example.com", login="u", password="p")
    hook = get_hook("m1")
    assert type(hook).__name__ == "MauticHook" and hook.conn_id == "m1"
    set_conn(monkeypatch, "pg", conn_type="postgres", host="db")
    with pytest.raises(ContactsConfigError) as info:
        get_hook("pg")
    assert "'postgres' is not a contacts platform" in str(info.value)
    assert "dmartech, engagelab, mautic, which50" in str(info.value)


def test_require_capability_names_the_types_that_can():
    from airflow_provider_contacts.exceptions import UnsupportedActionError

    hook = EchoHook("x")
    with pytest.raises(UnsupportedActionError) as info:
        require_capability(hook, "point_groups", "adjust point groups")
    assert "Echo (echo) cannot adjust point groups" in str(info.value)
    assert "connection types that can:" in str(info.value)
