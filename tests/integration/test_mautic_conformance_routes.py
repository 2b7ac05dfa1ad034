"""Conformance of the Mautic emulator with Mautic itself, over raw HTTP (no hook), part 2: point
groups, the other contact routes clients use, the contact pages, header names. The sources are
those of ``test_mautic_conformance.py`` (mautic/mautic 5.x, its functional tests, the api-library
tests), never what this project's hook sends.
"""

from __future__ import annotations

import http.client

import pytest
import requests

from tests.integration.mautic_raw import IPHONE, api, error, new_contact


# ---- 4. point groups: search, PUT creates, batch routes ------------------------------------------
def make_groups(base: str, *names: str) -> list[int]:
    return [
        api("POST", base, "points/groups/new", json={"name": n}).json()["pointGroup"]["id"] for n in names
    ]


def test_point_group_search_uses_ids_and_name_like(mautic):
    _, base = mautic
    ids = make_groups(base, "Engagement", "Product interest", "Sales readiness", "Re-engagement")

    def names(search: str) -> list[str]:
        body = api("GET", base, "points/groups", params={"search": search}).json()
        assert body["total"] == len(body["pointGroups"])
        return [g["name"] for g in body["pointGroups"]]

    assert names(f"ids:{ids[0]},{ids[2]}") == ["Engagement", "Sales readiness"]
    assert names(f"!ids:{ids[0]}") == ["Product interest", "Sales readiness", "Re-engagement"]
    assert names("ids:abc") == []  # intval('abc') = 0
    assert names("ENGAGE") == ["Engagement", "Re-engagement"]  # name LIKE %engage%, case-insensitive
    assert names("+engagement") == ["Engagement"]  # strict: LIKE without the wildcards
    assert names("interest or readiness") == ["Product interest", "Sales readiness"]
    assert names("is:published") == []  # GroupRepository has no is:published: searched as a word
    assert names("%ment") == ["Engagement", "Re-engagement"]


def test_point_group_put_on_a_missing_id_creates_and_patch_is_404(mautic):
    _, base = mautic
    [gid] = make_groups(base, "Only")
    r = api("PUT", base, "points/groups/999/edit", json={"name": "Created by PUT"})
    assert r.status_code == 201 and r.json()["pointGroup"]["id"] == gid + 1  # a new id, not 999
    assert r.headers["Location"].endswith(f"/api/points/groups/{gid + 1}")
    r = api("PATCH", base, "points/groups/999/edit", json={"name": "x"})
    assert (r.status_code, error(r)["message"]) == (404, "Item was not found.")
    r = api("PUT", base, f"points/groups/{gid}/edit", json={"description": "no name"})
    assert (r.status_code, error(r)) == (
        400,
        {
            "code": 400,
            "message": "name: A name is required.",
            "details": {"name": ["A name is required."]},
            "type": None,
        },
    )
    r = api("PATCH", base, f"points/groups/{gid}/edit", json={"description": "kept name"})
    assert (r.json()["pointGroup"]["name"], r.json()["pointGroup"]["description"]) == ("Only", "kept name")


def test_point_group_batch_routes(mautic):
    emu, base = mautic
    r = api(
        "POST",
        base,
        "points/groups/batch/new",
        json=[{"name": "A"}, {"description": "nameless"}, {"name": "C"}],
    )
    body = r.json()
    assert r.status_code == 201 and body["statusCodes"] == [201, 400, 201]
    assert (
        list(body["pointGroups"]) == ["0", "2"]
        and body["errors"]["1"]["message"] == "name: A name is required."
    )
    a, c = body["pointGroups"]["0"]["id"], body["pointGroups"]["2"]["id"]
    r = api(
        "PATCH",
        base,
        "points/groups/batch/edit",
        json=[{"id": a, "name": "A2"}, {"id": 999, "name": "x"}, {"name": "no id"}],
    )
    body = r.json()
    assert r.status_code == 200 and body["statusCodes"] == [200, 404, 400]
    assert body["errors"]["1"] == {"message": "Item was not found.", "code": 404, "type": "api"}
    assert body["errors"]["2"] == {"message": "ID is missing from the payload.", "code": 400, "type": "api"}
    r = api("PUT", base, "points/groups/batch/edit", json=[{"id": 998, "name": "Made by PUT"}])
    assert r.json()["statusCodes"] == [201]
    r = api("DELETE", base, "points/groups/batch/delete", params={"ids": f"{a},12345,{c}"})
    assert r.status_code == 200 and [g["name"] for g in r.json()["pointGroups"].values()] == ["A2", "C"]
    assert sorted(g["name"] for g in emu.state.point_groups.values()) == ["Made by PUT"]
    r = api("POST", base, "points/groups/batch/new", json=[{"name": str(i)} for i in range(201)])
    assert r.status_code == 500 and error(r)["message"] == "A max of 200 entities are supported at a time."


