"""MauticHook against the Mautic emulator over real HTTP: both auth methods, the token cache,
every quirk of docs/vendors/mautic.md the hook must absorb, and Test Connection's messages."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConfigError,
    ContactsConnectionError,
    InvalidAdjustment,
    NotFoundError,
    RateLimitedError,
)
from airflow_provider_contacts.hooks.mautic.hook import MauticHook
from airflow_provider_contacts.rules import compute_score
from airflow_provider_contacts.sandbox.vendors.mautic import CLIENT_SECRET
from tests.integration.mautic_hook_support import calls, set_conn


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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
    assert err.value.retry_after is not None
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

    def email_reasons():
        return {
            c["id"]: [d["reason"] for d in c["dnc"] if d["channel"] == "email"] for c in emu.contacts.values()
        }

    before = email_reasons()
    assert (before[3], before[9]) == ([2], [1])  # seeded: 3 bounced, 9 unsubscribed
    outcomes = MauticHook().set_do_not_contact(ids, action="add", reason="bounced", comments="hard bounce")
    assert [o.outcome for o in outcomes] == ["updated"] * 40 + ["rejected"]
    assert outcomes[-1].message == "contact not found" and outcomes[-1].contact_id == "9999"
    assert len(calls(sandbox, "batch/edit")) == 1
    # bounced is Mautic's DoNotContact::BOUNCED (2); a seeded unsubscribed (1) is never overwritten
    expected = {cid: ([1] if was == [1] else [2]) if cid <= 40 else was for cid, was in before.items()}
    assert email_reasons() == expected
    MauticHook().set_do_not_contact(ids[:40], action="remove")
    assert [d for c in emu.contacts.values() for d in c["dnc"] if d["channel"] == "email"] == []


@pytest.mark.parametrize(("reason", "code"), [("unsubscribed", 1), ("bounced", 2), ("manual", 3)])
def test_each_dnc_reason_is_sent_as_mautics_code(sandbox, reason, code):
    emu = sandbox.emulator("mautic")
    hook = MauticHook()
    contact = hook.add_do_not_contact(1, "email", reason)
    assert [(d["channel"], d["reason"]) for d in contact["doNotContact"]] == [("email", code)]
    assert [o.outcome for o in hook.set_do_not_contact(["2"], action="add", reason=reason)] == ["updated"]
    assert [(d["channel"], d["reason"]) for d in emu.contacts[2]["dnc"]] == [("email", code)]


def test_single_dnc_add_and_remove_and_reason_validation(sandbox):
    hook = MauticHook()
    contact = hook.add_do_not_contact(1, "sms", "manual", comments="asked by phone")
    assert [(d["channel"], d["reason"]) for d in contact["doNotContact"]] == [("sms", 3)]
    assert hook.remove_do_not_contact(1, "sms") is True
    assert hook.remove_do_not_contact(1, "sms") is False

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
    cases: list[tuple[str, Any]] = [("pow", 2), ("plus", "abc"), ("plus", 1.5), ("divide", 0), ("plus", True)]
    for op, value in cases:
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
