"""Connection handling shared by every hook: lazy loading, extras, clear errors, test_connection."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from airflow_provider_contacts._compat import AIRFLOW_V_3_2_PLUS
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks import get_hook, hook_class, require_capability
from airflow_provider_contacts.hooks.base import ContactsHook, EventPlanMixin
from airflow_provider_contacts.hooks.extras import ConnExtras
from airflow_provider_contacts.http.auth import BasicAuth
from airflow_provider_contacts.http.plan import Call, run_plan
from airflow_provider_contacts.http.policy import TransportSettings
from airflow_provider_contacts.models import EventQuery


class EchoHook(EventPlanMixin, ContactsHook):
    """A minimal hook over the sandbox's echo target, to test the base class alone."""

    default_conn_name = "echo_default"
    conn_type = "echo"
    hook_name = "Echo"

    def build_auth(self):
        conn = self.connection
        return BasicAuth(self.require(conn.login, "login", "set it"), conn.password or "")

    def probe(self):
        self.transport.request("GET", "/anything")
        return "ok"

    def event_plan(self, query):
        first = yield Call("GET", "/anything")
        yield first["method"]
        second = yield Call("POST", "/anything", json={"n": 1}, idempotent=True)
        yield second["method"]


def set_conn(monkeypatch, conn_id: str, **conn):
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


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
def _numeric_fields():
    from airflow_provider_contacts.get_provider_info import CONNECTION_TYPES

    for conf in CONNECTION_TYPES:
        for name, field in conf["conn-fields"].items():
            schema = field["schema"]
            if "integer" in schema["type"] or "number" in schema["type"]:
                yield (
                    conf["connection-type"],
                    name,
                    "integer" in schema["type"],
                    schema["minimum"],
                    schema["maximum"],
                )


NUMERIC_FIELDS = list(_numeric_fields())


def _shown(x):
    return str(int(x)) if float(x).is_integer() else str(x)


def _bad_values(whole, low, high):
    values = ["nan", "inf", "-inf", "Infinity", float("nan"), float("inf"), 1e999, "abc", True, high * 2 + 1]
    values.append(low - 1 if whole else (low - 0.001 if low > 0 else -0.5))
    if whole:
        values += [2.5, "3.5"]
    return values


BAD_NUMBERS = [
    (t, n, v, whole, lo, hi) for t, n, whole, lo, hi in NUMERIC_FIELDS for v in _bad_values(whole, lo, hi)
]


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
    """Scan the hooks for the numeric extras they read: each must be a numeric field of its
    connection type's form (so its range is checked before the first request)."""
    import re
    from pathlib import Path

    from airflow_provider_contacts.hooks.extras import numeric_extras

    root = Path(__file__).resolve().parent.parent / "airflow_provider_contacts" / "hooks"
    pattern = re.compile(r'(?:extras|self)\.(?:int|float)\(\s*"(\w+)"|int_setting\(\s*"(\w+)"')
    found: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        names = {a or b for a, b in pattern.findall(path.read_text())}
        module = path.stem if path.parent == root else path.parent.name  # hooks/mautic/*.py: mautic
        found.setdefault(module, set()).update(names)
        conn_type = module if module not in ("base", "extras") else "echo"  # the transport options
        missing = names - set(numeric_extras(conn_type))
        assert not missing, f"{path.name} reads numeric extras with no declared range: {sorted(missing)}"
    assert {"timeout", "connect_timeout", "max_retries", "rate_limit_per_hour"} <= found["extras"]
    assert found["mautic"] >= {"batch_limit"} and found["dmartech"] >= {
        "list_page_size",
        "max_active_requests",
    }
    assert "inbox_id" in found["engagelab"] and "contact_list_id" in found["which50"]


@pytest.mark.parametrize(
    "conn_type, name, value, whole, low, high",
    BAD_NUMBERS,
    ids=[f"{t}.{n}={v!r}" for t, n, v, *_ in BAD_NUMBERS],
)
def test_a_bad_number_in_any_extra_fails_before_any_request(
    sandbox, monkeypatch, conn_type, name, value, whole, low, high
):
    conn = sandbox.emulator(conn_type).connection(sandbox.url)
    # UI-prefixed spelling for half of the cases: both are read
    key = name if len(name) % 2 else f"extra__{conn_type}__{name}"
    extra = {k: v for k, v in conn.get("extra", {}).items() if k != name}
    conn["extra"] = {**extra, key: value}
    monkeypatch.setenv("AIRFLOW_CONN_BAD_NUMBER", json.dumps(conn))
    hook = get_hook("bad_number")
    with pytest.raises(ContactsConfigError) as info:
        hook.transport.request("GET", "/anything")
    message = str(info.value)
    kind = "a whole number" if whole else "a number"
    assert "conn_id='bad_number'" in message and f'extra field "{name}"' in message, message
    assert f"it must be {kind} from {_shown(low)} to {_shown(high)}" in message, message
    ok, explained = get_hook("bad_number").test_connection()
    assert not ok and explained.startswith("Connection settings: extra field")
    assert sandbox.requests(conn_type) == []


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "inf", 0, -3, True, 2.5, 2**63])
@pytest.mark.parametrize("conn_type, name", [("engagelab", "inbox_id"), ("which50", "contact_list_id")])
def test_a_bad_id_given_to_the_hook_is_a_config_error_naming_it(sandbox, conn_type, name, value):
    hook = hook_class(conn_type)(f"{conn_type}_default", **{name: value})
    getter = getattr(hook, name)
    with pytest.raises(
        ContactsConfigError, match=f"{name}=.* must be a whole number from 1 to 9223372036854775807"
    ):
        getter()
    assert sandbox.requests(conn_type) == []


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