# ---- 5. the other contact routes clients use -----------------------------------------------------
def test_segments_list_new_add_remove_and_batch_add(mautic):
    emu, base = mautic
    a, b = new_contact(base, email="sa@example.com")["id"], new_contact(base, email="sb@example.com")["id"]
    body = api("GET", base, "segments").json()
    assert body["total"] == 3 and list(body["lists"]) == ["2", "1", "3"]  # keyed by id, ordered by name
    r = api("POST", base, "segments/new", json={"name": "VIP customers", "description": "Top"})
    seg = r.json()["list"]
    assert r.status_code == 201 and (seg["alias"], seg["isGlobal"], seg["isPublished"], seg["filters"]) == (
        "vip-customers",
        True,
        True,
        [],
    )
    assert error(api("POST", base, "segments/new", json={}))["message"] == "name: A name is required."
    assert api("POST", base, f"segments/{seg['id']}/contact/{a}/add").json() == {"success": 1}
    r = api("POST", base, f"segments/{seg['id']}/contacts/add", json={"ids": [b, 999]})
    assert r.json() == {"success": 1, "details": {str(b): {"success": True}, "999": {"success": False}}}
    lists = api("GET", base, f"contacts/{a}/segments").json()
    assert lists["total"] == 1 and lists["lists"][str(seg["id"])]["manuallyAdded"] is True
    assert api("GET", base, "segments", params={"search": "vip"}).json()["total"] == 1
    assert api("POST", base, f"segments/{seg['id']}/contact/{a}/remove").json() == {"success": 1}
    assert api("GET", base, f"contacts/{a}/segments").json() == {"total": 0, "lists": {}}
    events = api(
        "GET", base, f"contacts/{a}/activity", params={"filters[includeEvents][]": "segment_membership"}
    ).json()["events"]
    assert sorted(e["eventLabel"] for e in events) == [
        "Contact added to segment, VIP customers",
        "Contact removed from segment, VIP customers",
    ]
    r = api("POST", base, f"segments/999/contact/{a}/add")
    assert (r.status_code, error(r)["message"]) == (404, "Item was not found.")
    r = api("POST", base, f"segments/{seg['id']}/contact/999/add")
    assert (r.status_code, error(r)["message"]) == (404, "Contact not found.")
    r = api("POST", base, f"segments/{seg['id']}/contacts/add", json={})
    assert (r.status_code, error(r)["message"]) == (400, "This is a bad request.")
    hidden = api("POST", base, "segments/new", json={"name": "Draft", "isPublished": False}).json()["list"]
    assert hidden["id"] not in [s["id"] for s in api("GET", base, "contacts/list/segments").json().values()]
    r = api("POST", base, f"segments/{hidden['id']}/contact/{a}/add")  # not in getUserLists()
    assert (r.status_code, error(r)["message"]) == (
        403,
        "You do not have access to the requested area/action.",
    )


def test_users_and_self(mautic):
    _, base = mautic
    body = api("GET", base, "users").json()
    assert body["total"] == 4 and isinstance(body["users"], list)
    assert {"id", "username", "firstName", "lastName", "email", "role", "isPublished"} <= set(
        body["users"][0]
    )
    assert api("GET", base, "users/2").json()["user"]["username"] == "sales"
    me = api("GET", base, "users/self").json()
    assert me["username"] == "sandbox" and me["role"]["isAdmin"] is True  # not wrapped in "user"
    # getUserList: users of a role that may handle contacts (not the viewer), by first name
    assert [o["id"] for o in api("GET", base, "contacts/list/owners").json()] == [1, 2, 3]
    assert api("GET", base, "contacts/list/owners", params={"filter": "sam"}).json() == [
        {"id": 2, "firstName": "Sam", "lastName": "Sales"}
    ]


