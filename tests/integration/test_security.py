"""Credentials go only to the connection's host; logs carry no query string or body.

* Redirects are answered by the sandbox (fault ``{"status": 302, "location": ...}``) or by a
  small TLS server, and point at a capture server on another loopback address: for every
  vendor's auth and both transports, the capture server must receive nothing.
* A real ContactEventsTrigger poll with the httpx/httpcore loggers at DEBUG logs no query
  string and no body.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import json
import logging
import socket
import ssl
import threading
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError, RedirectRefusedError
from airflow_provider_contacts.hooks import get_hook
from airflow_provider_contacts.http.client import AsyncTransport, Transport
from tests.integration.socket_servers import self_signed_certificate


# --------------------------------------------------------------------------------------------
# a server on another loopback host that records whatever reaches it
# --------------------------------------------------------------------------------------------
class _Recorder(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.seen: list[dict[str, Any]] = []
        self.url = ""


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append(  # type: ignore[attr-defined]
            {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
        )
        payload = b'{"access_token": "stolen", "expires_in": 3600}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass


def _other_loopback_host() -> str:
    """127.0.0.2 where the OS allows it (Linux), else the same address (a different port is a
    different origin too)."""
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    except OSError:
        return "127.0.0.1"


@pytest.fixture
def other_host():
    server = _Recorder((_other_loopback_host(), 0), _RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    server.url = f"http://{host!s}:{port}"
    yield server
    server.shutdown()
    server.server_close()


def _what_reached(server) -> str:
    return "; ".join(
        f"{r['method']} {r['path']} headers={sorted(r['headers'])} body={r['body'][:80]!r}"
        for r in server.seen
    )


# --------------------------------------------------------------------------------------------
# item 11: redirects never carry credentials to another host
# --------------------------------------------------------------------------------------------
MAUTIC_OAUTH = {
    "auth_type": "oauth2",
    "client_id": "1_sandboxclientid",
    "client_secret": "sandbox-client-secret",
}

#: (case id, vendor, connection changes, request, path the redirect answers)
AUTH_CASES = [
    ("mautic-basic", "mautic", {}, ("GET", "/api/contacts"), "/api/contacts"),
    (
        "mautic-oauth2-token-request",
        "mautic",
        {"extra": MAUTIC_OAUTH},
        ("GET", "/api/contacts"),
        "/oauth/v2/token",
    ),
    ("mautic-oauth2-bearer", "mautic", {"extra": MAUTIC_OAUTH}, ("GET", "/api/contacts"), "/api/contacts"),
    ("dmartech-signed", "dmartech", {}, ("GET", "/contact/contactPageList"), "/contact/contactPageList"),
    ("engagelab-basic", "engagelab", {}, ("GET", "/api/v2/accounts/contacts"), "/api/v2/accounts/contacts"),
    ("which50-header", "which50", {}, ("GET", "/contactLists"), "/contactLists"),
    (
        "which50-basic",
        "which50",
        {"login": "w50-user", "password": "w50-password-123", "extra": {"auth_type": "basic"}},
        ("GET", "/contactLists"),
        "/contactLists",
    ),
    ("which50-post", "which50", {}, ("POST", "/contactLists/1/contact"), "/contactLists/1/contact"),
]


def _use_conn(monkeypatch, sandbox, vendor: str, conn_id: str, changes: dict[str, Any]) -> None:
    conn = sandbox.emulator(vendor).connection(sandbox.url)
    changes = dict(changes)
    conn["extra"] = {**conn.get("extra", {}), **changes.pop("extra", {})}
    conn.update(changes)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def _send(hook, transport_kind: str, method: str, path: str) -> Any:
    body = {"Email": "someone@example.com"} if method == "POST" else None
    if transport_kind == "sync":
        return hook.transport.request(method, path, json=body)

    async def go():
        transport = hook.make_async_transport()
        try:
            return await transport.request(method, path, json=body)
        finally:
            await transport.aclose()

    return asyncio.run(go())


@pytest.mark.slow
@pytest.mark.parametrize("transport_kind", ["sync", "async"])
@pytest.mark.parametrize(
    "case, vendor, changes, call, redirected_path", AUTH_CASES, ids=[c[0] for c in AUTH_CASES]
)
def test_a_redirect_to_another_host_is_refused_and_no_credential_leaves(
    sandbox, monkeypatch, other_host, transport_kind, case, vendor, changes, call, redirected_path
):
    _use_conn(monkeypatch, sandbox, vendor, "redirected", changes)
    # 307 keeps the method and the body (a token request re-sent elsewhere would carry the
    # client secret); 302 is the everyday redirect of a GET
    status = 307 if call[0] == "POST" or redirected_path.startswith("/oauth") else 302
    sandbox.set_faults(
        vendors=[vendor],
        paths=[redirected_path],
        sequence=[{"status": status, "location": other_host.url + "{path}{query}"}],
    )
    hook = get_hook("redirected")
    with pytest.raises(RedirectRefusedError) as info:
        _send(hook, transport_kind, *call)
    assert other_host.seen == [], f"credentials followed the redirect: {_what_reached(other_host)}"
    message = str(info.value)
    host, port = other_host.server_address[:2]
    assert f"HTTP {status}" in message and f"{host}:{port}" in message and "not followed" in message
    assert "conn_id='redirected'" in message
    faults = [r["fault"] for r in sandbox.requests(vendor)]
    assert faults[-1] == f"redirect {status}" and faults.count(f"redirect {status}") == 1


@pytest.mark.slow
@pytest.mark.parametrize("transport_kind", ["sync", "async"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_redirect_status_to_another_host_is_refused(
    sandbox, monkeypatch, other_host, transport_kind, status
):
    sandbox.set_faults(vendors=["which50"], sequence=[{"status": status, "location": other_host.url + "/x"}])
    hook = get_hook("which50_default")
    with pytest.raises(RedirectRefusedError):
        _send(hook, transport_kind, "GET", "/contactLists")
    assert other_host.seen == [], _what_reached(other_host)
    assert len(sandbox.requests("which50")) == 1


def test_test_connection_explains_a_refused_redirect(sandbox, other_host):
    sandbox.set_faults(
        vendors=["which50"], sequence=[{"status": 301, "location": other_host.url + "/Which50API"}]
    )
    ok, message = get_hook("which50_default").test_connection()
    assert not ok and message.startswith("Redirect refused (HTTP 301): the API redirected to http://127.0.0.")
    assert "set the connection's host to its new address" in message
    assert other_host.seen == [] and len(sandbox.requests("which50")) == 1


@pytest.mark.parametrize("transport_kind", ["sync", "async"])
def test_a_redirect_to_the_same_host_is_followed_once_with_the_credentials(sandbox, transport_kind):
    sandbox.set_faults(vendors=["which50"], sequence=[{"status": 301, "location": "{path}{query}"}])
    hook = get_hook("which50_default")
    lists = _send(hook, transport_kind, "GET", "/contactLists?page=1").json()
    assert [x["Id"] for x in lists] == [1, 2]  # the emulator authenticated the second request
    seen = sandbox.requests("which50")
    assert [(r["status"], r["query"]) for r in seen] == [(301, "page=1"), (200, "page=1")]


@pytest.mark.parametrize("transport_kind", ["sync", "async"])
def test_a_followed_redirect_logs_no_query_string_at_debug(sandbox, caplog, transport_kind):
    sandbox.set_faults(vendors=["which50"], sequence=[{"status": 302, "location": "{path}{query}"}])
    for name in ("urllib3", "httpx", "httpcore", "airflow_provider_contacts"):
        caplog.set_level(logging.DEBUG, logger=name)
    _send(get_hook("which50_default"), transport_kind, "GET", "/contactLists?email=someone%40example.com")
    assert sandbox.requests("which50")[-1]["query"] == "email=someone%40example.com"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "following the redirect to /which50/Which50API/contactLists" in text
    assert "location" in text.lower() or transport_kind == "sync"  # httpcore logged the headers
    assert "someone" not in text and "?" not in text, text


@pytest.mark.parametrize("transport_kind", ["sync", "async"])
def test_a_write_redirected_with_307_on_the_same_host_keeps_its_method_and_body(sandbox, transport_kind):
    sandbox.set_faults(vendors=["echo"], sequence=[{"status": 307, "location": "{path}"}])
    if transport_kind == "sync":
        answer = (
            Transport(sandbox.base_url("echo"), conn_id="echo")
            .request("POST", "/anything", json={"n": 1})
            .json()
        )
    else:

        async def go():
            async with AsyncTransport(sandbox.base_url("echo"), conn_id="echo") as at:
                return (await at.request("POST", "/anything", json={"n": 1})).json()

        answer = asyncio.run(go())
    assert answer["method"] == "POST" and answer["body_bytes"] > 0
    assert [(r["method"], r["status"]) for r in sandbox.requests("echo")] == [("POST", 307), ("POST", 200)]


@pytest.mark.parametrize("transport_kind", ["sync", "async"])
@pytest.mark.parametrize("status", [301, 302, 303])
def test_a_write_redirected_to_a_get_is_refused_not_silently_dropped(sandbox, transport_kind, status):
    sandbox.set_faults(vendors=["echo"], sequence=[{"status": status, "location": "{path}"}])
    with pytest.raises(RedirectRefusedError, match="POST /anything.*would turn the write into a GET"):
        if transport_kind == "sync":
            Transport(sandbox.base_url("echo"), conn_id="echo").request("POST", "/anything", json={"n": 1})
        else:

            async def go():
                async with AsyncTransport(sandbox.base_url("echo"), conn_id="echo") as at:
                    await at.request("POST", "/anything", json={"n": 1})

            asyncio.run(go())
    assert [r["method"] for r in sandbox.requests("echo")] == ["POST"]


@pytest.mark.parametrize("transport_kind", ["sync", "async"])
def test_redirect_loops_are_cut(sandbox, transport_kind):
    sandbox.set_faults(vendors=["which50"], sequence=[{"status": 302, "location": "{path}"}] * 8)
    with pytest.raises(RedirectRefusedError, match="more than 5 redirects"):
        _send(get_hook("which50_default"), transport_kind, "GET", "/contactLists")
    assert len(sandbox.requests("which50")) == 6


def test_absolute_urls_to_another_host_are_refused_before_sending(sandbox, other_host):
    t = Transport(sandbox.base_url("echo"), conn_id="echo")
    with pytest.raises(ContactsConfigError, match="not the connection's host"):
        t.request("GET", other_host.url + "/anything")
    assert other_host.seen == []


# ---- https to http, through a real TLS server --------------------------------------------------
@pytest.fixture
def tls_redirector(tmp_path, other_host):
    """An https server on 127.0.0.1 that answers every request with a 302 to plain http."""
    cert, key = self_signed_certificate(tmp_path)
    target = other_host.url

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"https://127.0.0.1:{server.server_address[1]}/Which50API"  # type: ignore[attr-defined]
    server.cert = str(cert)  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("transport_kind", ["sync", "async"])
def test_https_to_http_redirect_is_refused(monkeypatch, tls_redirector, other_host, transport_kind):
    monkeypatch.setenv(
        "AIRFLOW_CONN_W50_TLS",
        json.dumps(
            {
                "conn_type": "which50",
                "host": tls_redirector.url,
                "extra": {
                    "header_name": "X-Api-Key",
                    "api_key": "tls-secret-key",
                    "verify_ssl": tls_redirector.cert,
                },
            }
        ),
    )
    hook = get_hook("w50_tls")
    with pytest.raises(RedirectRefusedError, match="plain http"):
        _send(hook, transport_kind, "GET", "/contactLists")
    assert other_host.seen == [], _what_reached(other_host)


# --------------------------------------------------------------------------------------------
# item 12: a trigger poll with httpx at DEBUG logs no query string and no body
# --------------------------------------------------------------------------------------------
def test_a_trigger_poll_with_httpx_at_debug_logs_no_query_string_or_body(sandbox, caplog):
    from airflow_provider_contacts.triggers.contact_events import ContactEventsTrigger

    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    for i in range(2):
        emu.state.upsert({"email": f"c{i}@example.com"})
    emu.add_event("form.submitted", 1)
    emu.add_event("email.read", 2)
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    trigger = ContactEventsTrigger(
        conn_id="mautic_default",
        since=since.isoformat(),
        min_events=2,
        include_types=["form.submitted", "email.read"],
        poke_interval=0.1,
    )

    async def run():
        return [event async for event in trigger.run()]

    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    events = asyncio.run(asyncio.wait_for(run(), timeout=30))
    assert events[0].payload["status"] == "success" and events[0].payload["summary"]["count"] == 2
    # the poll did send a query string, and the answer's body carried the event labels
    polls = [r for r in sandbox.requests("mautic") if r["path"].endswith("/activity")]
    assert polls and "filters" in polls[0]["query"]
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any(
        "HTTP Request: GET" in line and "/mautic/api/contacts/activity" in line for line in httpx_lines
    ), httpx_lines
    text = "\n".join(f"{r.name}: {r.getMessage()}" for r in caplog.records)
    for forbidden in (
        "?",
        "filters",
        "dateFrom",
        "includeEvents",
        "Request a demo",
        "Monthly newsletter",
        "c0@example.com",
    ):
        assert forbidden not in text, f"{forbidden!r} reached the logs:\n{text}"


@pytest.mark.slow
@pytest.mark.parametrize("verify", ["cert", False])
def test_verify_ssl_wins_over_the_ca_bundle_of_the_environment(monkeypatch, tls_redirector, verify):
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # does not trust our certificate
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    monkeypatch.setenv(
        "AIRFLOW_CONN_W50_TLS",
        json.dumps(
            {
                "conn_type": "which50",
                "host": tls_redirector.url,
                "extra": {
                    "api_key": "tls-secret-key",
                    "verify_ssl": tls_redirector.cert if verify == "cert" else False,
                },
            }
        ),
    )
    # the TLS handshake succeeds (the server's redirect is what stops the request)
    with pytest.raises(RedirectRefusedError):
        get_hook("w50_tls").transport.request("GET", "/contactLists")
