"""Which50 hook against its emulator over real HTTP: pluggable auth, PascalCase reads,
per-contact upserts matched on the key field, communications as normalised events."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError, NotFoundError, PermissionDeniedError
from airflow_provider_contacts.hooks.which50 import Which50Hook
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator


def calls(sandbox, method: str | None = None) -> list[dict]:
    return [r for r in sandbox.requests("which50") if method is None or r["method"] == method]


def context():
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="task", map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti}


def with_conn(monkeypatch, sandbox, conn_id: str, **extra):
    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_WHICH50_DEFAULT"])
    conn["extra"] = {**conn["extra"], **extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return Which50Hook(conn_id)


def test_reads_lists_fields_contact_and_communications(sandbox):
    hook = Which50Hook()
    emu = sandbox.emulator("which50")
    lists = hook.list_contact_lists()
    assert [(x["Id"], x["Name"]) for x in lists] == [(1, "Newsletter"), (2, "Events")]
    assert [f["Name"] for f in hook.list_fields(1)] == [
        "Email",
        "FirstName",
        "LastName",
        "Mobile",
        "ReferanceAccountId",
    ]
    enc = next(iter(emu.contacts))
    assert hook.get_contact(enc)["EncContactId"] == enc
    emu.add_interaction(enc, "Email", "Welcome", "Opened")
    comms = hook.get_communications(enc)
    assert comms[-1]["Name"] == "Welcome" and comms[-1]["Occurred"].endswith("+00:00")
    assert hook.get_emails(enc)[-1] == {**hook.get_emails(enc)[-1], "Name": "Welcome", "Open": 1, "Link": 0}
    with pytest.raises(NotFoundError, match="Contact nope was not found"):
        hook.get_contact("nope")
    assert all(r["status"] in (200, 404) for r in calls(sandbox))


def test_communications_become_normalised_events_in_the_window(sandbox):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("which50")
    a = emu.add_contact(1, {"Email": "a@example.ie"})["EncContactId"]
    b = emu.add_contact(1, {"Email": "b@example.ie"})["EncContactId"]
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    emu.add_interaction(a, "Email", "News", "Opened", t0)
    emu.add_interaction(
        a, "WebForm", "Demo", "Submitted", t0 + timedelta(hours=1), campaign=(9, "Demo drive")
    )
    emu.add_interaction(b, "SMS", "Reminder", "Delivered", t0 + timedelta(hours=2))  # == until: excluded
    events = list(Which50Hook().iter_events(t0, t0 + timedelta(hours=2), contact_ids=[a, b]))
    assert [(e.event_type, e.contact_id, e.occurred_at, e.label, e.campaign) for e in events] == [
        ("email", a, t0, "News", "Autumn 2026"),
        ("webform", a, t0 + timedelta(hours=1), "Demo", "Demo drive"),
    ]
    assert events[0].raw["Status"] == "Opened" and events[0].vendor == "which50"
    assert len(calls(sandbox)) == 2  # one per contact
    forms = list(
        Which50Hook().iter_events(
            t0, t0 + timedelta(days=1), contact_ids=[a, b], include_types=["WebForm", "sms"]
        )
    )
    assert [e.event_type for e in forms] == ["webform", "sms"]
    with pytest.raises(
        ContactsConfigError, match="Which50 lists activity per contact only: give contact_ids"
    ):
        list(Which50Hook().iter_events(t0, t0 + timedelta(days=1)))


def test_occurred_is_read_on_every_python_and_an_unreadable_one_is_counted_and_logged(
    sandbox, tmp_path, caplog
):
    """Which50 writes ``Occurred`` with 7 fractional digits and an offset, which Python 3.10's
    ``fromisoformat`` refuses; a communication that cannot be read is skipped, counted and logged."""
    from airflow_provider_contacts.operators.activity import FetchContactActivityOperator

    sandbox.reset(empty=True)
    emu = sandbox.emulator("which50")
    a = emu.add_contact(1, {"Email": "a@example.ie"})["EncContactId"]
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    emu.add_interaction(a, "Email", "News", "Opened", t0)  # 2026-11-20T09:00:00.0000000+00:00
    emu.add_interaction(a, "SMS", "Offset", "Delivered")["Occurred"] = "2026-11-20T17:30:00.1234567+08:00"
    bad = emu.add_interaction(a, "Email", "Broken", "Opened", t0)
    bad["Occurred"] = "20 Nov 2026 09:00"
    missing = emu.add_interaction(a, "Email", "No date", "Opened", t0)
    del missing["Occurred"]
    out = tmp_path / "events.ndjson"
    with caplog.at_level("WARNING"):
        summary = FetchContactActivityOperator(
            task_id="t",
            conn_id="which50_default",
            contact_ids=[a],
            output_path=str(out),
            since=t0.isoformat(),
            until=(t0 + timedelta(hours=1)).isoformat(),
        ).execute(context())
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["event_type"], r["occurred_at"]) for r in rows] == [
        ("email", "2026-11-20T09:00:00.000000Z"),
        ("sms", "2026-11-20T09:30:00.123456Z"),
    ]
    assert (summary["events"], summary["unreadable_events"]) == (2, 2)
    warnings = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert warnings == [
        "Which50 (which50_default): skipped an event that cannot be read (1 so far): "
        f"communication {bad['Id']!r}: Occurred '20 Nov 2026 09:00' is not an ISO 8601 date-time",
        "Which50 (which50_default): skipped an event that cannot be read (2 so far): "
        f"communication {missing['Id']!r} has no Id or no Occurred",
    ]


def test_upsert_operator_matches_on_the_key_field_and_checks_the_columns(sandbox, tmp_path):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("which50")
    emu.add_contact(1, {"Email": "known@example.ie", "FirstName": "Old"})
    rows = [
        {"email": "known@example.ie", "firstname": "New"},  # updated (fields matched case-insensitively)
        {"email": "fresh@example.ie", "FirstName": "Fresh", "Mobile": "353871234567"},  # created
        {"email": "x@example.ie", "shoe_size": 44},  # not a list field: the whole input is refused
    ]
    rejects = tmp_path / "rejects.ndjson"

    def upsert(**kwargs):
        return UpsertContactsOperator(
            task_id="up", conn_id="which50_default", rows=rows, rejects_path=str(rejects), **kwargs
        ).execute(context())

    with pytest.raises(ContactsConfigError) as err:
        upsert()
    assert (
        "column(s) of the rows are not fields of Which50 contact list 1 (Email, FirstName, LastName"
        in str(err.value)
        and "'shoe_size'" in str(err.value)
    )
    assert [(r["method"], r["path"]) for r in calls(sandbox)] == [
        ("GET", "/which50/Which50API/contactLists/1/fields")
    ]
    summary = upsert(unknown_columns="ignore")  # the column dropped from the row sent, counted
    assert (summary["created"], summary["updated"], summary["rejected"]) == (2, 1, 0)
    assert summary["unknown_columns_dropped"] == {"shoe_size": 1} and summary["unknown_column_count"] == 1
    assert emu.contact_by_value(1, "Email", "x@example.ie")["Values"] == {"Email": "x@example.ie"}
    assert emu.contact_by_value(1, "Email", "known@example.ie")["Values"]["FirstName"] == "New"
    assert emu.contact_by_value(1, "Email", "fresh@example.ie")["Values"] == {
        "Email": "fresh@example.ie",
        "FirstName": "Fresh",
        "Mobile": "353871234567",
    }
    assert len(emu.contacts) == 3
    posts = calls(sandbox, "POST")
    assert len(posts) == 3 and all(p["query"] == "match=Email" for p in posts)
    assert len(calls(sandbox, "GET")) == 2  # the list's fields, once per task
    assert rejects.read_text() == ""

    # the vendor's own validation is a per-row rejection with its message
    outcomes = Which50Hook().upsert_batch([{"Email": "not-an-email"}], "Email")
    assert outcomes[0].outcome == "rejected" and outcomes[0].http_status == 400
    assert "'not-an-email' is not a valid email address" in str(outcomes[0].message)


def test_upsert_is_replay_safe_when_the_answer_is_lost(sandbox):
    sandbox.reset(empty=True)
    sandbox.set_faults(sequence=["drop_after"], vendors=["which50"], methods=["POST"])
    outcomes = Which50Hook().upsert_batch([{"Email": "once@example.ie"}], "email")
    assert len(sandbox.emulator("which50").contacts) == 1  # matched on Email: the repeat updated it
    assert [o.outcome for o in outcomes] == ["updated"]
    assert [(r["method"], r["status"]) for r in calls(sandbox, "POST")] == [("POST", 201), ("POST", 200)]


def test_settings_errors_come_before_any_request(sandbox, monkeypatch):
    hook = with_conn(monkeypatch, sandbox, "which50_nolist", contact_list_id="")
    with pytest.raises(ContactsConfigError, match="contact_list_id is missing"):
        hook.upsert_batch([{"Email": "a@example.ie"}], "email")
    assert calls(sandbox) == []
    with pytest.raises(
        ContactsConfigError,
        match='key "phone" is not a field of Which50 contact list 1; its fields: Email, FirstName',
    ):
        Which50Hook().upsert_batch([{"phone": "1"}], "phone")
    assert Which50Hook(contact_list_id=2).contact_list_id() == 2  # hook_params win over the extra


def test_test_connection_messages(sandbox, monkeypatch):
    ok, message = Which50Hook().test_connection()
    assert ok and message.endswith("2 contact lists; contact list 1 (Newsletter) for upserts")
    ok, message = with_conn(monkeypatch, sandbox, "which50_bad", api_key="nope").test_connection()
    assert not ok and message.startswith(
        "Bad credentials: Which50 refused the header X-Api-Key (HTTP 401): Request has been denied"
    )
    assert "does not document its API authentication" in message
    ok, message = with_conn(monkeypatch, sandbox, "which50_list", contact_list_id=9).test_connection()
    assert (
        not ok
        and "contact_list_id 9 is not one of this account's lists: 1 (Newsletter), 2 (Events)" in message
    )
    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_WHICH50_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_WHICH50_PREFIX", json.dumps({**conn, "host": conn["host"] + "/api"}))
    ok, message = Which50Hook("which50_prefix").test_connection()
    assert not ok and message.startswith("Not found (HTTP 404)") and "route prefix" in message
    ro = with_conn(monkeypatch, sandbox, "which50_ro", api_key="sandbox-which50-readonly")
    with pytest.raises(
        PermissionDeniedError, match="relevant permissions"
    ):  # not a row problem: the task fails
        ro.upsert_batch([{"Email": "ro@example.ie"}], "email")


def test_interactions_of_different_types_with_the_same_id_are_two_events(sandbox):
    """The document calls ``Id`` "the ID of the Interaction": the emulator counts ids per type,
    so an Email and an SMS share Id 1000; both are events (keyed on type and Id)."""
    sandbox.reset(empty=True)
    emu = sandbox.emulator("which50")
    enc = emu.add_contact(1, {"Email": "same@example.ie"})["EncContactId"]
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    email = emu.add_interaction(enc, "Email", "News", "Opened", t0)
    sms = emu.add_interaction(enc, "SMS", "Reminder", "Delivered", t0 + timedelta(minutes=5))
    assert email["Id"] == sms["Id"] == 1000
    events = list(Which50Hook().iter_events(t0, t0 + timedelta(hours=1), contact_ids=[enc]))
    assert sorted((e.event_type, e.event_id) for e in events) == [("email", "1000"), ("sms", "1000")]
    assert len({e.dedup_key for e in events}) == 2


def test_the_emulator_speaks_json_or_xml_as_documented_and_the_hook_asks_for_json(sandbox):
    import xml.etree.ElementTree as ET

    import requests

    emu = sandbox.emulator("which50")
    enc = next(c for c, items in emu.interactions.items() if items)
    url = f"{sandbox.base_url('which50')}/contacts/{enc}/communications"
    key = {"X-Api-Key": "sandbox-which50-key"}
    as_json = requests.get(url, headers={**key, "Accept": "application/json"})
    assert as_json.headers["content-type"].startswith("application/json")
    assert requests.get(url, headers={**key, "Accept": "text/json"}).json() == as_json.json()
    for accept in ("application/xml", "text/xml", "text/html, application/xml;q=0.9, */*;q=0.8"):
        answer = requests.get(url, headers={**key, "Accept": accept})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml"), (
            accept
        )
    root = ET.fromstring(answer.content)
    ns = "{http://schemas.datacontract.org/2004/07/W50API.Models.DTO.Contacts}"
    system = "{http://schemas.datacontract.org/2004/07/System}"
    assert root.tag == f"{ns}ArrayOfContactInteraction"
    first, expected = root[0], as_json.json()[0]
    assert [child.tag.removeprefix(ns) for child in first] == sorted(expected)  # DataContract order
    assert first.findtext(f"{ns}Id") == str(expected["Id"])
    assert first.findtext(f"{ns}Occurred/{system}DateTime") == expected["Occurred"][:-6] + "Z"
    assert first.findtext(f"{ns}Occurred/{system}OffsetMinutes") == "0"
    assert requests.get(url, headers={**key, "Accept": "text/csv"}).status_code == 406
    denied = requests.get(url, headers={"Accept": "application/xml"})
    assert denied.status_code == 401 and str(ET.fromstring(denied.content).findtext("Message")).startswith(
        "Request has been denied"
    )
    # the hook asks for JSON whatever the server prefers
    hook = Which50Hook()
    assert hook.static_headers()["Accept"] == "application/json"
    assert hook.get_communications(enc) == as_json.json()
