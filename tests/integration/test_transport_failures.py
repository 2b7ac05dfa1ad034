"""A request that fails on the way names the server's host:port and the cause (connection
refused, DNS name not found, TLS certificate not trusted, connect timeout, read timeout), with
both clients (requests for tasks, httpx for triggers); and a write whose answer is late is sent
once (it reached the server, which may have applied it), while a read is retried. Over real
loopback sockets (``socket_servers.py``): each server counts what reached it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import (
    ContactsConnectionError,
    ContactsHTTPError,
    ContactsTimeoutError,
)
from airflow_provider_contacts.http.client import AsyncTransport, Transport
from airflow_provider_contacts.http.policy import RetryPolicy, Timeouts
from tests.integration.socket_servers import FullBacklog, SelfSignedTlsServer, SilentServer, closed_port

CLIENTS = ["requests", "httpx"]
#: three attempts, no wait between them
THREE_TRIES = RetryPolicy(max_attempts=3, jitter=False, backoff_initial=0.0, backoff_max=0.0)


def call(client: str, base_url: str, method: str = "GET", **options: Any) -> Any:
    """One logical request with the blocking (requests) or the async (httpx) client; returns
    the response, or the error it raised; ``options``: the client's settings."""
    options = {"conn_id": "failing", "policy": THREE_TRIES, **options}
    body = {"email": "a@example.com"} if method == "POST" else None
    if client == "requests":
        transport = Transport(base_url, sleep=lambda _: None, **options)
        try:
            return transport.request(method, "/api/contacts/new", json=body)
        except ContactsHTTPError as err:
            return err
        finally:
            transport.close()

    async def run() -> Any:
        async with AsyncTransport(base_url, **options) as transport:
            try:
                return await transport.request(method, "/api/contacts/new", json=body)
            except ContactsHTTPError as err:
                return err

    return asyncio.run(run())


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def tls_server(tmp_path) -> Iterator[SelfSignedTlsServer]:
    server = SelfSignedTlsServer(tmp_path)
    yield server
    server.close()


@pytest.fixture
def full_backlog() -> Iterator[FullBacklog]:
    server = FullBacklog()
    yield server
    server.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_closed_port_is_refused_naming_host_and_port(client):
    port = closed_port()
    err = call(client, f"http://127.0.0.1:{port}", "POST")
    assert isinstance(err, ContactsConnectionError)
    assert err.message.startswith(f"could not connect to 127.0.0.1:{port}: connection refused (")
    assert "check the connection's host and port" in err.message
    assert err.not_sent is True  # nothing reached a server: even a write may be retried
    assert str(err).startswith("[conn_id='failing', POST /api/contacts/new] could not connect to 127.0.0.1:")


@pytest.mark.parametrize("client", CLIENTS)
def test_an_unknown_host_is_a_dns_error_naming_the_name(client):
    err = call(client, "https://nonexistent.invalid", policy=RetryPolicy(max_attempts=1))
    assert isinstance(err, ContactsConnectionError)
    # "not found" where the resolver says so; "lookup failed" where it cannot be asked
    assert err.message.startswith("could not connect to nonexistent.invalid:443: DNS ")
    assert "'nonexistent.invalid'" in err.message and "check the connection's host" in err.message
    assert "connection refused" not in err.message
    assert err.not_sent is True


@pytest.mark.parametrize("client", CLIENTS)
def test_a_self_signed_certificate_is_a_tls_error_not_retried(client, tls_server):
    err = call(client, tls_server.url)
    assert isinstance(err, ContactsConnectionError)
    assert err.message.startswith(
        f"TLS certificate of 127.0.0.1:{tls_server.port} not trusted (self-signed certificate)"
    )
    assert "set verify_ssl in the connection's extra to the path of its CA bundle" in err.message
    assert tls_server.handshakes == 1  # the same certificate answers every retry: none is made
    assert tls_server.answered == 0
    # the fix the message names works: the certificate as the CA bundle
    response = call(client, tls_server.url, verify=tls_server.cert)
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert tls_server.handshakes == 2 and tls_server.answered == 1


@pytest.mark.parametrize("client", CLIENTS)
def test_a_connect_timeout_names_host_port_and_the_setting(client, full_backlog):
    err = call(client, f"http://127.0.0.1:{full_backlog.port}", timeouts=Timeouts(connect=0.3, read=5))
    assert isinstance(err, ContactsTimeoutError)
    assert err.message.startswith(
        f"could not connect to 127.0.0.1:{full_backlog.port}: connect timeout (0.3 s)"
    )
    assert "raise connect_timeout in the connection's extra" in err.message
    assert err.not_sent is True


# ---- a late answer: a read is retried, a write is sent once -----------------------------------
@pytest.mark.parametrize("client", CLIENTS)
def test_a_read_whose_answer_is_late_is_retried(client, silent):
    err = call(client, silent.url, "GET", timeouts=Timeouts(connect=2, read=0.3))
    assert isinstance(err, ContactsTimeoutError)
    assert err.message == (
        f"read timeout: no answer from 127.0.0.1:{silent.port} in time (0.3 s); if the API is slow, "
        "raise timeout in the connection's extra"
    )
    assert silent.received == ["GET /api/contacts/new HTTP/1.1"] * 3  # every attempt arrived
    assert err.not_sent is False


@pytest.mark.parametrize("client", CLIENTS)
def test_a_write_whose_answer_is_late_is_sent_exactly_once(client, silent):
    err = call(client, silent.url, "POST", timeouts=Timeouts(connect=2, read=0.3))
    assert isinstance(err, ContactsTimeoutError)
    assert silent.received == ["POST /api/contacts/new HTTP/1.1"]  # delivered once, never re-sent
    assert err.not_sent is False
    assert err.message.startswith(f"read timeout: no answer from 127.0.0.1:{silent.port} in time (0.3 s)")
    assert err.message.endswith(
        "; not sent again: a POST is not idempotent and it reached the server, which may have "
        "applied it (check the vendor before running it again)"
    )