def test_notes(mautic):
    _, base = mautic
    cid = new_contact(base, email="n@example.com")["id"]
    r = api("POST", base, "notes/new", json={"text": "Called"})
    assert (r.status_code, error(r)["message"]) == (400, "lead ID is mandatory")
    r = api("POST", base, "notes/new", json={"lead": cid, "text": " "})
    assert error(r)["message"] == "text: Note text cannot be empty"
    r = api("POST", base, "notes/new", json={"lead": cid, "text": "Called", "type": "sms"})
    assert error(r)["message"] == "type: This value is not valid."
    r = api("POST", base, "notes/new", json={"lead": 999, "text": "x"})
    assert (r.status_code, error(r)["message"]) == (404, "Contact not found.")
    r = api(
        "POST",
        base,
        "notes/new",
        json={"lead": cid, "text": "Called", "type": "call", "dateTime": "2026-01-02 10:00:00"},
    )
    note = r.json()["note"]
    assert r.status_code == 201 and (note["type"], note["dateTime"], note["lead"]["id"]) == (
        "call",
        "2026-01-02T10:00:00+00:00",
        cid,
    )
    mine = api("GET", base, f"contacts/{cid}/notes").json()
    assert mine["total"] == 1 and mine["notes"][0]["text"] == "Called" and mine["notes"][0]["lead"] == {}
    assert api("GET", base, f"notes/{note['id']}").json()["note"]["id"] == note["id"]


def test_companies_and_the_primary_company_field(mautic):
    _, base = mautic
    cid = new_contact(base, email="c@example.com")["id"]
    r = api("POST", base, "companies/new", json={"companyname": "Acme", "companycountry": "France"})
    acme = r.json()["company"]
    assert (
        r.status_code == 201
        and acme["fields"]["all"]["companycountry"] == "France"
        and set(acme) == {"id", "fields", "score"}
    )
    # an existing name is edited through editEntityAction with POST: the form clears what is
    # absent and CompanyApiController::preSaveEntity writes blanks (setCustomFieldValues)
    r = api("POST", base, "companies/new", json={"companyname": "acme", "companycity": "Lyon"})
    assert r.status_code == 200 and r.json()["company"]["id"] == acme["id"]
    assert {
        k: r.json()["company"]["fields"]["all"][k] for k in ("companyname", "companycity", "companycountry")
    } == {"companyname": "acme", "companycity": "Lyon", "companycountry": None}
    globex = api("POST", base, "companies/new", json={"companyname": "Globex"}).json()["company"]
    r = api("POST", base, "companies/new", json={"companyname": "Bad", "companycountry": "FR"})
    assert error(r)["message"] == "companycountry: This value is not valid."
    listed = api("GET", base, "companies").json()
    assert listed["total"] == "2" and list(listed["companies"]) == [str(acme["id"]), str(globex["id"])]
    for company in (acme, globex):
        assert api("POST", base, f"companies/{company['id']}/contact/{cid}/add").json() == {"success": 1}
    contact = api("GET", base, f"contacts/{cid}").json()["contact"]
    assert contact["fields"]["all"]["company"] == "Globex"  # the last added is the primary company
    rows = api("GET", base, f"contacts/{cid}/companies").json()
    assert rows["total"] == 2 and [(r["companyname"], r["is_primary"]) for r in rows["companies"]] == [
        ("acme", "0"),
        ("Globex", "1"),
    ]
    api("POST", base, f"companies/{globex['id']}/contact/{cid}/remove")
    assert api("GET", base, f"contacts/{cid}").json()["contact"]["fields"]["all"]["company"] == "acme"
    r = api("POST", base, f"companies/{acme['id']}/contact/999/add")
    assert (r.status_code, error(r)["message"]) == (404, "Contact not found.")
    r = api("POST", base, f"companies/{acme['id']}/contact/999/remove")
    assert (r.status_code, error(r)["message"]) == (404, "Item was not found.")


