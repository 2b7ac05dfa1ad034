"""The seams of the HTTP layer without I/O: the attempt loop alone, both clients making the same
decisions for the same script of answers, and auth objects (fresh credentials on every attempt,
one renewal on invalid_grant)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import AuthenticationError, ContactsConnectionError
from airflow_provider_contacts.http.auth import HeaderAuth, OAuth2ClientCredentials
from airflow_provider_contacts.http.client import AsyncTransport, Transport
from airflow_provider_contacts.http.loop import AttemptLoop, Exclusive, Send, Sleep
from airflow_provider_contacts.http.plan import Call, Stepper
from airflow_provider_contacts.http.policy import RetryPolicy
from tests.shared import FakeResponse, drive

BASE = "https://api.example.com/v1"
NO_JITTER = RetryPolicy(jitter=False, backoff_initial=0.5, backoff_max=4.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def oauth(clock: Any = time.monotonic) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        "/oauth/token", "client-1", "client-secret-1", renew_codes=("invalid_grant",), clock=clock
    )


def token(value: str, expires_in: int = 3600) -> FakeResponse:
    return FakeResponse(200, {"access_token": value, "expires_in": expires_in})


def invalid_grant() -> FakeResponse:
    return FakeResponse(401, {"errors": [{"type": "invalid_grant", "message": "expired", "code": 401}]})


# ---- the attempt loop alone ----------------------------------------------------------------------
def test_the_attempt_loop_alone_yields_sends_and_waits_and_returns_the_answer():
    loop = AttemptLoop(BASE, conn_id="fake", policy=NO_JITTER, auth=HeaderAuth({"X-Api-Key": "k-1"}))
    steps = loop.exchange(Call("GET", "/items", params={"page": 1}))
    first = next(steps)
    assert isinstance(first, Send)
    assert (first.call.method, first.call.path, first.call.params) == ("GET", f"{BASE}/items", {"page": 1})
    assert first.call.headers == {
        "User-Agent": "airflow-provider-contacts",
        "Accept": "application/json",
        "X-Api-Key": "k-1",
    }
    assert steps.send(FakeResponse(503)) == Sleep(0.5)
    assert isinstance(steps.send(None), Send)
    assert steps.send(FakeResponse(429, headers={"Retry-After": "3"})) == Sleep(3.0)
    assert isinstance(steps.send(None), Send)
    done = FakeResponse(200, {"items": []})
    with pytest.raises(StopIteration) as info:
        steps.send(done)
    assert info.value.value is done
    assert loop.stats.as_dict() == {
        "requests": 3,
        "retries": 2,
        "waited_seconds": 3.5,
        "statuses": {"503": 1, "429": 1, "200": 1},
    }


def test_the_attempt_loop_follows_a_same_origin_redirect_without_counting_an_attempt():
    loop = AttemptLoop(BASE, conn_id="fake", policy=RetryPolicy(max_attempts=1))
    record: list = []
    script = [FakeResponse(302, headers={"Location": "/v1/moved?page=2"}), FakeResponse(200, {"ok": True})]
    answer = drive(loop.exchange(Call("GET", "/items", params={"page": 2})), script, record)
    assert answer.json() == {"ok": True}
    assert record == [("send", "GET", f"{BASE}/items", None), ("send", "GET", f"{BASE}/moved?page=2", None)]


def test_the_attempt_loop_never_repeats_a_write_that_may_have_been_applied():
    loop = AttemptLoop(BASE, conn_id="fake", policy=NO_JITTER)
    record: list = []
    with pytest.raises(ContactsConnectionError):
        drive(loop.exchange(Call("POST", "/points/plus/5")), [ContactsConnectionError("dropped")], record)
    assert record == [("send", "POST", f"{BASE}/points/plus/5", None)]  # no sleep, no second send
    refused = ContactsConnectionError("could not connect")
    refused.not_sent = True
    record.clear()
    drive(loop.exchange(Call("POST", "/points/plus/5")), [refused, FakeResponse(200, {})], record)
    assert [r[0] for r in record] == ["send", "sleep", "send"]


def test_the_attempt_loop_runs_the_token_request_itself_and_renews_once_on_invalid_grant():
    loop = AttemptLoop(BASE, conn_id="fake", auth=oauth())
    record: list = []
    script = [token("t1"), invalid_grant(), token("t2"), FakeResponse(201, {"id": 7})]
    answer = drive(loop.exchange(Call("POST", "/contacts/new", json={})), script, record)
    assert answer.json() == {"id": 7} and script == []
    token_call = ("send", "POST", f"{BASE}/oauth/token", None)  # never signed
    assert record == [
        ("exclusive",),
        token_call,
        ("send", "POST", f"{BASE}/contacts/new", "Bearer t1"),
        ("exclusive",),
        token_call,
        ("send", "POST", f"{BASE}/contacts/new", "Bearer t2"),
    ]
    # the next request finds the token ready: no refresh step at all
    record.clear()
    drive(loop.exchange(Call("GET", "/contacts/7")), [FakeResponse(200, {})], record)
    assert record == [("send", "GET", f"{BASE}/contacts/7", "Bearer t2")]


def test_a_second_invalid_grant_is_raised_after_one_renewal():
    loop = AttemptLoop(BASE, conn_id="fake", auth=oauth())
    record: list = []
    with pytest.raises(AuthenticationError) as info:
        drive(
            loop.exchange(Call("GET", "/contacts/1")),
            [token("t1"), invalid_grant(), token("t2"), invalid_grant()],
            record,
        )
    assert info.value.vendor_code == "invalid_grant" and info.value.conn_id == "fake"
    assert [r[0] for r in record].count("send") == 4


def test_a_token_answer_without_a_token_is_an_authentication_error_naming_the_connection():
    loop = AttemptLoop(BASE, conn_id="fake", auth=oauth())
    with pytest.raises(AuthenticationError, match="without an access_token") as info:
        drive(loop.exchange(Call("GET", "/contacts/1")), [FakeResponse(200, {"token_type": "bearer"})], [])
    assert info.value.conn_id == "fake"


def test_every_attempt_is_signed_afresh_so_a_long_wait_gets_a_new_token():
    clock = FakeClock()
    loop = AttemptLoop(BASE, conn_id="fake", auth=oauth(clock), clock=clock, policy=NO_JITTER)
    record: list = []
    steps = loop.exchange(Call("GET", "/contacts/1"))
    script = [
        token("t1", expires_in=120),
        FakeResponse(429, headers={"Retry-After": "110"}),
        token("t2", expires_in=120),
        FakeResponse(200, {}),
    ]
    run = Stepper(steps)
    for action in run:  # a driver whose sleep moves the clock
        if isinstance(action, Sleep):
            clock.now += action.seconds
        elif isinstance(action, Exclusive):
            run.answer = drive(action.steps, script, record)
        else:
            record.append(
                ("send", action.call.method, action.call.path, action.call.headers.get("Authorization"))
            )
            run.answer = script.pop(0)
    # 120 s tokens are refreshed 12 s early: after the 110 s wait the first one is stale
    fetch = ("send", "POST", f"{BASE}/oauth/token", None)
    assert record == [
        fetch,
        ("send", "GET", f"{BASE}/contacts/1", "Bearer t1"),
        fetch,
        ("send", "GET", f"{BASE}/contacts/1", "Bearer t2"),
    ]


# ---- both clients, one script ----------------------------------------------------------------------
def _script() -> list:
    dropped = ContactsConnectionError("connection dropped before a full answer (ReadError)")
    return [
        token("t1"),
        dropped,
        FakeResponse(503),
        FakeResponse(429, headers={"Retry-After": "2"}),
        FakeResponse(302, headers={"Location": "/v1/moved?page=2"}),
        invalid_grant(),
        token("t2"),
        FakeResponse(200, {"ok": True}),
    ]


def _run_sync(call: Call, script: list) -> dict:
    sends: list = []
    sleeps: list = []
    client = Transport(BASE, conn_id="same", auth=oauth(), policy=NO_JITTER, sleep=sleeps.append)

    def send_once(c: Call) -> Any:
        sends.append((c.method, c.path, c.params, c.headers.get("Authorization")))
        return script.pop(0)

    client._send_once = send_once  # type: ignore[method-assign,assignment]  # scripted answers
    try:
        outcome: Any = client.send(call).json()
    except Exception as err:  # compared below
        outcome = (type(err).__name__, str(err))
    return {"sends": sends, "sleeps": sleeps, "stats": client.stats.as_dict(), "outcome": outcome}


def _run_async(call: Call, script: list) -> dict:
    sends: list = []
    sleeps: list = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def run() -> dict:
        client = AsyncTransport(BASE, conn_id="same", auth=oauth(), policy=NO_JITTER, sleep=sleep)

        async def send_once(c: Call) -> Any:
            sends.append((c.method, c.path, c.params, c.headers.get("Authorization")))
            return script.pop(0)

        client._send_once = send_once  # type: ignore[method-assign,assignment]  # scripted answers
        try:
            outcome: Any = (await client.send(call)).json()
        except Exception as err:
            outcome = (type(err).__name__, str(err))
        return {"sends": sends, "sleeps": sleeps, "stats": client.stats.as_dict(), "outcome": outcome}

    return asyncio.run(run())


def test_both_clients_make_the_same_decisions_for_the_same_answers():
    call = Call("GET", "/items", params={"page": 2})
    sync, async_ = _run_sync(call, _script()), _run_async(call, _script())
    assert sync == async_
    moved = f"{BASE}/moved?page=2"
    assert sync["sends"] == [
        ("POST", f"{BASE}/oauth/token", None, None),
        *[("GET", f"{BASE}/items", {"page": 2}, "Bearer t1")] * 4,
        ("GET", moved, None, "Bearer t1"),
        ("POST", f"{BASE}/oauth/token", None, None),
        ("GET", moved, None, "Bearer t2"),
    ]
    assert sync["sleeps"] == [0.5, 1.0, 2.0] and sync["outcome"] == {"ok": True}
    assert sync["stats"]["requests"] == 8 and sync["stats"]["retries"] == 3


@pytest.mark.parametrize(
    "script, expected",
    [
        ([FakeResponse(503)] * 5, ("ServerError", 5, [0.5, 1.0, 2.0, 4.0])),
        ([FakeResponse(400, {"message": "bad field"})], ("InvalidRequestError", 1, [])),
        (
            [FakeResponse(302, headers={"Location": "http://api.example.com/v1/x"})],
            ("RedirectRefusedError", 1, []),
        ),
    ],
)
def test_both_clients_fail_the_same_way(script, expected):
    call = Call("GET", "/items")
    sync = _run_sync(call, [token("t1"), *script])
    async_ = _run_async(call, [token("t1"), *script])
    assert sync == async_
    name, sends, sleeps = expected
    assert sync["outcome"][0] == name and "conn_id='same'" in sync["outcome"][1]
    assert len(sync["sends"]) == 1 + sends and sync["sleeps"] == sleeps
