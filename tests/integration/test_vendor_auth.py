"""Each vendor's auth against its emulator, and Test Connection's message per failure."""

from __future__ import annotations

import json

import pytest

from airflow_provider_contacts.hooks import get_hook
from airflow_provider_contacts.hooks.dmartech import DmartechHook


def conn_env(monkeypatch, sandbox, vendor: str, conn_id: str, **changes):
    conn = sandbox.emulator(vendor).connection(sandbox.url)
    extra = dict(conn.get("extra", {}))
    extra.update(changes.pop("extra", {}))
    conn.update(changes)
    conn["extra"] = extra
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.mark.parametrize("vendor", ["mautic", "dmartech", "engagelab", "which50"])
def test_default_connections_pass_test_connection_in_one_request(sandbox, vendor):
    ok, message = get_hook(f"{vendor}_default").test_connection()
    assert ok is True, message
    assert message.startswith("Connected to")
    assert len(sandbox.requests(vendor)) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "vendor, changes, expected",
    [
        (
            "mautic",
            {"password": "nope"},
            "Bad credentials: Mautic refused the username/password (HTTP 401 access_denied): Authorization denied, invalid credentials.",
        ),
        (
            "engagelab",
            {"password": "nope"},
            "Bad credentials: LiveDesk refused the API key/secret (HTTP 401): Invalid Access Token",
        ),
        (
            "which50",
            {"extra": {"api_key": "nope"}},
            "Bad credentials: Which50 refused the header X-Api-Key (HTTP 401): Request has been denied",
        ),
        (
            "dmartech",
            {"password": "fedcba9876543210"},
            "Bad credentials: Dmartech refused the access key or signature (code 40001: accessKey or accessSign invalid). Check the access-key (login)",
        ),
    ],
)
def test_bad_credentials_are_explained(sandbox, monkeypatch, vendor, changes, expected):
    conn_env(monkeypatch, sandbox, vendor, "bad_creds", **changes)
    ok, message = get_hook("bad_creds").test_connection()
    assert ok is False
    assert message.startswith(expected)
    if vendor == "dmartech":
        assert "within 5 minutes" in message and "IP is whitelisted" in message
    assert len(sandbox.requests(vendor)) == 1


def test_dmartech_secret_length_is_checked_before_any_request(sandbox, monkeypatch):
    conn_env(monkeypatch, sandbox, "dmartech", "short_secret", password="too-short")
    ok, message = DmartechHook("short_secret").test_connection()
    assert ok is False and "16, 24 or 32 characters" in message and "password" in message
    assert sandbox.requests("dmartech") == []


def test_dmartech_busy_and_frequency_codes_are_retried_auth_codes_are_not(sandbox):
    sleeps: list[float] = []
    hook = DmartechHook(transport_options={"sleep": sleeps.append})
    sandbox.set_faults(sequence=[429, 503], vendors=["dmartech"])  # envelope codes 40006 and -1
    body = hook.transport.request("GET", "/open-api/v1/contact/contactFieldDetails").json()
    assert body["code"] == 0 and body["data"]["resultList"][0]["fieldName"] == "mobile"
    assert len(sandbox.requests("dmartech")) == 3 and len(sleeps) == 2


def test_derived_secrets_are_masked(sandbox):
    from airflow.sdk._shared.secrets_masker import redact

    hook = DmartechHook()
    headers = hook.auth.headers()
    assert redact(f"sign={headers['access-sign']}") == "sign=***"