def test_campaigns_add_and_remove_a_contact(mautic):
    _, base = mautic
    cid = new_contact(base, email="cp@example.com")["id"]
    listed = api("GET", base, "campaigns").json()
    assert listed["total"] == 2 and list(listed["campaigns"]) == ["1", "2"]
    assert api("POST", base, f"campaigns/1/contact/{cid}/add").json() == {"success": 1}
    mine = api("GET", base, f"contacts/{cid}/campaigns").json()
    assert mine["total"] == 1 and mine["campaigns"]["1"]["manuallyAdded"] is True
    assert api("POST", base, f"campaigns/1/contact/{cid}/remove").json() == {"success": 1}
    assert api("GET", base, f"contacts/{cid}/campaigns").json() == {"total": 0, "campaigns": {}}
    labels = [
        e["eventLabel"]
        for e in api("GET", base, f"contacts/{cid}/activity").json()["events"]
        if e["event"] == "campaign_membership"
    ]
    assert sorted(labels) == ["Contact added to campaign, Welcome", "Contact removed from campaign, Welcome"]
    r = api("POST", base, "campaigns/1/contact/999/add")  # addLeadAction: notFound()
    assert error(r)["message"] == "Item was not found."
    r = api("POST", base, "campaigns/1/contact/999/remove")  # removeLeadAction: checkLeadAccess
    assert error(r)["message"] == "Contact not found."


def test_stages_new_and_change_a_contacts_stage(mautic):
    _, base = mautic
    cid = new_contact(base, email="st@example.com")["id"]
    r = api("POST", base, "stages/new", json={"name": "Evangelist", "weight": 50})
    stage = r.json()["stage"]
    assert r.status_code == 201 and (stage["weight"], stage["isPublished"]) == (50, True)
    assert api("GET", base, "stages").json()["total"] == 4
    assert api("POST", base, f"stages/{stage['id']}/contact/{cid}/add").json() == {"success": 1}
    assert api("GET", base, f"contacts/{cid}").json()["contact"]["stage"]["name"] == "Evangelist"
    [event] = api(
        "GET", base, f"contacts/{cid}/activity", params={"filters[includeEvents][]": "stage.changed"}
    ).json()["events"]
    assert (
        event["eventLabel"]["label"] == f"{stage['id']}: Evangelist"
        and event["details"]["log"]["actionName"] == "Manually Added"
    )
    assert api("POST", base, f"stages/{stage['id']}/contact/{cid}/remove").json() == {"success": 1}
    assert api("GET", base, f"contacts/{cid}").json()["contact"]["stage"] is None
    assert error(api("POST", base, f"stages/999/contact/{cid}/add"))["message"] == "Item was not found."
    assert (
        error(api("POST", base, f"stages/{stage['id']}/contact/999/add"))["message"] == "Contact not found."
    )


def test_tracking_pixel_records_a_page_hit_for_the_tracked_visitor(mautic):
    emu, base = mautic
    browser = requests.Session()
    browser.headers["User-Agent"] = IPHONE
    r = browser.get(
        f"{base}/mtracking.gif",
        params={
            "page_url": "https://shop.example/pricing?utm_source=ads&utm_campaign=spring",
            "page_title": "Pricing",
        },
    )
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/gif" and len(r.content) == 43
    assert r.headers["Cache-Control"] == "private, no-cache, no-cache=Set-Cookie, proxy-revalidate"
    [visitor] = emu.contacts.values()  # a new anonymous contact
    assert visitor["dateIdentified"] is None and visitor["lastActive"] is not None
    browser.get(f"{base}/mtracking.gif", params={"page_url": "https://shop.example/checkout"})
    assert len(emu.contacts) == 1  # the cookies bring the same visitor back
    events = api(
        "GET",
        base,
        f"contacts/{visitor['id']}/activity",
        params={"filters[includeEvents][]": "page.hit", "order[0]": "timestamp", "order[1]": "ASC"},
    ).json()["events"]
    assert [e["eventLabel"]["label"] for e in events] == ["Pricing", "https://shop.example/checkout"]
    assert events[0]["eventId"].isdigit() and events[0]["details"]["hit"]["url"].startswith(
        "https://shop.example/pricing"
    )
    tags = api("GET", base, f"contacts/{visitor['id']}").json()["contact"]["utmtags"]
    assert [(t["utmSource"], t["utmCampaign"]) for t in tags] == [("ads", "spring")]  # utm_* in the page URL
    # without page_url nor Referer the hit is the pixel's own request URI (processPageHit)
    requests.get(f"{base}/mtracking.gif", params={"url": "https://ignored.example/"})
    other = next(c for c in emu.contacts.values() if c["id"] != visitor["id"])
    [hit] = [e for e in emu.state.events if e["contactId"] == other["id"]]
    assert hit["details"]["hit"]["url"] == "/mtracking.gif?url=https%3A%2F%2Fignored.example%2F"


