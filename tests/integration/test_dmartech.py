"""Dmartech hook against its emulator over real HTTP: signing, envelope errors, paging, the
per-contact look-ups, and contact events flattened from day buckets."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConfigError,
    InvalidRequestError,
    PermissionDeniedError,
)
from airflow_provider_contacts.hooks.dmartech import EVENTS_MAX_PAGE_SIZE, DmartechHook
from tests.integration.dmartech_support import arrivals_while_paging

SHANGHAI = ZoneInfo("Asia/Shanghai")


def calls(sandbox, endpoint: str | None = None) -> list[dict]:
    return [r for r in sandbox.requests("dmartech") if endpoint is None or r["path"].endswith("/" + endpoint)]


def query(entry: dict) -> dict:
    from urllib.parse import parse_qs

    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(entry["query"]).items()}


@pytest.fixture
def emu(sandbox):
    sandbox.reset(empty=True)
    return sandbox.emulator("dmartech")


def test_emulator_refuses_unsigned_and_stale_signatures(sandbox):
    import requests

    from airflow_provider_contacts.hooks.dmartech_auth import sign

    url = sandbox.base_url("dmartech") + "/open-api/v1/contact/contactFieldDetails"
    assert requests.get(url).json()["code"] == 40001
    stale = sign(
        "0123456789abcdef", int((datetime.now(timezone.utc) - timedelta(minutes=6)).timestamp() * 1000)
    )
    body = requests.get(url, headers={"access-key": "sandbox-access-key", "access-sign": stale}).json()
    assert body["code"] == 40001 and body["data"] is None and len(body["traceNumber"]) == 32
    fresh = sign("0123456789abcdef", int(datetime.now(timezone.utc).timestamp() * 1000))
    assert (
        requests.get(url, headers={"access-key": "sandbox-access-key", "access-sign": fresh}).json()["code"]
        == 0
    )


def test_list_contacts_pages_every_customer_type_and_searches_by_field_name(sandbox):
    hook = DmartechHook(conn_id="dmartech_default")
    rows = list(hook.iter_contacts(page_size=7))
    emu = sandbox.emulator("dmartech")
    assert len(rows) == 30 == len(emu.contacts)
    assert len({r["customerId"] for r in rows}) == 30
    assert len(calls(sandbox, "contactPageList")) == 5  # ceil(30 / 7)
    assert all(query(c)["customerType"] == "4" for c in calls(sandbox, "contactPageList"))
    assert rows[0]["手机号"] == "13800000000" and rows[0]["邮箱"] == "dm0@example.cn"
    anonymous = hook.list_contacts(customer_type=2)
    assert anonymous["total"] == 3 and all(r["邮箱"] is None for r in anonymous["contacts"])

    found = hook.list_contacts(search_field="email", search_value="dm4@example.cn")
    assert [r["customerId"] for r in found["contacts"]] == [
        next(c for c in emu.contacts.values() if c["values"]["email"] == "dm4@example.cn")["customerId"]
    ]
    assert query(calls(sandbox, "contactPageList")[-1])["searchField"] == "f_email"  # fieldName -> sn
    with pytest.raises(
        ContactsConfigError,
        match="search_field='industry' is not a searchable Dmartech field; searchable: mobile, email, name",
    ):
        hook.list_contacts(search_field="industry", search_value="retail")
    with pytest.raises(ContactsConfigError, match="customer_type=3 .* needs app_ids"):
        hook.list_contacts(customer_type=3)


def test_lookups_by_customer_id_or_primary_key(sandbox):
    hook = DmartechHook()
    emu = sandbox.emulator("dmartech")
    contact = next(c for c in emu.contacts.values() if c["values"]["email"] == "dm2@example.cn")
    contact["unsubscribe"]["emailStatus"] = 1
    details = hook.get_contact_details(name="email", value="dm2@example.cn")
    assert details["mobile"] == "13800000002" and details["name"] == "客户2"
    assert hook.get_unsubscribe_status(contact["customerId"]) == {
        "global": True,
        "email": False,
        "mobile": True,
    }
    assert hook.get_contact_labels(contact["customerId"])["customerLabelList"] == [
        {"name": "Churn risk", "sn": "lbl_churn"}
    ]
    grades = hook.get_grade_scores(contact["customerId"])
    assert grades[0]["gradeRule"] == "Engagement" and isinstance(grades[0]["score"], int)
    with pytest.raises(ContactsConfigError, match="either customer_id, or name and value"):
        hook.get_contact_details("x", name="email", value="y")
    with pytest.raises(InvalidRequestError, match="contact does not exist") as info:
        hook.get_contact_details("no-such-id")
    assert info.value.vendor_code == 10004
    assert [label["sn"] for label in hook.iter_labels()] == ["lbl_vip", "lbl_webinar", "lbl_churn"]


def test_contact_events_are_flattened_from_day_buckets_and_cut_to_the_window(sandbox, emu):
    hook = DmartechHook()
    contact = emu.add_contact("13900000001", "ev@example.cn", "Ev")
    cid = contact["customerId"]
    base = datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc)  # 23:30 in Shanghai
    for i in range(45):  # 45 events over three local days, 20 per page
        emu.add_event(
            cid,
            "email_open" if i % 3 else "form_submit",
            base + timedelta(minutes=10 * i),
            attributes={"campaign_name": "Winter"},
        )
    since, until = base + timedelta(minutes=10), base + timedelta(minutes=10 * 44)
    events = list(hook.iter_events(since, until, contact_ids=[cid]))
    assert len(events) == 43  # i = 1 .. 43: since inclusive, until exclusive
    assert {e.event_type for e in events} == {"email_open", "form_submit"}
    first = min(events, key=lambda e: e.occurred_at)
    assert (
        first.occurred_at == datetime(2026, 11, 20, 15, 40, tzinfo=timezone.utc)
        and first.vendor == "dmartech"
        and first.contact_id == cid
    )
    assert first.raw["attributes"]["event_date"] == "2026-11-20 23:40:00"  # local time, turned into UTC above
    assert first.campaign == "Winter" and first.label == "email"
    assert len({e.event_id for e in events}) == 43
    requests = calls(sandbox, "contactEvents")
    assert len(requests) == 3  # 45 events / 20 per page
    assert {query(r)["pageSize"] for r in requests} == {str(EVENTS_MAX_PAGE_SIZE)}
    # one day wider on each side: whether Dmartech includes fromDate and toDate is not documented
    assert query(requests[0])["fromDate"] == "2026-11-19" and query(requests[0])["toDate"] == "2026-11-22"
    only_forms = list(hook.iter_events(since, until, contact_ids=[cid], include_types=["form_submit"]))
    assert len(only_forms) == 14
    # the same events get the same ids on the next read: exactly-once consumers rely on it
    again = list(hook.iter_events(since, until, contact_ids=[cid]))
    assert sorted(e.event_id for e in again) == sorted(e.event_id for e in events)


@pytest.mark.slow
def test_events_of_every_contact_in_parallel_under_the_rate_limit(sandbox, emu, monkeypatch):
    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_DMARTECH_DEFAULT"])
    conn["extra"]["max_active_requests"] = 4
    monkeypatch.setenv("AIRFLOW_CONN_DMARTECH_PAR", json.dumps(conn))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ids = []
    for i in range(30):
        c = emu.add_contact(f"1370000{i:04d}", None, None)
        ids.append(c["customerId"])
        emu.add_event(c["customerId"], "email_open", now - timedelta(minutes=i + 1))
    hook = DmartechHook("dmartech_par")
    events = list(hook.iter_events(now - timedelta(hours=1), now))
    assert [e.contact_id for e in events] == ids  # in contact order, each once
    # The client books at most 20 starts in any 1.1 s, but the server counts ARRIVALS: a request
    # that leaves late (a busy machine, the GIL) can arrive in the next one's second. Such a
    # 40006 was not processed and is retried: every extra call is one of those retries, and
    # they stay the exception (none on a quiet machine).
    retries = hook.stats["retries"]
    assert (
        len(calls(sandbox, "contactEvents")) == 30 + retries and len(calls(sandbox, "contactPageList")) == 1
    )
    assert retries <= 3


def test_envelope_errors_auth_permission_page_size(sandbox, monkeypatch):
    emu = sandbox.emulator("dmartech")
    hook = DmartechHook()
    cid = next(iter(emu.contacts))
    with pytest.raises(InvalidRequestError, match="pageSize must not exceed 20") as info:
        hook.transport.get_json(
            "/open-api/v1/contact/contactEvents", params={"customerId": cid, "pageNo": 1, "pageSize": 21}
        )
    assert info.value.vendor_code == 10004
    with pytest.raises(InvalidRequestError, match="missing required parameter: customerId"):
        hook.transport.get_json("/open-api/v1/contact/contactEvents", params={"pageNo": 1, "pageSize": 5})
    emu.settings["granted"] = ["contactFieldDetails"]
    try:
        with pytest.raises(PermissionDeniedError) as denied:
            hook.list_contacts()
        assert denied.value.status == 403 and denied.value.vendor_code == 40003
        ok, message = DmartechHook().test_connection()
        assert (
            not ok
            and message.startswith("No permission: this access key may not call")
            and "Grant the contact interfaces" in message
        )
    finally:
        emu.settings["granted"] = None
    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_DMARTECH_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_DMARTECH_BAD", json.dumps({**conn, "password": "fedcba9876543210"}))
    before = len(calls(sandbox))
    with pytest.raises(AuthenticationError):
        DmartechHook("dmartech_bad").list_contacts()
    assert len(calls(sandbox)) == before + 1  # never retried


def test_bad_timezone_is_a_config_error(sandbox, monkeypatch):
    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_DMARTECH_DEFAULT"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_DMARTECH_TZ", json.dumps({**conn, "extra": {"timezone": "Mars/Olympus"}})
    )
    with pytest.raises(ContactsConfigError, match="\"timezone\" is 'Mars/Olympus'; use an IANA zone"):
        list(
            DmartechHook("dmartech_tz").iter_events(
                datetime(2026, 1, 1, tzinfo=timezone.utc),
                datetime(2026, 1, 2, tzinfo=timezone.utc),
                contact_ids=["x"],
            )
        )
    assert calls(sandbox) == []


@pytest.mark.slow
def test_emulator_answers_40006_above_its_per_second_limit_and_the_hook_retries(sandbox, monkeypatch):
    emu = sandbox.emulator("dmartech")
    emu.settings["rate_limit_per_second"] = 3
    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_DMARTECH_DEFAULT"])
    conn["extra"]["rate_limit_per_second"] = 1000  # the client-side limit off: the server must say no
    monkeypatch.setenv("AIRFLOW_CONN_DMARTECH_FAST", json.dumps(conn))
    import time

    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # record the back-offs, and really wait for the server's second
        sleeps.append(seconds)
        time.sleep(seconds)

    hook = DmartechHook("dmartech_fast", transport_options={"sleep": sleep})
    for _ in range(5):
        assert hook.list_fields()[0]["fieldName"] == "mobile"
    assert len(sleeps) >= 1  # at least one 40006 was answered and waited for
    assert len(calls(sandbox)) == 5 + len(sleeps)


def test_sort_errors_and_events_of_a_label_or_a_search(sandbox, tmp_path):
    from types import SimpleNamespace

    from airflow_provider_contacts.operators.activity import FetchContactActivityOperator

    hook = DmartechHook()
    with pytest.raises(InvalidRequestError, match="invalid sort field: email") as info:
        hook.list_contacts(sort_field="email")
    assert info.value.vendor_code == 10003
    assert hook.list_contacts(sort_field="createDate", sort_order="desc")["total"] == 30
    emu = sandbox.emulator("dmartech")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    vip = [c for c in emu.contacts.values() if "lbl_vip" in c["labels"]]
    for contact in emu.contacts.values():
        emu.add_event(contact["customerId"], "email_click", now - timedelta(minutes=3))
    ti: Any = SimpleNamespace(dag_id="d", run_id="r", task_id="t", map_index=-1, try_number=1)
    out = tmp_path / "vip.ndjson"
    summary = FetchContactActivityOperator(
        task_id="t",
        conn_id="dmartech_default",
        since=(now - timedelta(minutes=5)).isoformat(),
        until=now.isoformat(),
        event_types=["email_click"],
        event_filters={"label_sn": "lbl_vip"},
        output_path=str(out),
    ).execute({"ti": ti})
    assert summary["events"] == len(vip) > 0
    assert {json.loads(line)["contact_id"] for line in out.read_text().splitlines()} == {
        c["customerId"] for c in vip
    }
    assert len(calls(sandbox, "contactByLabelPageList")) == 1
    one = next(c for c in emu.contacts.values() if c["values"]["email"] == "dm5@example.cn")
    found = list(
        hook.iter_events(
            now - timedelta(minutes=5),
            now,
            search_field="email",
            search_value="dm5@example.cn",
            include_types=["email_click"],
        )
    )
    assert [e.contact_id for e in found] == [one["customerId"]]


def test_events_arriving_while_paging_are_not_returned_twice(sandbox, emu):
    """contactEvents lists newest first: events added between two page requests push the events
    already read onto the next page. Each event is returned once."""
    hook = DmartechHook()
    cid = emu.add_contact("13900000002", "paging@example.cn", "P")["customerId"]
    until = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    for i in range(30):
        emu.add_event(cid, "email_open", until - timedelta(minutes=2 * i + 1), attributes={"n": str(i)})
    # 25 new events arrive between page 1 and page 2
    pages = arrivals_while_paging(hook, emu, cid, after_page=1, arrivals=25, event_type="email_click")
    events = list(hook.iter_events(until - timedelta(hours=2), until, contact_ids=[cid]))
    assert len(pages) >= 2
    assert len(events) == len({e.event_id for e in events}) == 30
    assert sorted(e.raw["attributes"]["n"] for e in events) == sorted(str(i) for i in range(30))


@pytest.mark.parametrize("from_inclusive", [True, False])
@pytest.mark.parametrize("to_inclusive", [True, False])
def test_events_of_today_are_found_whatever_fromdate_and_todate_mean(
    sandbox, emu, from_inclusive, to_inclusive
):
    """Dmartech does not say whether fromDate/toDate are inclusive: the emulator plays each
    reading, the hook asks one day wider on each side and cuts [since, until) itself."""
    emu.settings.update(from_date_inclusive=from_inclusive, to_date_inclusive=to_inclusive)
    hook = DmartechHook()
    cid = emu.add_contact("13900000003", "today@example.cn", "T")["customerId"]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    local_midnight = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0).astimezone(timezone.utc)
    inside = [
        local_midnight + (now - local_midnight) * k / 4 for k in range(4)
    ]  # today, from midnight to now
    for i, when in enumerate(inside):
        emu.add_event(cid, "form_submit", when, attributes={"n": str(i)})
    emu.add_event(cid, "form_submit", local_midnight - timedelta(seconds=1), attributes={"n": "yesterday"})
    emu.add_event(cid, "form_submit", now, attributes={"n": "at until"})
    events = list(hook.iter_events(local_midnight, now, contact_ids=[cid]))
    assert sorted(e.raw["attributes"]["n"] for e in events) == ["0", "1", "2", "3"]
    asked = query(calls(sandbox, "contactEvents")[0])
    today = now.astimezone(SHANGHAI).date()
    assert (asked["fromDate"], asked["toDate"]) == (
        str(today - timedelta(days=1)),
        str(today + timedelta(days=1)),
    )


@pytest.mark.parametrize("surface", ["hook", "sensor", "trigger", "operator"])
def test_runtime_auth_errors_name_the_clock_and_ip_whitelist(sandbox, monkeypatch, tmp_path, surface):
    import asyncio
    from types import SimpleNamespace

    from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
    from airflow_provider_contacts.sensors.contact_events import ContactEventsSensor
    from airflow_provider_contacts.triggers.contact_events import ContactEventsTrigger

    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_DMARTECH_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_DMARTECH_BAD", json.dumps({**conn, "password": "fedcba9876543210"}))
    ti: Any = SimpleNamespace(dag_id="d", run_id="r", task_id="t", map_index=-1, try_number=1)
    since = "2026-11-20T00:00:00Z"
    if surface == "hook":
        with pytest.raises(AuthenticationError) as info:
            DmartechHook("dmartech_bad").list_contacts()
        message = str(info.value)
    elif surface == "sensor":
        with pytest.raises(AuthenticationError) as info:
            ContactEventsSensor(task_id="t", conn_id="dmartech_bad", since=since, deferrable=False).poke(
                {"ti": ti}
            )
        message = str(info.value)
    elif surface == "trigger":

        async def first():
            return await ContactEventsTrigger(conn_id="dmartech_bad", since=since).run().__anext__()

        message = asyncio.run(first()).payload["message"]
    else:
        with pytest.raises(AuthenticationError) as info:
            FetchContactActivityOperator(
                task_id="t",
                conn_id="dmartech_bad",
                since=since,
                until="2026-11-21T00:00:00Z",
                output_path=str(tmp_path / "x.ndjson"),
            ).execute({"ti": ti})
        message = str(info.value)
    assert "accessKey or accessSign invalid" in message
    assert "clock" in message and "5 minutes" in message and "whitelist" in message
