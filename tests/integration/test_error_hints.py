"""Errors that name the fix: a 401 in a task says what Test Connection says (the credentials to
check, in each vendor's words), a 429 that outlasts the retries names the connection type's
rate-limit extra, and a manual run of FetchContactActivityOperator (an empty data interval)
says to pass ``since``/``until``. Against the sandbox; request counts from its log."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import AuthenticationError, ContactsConfigError, RateLimitedError
from airflow_provider_contacts.hooks import get_hook
from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from tests.integration.operator_support import context

WINDOW = {"data_interval_start": "2026-11-01T00:00:00Z", "data_interval_end": "2026-11-02T00:00:00Z"}
#: a wrong credential per vendor
BAD_CREDENTIALS: dict[str, dict[str, Any]] = {
    "mautic": {"password": "nope"},
    "dmartech": {"password": "fedcba9876543210"},
    "engagelab": {"password": "nope"},
    "which50": {"extra": {"api_key": "nope"}},
}
#: activity arguments each vendor needs (Which50 lists communications per contact)
ACTIVITY_ARGS: dict[str, dict[str, Any]] = {"which50": {"contact_ids": ["1"]}}


def set_connection(monkeypatch, sandbox, vendor: str, conn_id: str, **changes: Any) -> None:
    conn = sandbox.emulator(vendor).connection(sandbox.url)
    extra = {**conn.get("extra", {}), **changes.pop("extra", {})}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**conn, **changes, "extra": extra}))


def fetch_activity(vendor: str, conn_id: str, tmp_path, **kwargs: Any) -> FetchContactActivityOperator:
    return FetchContactActivityOperator(
        task_id="activity",
        conn_id=conn_id,
        output_path=str(tmp_path / "events.ndjson"),
        **ACTIVITY_ARGS.get(vendor, {}),
        **kwargs,
    )


@pytest.mark.parametrize("vendor", list(BAD_CREDENTIALS))
def test_a_401_in_a_task_gives_the_hint_test_connection_gives(sandbox, monkeypatch, tmp_path, vendor):
    set_connection(monkeypatch, sandbox, vendor, "bad_creds", **BAD_CREDENTIALS[vendor])
    with pytest.raises(AuthenticationError) as caught:
        fetch_activity(vendor, "bad_creds", tmp_path).execute(context(tmp_path, **WINDOW))
    err = caught.value
    assert len(sandbox.requests(vendor)) == 1  # a refused credential is not retried
    hook = get_hook("bad_creds")
    hint = hook.auth_hint(err)
    assert str(err).endswith(f". {hint}")
    ok, message = hook.test_connection()
    assert ok is False and message.startswith("Bad credentials: ") and hint in message


def test_mautic_401_hint_names_the_credentials_and_the_stripped_header(sandbox, monkeypatch, tmp_path):
    set_connection(monkeypatch, sandbox, "mautic", "bad_creds", password="nope")
    with pytest.raises(AuthenticationError) as caught:
        fetch_activity("mautic", "bad_creds", tmp_path).execute(context(tmp_path, **WINDOW))
    assert str(caught.value) == (
        "[conn_id='bad_creds', GET /api/contacts/activity, HTTP 401, vendor code access_denied] "
        "Authorization denied, invalid credentials. Check the login and password of connection 'bad_creds': "
        "a Mautic user allowed to use the API. If the credentials are right, the web server may be "
        "stripping the Authorization header (a FastCGI setting)"
    )


#: the extra a 429 storm names, per connection type
RATE_EXTRA = {
    "mautic": "set rate_limit_per_hour in the extra of connection 'storm' (at most 100, the limit Mautic names)",
    "dmartech": "lower rate_limit_per_second (default 20) or max_active_requests in the extra of connection 'storm'",
    "engagelab": "set rate_limit_per_second in the extra of connection 'storm' (e.g. 40)",
    "which50": "set rate_limit_per_second or rate_limit_per_hour in the extra of connection 'storm'",
}


@pytest.mark.parametrize("vendor", list(RATE_EXTRA))
def test_a_429_storm_names_the_rate_extra_of_the_connection_type(sandbox, monkeypatch, tmp_path, vendor):
    set_connection(
        monkeypatch, sandbox, vendor, "storm", extra={"max_retries": 2, "retry_backoff_seconds": 0}
    )
    sandbox.set_faults(sequence=[429] * 3, vendors=[vendor])
    waits: list[float] = []
    op = fetch_activity(vendor, "storm", tmp_path, hook_params={"transport_options": {"sleep": waits.append}})
    with pytest.raises(RateLimitedError) as caught:
        op.execute(context(tmp_path, **WINDOW))
    assert [r["fault"] for r in sandbox.requests(vendor)] == ["429"] * 3  # retries exhausted on 429
    assert len(waits) == 2
    assert RATE_EXTRA[vendor] in str(caught.value)


# ---- a manual run of FetchContactActivityOperator ----------------------------------------------
def test_a_manual_run_with_an_empty_data_interval_says_to_pass_since_and_until(sandbox, tmp_path):
    manual = {"data_interval_start": "2026-11-20T09:30:00Z", "data_interval_end": "2026-11-20T09:30:00Z"}
    with pytest.raises(ContactsConfigError) as caught:
        fetch_activity("mautic", "mautic_default", tmp_path).execute(context(tmp_path, **manual))
    message = str(caught.value)
    assert message.startswith(
        "this run's data interval is empty (2026-11-20T09:30:00+00:00 to itself, as in a manual run): "
        "pass since and until"
    )
    assert "must be before until" not in message
    assert sandbox.requests("mautic") == []


def test_a_manual_run_with_since_given_still_needs_until(sandbox, tmp_path):
    manual = {"data_interval_start": "2026-11-20T09:30:00Z", "data_interval_end": "2026-11-20T09:30:00Z"}
    op = fetch_activity("mautic", "mautic_default", tmp_path, since="2026-11-19T00:00:00Z")
    summary = op.execute(context(tmp_path, **manual))  # until: the interval's end, after since
    assert summary["since"] == "2026-11-19T00:00:00.000000Z"
    assert summary["until"] == "2026-11-20T09:30:00.000000Z"
    with pytest.raises(ContactsConfigError, match="pass since and until"):
        fetch_activity("mautic", "mautic_default", tmp_path, until="2026-11-20T09:30:00Z").execute(
            context(tmp_path, **manual)
        )