def test_new_routes_have_the_same_guards(seeded):
    emu, base = seeded
    for path in (
        "segments",
        "users",
        "companies",
        "campaigns",
        "stages",
        "notes",
        "devices",
        "fields/contact",
    ):
        r = requests.get(f"{base}/api/{path}")
        assert (r.status_code, error(r)["type"]) == (401, "access_denied"), path
        r = requests.get(f"{base}/api/{path}", auth=("viewer", "viewer-password"))
        assert (r.status_code, error(r)["message"]) == (
            403,
            "You do not have access to the requested area/action.",
        ), path
        assert r.headers["Mautic-Version"] == "5.2.0"


# ---- 6. the pages the provider's extra link opens ---------------------------------------------------
def test_contact_pages_for_the_extra_link(seeded):
    emu, base = seeded
    contact = next(iter(emu.contacts.values()))
    r = requests.get(f"{base}/s/contacts/view/{contact['id']}")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert contact["values"]["email"] in r.text and contact["values"]["firstname"] in r.text
    r = requests.get(f"{base}/s/contacts")
    assert r.status_code == 200 and f"/s/contacts/view/{contact['id']}" in r.text
    assert requests.get(f"{base}/s/contacts/view/999999").status_code == 404


# ---- 7. header names as Mautic sends them ------------------------------------------------------------
def raw_header_names(server_url: str, path: str, headers: dict[str, str] | None = None) -> list[str]:
    """The header names of an answer as they are on the wire (http.client keeps their case)."""
    host, _, port = server_url.removeprefix("http://").rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return [name for name, _ in response.getheaders()]
    finally:
        conn.close()


def test_header_names_are_mautics_by_default(seeded, sandbox):
    """The sandbox runs uvicorn's h11 protocol by default, which writes header names as the
    emulator gives them, and names its own Date and Server headers as HTTP servers do."""
    basic = {"Authorization": "Basic c2FuZGJveDpzYW5kYm94LXBhc3N3b3Jk"}
    api_names = {"Date", "Server", "Mautic-Version", "Content-Length", "Content-Type"}
    # an answer, an error answer (no auth) and an answer of a batch delete
    assert set(raw_header_names(sandbox.url, "/mautic/api/contacts?limit=1", basic)) == api_names
    assert set(raw_header_names(sandbox.url, "/mautic/api/contacts")) == api_names
    assert set(raw_header_names(sandbox.url, "/mautic/mtracking.gif")) >= {
        "Date",
        "Content-Type",
        "Cache-Control",
        "Set-Cookie",
    }
    sandbox.emulator("mautic").settings["rate_limit_per_hour"] = 1000
    names = raw_header_names(sandbox.url, "/mautic/api/contacts?limit=1", basic)
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(names)
    assert [n for n in names if n != n.lower()] == names  # no name in lower case


@pytest.mark.parametrize("protocol", ["h11", "httptools"])
def test_the_hook_reads_headers_in_either_case(protocol, monkeypatch):
    """httptools (faster; ``--http httptools``) lowercases every header name on the wire."""
    from airflow_provider_contacts.hooks.mautic import MauticHook
    from airflow_provider_contacts.sandbox.app import SandboxConfig
    from airflow_provider_contacts.sandbox.server import SandboxServer
    from tests.integration.mautic_hook_support import set_conn

    with SandboxServer(SandboxConfig(vendors=["mautic"]), http=protocol) as server:
        names = raw_header_names(server.url, "/mautic/api/contacts")
        assert ("Mautic-Version" in names) is (protocol == "h11") and ("mautic-version" in names) is (
            protocol == "httptools"
        )
        set_conn(monkeypatch, "mautic_proto", server.emulator("mautic").connection(server.url))
        hook = MauticHook("mautic_proto")
        assert hook.test_connection() == (
            True,
            f"Connected to Mautic 5.2.0 at {server.base_url('mautic')} (basic auth as sandbox); "
            "40 contacts visible",
        )
        assert [c["id"] for c in hook.batch_delete([3, 4])] == [3, 4]
        assert sorted(server.emulator("mautic").contacts) == [i for i in range(1, 41) if i not in (3, 4)]


def test_clients_reading_headers_do_not_depend_on_case(seeded):
    _, base = seeded
    r = api("GET", base, "contacts", params={"limit": 1})
    assert r.headers["mautic-version"] == r.headers["MAUTIC-VERSION"] == "5.2.0"
