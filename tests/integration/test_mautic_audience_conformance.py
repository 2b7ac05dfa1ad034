"""Conformance of the Mautic emulator's audience routes with Mautic 5.x, over raw HTTP (no hook).

Read from mautic/mautic (paths relative to ``app/bundles``): ``CampaignBundle/Controller/Api/
CampaignApiController.php`` (``getContactsAction``, ``addLeadAction``, ``removeLeadAction``),
``CampaignBundle/Membership/MembershipManager.php`` and ``Action/Adder.php`` / ``Remover.php``,
``CoreBundle/Controller/Api/StatsApiController.php::listAction``,
``CoreBundle/Entity/CommonRepository.php::getRows`` / ``buildWhereClauseFromArray``,
``LeadBundle/Entity/LeadRepository.php`` (the ``segment:`` search command). See
``docs/vendors/mautic.md`` §13.
"""

from __future__ import annotations

import pytest
import requests

AUTH = ("sandbox", "sandbox-password")


@pytest.fixture
def mautic(sandbox):
    sandbox.reset(empty=True)
    return sandbox.emulator("mautic"), sandbox.base_url("mautic")


def api(method: str, base: str, path: str, **kw) -> requests.Response:
    return requests.request(method, f"{base}/api/{path}", auth=AUTH, **kw)


def new_contacts(base: str, count: int) -> list[int]:
    return [
        api("POST", base, "contacts/new", json={"email": f"aud{i}@example.com"}).json()["contact"]["id"]
        for i in range(count)
    ]


def members(base: str, campaign: int, **params) -> dict:
    r = api("GET", base, f"campaigns/{campaign}/contacts", params=params)
    assert r.status_code == 200
    return r.json()


def where_in(ids) -> dict:
    return {"where[0][col]": "lead_id", "where[0][expr]": "in", "where[0][val]": ",".join(map(str, ids))}


def membership_labels(base: str, contact: int) -> list[str]:
    events = api("GET", base, f"contacts/{contact}/activity").json()["events"]
    return [e["eventLabel"] for e in events if e["event"] == "campaign_membership"]


def test_campaign_members_are_raw_campaign_leads_rows_filtered_and_paged(mautic):
    _, base = mautic
    a, b, c = new_contacts(base, 3)
    for contact in (a, b, c):
        assert api("POST", base, f"campaigns/1/contact/{contact}/add").json() == {"success": 1}
    body = members(base, 1, **where_in([a, c, 999]))
    assert body["total"] == "2"  # a raw count: text
    row = body["contacts"][0]
    assert set(row) == {
        "campaign_id",
        "lead_id",
        "date_added",
        "manually_removed",
        "manually_added",
        "date_last_exited",
        "rotation",
    }
    assert sorted(r["lead_id"] for r in body["contacts"]) == sorted([str(a), str(c)])
    assert (row["campaign_id"], row["manually_removed"], row["manually_added"], row["rotation"]) == (
        "1",
        "0",
        "1",
        "1",
    )
    assert row["date_last_exited"] is None and len(row["date_added"]) == 19  # Y-m-d H:i:s
    # start/limit page the rows; the default limit is 100
    assert len(members(base, 1, start=1, limit=1)["contacts"]) == 1
    assert members(base, 1, start=1, limit=1)["total"] == "3"
    assert members(base, 2)["contacts"] == [] and members(base, 2)["total"] == "0"
    # a manually removed member is no longer listed (manually_removed = 0 is always added)
    api("POST", base, f"campaigns/1/contact/{b}/remove")
    assert sorted(r["lead_id"] for r in members(base, 1)["contacts"]) == sorted([str(a), str(c)])


def test_campaign_members_errors(mautic):
    _, base = mautic
    r = api("GET", base, "campaigns/99/contacts")
    assert (r.status_code, r.json()["errors"][0]["message"]) == (404, "Item was not found.")
    # listAction catches the failed query and answers it with HTTP 200
    r = api(
        "GET",
        base,
        "campaigns/1/contacts",
        params={"where[0][col]": "nope", "where[0][expr]": "eq", "where[0][val]": 1},
    )
    assert r.status_code == 200 and list(r.json()) == ["errors"]
    assert r.json()["errors"][0]["message"].startswith("An exception occurred while executing a query")


def test_campaign_re_add_restarts_only_where_allowed_and_removal_is_kept_as_a_flag(mautic):
    emu, base = mautic
    a, b = new_contacts(base, 2)
    # Welcome (1) does not allow restarts: re-adding an active member changes nothing, logs nothing
    api("POST", base, f"campaigns/1/contact/{a}/add")
    assert api("POST", base, f"campaigns/1/contact/{a}/add").json() == {"success": 1}
    assert members(base, 1)["contacts"][0]["rotation"] == "1"
    assert membership_labels(base, a) == ["Contact added to campaign, Welcome"]
    # a campaign that allows restarts: the re-add starts a new rotation and logs "added" again
    emu.state.campaigns[2]["allowRestart"] = True
    api("POST", base, f"campaigns/2/contact/{b}/add")
    api("POST", base, f"campaigns/2/contact/{b}/add")
    assert members(base, 2)["contacts"][0]["rotation"] == "2"
    assert membership_labels(base, b).count("Contact added to campaign, Re-engagement") == 2
    # removal: not listed anywhere, one event; removing again does nothing
    api("POST", base, f"campaigns/1/contact/{a}/remove")
    api("POST", base, f"campaigns/1/contact/{a}/remove")
    assert api("GET", base, f"contacts/{a}/campaigns").json() == {"total": 0, "campaigns": {}}
    assert membership_labels(base, a).count("Contact removed from campaign, Welcome") == 1
    # a manual re-add after a manual removal brings the member back (new rotation), even
    # without restarts
    api("POST", base, f"campaigns/1/contact/{a}/add")
    row = members(base, 1)["contacts"][0]
    assert (row["lead_id"], row["manually_added"], row["rotation"]) == (str(a), "1", "2")
    assert api("GET", base, f"contacts/{a}/campaigns").json()["total"] == 1


def test_segment_search_with_where_in_reads_the_members_among_some_ids(mautic):
    _, base = mautic
    a, b, c = new_contacts(base, 3)
    api("POST", base, "segments/3/contacts/add", json={"ids": [a, c]})
    params = {
        "search": "segment:webinar-attendees",
        "where[0][col]": "id",
        "where[0][expr]": "in",
        "where[0][val]": f"{a},{b}",
        "minimal": 1,
    }
    assert list(api("GET", base, "contacts", params=params).json()["contacts"]) == [str(a)]
    api("POST", base, f"segments/3/contact/{a}/remove")
    assert api("GET", base, "contacts", params=params).json() == {"total": "0", "contacts": {}}
