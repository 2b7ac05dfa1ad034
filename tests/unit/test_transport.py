"""Transport rules that need no server: jitter, waits asked by the server, the rate limiter,
refused connections, plain http to a remote host, TLS verification on by default."""

from __future__ import annotations

import email.utils
import random
import socket

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError, ContactsConnectionError
from airflow_provider_contacts.http.client import Transport
from airflow_provider_contacts.http.policy import RateLimiter, RetryPolicy, server_requested_wait


def test_jitter_stays_within_half_and_full_backoff():
    policy = RetryPolicy(backoff_initial=1.0, backoff_max=8.0)
    rng = random.Random(1)
    for attempt, base in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)):
        for _ in range(50):
            wait = policy.backoff(attempt, rng)
            assert base / 2 <= wait <= base


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connection_refused_is_retried_even_for_non_idempotent_requests():
    sleeps: list[float] = []
    t = Transport(
        f"http://127.0.0.1:{_closed_port()}",
        conn_id="down",
        sleep=sleeps.append,
        policy=RetryPolicy(max_attempts=3, jitter=False),
    )
    with pytest.raises(ContactsConnectionError) as info:
        t.request("POST", "/x", json={}, idempotent=False)
    assert info.value.not_sent is True
    assert t.stats.requests == 3 and len(sleeps) == 2


def test_plain_http_to_a_remote_host_is_refused_before_any_request():
    with pytest.raises(ContactsConfigError, match="allow_insecure_http"):
        Transport("http://mautic.example.com", conn_id="m")
    Transport("http://mautic.example.com", conn_id="m", allow_insecure_http=True)
    Transport("https://mautic.example.com", conn_id="m")
    for host in ("127.0.0.1", "localhost", "[::1]", "127.5.5.5"):
        Transport(f"http://{host}:8080", conn_id="m")
    with pytest.raises(ContactsConfigError, match="not an http"):
        Transport("ftp://x", conn_id="m")


def test_tls_verification_is_on_by_default(monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    t = Transport("https://mautic.example.com", conn_id="m")
    assert t.session.verify is True and t._verify is True


def test_server_requested_wait_parsing():
    now = 1_700_000_000.0
    assert server_requested_wait({"Retry-After": "3"}, now) == 3.0
    assert server_requested_wait({"Retry-After": email.utils.formatdate(now + 30, usegmt=True)}, now) == 30.0
    assert server_requested_wait({"Retry-After": email.utils.formatdate(now - 30, usegmt=True)}, now) == 0.0
    assert server_requested_wait({"X-RateLimit-Reset": str(int(now) + 45)}, now) == 45.0
    assert server_requested_wait({"X-RateLimit-Reset": "20"}, now) == 20.0  # a delta, not an epoch
    assert server_requested_wait({"Retry-After": "soon"}, now) is None
    assert server_requested_wait({}, now) is None


def test_rate_limiter_per_second_and_per_hour():
    now = [0.0]
    limiter = RateLimiter(per_second=5, clock=lambda: now[0])
    waits = [round(limiter.reserve(), 6) for _ in range(12)]
    assert waits[:5] == [0.0] * 5
    assert waits[5:10] == [1.1] * 5  # a second plus the 0.1 s jitter margin
    assert waits[10:] == [2.2] * 2
    exact = RateLimiter(per_second=5, clock=lambda: now[0], jitter_margin=0)
    assert [exact.reserve() for _ in range(6)][5] == 1.0
    hourly = RateLimiter(per_hour=3, clock=lambda: now[0])
    assert [hourly.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 3600.0]
    slow = RateLimiter(per_second=0.5, clock=lambda: now[0], jitter_margin=0)
    assert [slow.reserve() for _ in range(3)] == [0.0, 2.0, 4.0]
