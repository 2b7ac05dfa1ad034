"""EngageLab LiveDesk hook against its emulator over real HTTP: paging semantics, search,
create/update with LiveDesk's 422s, upsert through the operator, and contact events."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
import requests

from airflow_provider_contacts.exceptions import ContactsConfigError, InvalidRequestError, NotFoundError
from airflow_provider_contacts.hooks.engagelab import EngageLabHook
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator


def calls(sandbox, method: str | None = None) -> list[dict]:
    return [r for r in sandbox.requests("engagelab") if method is None or r["method"] == method]


def context():
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="task", map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti}


def test_emulator_pages_by_15_and_echoes_current_page_raw(sandbox):
    base = sandbox.base_url("engagelab") + "/api/v2/accounts/contacts"
    auth = ("sandbox-api-key", "sandbox-api-secret")
    first = requests.get(base, auth=auth).json()
    assert first["meta"] == {"count": 23, "current_page": 1}  # 25 seeded, 2 unresolved visitors not listed
    assert len(first["payload"]) == 15
    second = requests.get(base, params={"page": 2}, auth=auth).json()
    assert second["meta"]["current_page"] == "2" and len(second["payload"]) == 8
    assert requests.get(base, auth=("sandbox-api-key", "wrong")).status_code == 401
    assert requests.get(base, auth=("sandbox-api-key", "wrong")).json() == {"error": "Invalid Access Token"}


def test_list_search_labels_and_sort(sandbox):
    hook = EngageLabHook()
    everyone = list(hook.iter_contacts())
    assert len(everyone) == 23 and len({c["id"] for c in everyone}) == 23
    assert len(calls(sandbox)) == 2  # ceil(23 / 15), stopped by page * 15 >= count
    assert [c["email"] for c in hook.search_contacts("ld13@")] == ["ld13@example.com"]
    vip = list(hook.iter_contacts(labels=["vip"]))
    assert {c["id"] for c in vip} == {
        c["id"]
        for c in sandbox.emulator("engagelab").contacts.values()
        if "vip" in c["labels"] and c["email"]
    }
    newest = hook.list_contacts(sort="created_at", direction="desc")["contacts"]
    assert newest[0]["created_at"] >= newest[-1]["created_at"]
    assert parse_qs(calls(sandbox)[-1]["query"])["direction"] == ["desc"]


def test_create_update_and_the_documented_errors(sandbox):
    hook = EngageLabHook()
    created = hook.create_contact({"name": "Ann", "email": "Ann@Example.com", "phone_number": "+6591234567"})
    emu = sandbox.emulator("engagelab")
    assert emu.contacts[created["id"]]["email"] == "ann@example.com"  # lower-cased by LiveDesk
    hook.update_contact(created["id"], {"custom_attributes": {"plan": "pro"}})
    hook.update_contact(created["id"], {"custom_attributes": {"seats": 3}})
    assert emu.contacts[created["id"]]["custom_attributes"] == {"plan": "pro", "seats": 3}  # merged

    with pytest.raises(InvalidRequestError) as taken:
        hook.create_contact({"email": "ann@example.com", "phone_number": "12345"})
    assert taken.value.status == 422
    assert taken.value.message == "Email has already been taken, Phone number should be in e164 format"
    assert taken.value.vendor_code == "email,phone_number"
    with pytest.raises(NotFoundError, match="Resource could not be found"):
        hook.update_contact(99999, {"name": "x"})
    with pytest.raises(ContactsConfigError, match="inbox_id is missing"):
        _no_inbox(sandbox)


def _no_inbox(sandbox):
    import os

    conn = json.loads(os.environ["AIRFLOW_CONN_ENGAGELAB_DEFAULT"])
    conn["extra"] = {}
    os.environ["AIRFLOW_CONN_ENGAGELAB_NOINBOX"] = json.dumps(conn)
    try:
        before = len(sandbox.requests("engagelab"))
        try:
            EngageLabHook("engagelab_noinbox").create_contact({"email": "z@example.com"})
        finally:
            assert len(sandbox.requests("engagelab")) == before  # refused before any request
    finally:
        del os.environ["AIRFLOW_CONN_ENGAGELAB_NOINBOX"]


def test_upsert_operator_creates_updates_leaves_alone_and_rejects_per_row(sandbox, tmp_path):
    emu = sandbox.emulator("engagelab")
    rows = [
        {
            "email": "ld0@example.com",
            "name": "Lena Park 0",
            "plan": emu.contacts[1]["custom_attributes"]["plan"],
        },  # unchanged
        {"email": "LD2@example.com", "name": "Lena Renamed"},  # updated (email matched case-insensitively)
        {
            "email": "new1@example.com",
            "name": "New One",
            "phone_number": "+6580000001",
            "plan": "pro",
        },  # created
        {"email": "new2@example.com", "phone_number": "0800"},  # rejected by LiveDesk: not E.164
        {"email": "new3@example.com", "phone_number": "+6590000000"},  # rejected: phone taken by ld0
    ]
    rejects = tmp_path / "rejects.ndjson"
    op = UpsertContactsOperator(
        task_id="up", conn_id="engagelab_default", rows=rows, rejects_path=str(rejects), max_rejected=5
    )
    summary = op.execute(context())
    assert (summary["created"], summary["updated"], summary["unchanged"], summary["rejected"]) == (1, 1, 1, 2)
    assert emu.contact_by_email("ld2@example.com")["name"] == "Lena Renamed"
    new = emu.contact_by_email("new1@example.com")
    assert new["custom_attributes"] == {"plan": "pro"} and new["phone_number"] == "+6580000001"
    assert (
        emu.contact_by_email("new2@example.com") is None and emu.contact_by_email("new3@example.com") is None
    )
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["index"], r["status"], r["message"]) for r in lines] == [
        (3, 422, "Phone number should be in e164 format"),
        (4, 422, "Phone number has already been taken"),
    ]
    # one search per row, plus one write per created or updated or rejected row
    assert (
        len(calls(sandbox, "GET")) == 5
        and len(calls(sandbox, "POST")) == 3
        and len(calls(sandbox, "PATCH")) == 1
    )


def test_upsert_survives_a_create_whose_answer_was_lost(sandbox):
    hook = EngageLabHook()
    sandbox.set_faults(sequence=["drop_after"], vendors=["engagelab"], methods=["POST"])  # the create is lost
    outcomes = hook.upsert_batch([{"email": "lost@example.com", "name": "Lost"}], "email")
    emu = sandbox.emulator("engagelab")
    assert [c["email"] for c in emu.contacts.values()].count("lost@example.com") == 1
    assert [(o.outcome, o.message) for o in outcomes] == [
        ("created", "the answer to the create was lost; the repeat found the contact")
    ]
    # search, create (processed, answer lost), the repeat (422 taken), search again
    assert [(r["method"], r["status"]) for r in calls(sandbox)] == [
        ("GET", 200),
        ("POST", 200),
        ("POST", 422),
        ("GET", 200),
    ]


def test_upsert_key_must_be_a_unique_livedesk_field(sandbox):
    with pytest.raises(ContactsConfigError, match='key "name" cannot identify a LiveDesk contact'):
        EngageLabHook().upsert_batch([{"name": "x"}], "name")
    assert calls(sandbox) == []


def test_events_are_new_and_active_contacts_in_the_window(sandbox):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("engagelab")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    old = emu.add_contact(email="old@example.com", created_at=int((now - timedelta(days=3)).timestamp()))
    emu.add_contact(email="new@example.com", created_at=int((now - timedelta(minutes=5)).timestamp()))
    emu.add_contact(email="nobody", created_at=int(now.timestamp()))  # at `until`: excluded
    emu.touch(old["id"], now - timedelta(minutes=2))
    events = list(EngageLabHook().iter_events(now - timedelta(hours=1), now))
    assert sorted((e.event_type, e.raw["email"]) for e in events) == [
        ("contact.active", "old@example.com"),
        ("contact.created", "new@example.com"),
    ]
    assert all(e.vendor == "engagelab" for e in events)
    only_new = list(
        EngageLabHook().iter_events(now - timedelta(hours=1), now, include_types=["contact.created"])
    )
    assert [e.raw["email"] for e in only_new] == ["new@example.com"]


def test_test_connection_messages(sandbox, monkeypatch):
    ok, message = EngageLabHook().test_connection()
    assert ok and "23 contacts visible, inbox_id 1" in message
    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_ENGAGELAB_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_ENGAGELAB_BAD", json.dumps({**conn, "password": "nope"}))
    ok, message = EngageLabHook("engagelab_bad").test_connection()
    assert not ok and message.startswith(
        "Bad credentials: LiveDesk refused the API key/secret (HTTP 401): Invalid Access Token"
    )
    monkeypatch.setenv("AIRFLOW_CONN_ENGAGELAB_PATH", json.dumps({**conn, "host": conn["host"] + "/wrong"}))
    ok, message = EngageLabHook("engagelab_path").test_connection()
    assert not ok and message.startswith("Not found (HTTP 404)")


@pytest.mark.parametrize("count_means", ["total", "page"])
def test_every_contact_is_listed_whatever_meta_count_means(sandbox, count_means):
    """ "count: count of results": the total, or the length of the page. Paging stops on a short or
    empty page, so both readings list everyone."""
    sandbox.reset(empty=True)
    emu = sandbox.emulator("engagelab")
    emu.settings["count_means"] = count_means
    now = int(datetime.now(timezone.utc).timestamp())
    for i in range(45):  # exactly 3 full pages
        emu.add_contact(email=f"c{i}@example.com", created_at=now - 3600 + i)
    hook = EngageLabHook()
    assert len({c["id"] for c in hook.iter_contacts()}) == 45
    created = list(
        hook.iter_events(
            datetime.fromtimestamp(now - 7200, timezone.utc), datetime.fromtimestamp(now, timezone.utc)
        )
    )
    assert len(created) == 45
    first = requests.get(
        sandbox.base_url("engagelab") + "/api/v2/accounts/contacts",
        auth=("sandbox-api-key", "sandbox-api-secret"),
    ).json()["meta"]["count"]
    assert first == (45 if count_means == "total" else 15)
    ok, message = hook.test_connection()
    assert (
        ok
        and ("45 contacts visible" if count_means == "total" else "at least 15 contacts visible") in message
    )


@pytest.mark.parametrize("field_types", ["numbers", "strings"])
def test_events_are_found_whether_ids_and_times_are_numbers_or_strings(sandbox, field_types):
    """The field table says String for id, created_at and last_activity_at, the example shows
    numbers: the emulator plays both, the hook reads both."""
    sandbox.reset(empty=True)
    emu = sandbox.emulator("engagelab")
    emu.settings.update(field_types=field_types, null_last_activity="null")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    a = emu.add_contact(email="a@example.com", created_at=int((now - timedelta(minutes=30)).timestamp()))
    b = emu.add_contact(email="b@example.com", created_at=int((now - timedelta(days=3)).timestamp()))
    emu.touch(b["id"], now - timedelta(minutes=10))
    emu.add_contact(email="c@example.com", created_at=int((now - timedelta(minutes=20)).timestamp()))
    raw = requests.get(
        sandbox.base_url("engagelab") + "/api/v2/accounts/contacts",
        auth=("sandbox-api-key", "sandbox-api-secret"),
    ).json()["payload"]
    kind = str if field_types == "strings" else int
    assert all(isinstance(c["id"], kind) and isinstance(c["created_at"], kind) for c in raw)
    assert raw[0]["last_activity_at"] is None  # null, not omitted, in this setting
    events = list(EngageLabHook().iter_events(now - timedelta(hours=1), now))
    assert sorted((e.event_type, e.contact_id) for e in events) == [
        ("contact.active", str(b["id"])),
        ("contact.created", str(a["id"])),
        ("contact.created", str(a["id"] + 2)),
    ]
    only_a = list(EngageLabHook().iter_events(now - timedelta(hours=1), now, contact_ids=[str(a["id"])]))
    assert [e.contact_id for e in only_a] == [str(a["id"])]


def test_a_time_that_cannot_be_read_is_a_logged_counted_skip(sandbox, caplog):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("engagelab")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    good = emu.add_contact(email="good@example.com", created_at=int((now - timedelta(minutes=5)).timestamp()))
    bad = emu.add_contact(email="bad@example.com", created_at=int((now - timedelta(minutes=5)).timestamp()))
    bad["created_at"] = "last tuesday"
    hook = EngageLabHook()
    with caplog.at_level("WARNING"):
        events = list(hook.iter_events(now - timedelta(hours=1), now))
    assert [e.contact_id for e in events] == [str(good["id"])]
    assert hook.unreadable_events == 1
    assert any(
        "skipped an event that cannot be read (1 so far)" in r.getMessage()
        and f"contact {bad['id']}" in r.getMessage()
        and "'last tuesday'" in r.getMessage()
        for r in caplog.records
    )


def test_the_emulator_shows_every_documented_inbox_key_and_source_id(sandbox):
    hook = EngageLabHook()
    created = hook.create_contact({"name": "Inboxed", "email": "inboxed@example.com"})
    listed = hook.list_contacts(q="inboxed@example.com")["contacts"][0]
    inbox = listed["contact_inboxes"][0]["inbox"]
    assert set(inbox) == {"id", "channel_id", "name", "channel_type", "provider"}
    assert listed["contact_inboxes"][0]["source_id"]
    seeded = [c for c in hook.iter_contacts() if (c.get("additional_attributes") or {}).get("source_id")]
    assert seeded and all(c["additional_attributes"]["source_id"].startswith("email:") for c in seeded)
    assert created["id"] == listed["id"]
