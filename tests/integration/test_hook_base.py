"""Connection handling shared by every hook, against the sandbox: bad numbers and ids named
before any request, plans on both transports, test_connection, no secret in any log."""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime, timezone

import pytest

from airflow_provider_contacts._compat import AIRFLOW_V_3_2_PLUS
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks import get_hook, hook_class
from airflow_provider_contacts.http.plan import run_plan
from airflow_provider_contacts.models import EventQuery
from tests.shared import NUMERIC_FIELDS, EchoHook, set_conn

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


# ---- every numeric extra: finite and within the range its form declares -----------------------
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


@pytest.mark.slow
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


def test_plans_run_on_the_blocking_transport(monkeypatch, sandbox):
    set_conn(monkeypatch, "echo1", conn_type="echo", host=sandbox.base_url("echo"), login="u", password="p")
    hook = EchoHook("echo1")
    assert list(run_plan(hook.transport, hook.event_plan(EventQuery(T0, T0)))) == ["GET", "POST"]
    assert [r["method"] for r in sandbox.requests("echo")] == ["GET", "POST"]


def test_plans_run_on_the_async_transport(monkeypatch, sandbox):
    import asyncio

    set_conn(monkeypatch, "echo1", conn_type="echo", host=sandbox.base_url("echo"), login="u", password="p")
    hook = EchoHook("echo1")

    async def run():
        transport = hook.make_async_transport()
        try:
            return [item async for item in hook.aiter_events(transport, T0, T0)]
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

    rendered = "\n".join(str(redact(r.getMessage())) for r in caplog.records)
    assert "retry" in rendered
    assert token not in rendered and password not in rendered
    # and Airflow's masker knows the derived token (what task logs go through)
    assert redact(f"x {token} y") == "x *** y"
