"""MauticHook against the Mautic emulator over real HTTP: both auth methods, the token cache,
every quirk of docs/vendors/mautic.md the hook must absorb, and Test Connection's messages."""

from __future__ import annotations

import json
import logging
import socket
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConfigError,
    ContactsConnectionError,
    ContactsError,
    InvalidAdjustment,
    NotFoundError,
    RateLimitedError,
)
from airflow_provider_contacts.hooks.mautic.hook import MauticHook
from airflow_provider_contacts.rules import compute_score
from airflow_provider_contacts.sandbox.vendors.mautic import CLIENT_SECRET, USER_CLIENT


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def set_conn(monkeypatch, conn_id: str, conn: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def oauth_conn(sandbox, monkeypatch):
    set_conn(monkeypatch, "mautic_oauth", sandbox.emulator("mautic").oauth_connection(sandbox.url))
    return "mautic_oauth"


def three_contacts(sandbox):
    """The emulator emptied, then contacts 1, 2 and 3."""
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    for i in range(3):
        emu.state.upsert({"email": f"a{i}@example.com"})
    return emu


def calls(sandbox, path_part: str = "", method: str | None = None) -> list[dict]:
    return [
        r
        for r in sandbox.requests("mautic")
        if path_part in r["path"] and (method is None or r["method"] == method)
    ]


# ---- auth ---------------------------------------------------------------------------------
@pytest.mark.parametrize("auth", ["basic", "oauth2"])
def test_both_auth_methods_list_and_upsert(sandbox, oauth_conn, auth):
    hook = MauticHook("mautic_default" if auth == "basic" else oauth_conn)
    assert len(list(hook.iter_contacts(page_size=15))) == 40
    outcomes = hook.upsert_batch([{"email": "new@example.com", "firstname": "New"}], "email")
    assert [(o.outcome, o.http_status) for o in outcomes] == [("created", 201)]
    assert sandbox.emulator("mautic").contact_by_email("new@example.com")["values"]["firstname"] == "New"
    assert len(calls(sandbox, "/oauth/v2/token")) == (1 if auth == "oauth2" else 0)


def test_one_token_request_for_fifty_calls_and_the_token_is_masked(sandbox, oauth_conn):
    from airflow.sdk._shared.secrets_masker import redact

    hook = MauticHook(oauth_conn)
    for _ in range(50):
        hook.get_contact(1)
    assert len(calls(sandbox, "/oauth/v2/token")) == 1
    assert len(calls(sandbox, "/api/contacts/1")) == 50
    assert hook.auth.token_requests == 1
    assert redact(f"token={hook.auth.token}") == "token=***"
    assert redact(f"secret={CLIENT_SECRET}") == "secret=***"


def test_token_fetched_again_shortly_before_expires_in_without_a_401(sandbox, oauth_conn):
    clock = FakeClock()
    hook = MauticHook(oauth_conn, transport_options={"clock": clock})
    hook.get_contact(1)
    clock.now += 3600 - 61  # still valid: refresh margin is 60 s
    hook.get_contact(1)
    assert len(calls(sandbox, "/oauth/v2/token")) == 1
    clock.now += 2  # inside the margin
    hook.get_contact(1)
    assert len(calls(sandbox, "/oauth/v2/token")) == 2
    assert [r["status"] for r in calls(sandbox, "/api/")] == [200, 200, 200]


def test_invalid_grant_401_fetches_a_token_once_and_repeats_even_a_post(sandbox, oauth_conn):
    emu = sandbox.emulator("mautic")
    hook = MauticHook(oauth_conn)
    hook.get_contact(1)
    emu.expire_tokens()  # the server expired it earlier than expires_in said
    contact, created = hook.create_contact({"firstname": "NoEmail"})  # a POST that is not replay-safe
    assert created is True and contact["fields"]["all"]["firstname"] == "NoEmail"
    log = [(r["method"], r["path"].split("/mautic")[1], r["status"]) for r in sandbox.requests("mautic")]
    assert log == [
        ("POST", "/oauth/v2/token", 200),
        ("GET", "/api/contacts/1", 200),
        ("POST", "/api/contacts/new", 401),
        ("POST", "/oauth/v2/token", 200),
        ("POST", "/api/contacts/new", 201),
    ]
    assert sum(1 for c in emu.contacts.values() if c["values"]["firstname"] == "NoEmail") == 1


def test_a_token_refused_twice_fails_after_one_renewal(sandbox, oauth_conn):
    sandbox.emulator("mautic").settings["token_lifetime"] = 0  # every token is born expired
    hook = MauticHook(oauth_conn)
    with pytest.raises(AuthenticationError) as err:
        hook.get_contact(1)
    assert err.value.vendor_code == "invalid_grant" and "expired" in err.value.message
    assert [r["status"] for r in sandbox.requests("mautic")] == [200, 401, 200, 401]


def test_basic_auth_401_is_not_retried(sandbox, monkeypatch):
    conn = sandbox.emulator("mautic").connection(sandbox.url)
    set_conn(monkeypatch, "mautic_bad", {**conn, "password": "wrong"})
    with pytest.raises(AuthenticationError):
        MauticHook("mautic_bad").get_contact(1)
    assert len(sandbox.requests("mautic")) == 1


# ---- quirks -------------------------------------------------------------------------------
def test_total_string_and_empty_object_become_plain_python(sandbox):
    sandbox.reset(empty=True)
    page = MauticHook().list_contacts()
    assert (page.total, page.contacts) == (0, [])
    assert list(MauticHook().iter_contacts()) == []


def test_iter_contacts_pages_by_id_not_last_active(sandbox):
    hook = MauticHook()
    ids = [int(c["id"]) for c in hook.iter_contacts(page_size=15)]
    assert ids == list(range(1, 41))
    queries = [r["query"] for r in calls(sandbox, "/api/contacts", "GET")]
    assert len(queries) == 3 and all("orderBy=id" in q for q in queries)
    assert "where%5B0%5D%5Bval%5D=30" in queries[2]  # keyset: id > 30


def test_batch_over_the_server_limit_is_split_and_the_limit_remembered(sandbox, caplog):
    emu = sandbox.emulator("mautic")
    emu.settings["batch_max_limit"] = 50
    hook = MauticHook()
    rows = [{"email": f"bulk{i}@example.com"} for i in range(120)]
    with caplog.at_level(logging.WARNING):
        outcomes = hook.upsert_batch(rows, "email")
    assert [o.outcome for o in outcomes] == ["created"] * 120
    assert [o.index for o in outcomes] == list(range(120))
    assert [r["status"] for r in calls(sandbox, "batch/new")] == [500, 201, 201, 201]
    assert hook.batch_limit == 50 and '"batch_limit": 50' in caplog.text
    assert len(emu.contacts) == 160
    hook.upsert_batch(rows[:60], "email")  # the next call starts at the learned limit
    assert [r["status"] for r in calls(sandbox, "batch/new")][4:] == [201, 201]


def test_configured_batch_limit_above_200(sandbox, monkeypatch):
    emu = sandbox.emulator("mautic")
    emu.settings["batch_max_limit"] = 500
    conn = emu.connection(sandbox.url)
    set_conn(monkeypatch, "mautic_big", {**conn, "extra": {"batch_limit": 500}})
    hook = MauticHook("mautic_big")
    hook.upsert_batch([{"email": f"big{i}@example.com"} for i in range(450)], "email")
    assert len(calls(sandbox, "batch/new")) == 1


def test_upsert_reports_rejected_rows_with_the_vendor_message(sandbox):
    outcomes = MauticHook().upsert_batch(
        [{"email": "ok@example.com"}, {"email": "broken"}, {"email": "ok2@example.com", "owner": 99}], "email"
    )
    assert [(o.index, o.outcome, o.http_status, o.message) for o in outcomes] == [
        (0, "created", 201, None),
        (1, "rejected", 400, "email: broken is invalid."),
        (2, "rejected", 400, "owner: This value is not valid."),
    ]


def test_upsert_key_must_be_a_unique_identifier(sandbox):
    from airflow_provider_contacts.exceptions import ContactsConfigError

    with pytest.raises(ContactsConfigError, match='key "firstname" is not a unique identifier'):
        MauticHook().upsert_batch([{"firstname": "x"}], "firstname")
    assert len(calls(sandbox, "batch/new")) == 0


def test_replayed_upsert_after_a_dropped_answer_stores_each_contact_once(sandbox):
    sandbox.set_faults(sequence=["drop_after"], vendors=["mautic"])
    outcomes = MauticHook(transport_options={"sleep": lambda s: None}).upsert_batch(
        [{"email": "r1@example.com"}, {"email": "r2@example.com"}], "email"
    )
    # batch/new with emails is replay-safe: retried, and the replay finds both contacts
    assert [o.outcome for o in outcomes] == ["updated", "updated"]
    assert [r["fault"] for r in calls(sandbox, "batch/new")] == ["drop_after", None]
    emu = sandbox.emulator("mautic")
    assert (
        sum(1 for c in emu.contacts.values() if c["values"]["email"] in ("r1@example.com", "r2@example.com"))
        == 2
    )


def test_429_with_only_x_ratelimit_reset_is_waited_for(sandbox):
    waits: list[float] = []
    sandbox.set_faults(sequence=[429], vendors=["mautic"], retry_after=2)
    hook = MauticHook(transport_options={"sleep": waits.append})
    assert hook.get_contact(1)["id"] == 1
    assert len(waits) == 1 and 0.5 <= waits[0] <= 2.5
    assert [r["status"] for r in sandbox.requests("mautic")] == [429, 200]


def test_hourly_limit_reached_raises_with_the_reset_time(sandbox):
    sandbox.emulator("mautic").settings["rate_limit_per_hour"] = 1
    hook = MauticHook(transport_options={"sleep": lambda s: None})
    hook.get_contact(1)
    with pytest.raises(RateLimitedError) as err:
        hook.get_contact(1)
    assert 3500 < err.value.retry_after <= 3600  # too long to wait inside a task: reported
    assert len(sandbox.requests("mautic")) == 2


def test_find_contacts_by_email_in_bulk(sandbox):
    emu = sandbox.emulator("mautic")
    known = sorted(c["values"]["email"] for c in emu.contacts.values())
    wanted = [e.upper() for e in known] + [f"ghost{i}@example.com" for i in range(210)]
    found = MauticHook().find_contact_ids_by_email(wanted)
    assert found == {c["values"]["email"]: str(c["id"]) for c in emu.contacts.values()}
    assert len(calls(sandbox, "/api/contacts", "GET")) == 3  # 250 emails, 100 per request


# ---- do not contact -----------------------------------------------------------------------
def test_set_do_not_contact_uses_batch_edits(sandbox):
    emu = sandbox.emulator("mautic")
    ids = [str(i) for i in range(1, 41)] + ["9999"]
    outcomes = MauticHook().set_do_not_contact(ids, action="add", reason="bounced", comments="hard bounce")
    assert [o.outcome for o in outcomes] == ["updated"] * 40 + ["rejected"]
    assert outcomes[-1].message == "contact not found" and outcomes[-1].contact_id == "9999"
    assert len(calls(sandbox, "batch/edit")) == 1
    reasons = {
        c["id"]: [d["reason"] for d in c["dnc"] if d["channel"] == "email"] for c in emu.contacts.values()
    }
    assert reasons[9] == [1]  # seeded unsubscribed: never overwritten
    assert all(r in ([2], [1]) for r in reasons.values())
    MauticHook().set_do_not_contact(ids[:40], action="remove")
    assert [d for c in emu.contacts.values() for d in c["dnc"] if d["channel"] == "email"] == []


def test_single_dnc_add_and_remove_and_reason_validation(sandbox):
    hook = MauticHook()
    contact = hook.add_do_not_contact(1, "sms", "manual", comments="asked by phone")
    assert [(d["channel"], d["reason"]) for d in contact["doNotContact"]] == [("sms", 3)]
    assert hook.remove_do_not_contact(1, "sms") is True
    assert hook.remove_do_not_contact(1, "sms") is False
    from airflow_provider_contacts.exceptions import ContactsConfigError

    before = len(sandbox.requests("mautic"))
    for bad in (0, "contactable", "spam"):
        with pytest.raises(ContactsConfigError, match="reason"):
            hook.add_do_not_contact(1, "email", bad)
    assert len(sandbox.requests("mautic")) == before


# ---- points -------------------------------------------------------------------------------
def test_point_groups_by_name_and_adjustments(sandbox):
    emu = sandbox.emulator("mautic")
    hook = MauticHook()
    groups = hook.list_point_groups()
    gid = hook.resolve_point_group("engagement", groups)
    assert gid == "1"
    emu.state.group_scores[(2, 1)] = 7
    assert hook.get_group_score(2, gid) == 7
    assert hook.adjust_group_score(2, gid, "plus", 5) == 12
    assert hook.adjust_group_score(2, gid, "divide", 5) == 2  # 12/5 inexact: set to 2, not a 500
    assert [r["path"].rsplit("/", 2)[-2:] for r in calls(sandbox, "/points/groups/1/", "POST")] == [
        ["plus", "5"],
        ["set", "2"],
    ]
    assert hook.adjust_group_score(2, gid, "divide", 2) == 1  # exact: sent as divide
    assert emu.state.group_scores[(2, 1)] == 1
    emu.state.group_scores.pop((3, 2), None)
    assert hook.get_group_score(3, 2) == 0  # no score row yet: Mautic answers {"groupScore": null}
    with pytest.raises(NotFoundError, match="The specified point group was not found."):
        hook.adjust_group_score(2, 77, "plus", 1)


def test_adjustments_are_validated_before_any_request(sandbox):
    hook = MauticHook()
    for op, value in (("pow", 2), ("plus", "abc"), ("plus", 1.5), ("divide", 0), ("plus", True)):
        with pytest.raises(InvalidAdjustment):
            hook.adjust_group_score(1, 1, op, value)
    with pytest.raises(InvalidAdjustment):
        hook.adjust_points(1, "set", 3)
    assert sandbox.requests("mautic") == []
    assert [
        compute_score(7, "divide", 2),
        compute_score(-7, "divide", 2),
        compute_score(7, "divide", -2),
    ] == [3, -3, -3]


def test_non_idempotent_point_changes_are_never_resent(sandbox):
    sandbox.set_faults(sequence=["drop_after"], vendors=["mautic"])
    emu = sandbox.emulator("mautic")
    hook = MauticHook(transport_options={"sleep": lambda s: None})
    before = emu.contacts[1]["points"]
    with pytest.raises(ContactsConnectionError):
        hook.adjust_points(1, "plus", 5)
    assert emu.contacts[1]["points"] == before + 5  # applied once by the server
    assert len(sandbox.requests("mautic")) == 1


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


IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)


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
    summary = op.execute({"ti": ti, "task_instance": ti})
    assert (summary["created"], summary["rejected"], summary["requests"]) == (1, 3, 1)
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
