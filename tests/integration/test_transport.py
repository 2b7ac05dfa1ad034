"""Transport behaviour over real HTTP against the sandbox (echo target + fault injection)."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time

import pytest

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConnectionError,
    ContactsTimeoutError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)
from airflow_provider_contacts.http.auth import HeaderAuth
from airflow_provider_contacts.http.client import AsyncTransport, Transport
from airflow_provider_contacts.http.policy import RateLimiter, RetryPolicy, Timeouts

NO_JITTER = RetryPolicy(jitter=False, backoff_initial=0.5, backoff_max=4.0)


def make(sandbox, sleeps, **kw) -> Transport:
    kw.setdefault("policy", NO_JITTER)
    return Transport(sandbox.base_url("echo"), conn_id="echo_test", sleep=sleeps.append, **kw)


def echo_requests(sandbox):
    return sandbox.requests("echo")


def test_three_503_then_200_is_four_requests_with_capped_backoff(sandbox):
    sandbox.set_faults(sequence=[503, 503, 503])
    sleeps: list[float] = []
    t = make(sandbox, sleeps)
    response = t.request("GET", "/anything")
    assert response.json()["method"] == "GET"
    reqs = echo_requests(sandbox)
    assert [r["status"] for r in reqs] == [503, 503, 503, 200]
    assert sleeps == [0.5, 1.0, 2.0]  # exponential, no jitter in this policy
    assert t.stats.requests == 4 and t.stats.retries == 3


def test_retry_after_seconds_is_honoured(sandbox):
    sandbox.set_faults(sequence=[{"status": 429, "retry_after": 2}])
    sleeps: list[float] = []
    t = make(sandbox, sleeps)
    t.request("GET", "/anything")
    assert len(echo_requests(sandbox)) == 2
    assert sleeps == [2.0]


def test_retry_after_http_date_is_honoured(sandbox):
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    sleeps: list[float] = []
    t = make(sandbox, sleeps, wall_clock=lambda: now, policy=RetryPolicy(max_attempts=2, jitter=False))
    with pytest.raises(RateLimitedError) as info:
        t.request("GET", "/status/429", params={"retry_after": date})
    assert len(echo_requests(sandbox)) == 2
    assert sleeps == [7.0]
    assert info.value.retry_after == 7.0


def test_x_ratelimit_reset_epoch_is_honoured(sandbox):
    now = 1_800_000_000.0
    sleeps: list[float] = []
    t = make(sandbox, sleeps, wall_clock=lambda: now, policy=RetryPolicy(max_attempts=3, jitter=False))
    with pytest.raises(RateLimitedError):
        t.request("GET", "/status/429", params={"x_ratelimit_reset": str(int(now + 12))})
    assert len(echo_requests(sandbox)) == 3
    assert sleeps == [12.0, 12.0]


def test_wait_beyond_total_budget_raises_at_once_with_retry_after(sandbox):
    sleeps: list[float] = []
    t = make(sandbox, sleeps, policy=RetryPolicy(max_total_seconds=30, jitter=False))
    with pytest.raises(RateLimitedError) as info:
        t.request("GET", "/status/429", params={"retry_after": "3600", "message": "slow down"})
    assert len(echo_requests(sandbox)) == 1
    assert sleeps == []
    assert info.value.retry_after == 3600.0
    assert "slow down" in str(info.value)


def test_attempts_are_bounded(sandbox):
    sleeps: list[float] = []
    t = make(sandbox, sleeps, policy=RetryPolicy(max_attempts=3, jitter=False))
    with pytest.raises(ServerError) as info:
        t.request("GET", "/status/503")
    assert len(echo_requests(sandbox)) == 3
    assert len(sleeps) == 2
    assert info.value.status == 503


@pytest.mark.parametrize(
    "status, exc",
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, InvalidRequestError),
        (422, InvalidRequestError),
    ],
)
def test_4xx_other_than_429_is_never_retried(sandbox, status, exc):
    sleeps: list[float] = []
    t = make(sandbox, sleeps)
    with pytest.raises(exc) as info:
        t.request("POST", f"/status/{status}", params={"message": "email: x is invalid."}, json={"a": 1})
    assert len(echo_requests(sandbox)) == 1
    assert sleeps == []
    err = info.value
    assert err.status == status
    assert err.message == "email: x is invalid."
    assert err.conn_id == "echo_test" and err.method == "POST" and err.path.endswith(f"/status/{status}")
    assert "?" not in str(err)  # no query string (it may carry personal data)


def test_500_is_retried_only_when_the_policy_says_so(sandbox):
    sleeps: list[float] = []
    with pytest.raises(ServerError):
        make(sandbox, sleeps).request("GET", "/status/500")
    assert len(echo_requests(sandbox)) == 1
    sandbox.sandbox.clear_requests()
    policy = RetryPolicy(max_attempts=2, jitter=False, retry_statuses=frozenset({500, 503}))
    with pytest.raises(ServerError):
        make(sandbox, sleeps, policy=policy).request("GET", "/status/500")
    assert len(echo_requests(sandbox)) == 2


def test_dropped_response_is_retried_for_idempotent_requests(sandbox):
    sandbox.set_faults(sequence=["drop", "drop_after"])
    sleeps: list[float] = []
    t = make(sandbox, sleeps)
    assert t.request("GET", "/anything").status_code == 200
    assert [r["fault"] for r in echo_requests(sandbox)] == ["drop", "drop_after", None]
    assert len(sleeps) == 2


def test_non_idempotent_request_is_not_retried_after_a_dropped_response(sandbox):
    sandbox.set_faults(sequence=["drop_after"])
    sleeps: list[float] = []
    t = make(sandbox, sleeps)
    hits_before = sandbox.emulator("echo").hits
    with pytest.raises(ContactsConnectionError):
        t.request("POST", "/anything", json={"op": "plus"}, idempotent=False)
    assert len(echo_requests(sandbox)) == 1
    assert sandbox.emulator("echo").hits == hits_before + 1  # processed exactly once
    assert sleeps == []


def test_non_idempotent_request_is_retried_on_429(sandbox):
    sandbox.set_faults(sequence=[{"status": 429, "retry_after": 1}])
    sleeps: list[float] = []
    make(sandbox, sleeps).request("POST", "/anything", json={}, idempotent=False)
    assert len(echo_requests(sandbox)) == 2 and sleeps == [1.0]


def test_post_defaults_to_non_idempotent(sandbox):
    sandbox.set_faults(sequence=[503])
    sleeps: list[float] = []
    with pytest.raises(ServerError):
        make(sandbox, sleeps).request("POST", "/anything", json={})
    assert len(echo_requests(sandbox)) == 1


def test_read_timeout_is_retried_then_raised(sandbox):
    sandbox.set_faults(latency_ms=400)
    sleeps: list[float] = []
    t = make(
        sandbox,
        sleeps,
        timeouts=Timeouts(connect=2, read=0.1),
        policy=RetryPolicy(max_attempts=2, jitter=False),
    )
    with pytest.raises(ContactsTimeoutError):
        t.request("GET", "/anything")
    assert t.stats.requests == 2 and len(sleeps) == 1


def test_client_side_rate_limit_spaces_real_requests(sandbox):
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    t = Transport(
        sandbox.base_url("echo"),
        conn_id="echo",
        sleep=sleep,
        clock=lambda: now[0],
        rate_limiter=RateLimiter(per_second=2, clock=lambda: now[0], jitter_margin=0),
    )
    for _ in range(5):
        t.request("GET", "/anything")
    assert len(echo_requests(sandbox)) == 5
    assert sleeps == [1.0, 1.0]  # requests 3 and 5 waited for the next second


def test_logs_carry_no_query_string_body_or_credentials(sandbox, caplog):
    sandbox.set_faults(sequence=[503])
    sleeps: list[float] = []
    secret = "s3cr3t-token-value-xyz"
    t = make(sandbox, sleeps, auth=HeaderAuth({"Authorization": f"Bearer {secret}"}))
    with caplog.at_level(logging.DEBUG):
        t.request("GET", "/anything", params={"search": "email:jane.doe@example.com"})
        with pytest.raises(InvalidRequestError):
            t.request("POST", "/status/400", json={"email": "jane.doe@example.com"})
    text = caplog.text
    assert "retry 1 of 4" in text
    for forbidden in ("jane.doe", secret, "Bearer"):
        assert forbidden not in text


# ---------------------------------------------------------------------------------- async
def test_async_transport_same_retry_rules(sandbox, monkeypatch):
    def forbidden_sleep(_):  # the event loop must never block
        raise AssertionError("time.sleep called from the async transport")

    sandbox.set_faults(sequence=[503, {"status": 429, "retry_after": 3}, "drop"])
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def run():
        monkeypatch.setattr(time, "sleep", forbidden_sleep)
        async with AsyncTransport(
            sandbox.base_url("echo"), conn_id="echo", sleep=fake_sleep, policy=NO_JITTER
        ) as t:
            response = await t.request("GET", "/anything")
            return response.json(), t.stats.as_dict()

    body, stats = asyncio.run(run())
    assert body["method"] == "GET"
    assert [r["status"] or r["fault"] for r in echo_requests(sandbox)] == [503, 429, "drop", 200]
    assert waits == [0.5, 3.0, 2.0]
    assert stats["requests"] == 4 and stats["retries"] == 3


def test_async_transport_errors_and_non_idempotent(sandbox):
    async def run():
        async with AsyncTransport(sandbox.base_url("echo"), conn_id="echo", policy=NO_JITTER) as t:
            with pytest.raises(InvalidRequestError) as info:
                await t.request("GET", "/status/422", params={"message": "bad field"})
            assert info.value.message == "bad field"
            sandbox.set_faults(sequence=["drop_after"])
            with pytest.raises(ContactsConnectionError):
                await t.request("POST", "/anything", json={}, idempotent=False)

    asyncio.run(run())
    assert len(echo_requests(sandbox)) == 2


def test_async_transport_real_sleep_does_not_block_the_loop(sandbox):
    sandbox.set_faults(sequence=[{"status": 429, "retry_after": 0.3}])
    ticks: list[float] = []

    async def ticker():
        for _ in range(10):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    async def run():
        async with AsyncTransport(
            sandbox.base_url("echo"), conn_id="echo", policy=RetryPolicy(jitter=False)
        ) as t:
            await asyncio.gather(t.request("GET", "/anything"), ticker())

    asyncio.run(run())
    assert len(ticks) == 10  # the ticker ran while the transport waited 0.3 s
    assert ticks[-1] - ticks[0] < 0.3
