"""MauticHook against the Mautic emulator over real HTTP, part 2: activity paging and windows, the
other endpoints (contact sub-resources, UTM tags, form errors as rejections), Test Connection.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    ContactsError,
    NotFoundError,
)
from airflow_provider_contacts.hooks.mautic.hook import MauticHook
from airflow_provider_contacts.sandbox.vendors.mautic import USER_CLIENT
from tests.integration.mautic_hook_support import calls, set_conn, three_contacts
from tests.integration.mautic_raw import IPHONE


# ---- activity -----------------------------------------------------------------------------
def _events(emu):
    start = datetime(2026, 11, 20, 9, 0, 0, tzinfo=timezone.utc)
    for kind, count in (("email.sent", 7), ("page.hit", 4), ("form.submitted", 1)):
        for i in range(count):
            emu.add_event(kind, 1 + i % 3, start + timedelta(minutes=i))
    return start


def test_activity_pages_by_page_to_max_pages_each_event_once(sandbox):
    emu = three_contacts(sandbox)
    start = _events(emu)
    events = list(MauticHook().iter_events(start, start + timedelta(hours=1), page_size=3))
    assert len(events) == 12 and len({e.dedup_key for e in events}) == 12
    assert len(calls(sandbox, "/activity")) == 3  # ceil(7 / 3) pages of the largest type
    sent = [e for e in events if e.event_type == "email.sent"]
    assert sent[0].to_dict() | {"raw": None} == {
        "vendor": "mautic",
        "event_id": "email.sent1",
        "event_type": "email.sent",
        "contact_id": "1",
        "occurred_at": "2026-11-20T09:00:00.000000Z",
        "label": "Monthly newsletter",
        "campaign": None,
        "raw": None,
    }
    query = calls(sandbox, "/activity")[0]["query"]
    assert (
        "filters%5BdateFrom%5D=2026-11-20+09%3A00%3A00" in query
        and "filters%5BdateTo%5D=2026-11-20+10%3A00%3A00" in query
    )


def test_activity_window_is_half_open_and_second_precise(sandbox):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    emu.state.upsert({"email": "a@example.com"})
    start = datetime(2026, 11, 20, 9, 0, 0, tzinfo=timezone.utc)
    for minute in (0, 1, 2):
        emu.add_event("email.read", 1, start + timedelta(minutes=minute))
    hook = MauticHook()
    got = [e.occurred_at for e in hook.iter_events(start, start + timedelta(minutes=2))]
    assert got == [start, start + timedelta(minutes=1)]  # until excluded
    got = [
        e.occurred_at
        for e in hook.iter_events(
            start + timedelta(microseconds=1), start + timedelta(minutes=2, microseconds=1)
        )
    ]
    assert got == [start + timedelta(minutes=1), start + timedelta(minutes=2)]


def test_activity_filters_and_per_contact(sandbox):
    emu = three_contacts(sandbox)
    start = _events(emu)
    hook = MauticHook()
    window = (start, start + timedelta(hours=1))
    assert {e.event_type for e in hook.iter_events(*window, include_types=["page.hit"])} == {"page.hit"}
    assert {e.event_type for e in hook.iter_events(*window, exclude_types=["email.sent"])} == {
        "page.hit",
        "form.submitted",
    }
    mine = hook.get_contact_activity(2)
    assert {e.contact_id for e in mine} == {"2"} and len(mine) == 3  # email.sent i=1,4 and page.hit i=1
    with pytest.raises(NotFoundError):
        hook.get_contact_activity(99)


# ---- the other endpoints ------------------------------------------------------------------
def test_contact_crud_and_sub_resources(sandbox):
    hook = MauticHook()
    contact, created = hook.create_contact(
        {
            "email": "crud@example.com",
            "firstname": "C",
            "lastActive": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        }
    )
    cid = contact["id"]
    assert created and contact["lastActive"] == "2026-01-02T03:04:05+00:00"
    assert hook.edit_contact(cid, {"city": "Porto"})["fields"]["all"]["firstname"] == "C"
    with pytest.warns(UserWarning, match="blanks every field"):
        replaced, created = hook.replace_contact(cid, {"email": "crud@example.com"})
    assert not created and replaced["fields"]["all"]["city"] is None
    assert {o["id"] for o in hook.list_owners()} == {1, 2, 3}
    assert "email" in {f["alias"] for f in hook.list_fields()}
    assert [s["alias"] for s in hook.list_segments()] == ["customers", "newsletter", "webinar-attendees"]
    assert [s["id"] for s in hook.get_contact_segments(4)] == [1]  # Mautic answers them as "lists"
    assert hook.get_contact_notes(cid) == [] and hook.get_contact_campaigns(cid) == []
    assert hook.get_contact_companies(cid) == [] and hook.get_contact_devices(cid) == []
    deleted = hook.batch_delete([cid, 12345])
    assert [d["id"] for d in deleted] == [cid]
    with pytest.raises(NotFoundError):
        hook.get_contact(cid)


def test_add_utm_tags_sends_the_snake_case_keys_mautic_reads(sandbox):
    """Mautic reads utm_source..., useragent, lastActive (LeadModel::addUTMTags); the stored
    record is what the emulator kept from the keys Mautic reads."""
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    hook = MauticHook()
    contact, _ = hook.create_contact({"email": "utm@example.com"})
    cid = contact["id"]
    answer = hook.add_utm_tags(
        cid,
        {
            "utm_source": "newsletter",
            "utm_medium": "email",
            "utm_campaign": "spring",
            "utm_content": "hero",
            "utm_term": "crm",
            "url": "https://example.com/pricing",
            "referer": "https://mail.example.com/",
            "query": "a=1&b=2",
            "useragent": IPHONE,
            "lastActive": datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc),
        },
    )
    stored = emu.contacts[cid]["utmtags"]
    assert len(stored) == 1 and {k: v for k, v in stored[0].items() if k not in ("id", "dateAdded")} == {
        "utmSource": "newsletter",
        "utmMedium": "email",
        "utmCampaign": "spring",
        "utmContent": "hero",
        "utmTerm": "crm",
        "url": "https://example.com/pricing",
        "referer": "https://mail.example.com/",
        "query": {"a": "1", "b": "2"},
        "userAgent": IPHONE,
        "remoteHost": None,
    }
    assert answer["utmtags"][0]["utmSource"] == "newsletter"
    assert answer["lastActive"] == "2026-03-01T09:30:00+00:00"
    assert [(d["device"], d["deviceBrand"], d["deviceModel"]) for d in hook.get_contact_devices(cid)] == [
        ("smartphone", "Apple", "iPhone")
    ]
    # camelCase keys would be stored as nothing by Mautic: refused before any request
    before = len(calls(sandbox, "/utm/add"))
    with pytest.raises(ContactsConfigError, match="'utmSource' → 'utm_source'"):
        hook.add_utm_tags(cid, {"utmSource": "newsletter"})
    assert len(calls(sandbox, "/utm/add")) == before and len(emu.contacts[cid]["utmtags"]) == 1


def test_mautic_form_errors_are_each_rows_rejection_in_the_rejects_file(sandbox, tmp_path):
    """A 400 form error of one batch item (Mautic validates choices, emails, numbers) is that
    row's rejection, with Mautic's message, in the operator's rejects file; the rest is saved."""
    from types import SimpleNamespace

    from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    rows = [
        {
            "email": "ok@example.com",
            "country": "Ireland",
            "timezone": "Europe/Dublin",
            "preferred_locale": "en_IE",
        },
        {"email": "iso@example.com", "country": "IE"},
        {"email": "john..doe@example.com"},  # passes the operator's local check, not Mautic's
        {"email": "tz@example.com", "timezone": "Mars/Olympus", "attribution": "a lot"},
    ]
    path = tmp_path / "rejects.ndjson"
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="task", map_index=-1, try_number=1)
    op = UpsertContactsOperator(
        task_id="up", conn_id="mautic_default", rows=rows, rejects_path=str(path), max_rejected=5
    )
    context: Any = {"ti": ti, "task_instance": ti}
    summary = op.execute(context)
    assert (summary["created"], summary["rejected"], summary["requests"]) == (1, 3, 2)  # fields read + batch
    with open(path, encoding="utf-8") as handle:
        rejected = [json.loads(line) for line in handle]
    assert [(r["index"], r["status"], r["message"]) for r in rejected] == [
        (1, 400, "country: This value is not valid."),
        (2, 400, "email: john..doe@example.com is invalid."),
        (
            3,
            400,
            "timezone: This value is not valid., attribution: This value is not valid.",
        ),  # form (field) order
    ]
    assert [r["row"] for r in rejected] == rows[1:]
    assert sorted(c["values"]["email"] for c in emu.contacts.values()) == ["ok@example.com"]
    # one call outside a batch: the 400 is raised with Mautic's message
    with pytest.raises(ContactsError, match="country: This value is not valid."):
        MauticHook().create_contact({"email": "single@example.com", "country": "IE"})


