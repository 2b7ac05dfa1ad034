"""The sandbox alone: fault injection (rates are seeded and proportional) and the request log."""

from __future__ import annotations

from airflow_provider_contacts.sandbox.faults import FaultConfig, FaultInjector


def test_fault_rates_are_seeded_and_proportional():
    def run(seed):
        injector = FaultInjector(FaultConfig(rate_429=0.1, rate_5xx=0.1, rate_drop=0.1), seed=seed)
        return [injector.decide("echo", "GET", "/x") for _ in range(3000)]

    first = run(7)
    assert first == run(7)
    statuses = [a.get("status") or a.get("drop") for a in first if a]
    for kind in (429, 503, "drop"):
        assert 240 <= statuses.count(kind) <= 360


def test_a_request_is_logged_before_the_last_piece_of_its_answer_leaves():
    """A client that has a whole answer finds its request in the sandbox's log: the entry is
    written before the last body message is handed to the server (after it, a server waiting
    on a full socket buffer let the log lag behind the client under load)."""
    import asyncio

    from airflow_provider_contacts.sandbox.app import Sandbox, SandboxConfig, create_app

    sandbox = Sandbox(SandboxConfig(vendors=["echo"]))
    app = create_app(sandbox)
    seen_at_last_piece: list[int] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            seen_at_last_piece.append(len(sandbox.requests("echo")))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/echo/anything",
        "raw_path": b"/echo/anything",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    for _ in range(3):
        asyncio.run(app(scope, receive, send))
    assert seen_at_last_piece == [1, 2, 3]
    assert [(e["method"], e["path"], e["status"]) for e in sandbox.requests("echo")] == [
        ("GET", "/echo/anything", 200)
    ] * 3

    # a request still being served when the log is cleared (a reset between two tests, after
    # a client gave up on it) is not logged afterwards, in the next test's log
    async def receive_while_reset() -> dict:
        sandbox.reset()
        return {"type": "http.request", "body": b"{}", "more_body": False}

    post = {**scope, "method": "POST", "headers": [(b"host", b"x"), (b"content-type", b"application/json")]}
    asyncio.run(app(post, receive_while_reset, send))
    assert sandbox.requests("echo") == []
    asyncio.run(app(scope, receive, send))
    assert len(sandbox.requests("echo")) == 1
