"""The blocking client reads each answer's body in one pass and reads the environment once per
connection: a body cut short is a dropped answer (retried only when idempotent), a whole body
leaves the connection reusable, proxies / NO_PROXY and the environment's CA bundle are honoured,
and ~/.netrc never adds credentials. Over real sockets, against a tiny scripted HTTP server."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from airflow_provider_contacts.exceptions import ContactsConnectionError
from airflow_provider_contacts.http.client import Transport
from airflow_provider_contacts.http.policy import RetryPolicy, Timeouts
from tests.integration.socket_servers import LoopbackServer

NO_WAIT = RetryPolicy(max_attempts=3, jitter=False, backoff_initial=0.0, backoff_max=0.0)


@dataclass
class Seen:
    connection: int
    request_line: str
    headers: dict[str, str]


class RawServer(LoopbackServer):
    """Answers each request with ``answer(number)`` (raw bytes; ``None`` closes the connection
    after sending what it has) and records what arrived, per connection."""

    def __init__(self, answer: Callable[[int], tuple[bytes, bool]]) -> None:
        self.answer = answer
        self.seen: list[Seen] = []
        super().__init__(backlog=8)

    def serve(self, conn: socket.socket, number: int) -> None:
        with conn, conn.makefile("rb") as reader:
            while True:
                line = reader.readline().decode("latin-1").strip()
                if not line:
                    return
                headers: dict[str, str] = {}
                while (header := reader.readline().decode("latin-1").strip()) != "":
                    name, _, value = header.partition(":")
                    headers[name.strip().lower()] = value.strip()
                reader.read(int(headers.get("content-length", "0")))
                self.seen.append(Seen(number, line, headers))
                payload, keep_open = self.answer(len(self.seen))
                conn.sendall(payload)
                if not keep_open:
                    return


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[int], tuple[bytes, bool]]], RawServer]]:
    servers: list[RawServer] = []

    def start(answer: Callable[[int], tuple[bytes, bool]]) -> RawServer:
        servers.append(RawServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def ok(body: bytes) -> tuple[bytes, bool]:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body, True


def cut_short(body: bytes, promised: int) -> tuple[bytes, bool]:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {promised}\r\n\r\n"
    return head.encode() + body, False


def big_json(megabytes: int) -> bytes:
    return b'{"items": [' + b",".join(b'"%07d"' % i for i in range(megabytes * 100_000)) + b"]}"


def test_a_body_of_several_megabytes_arrives_whole_and_the_connection_is_reused(raw_server):
    body = big_json(3)
    server = raw_server(lambda _: ok(body))
    transport = Transport(server.url, conn_id="raw", policy=NO_WAIT)
    first = transport.request("GET", "/big")
    second = transport.request("GET", "/big")
    assert first.content == body and second.json()["items"][-1] == "0299999"
    assert len(first.content) > 3_000_000
    assert [s.connection for s in server.seen] == [1, 1]  # the pooled connection, read to its end


def test_a_body_cut_short_is_a_dropped_answer_retried_when_idempotent(raw_server):
    body = big_json(2)
    server = raw_server(lambda n: cut_short(body[:1_500_000], len(body)) if n == 1 else ok(body))
    sleeps: list[float] = []
    transport = Transport(server.url, conn_id="raw", policy=NO_WAIT, sleep=sleeps.append)
    assert transport.request("GET", "/big").content == body
    assert len(server.seen) == 2 and transport.stats.retries == 1


def test_a_body_cut_short_is_not_retried_for_a_write(raw_server):
    body = big_json(2)
    server = raw_server(lambda _: cut_short(body[:1_500_000], len(body)))
    transport = Transport(server.url, conn_id="raw", policy=NO_WAIT, sleep=lambda _: None)
    with pytest.raises(ContactsConnectionError) as caught:
        transport.request("POST", "/batch", json=[{"email": "a@example.com"}], idempotent=False)
    assert caught.value.not_sent is False  # it reached the server: the caller must not resend blindly
    assert len(server.seen) == 1


def encoded(body: bytes, encoding: str) -> tuple[bytes, bool]:
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {encoding}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body, True


def chunked(body: bytes, piece: int) -> tuple[bytes, bool]:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    parts = [body[i : i + piece] for i in range(0, len(body), piece)]
    return head + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n", True


def test_a_gzip_answer_is_decoded_and_a_chunked_one_read_whole_on_one_connection(raw_server):
    body = big_json(2)
    server = raw_server(lambda n: encoded(gzip.compress(body), "gzip") if n == 1 else chunked(body, 65_000))
    transport = Transport(server.url, conn_id="raw", policy=NO_WAIT)
    zipped, pieces = transport.request("GET", "/z"), transport.request("GET", "/c")
    assert zipped.content == body and pieces.content == body
    assert zipped.json()["items"][-1] == "0199999"
    assert b"".join(zipped.iter_content(100_000)) == body  # the body read stays readable
    assert [s.connection for s in server.seen] == [1, 1]


def test_an_answer_that_cannot_be_decoded_is_a_dropped_answer(raw_server):
    server = raw_server(lambda _: encoded(b"not gzip at all", "gzip"))
    transport = Transport(server.url, conn_id="raw", policy=NO_WAIT, sleep=lambda _: None)
    with pytest.raises(ContactsConnectionError, match="(?i)decod"):
        transport.request("POST", "/batch", json=[{"email": "a@example.com"}], idempotent=False)
    assert len(server.seen) == 1


def test_a_body_that_stalls_past_the_read_timeout_is_dropped_and_retried_when_idempotent(raw_server):
    body = big_json(1)

    def answer(n: int) -> tuple[bytes, bool]:
        if n == 1:  # the head and half the body, then nothing: the connection stays open
            head, _ = ok(body)
            return head[: len(head) - len(body) // 2], True
        return ok(body)

    server = raw_server(answer)
    sleeps: list[float] = []
    transport = Transport(
        server.url, conn_id="raw", policy=NO_WAIT, sleep=sleeps.append, timeouts=Timeouts(connect=2, read=0.3)
    )
    assert transport.request("GET", "/slow").content == body
    assert len(server.seen) == 2 and transport.stats.retries == 1
    with pytest.raises(ContactsConnectionError) as caught:
        stalled = raw_server(lambda _: (ok(body)[0][:200_000], True))
        Transport(stalled.url, conn_id="raw", policy=NO_WAIT, timeouts=Timeouts(connect=2, read=0.3)).request(
            "POST", "/batch", json=[{"email": "a@example.com"}], idempotent=False
        )
    assert caught.value.not_sent is False


def test_the_proxy_of_the_environment_is_used_and_no_proxy_is_honoured(raw_server, monkeypatch):
    proxy = raw_server(lambda _: ok(b'{"via": "proxy"}'))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "")
    proxied = Transport(
        "http://contacts.example.com/api", conn_id="p", policy=NO_WAIT, allow_insecure_http=True
    )
    assert proxied.request("GET", "/contacts").json() == {"via": "proxy"}
    assert proxy.seen[0].request_line == "GET http://contacts.example.com/api/contacts HTTP/1.1"

    direct = raw_server(lambda _: ok(b'{"via": "direct"}'))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert Transport(direct.url, conn_id="d", policy=NO_WAIT).request("GET", "/x").json() == {"via": "direct"}
    assert len(proxy.seen) == 1 and direct.seen[0].request_line == "GET /x HTTP/1.1"


def test_netrc_never_adds_credentials(raw_server, monkeypatch, tmp_path):
    server = raw_server(lambda _: ok(b"{}"))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    Transport(server.url, conn_id="n", policy=NO_WAIT).request("GET", "/x")
    assert "authorization" not in server.seen[0].headers


def test_the_ca_bundle_of_the_environment_applies_when_verify_is_true(monkeypatch, tmp_path):
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    default = Transport("https://contacts.example.com", conn_id="v")
    default.session  # noqa: B018  # builds the session, reading the environment once
    assert default._verify == str(bundle)
    own = Transport("https://contacts.example.com", conn_id="v", verify=False)
    own.session  # noqa: B018
    assert own._verify is False  # verify_ssl wins over the environment