# ---- Test Connection ----------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_messages_for_each_failure(sandbox, monkeypatch, oauth_conn):
    emu = sandbox.emulator("mautic")
    conn = emu.connection(sandbox.url)
    oauth = emu.oauth_connection(sandbox.url)

    def check(conn_dict: dict) -> str:
        set_conn(monkeypatch, "mautic_tc", conn_dict)
        ok, message = MauticHook("mautic_tc").test_connection()
        assert ok is False
        return message

    assert check({**conn, "host": f"http://127.0.0.1:{_free_port()}/mautic"}).startswith(
        "Unreachable: could not connect"
    )
    emu.settings["api_enabled"] = False
    assert check(conn).startswith("API disabled: Mautic at")
    emu.settings["api_enabled"] = True
    emu.settings["basic_auth_enabled"] = False
    assert check(conn).startswith("Basic auth disabled:")
    emu.settings["basic_auth_enabled"] = True
    assert check({**conn, "password": "wrong"}).startswith(
        "Bad credentials: Mautic refused the username/password (HTTP 401 access_denied)"
    )
    bad_secret = {**oauth, "extra": {**oauth["extra"], "client_secret": "wrong"}}
    assert check(bad_secret).startswith(
        "Bad credentials: Mautic refused the client id/secret (HTTP 400 invalid_client)"
    )
    user_client = {
        **oauth,
        "extra": {**oauth["extra"], "client_id": USER_CLIENT[0], "client_secret": USER_CLIENT[1]},
    }
    assert "may not use the client-credentials grant" in check(user_client)
    assert check({**conn, "login": "viewer", "password": "viewer-password"}).startswith("No permission:")
    ok, message = MauticHook(oauth_conn).test_connection()
    assert ok and "OAuth2 client credentials" in message and "40 contacts" in message


def test_async_activity_with_oauth_renews_the_token_inside_the_event_loop(sandbox, oauth_conn):
    import asyncio

    emu = three_contacts(sandbox)
    start = _events(emu)

    async def run() -> list:
        hook = MauticHook(oauth_conn)
        transport = hook.make_async_transport()
        try:
            first = [
                e async for e in hook.aiter_events(transport, start, start + timedelta(hours=1), page_size=5)
            ]
            emu.expire_tokens()
            second = [
                e async for e in hook.aiter_events(transport, start, start + timedelta(hours=1), page_size=5)
            ]
        finally:
            await transport.aclose()
        return [first, second]

    first, second = asyncio.run(run())
    assert len(first) == len(second) == 12
    statuses = [(r["path"].rsplit("/", 1)[-1], r["status"]) for r in sandbox.requests("mautic")]
    assert statuses.count(("token", 200)) == 2 and statuses.count(("activity", 401)) == 1
