"""The Which50 header setting against the sandbox: the hook reads its new and its old name,
sends the configured header, and refuses a masked or invalid header name before any request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_contacts.hooks import get_hook


def _which50(monkeypatch, sandbox, conn_id: str, extra: dict[str, Any]) -> None:
    conn = sandbox.emulator("which50").connection(sandbox.url)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**conn, "extra": extra}))


def test_which50_reads_the_new_and_the_old_names(sandbox, monkeypatch):
    _which50(monkeypatch, sandbox, "w50_new", {"header_name": "X-Api-Key", "api_key": "sandbox-which50-key"})
    _which50(
        monkeypatch,
        sandbox,
        "w50_old",
        {"auth_header_name": "X-Api-Key", "auth_header_value": "sandbox-which50-key"},
    )
    _which50(
        monkeypatch,
        sandbox,
        "w50_ui",
        {"extra__which50__header_name": "X-Api-Key", "extra__which50__api_key": "sandbox-which50-key"},
    )
    _which50(monkeypatch, sandbox, "w50_ui_old", {"extra__which50__auth_header_value": "sandbox-which50-key"})
    # the new name wins over the old one
    _which50(
        monkeypatch, sandbox, "w50_both", {"api_key": "sandbox-which50-key", "auth_header_value": "stale"}
    )
    for conn_id in ("w50_new", "w50_old", "w50_ui", "w50_ui_old", "w50_both"):
        ok, message = get_hook(conn_id).test_connection()
        assert ok, (conn_id, message)
    assert [r["status"] for r in sandbox.requests("which50")] == [200] * 5


def test_a_header_name_saved_masked_is_a_clear_error_before_any_request(sandbox, monkeypatch):
    _which50(
        monkeypatch, sandbox, "w50_masked", {"auth_header_name": "***", "api_key": "sandbox-which50-key"}
    )
    ok, message = get_hook("w50_masked").test_connection()
    assert not ok
    assert "extra field \"auth_header_name\" is '***'" in message and '"header_name"' in message
    assert sandbox.requests("which50") == []


def test_the_sandbox_which50_connection_uses_the_new_name(sandbox):
    extra = sandbox.emulator("which50").connection(sandbox.url)["extra"]
    assert extra.get("header_name") == "X-Api-Key" and "auth_header_name" not in extra


@pytest.mark.parametrize("key", ["header_name", "auth_header_name", "extra__which50__header_name"])
def test_which50_sends_the_configured_header_name(sandbox, monkeypatch, key):
    _which50(monkeypatch, sandbox, "w50_custom", {key: "X-Which50-Key", "api_key": "sandbox-which50-key"})
    ok, message = get_hook("w50_custom").test_connection()
    # the emulator only knows X-Api-Key, so the key sent under another name is refused
    assert not ok and message.startswith(
        "Bad credentials: Which50 refused the header X-Which50-Key (HTTP 401)"
    )
    assert "check auth_type, header_name and api_key" in message
    assert len(sandbox.requests("which50")) == 1


def test_a_header_name_that_is_no_header_is_refused_before_any_request(sandbox, monkeypatch):
    _which50(monkeypatch, sandbox, "w50_bad", {"header_name": "X Api Key", "api_key": "sandbox-which50-key"})
    ok, message = get_hook("w50_bad").test_connection()
    assert not ok and "extra field \"header_name\" is 'X Api Key'; it must be an HTTP header name" in message
    assert sandbox.requests("which50") == []
