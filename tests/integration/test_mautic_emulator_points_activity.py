"""The Mautic emulator over raw HTTP, part 2: points, point groups and activity, as
docs/vendors/mautic.md documents them (§ numbers).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests

from tests.integration.mautic_raw import AUTH


# ---- points (§6) --------------------------------------------------------------------------
def test_legacy_points(mautic):
    emu, base = mautic
    requests.post(f"{base}/api/contacts/new", auth=AUTH, json={"email": "p@example.com"})
    r = requests.post(f"{base}/api/contacts/1/points/plus/5", auth=AUTH)
    assert (r.status_code, r.json(), emu.contacts[1]["points"]) == (200, {"success": 1}, 5)
    assert requests.post(f"{base}/api/contacts/1/points/divide/0", auth=AUTH).json() == {
        "success": 1
    }  # no-op
    assert emu.contacts[1]["points"] == 5
    for path in ("points/set/3", "points/groups/1"):
        r = requests.post(f"{base}/api/contacts/1/{path}", auth=AUTH)
        assert r.status_code == 400 and r.json()["errors"][0]["message"] == "Invalid operator"
    r = requests.post(f"{base}/api/contacts/5/points/plus/1", auth=AUTH)
    assert r.status_code == 404 and r.json()["errors"][0]["message"] == "Contact not found."


def test_point_groups_scores_and_the_documented_failures(mautic):
    emu, base = mautic
    requests.post(f"{base}/api/contacts/new", auth=AUTH, json={"email": "g@example.com"})
    r = requests.post(f"{base}/api/points/groups/new", auth=AUTH, json={"name": "Engagement"})
    assert r.status_code == 201 and r.json()["pointGroup"]["id"] == 1
    body = requests.get(f"{base}/api/points/groups", auth=AUTH).json()
    assert body["total"] == 1 and isinstance(body["pointGroups"], list)
    assert requests.get(f"{base}/api/contacts/1/points/groups", auth=AUTH).json() == {
        "total": 0,
        "groupScores": [],
    }
    assert requests.get(f"{base}/api/contacts/1/points/groups/1", auth=AUTH).json() == {"groupScore": None}
    r = requests.post(f"{base}/api/contacts/1/points/groups/1/plus/8", auth=AUTH)
    assert r.json() == {
        "groupScore": {"score": 8, "group": {"id": 1, "name": "Engagement", "description": None}}
    }
    assert (
        requests.post(f"{base}/api/contacts/1/points/groups/1/divide/2", auth=AUTH).json()["groupScore"][
            "score"
        ]
        == 4
    )
    expected = [
        ("contacts/9/points/groups/1/plus/1", 404, "Contact could not be found."),
        ("contacts/1/points/groups/9/plus/1", 404, "The specified point group was not found."),
        ("contacts/1/points/groups/1/pow/2", 400, "The requested operation is not permitted."),
        ("contacts/1/points/groups/1/divide/0", 500, None),
        ("contacts/1/points/groups/1/divide/3", 500, None),  # 4/3 is inexact
        ("contacts/1/points/groups/1/plus/abc", 500, None),
    ]
    for path, status, message in expected:
        r = requests.post(f"{base}/api/{path}", auth=AUTH)
        assert r.status_code == status, path
        if message:
            assert r.json()["errors"][0]["message"] == message
    assert emu.state.group_scores == {(1, 1): 4}


# ---- activity (§7) ------------------------------------------------------------------------
def _timeline(emu):
    base_time = datetime(2026, 11, 20, 9, 0, 0, tzinfo=timezone.utc)
    emu.state.create_point_group({"name": "x"})
    for i in range(3):
        emu.state.upsert({"email": f"a{i}@example.com"})
    for kind, count in (("email.sent", 5), ("page.hit", 2), ("form.submitted", 1)):
        for i in range(count):
            emu.add_event(kind, 1 + i % 3, base_time + timedelta(minutes=i))
    return base_time


def test_activity_limit_is_per_event_type(mautic):
    emu, base = mautic
    _timeline(emu)
    r = requests.get(
        f"{base}/api/contacts/activity",
        auth=AUTH,
        params={"limit": "2", "order[0]": "timestamp", "order[1]": "ASC"},
    )
    body = r.json()
    assert (body["total"], body["maxPages"], body["page"], body["limit"]) == (8, 3, 1, 2)
    assert sorted(e["event"] for e in body["events"]) == [
        "email.sent",
        "email.sent",
        "form.submitted",
        "page.hit",
        "page.hit",
    ]
    page3 = requests.get(f"{base}/api/contacts/activity", auth=AUTH, params={"limit": 2, "page": 3}).json()
    assert [e["event"] for e in page3["events"]] == ["email.sent"]
    event = body["events"][0]
    assert set(event) == {"event", "eventId", "eventLabel", "eventType", "timestamp", "contactId", "details"}
    assert event["timestamp"] == "2026-11-20T09:00:00+00:00" and isinstance(event["contactId"], str)
    ids = {e["eventId"] for e in body["events"]}
    assert "email.sent1" in ids and "1" in ids  # page.hit ids have no prefix


def test_activity_date_filters_are_inclusive_utc_and_offsets_are_dropped(mautic):
    emu, base = mautic
    _timeline(emu)
    params = {
        "filters[dateFrom]": "2026-11-20 09:01:00",
        "filters[dateTo]": "2026-11-20 09:03:00",
        "filters[includeEvents][]": ["email.sent"],
    }
    body = requests.get(f"{base}/api/contacts/activity", auth=AUTH, params=params).json()
    assert sorted(e["timestamp"][11:19] for e in body["events"]) == ["09:01:00", "09:02:00", "09:03:00"]
    params["filters[dateFrom]"] = "2026-11-20T09:04:00+02:00"  # wall time compared as UTC
    body = requests.get(f"{base}/api/contacts/activity", auth=AUTH, params=params).json()
    assert body["total"] == 0 and body["maxPages"] == 1
    params["filters[dateFrom]"] = "yesterday-ish"
    assert requests.get(f"{base}/api/contacts/activity", auth=AUTH, params=params).status_code == 500


def test_contact_activity_and_unknown_contact(mautic):
    emu, base = mautic
    _timeline(emu)
    body = requests.get(f"{base}/api/contacts/2/activity", auth=AUTH).json()
    assert body["total"] == 3 and {e["contactId"] for e in body["events"]} == {"2"}
    r = requests.get(f"{base}/api/contacts/99/activity", auth=AUTH)
    assert r.status_code == 404 and r.json()["errors"][0]["message"] == "Item was not found."
    assert requests.get(f"{base}/api/contacts/2/events", auth=AUTH).status_code == 404  # removed endpoint


def test_seeded_instance_has_contacts_groups_and_a_mix_of_events(sandbox):
    emu = sandbox.emulator("mautic")
    kinds = {e["event"] for e in emu.state.events}
    assert {
        "email.sent",
        "email.read",
        "form.submitted",
        "page.hit",
        "point.gained",
        "campaign.event",
        "lead.donotcontact",
    } <= kinds
    assert len(emu.contacts) == 40 and len(emu.state.point_groups) == 3
    keys = [(e["event"], e["eventId"]) for e in emu.state.events]
    assert len(keys) == len(set(keys))
