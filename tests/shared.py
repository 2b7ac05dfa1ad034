"""Plain helpers that tests/unit and tests/integration both use (the shared fixtures are in
conftest.py): a minimal hook over the sandbox's echo target, the numeric extras every form
declares, a fake HTTP answer, and a fake client that drives the attempt loop from a script of
answers."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_contacts.hooks.base import ContactsHook, EventPlanMixin
from airflow_provider_contacts.http.auth import BasicAuth
from airflow_provider_contacts.http.loop import Exclusive, Send, Sleep
from airflow_provider_contacts.http.plan import Call, Stepper


class EchoHook(EventPlanMixin, ContactsHook):
    """A minimal hook over the sandbox's echo target, to test the base class alone."""

    default_conn_name = "echo_default"
    conn_type = "echo"
    hook_name = "Echo"

    def build_auth(self):
        conn = self.connection
        return BasicAuth(self.require(conn.login, "login", "set it"), conn.password or "")

    def probe(self):
        self.transport.request("GET", "/anything")
        return "ok"

    def event_plan(self, query):
        first = yield Call("GET", "/anything")
        yield first["method"]
        second = yield Call("POST", "/anything", json={"n": 1}, idempotent=True)
        yield second["method"]


def set_conn(monkeypatch, conn_id: str, **conn):
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def _numeric_fields():
    """(connection type, extra, whole number?, minimum, maximum) of every numeric form field."""
    from airflow_provider_contacts.get_provider_info import CONNECTION_TYPES

    for conf in CONNECTION_TYPES:
        for name, field in conf["conn-fields"].items():
            schema = field["schema"]
            if "integer" in schema["type"] or "number" in schema["type"]:
                yield (
                    conf["connection-type"],
                    name,
                    "integer" in schema["type"],
                    schema["minimum"],
                    schema["maximum"],
                )


NUMERIC_FIELDS = list(_numeric_fields())


class FakeResponse:
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}
        self._body = body
        self.content = b"" if body is None else json.dumps(body).encode()

    def json(self) -> Any:
        return self._body


def drive(steps, script: list, record: list) -> Any:
    """A fake client: answers each Send from ``script`` and records every action."""
    run = Stepper(steps)
    for action in run:
        if isinstance(action, Send):
            call = action.call
            record.append(("send", call.method, call.path, call.headers.get("Authorization")))
            run.answer = script.pop(0)
        elif isinstance(action, Sleep):
            record.append(("sleep", action.seconds))
        else:
            assert isinstance(action, Exclusive)
            record.append(("exclusive",))
            run.answer = drive(action.steps, script, record)
    return run.result