def test_missing_host_and_credentials_are_named_before_any_request(monkeypatch, sandbox):
    set_conn(monkeypatch, "no_host", conn_type="echo")
    hook = EchoHook("no_host")
    with pytest.raises(ContactsConfigError, match="host is missing"):
        hook.transport.request("GET", "/anything")
    set_conn(monkeypatch, "no_login", conn_type="echo", host=sandbox.base_url("echo"))
    hook = EchoHook("no_login")
    with pytest.raises(ContactsConfigError) as info:
        hook.transport.request("GET", "/anything")
    assert "login is missing" in str(info.value) and "no_login" in str(info.value)
    assert sandbox.requests() == []


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


def test_plans_run_on_the_blocking_transport(monkeypatch, sandbox):
    set_conn(monkeypatch, "echo1", conn_type="echo", host=sandbox.base_url("echo"), login="u", password="p")
    hook = EchoHook("echo1")
    assert list(run_plan(hook.transport, hook.event_plan(EventQuery(None, None)))) == ["GET", "POST"]
    assert [r["method"] for r in sandbox.requests("echo")] == ["GET", "POST"]


def test_plans_run_on_the_async_transport(monkeypatch, sandbox):
    import asyncio

    set_conn(monkeypatch, "echo1", conn_type="echo", host=sandbox.base_url("echo"), login="u", password="p")
    hook = EchoHook("echo1")

    async def run():
        transport = hook.make_async_transport()
        try:
            return [item async for item in hook.aiter_events(transport, None, None)]
        finally:
            await transport.aclose()

    assert asyncio.run(run()) == ["GET", "POST"]
    assert len(sandbox.requests("echo")) == 2


def test_test_connection_never_raises_and_explains(monkeypatch, sandbox):
    set_conn(monkeypatch, "ok", conn_type="echo", host=sandbox.base_url("echo"), login="u", password="p")
    assert EchoHook("ok").test_connection() == (True, "ok")
    set_conn(monkeypatch, "down", conn_type="echo", host="http://127.0.0.1:9", login="u", password="p")
    ok, message = EchoHook("down").test_connection()
    assert ok is False and message.startswith("Unreachable: could not connect")
    set_conn(monkeypatch, "nologin", conn_type="echo", host=sandbox.base_url("echo"))
    ok, message = EchoHook("nologin").test_connection()
    assert ok is False and message.startswith("Connection settings: login is missing")
    monkeypatch.setenv(
        "AIRFLOW_CONN_BROKEN",
        json.dumps({"conn_type": "echo", "host": sandbox.base_url("echo"), "extra": "{oops"}),
    )
    ok, message = EchoHook("broken").test_connection()
    if AIRFLOW_V_3_2_PLUS:
        assert ok is False and message.startswith(
            "Connection settings: the connection's extra is not valid JSON"
        )
    else:  # Airflow 3.1 answers "not found" for a variable it cannot read
        assert ok is False and message == (
            "Connection settings: conn_id 'broken': Airflow could not read the variable AIRFLOW_CONN_BROKEN; "
            'it must be a connection URI or a JSON object whose "extra" is valid JSON'
        )
    ok, message = EchoHook("no_such_conn").test_connection()
    assert ok is False and message.startswith(
        "Connection settings: conn_id 'no_such_conn' is not defined: create it"
    )
    # test_connection makes one attempt only: a 503 is reported, not retried
    sandbox.sandbox.clear_requests()
    sandbox.set_faults(sequence=[503])
    ok, message = EchoHook("ok").test_connection()
    assert ok is False and message.startswith("Vendor error") and len(sandbox.requests("echo")) == 1


def test_no_secret_reaches_any_log_during_a_run(monkeypatch, sandbox, caplog):
    """Capture every log record of a run with retries and failures; no credential appears."""
    password = "pw-very-secret-123"
    set_conn(
        monkeypatch, "sec", conn_type="echo", host=sandbox.base_url("echo"), login="user-x", password=password
    )
    token = base64.b64encode(f"user-x:{password}".encode()).decode()
    sandbox.set_faults(sequence=[503, "drop", {"status": 429, "retry_after": 0}])
    hook = EchoHook("sec", transport_options={"sleep": lambda s: None})
    with caplog.at_level(logging.DEBUG):
        body = hook.transport.request("GET", "/anything").json()
        logging.getLogger("test").info(
            "the auth header was %s and password %s", body["authorization"], password
        )
        hook.test_connection()
    assert body["authorization"] == f"Basic {token}"  # the vendor did get the credentials
    from airflow.sdk._shared.secrets_masker import redact

    rendered = "\n".join(redact(r.getMessage()) for r in caplog.records)
    assert "retry" in rendered
    assert token not in rendered and password not in rendered
    # and Airflow's masker knows the derived token (what task logs go through)
    assert redact(f"x {token} y") == "x *** y"
