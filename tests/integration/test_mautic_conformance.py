"""Conformance of the Mautic emulator with Mautic itself, over raw HTTP (no hook).

Every expectation here is read from mautic/mautic 5.x (paths relative to ``app/bundles``), its
functional tests, or the official API client's tests (mautic/api-library ``tests/Api``) — never
from what this project's hook sends — so a hook change cannot bend the emulator.
"""

from __future__ import annotations

import http.client

import pytest
import requests

AUTH = ("sandbox", "sandbox-password")
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 10_0 like Mac OS X) AppleWebKit/602.1.50 (KHTML, like Gecko) "
    "Mobile/14A346 [FBAN/FBIOS;FBAV/68.0.0.49.70;FBDV/iPhone8,1;FBMD/iPhone;FBSN/iOS;FBSV/10.0]"
)
CORE_ALIASES = [  # LeadBundle/Model/FieldModel.php::$coreFields, in install order (ids 1..28)
    "title",
    "firstname",
    "lastname",
    "company",
    "position",
    "email",
    "mobile",
    "phone",
    "points",
    "fax",
    "address1",
    "address2",
    "city",
    "state",
    "zipcode",
    "country",
    "preferred_locale",
    "timezone",
    "last_active",
    "attribution_date",
    "attribution",
    "website",
    "facebook",
    "foursquare",
    "instagram",
    "linkedin",
    "skype",
    "twitter",
]


@pytest.fixture
def mautic(sandbox):
    """An empty Mautic (no contacts, events, point groups or companies) and its base URL."""
    sandbox.reset(empty=True)
    return sandbox.emulator("mautic"), sandbox.base_url("mautic")


@pytest.fixture
def seeded(sandbox):
    return sandbox.emulator("mautic"), sandbox.base_url("mautic")


def api(method: str, base: str, path: str, **kw) -> requests.Response:
    return requests.request(method, f"{base}/api/{path}", auth=kw.pop("auth", AUTH), **kw)


def new_contact(base: str, **fields) -> dict:
    r = api("POST", base, "contacts/new", json=fields)
    assert r.status_code == 201, r.text
    return r.json()["contact"]


def error(r: requests.Response) -> dict:
    body = r.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    return body["errors"][0]


# ---- 1. UTM tags: LeadModel::addUTMTags reads snake_case keys ---------------------------------
UTM_PAYLOAD = {  # api-library tests/Api/UtmTagsTest.php
    "query": {"foo": "bar", "coy": "acme"},
    "referer": "https://www.google.com/?q=mautic",
    "remotehost": "mautic-api.test",
    "url": "/mautic/rulz/",
    "useragent": IPHONE,
    "utm_campaign": "apitest",
    "utm_source": "qatest",
    "utm_medium": "cli",
    "utm_content": "test",
    "utm_term": "phpunit",
}
UTM_SHOWN = {  # how UtmTag::loadApiMetadata names them in the contact's utmtags
    "query": {"foo": "bar", "coy": "acme"},
    "referer": "https://www.google.com/?q=mautic",
    "remoteHost": "mautic-api.test",
    "url": "/mautic/rulz/",
    "userAgent": IPHONE,
    "utmCampaign": "apitest",
    "utmSource": "qatest",
    "utmMedium": "cli",
    "utmContent": "test",
    "utmTerm": "phpunit",
}


def test_utm_snake_case_keys_are_stored_and_one_device_per_user_agent(mautic):
    emu, base = mautic
    cid = new_contact(base, firstname="UTMTags API test")["id"]
    for n in (1, 2):  # two identical sets: two records, one device (UtmTagsTest::testAddCheckDeviceAndDelete)
        r = api("POST", base, f"contacts/{cid}/utm/add", json=UTM_PAYLOAD)
        assert r.status_code == 200
        tags = r.json()["contact"]["utmtags"]
        assert len(tags) == n and {k: v for k, v in tags[-1].items() if k != "id"} == UTM_SHOWN
    devices = api("GET", base, f"contacts/{cid}/devices").json()
    assert devices["total"] == 1 and devices["devices"][0]["device"] == "smartphone"
    assert (devices["devices"][0]["deviceBrand"], devices["devices"][0]["deviceModel"]) == ("Apple", "iPhone")
    events = api(
        "GET", base, f"contacts/{cid}/activity", params={"filters[includeEvents][]": "lead.utmtagsadded"}
    ).json()["events"]
    assert sorted(e["eventId"] for e in events) == sorted(
        f"lead.utmtagsadded{t['id']}" for t in emu.contacts[cid]["utmtags"]
    )
    assert {e["eventLabel"] for e in events} == {"UTM Campaign: apitest"}


def test_utm_camel_case_keys_are_stored_as_null_as_mautic_does(mautic):
    emu, base = mautic
    cid = new_contact(base, email="camel@example.com")["id"]
    r = api(
        "POST",
        base,
        f"contacts/{cid}/utm/add",
        json={"utmSource": "newsletter", "utmMedium": "email", "utmCampaign": "spring", "userAgent": IPHONE},
    )
    assert r.status_code == 200
    [tag] = r.json()["contact"]["utmtags"]
    assert all(tag[k] is None for k in UTM_SHOWN)
    assert emu.contacts[cid]["devices"] == []  # only the "useragent" spelling records a device
    assert (
        api("GET", base, f"contacts/{cid}/activity").json()["events"][0]["eventLabel"] == "UTM tags recorded"
    )


def test_utm_last_active_query_string_user_agent_spelling_and_removal(mautic):
    emu, base = mautic
    cid = new_contact(base, email="la@example.com")["id"]
    r = api(
        "POST",
        base,
        f"contacts/{cid}/utm/add",
        json={
            "utm_source": "x",
            "lastActive": "2017-01-17T00:30:08+00:00",
            "query": "a=1&b=two",
            "user_agent": IPHONE,
            "remote_host": "h.example",
        },
    )
    contact = r.json()["contact"]
    assert (
        contact["lastActive"] == "2017-01-17T00:30:08+00:00"
    )  # UtmTagsTest::testAddCheckActiveDateAndDelete
    assert contact["utmtags"][0]["query"] == {"a": "1", "b": "two"}  # a query string is parse_str()'d
    assert (contact["utmtags"][0]["userAgent"], contact["utmtags"][0]["remoteHost"]) == (IPHONE, "h.example")
    assert emu.contacts[cid]["devices"] == []  # "user_agent" is stored but records no device
    utm_id = contact["utmtags"][0]["id"]
    r = api("POST", base, f"contacts/{cid}/utm/{utm_id + 100}/remove")
    assert r.status_code == 400 and error(r) == {
        "code": 400,
        "message": "This is a bad request.",
        "details": [],
        "type": None,
    }
    r = api("POST", base, f"contacts/{cid}/utm/{utm_id}/remove")
    assert r.status_code == 200 and r.json()["recordFound"] is True and r.json()["contact"]["utmtags"] == []
    r = api("POST", base, f"contacts/{cid}/utm/add", json={"lastActive": "not a date"})
    assert r.status_code == 500  # new \DateTime('not a date') throws


# ---- 2. the default field set (FieldModel::$coreFields, LeadFieldData fixture) -------------------
def test_list_fields_has_every_core_field_with_its_type_group_and_label(mautic):
    _, base = mautic
    r = api("GET", base, "contacts/list/fields")
    fields = r.json()
    assert r.status_code == 200 and isinstance(fields, dict)
    by_alias = {f["alias"]: f for f in fields.values()}
    lead = [f for f in fields.values() if f["object"] == "lead"]
    assert [f["alias"] for f in sorted(lead, key=lambda f: f["id"])][:28] == CORE_ALIASES
    assert all(
        set(f) == {"id", "label", "alias", "type", "group", "order", "object"} for f in fields.values()
    )
    assert by_alias["address2"] == {
        "id": 12,
        "label": "Address Line 2",
        "alias": "address2",
        "type": "text",
        "group": "core",
        "order": 12,
        "object": "lead",
    }
    assert (by_alias["timezone"]["type"], by_alias["timezone"]["label"]) == ("timezone", "Preferred Timezone")
    assert (by_alias["last_active"]["type"], by_alias["attribution_date"]["type"]) == ("datetime", "datetime")
    assert (by_alias["fax"]["type"], by_alias["skype"]["group"], by_alias["foursquare"]["group"]) == (
        "tel",
        "social",
        "social",
    )
    # the action's filter names the object in a key Doctrine ignores: company fields come too
    assert by_alias["companyname"]["object"] == "company" and by_alias["companyname"]["id"] == 37


def test_fields_api_shows_details_and_unique_identifiers(mautic):
    _, base = mautic
    body = api("GET", base, "fields/contact", params={"limit": 100}).json()
    assert body["total"] == len(body["fields"]) >= 28 and isinstance(body["fields"], dict)
    email = next(f for f in body["fields"].values() if f["alias"] == "email")
    assert (email["isUniqueIdentifier"], email["isFixed"], email["isShortVisible"], email["type"]) == (
        True,
        True,
        True,
        "email",
    )
    assert [f["alias"] for f in body["fields"].values() if f["isUniqueIdentifier"]] == ["email"]
    r = api("GET", base, "fields/contact/21")
    assert r.json()["field"]["alias"] == "attribution" and r.json()["field"]["properties"] == {
        "roundmode": 4,
        "scale": 2,
    }
    assert api("GET", base, "fields/contact/999").status_code == 404
    company = api("GET", base, "fields/company", params={"limit": 100}).json()["fields"]
    assert {f["object"] for f in company.values()} == {"company"}


def test_new_core_fields_are_written_and_answered(mautic):
    emu, base = mautic
    contact = new_contact(
        base,
        email="f@example.com",
        address2="Floor 3",
        fax="+351 1",
        skype="f.skype",
        instagram="@f",
        foursquare="f4",
        timezone="Europe/Lisbon",
        attribution="12.5",
        attribution_date="2026-02-03 04:05:06",
    )
    flat = contact["fields"]["all"]
    assert {k: flat[k] for k in ("address2", "fax", "skype", "instagram", "foursquare", "timezone")} == {
        "address2": "Floor 3",
        "fax": "+351 1",
        "skype": "f.skype",
        "instagram": "@f",
        "foursquare": "f4",
        "timezone": "Europe/Lisbon",
    }
    assert (
        flat["attribution"] == 12.5 and flat["attribution_date"] == "2026-02-03 04:05:00"
    )  # 'Y-m-d H:i' first
    assert flat["points"] == 0 and flat["last_active"] is None
    title = contact["fields"]["core"]["title"]
    assert title["properties"] == 'a:1:{s:4:"list";a:3:{i:0;s:2:"Mr";i:1;s:3:"Mrs";i:2;s:4:"Miss";}}'
    assert (title["value"], title["normalizedValue"], title["is_fixed"], title["id"]) == (None, "", "1", "1")
    assert set(contact["fields"]) == {"core", "social", "personal", "professional", "all"}
    assert set(contact["fields"]["social"]) >= {
        "facebook",
        "foursquare",
        "instagram",
        "linkedin",
        "skype",
        "twitter",
    }
    got = api("GET", base, f"contacts/{contact['id']}").json()["contact"]["fields"]["all"]
    assert got == flat
    assert emu.contacts[contact["id"]]["values"]["address2"] == "Floor 3"


# ---- 3. choice and typed fields are validated (EntityFieldsBuildFormTrait, RequestTrait) ---------
@pytest.mark.parametrize(
    "field,value,message",
    [
        ("country", "IE", "This value is not valid."),  # CoreBundle/Assets/json/countries.json holds names
        ("country", "ireland", "This value is not valid."),  # ChoiceType values are exact
        ("state", "Atlantis", "This value is not valid."),
        ("preferred_locale", "english", "This value is not valid."),
        ("timezone", "CET", "This value is not valid."),  # DateTimeZone::listIdentifiers() has no CET
        ("timezone", "Mars/Olympus", "This value is not valid."),
        ("attribution", "12 euros", "This value is not valid."),  # NumberType transformation failure
        ("points", "many", "This value is not valid."),
        ("email", "john..doe@email.com", "john..doe@email.com is invalid."),  # LeadControllerTest
        ("email", "a%b@example.com", "a%b@example.com has characters not allowed in email addresses."),
        ("firstname", "x" * 65, "This value is too long. It should have 64 characters or less."),
        (
            "title",
            "x" * 200,
            "This value is too long. It should have 191 characters or less.",
        ),  # LeadControllerTest
        ("city", ["Lisbon"], "This value is not valid."),  # an array for a text field
    ],
)
def test_a_bad_value_is_a_400_form_error_on_every_write(mautic, field, value, message):
    emu, base = mautic
    existing = new_contact(base, email="v@example.com")["id"]
    expected = {"code": 400, "message": f"{field}: {message}", "details": {field: [message]}, "type": None}
    writes = [
        ("POST", "contacts/new", {"email": "n@example.com", field: value}),
        ("PATCH", f"contacts/{existing}/edit", {field: value}),
        ("PUT", f"contacts/{existing}/edit", {"email": "v@example.com", field: value}),
    ]
    for method, path, body in writes:
        r = api(method, base, path, json=body)
        assert (r.status_code, error(r)) == (400, expected), (method, r.text)
    stored = emu.contacts[existing]
    assert len(emu.contacts) == 1
    if field == "email":
        assert stored["values"]["email"] == "v@example.com"
    elif field == "points":
        assert stored["points"] == 0
    else:
        assert stored["values"][field] is None


@pytest.mark.parametrize(
    "field,value",
    [
        ("country", "United States"),
        ("country", "Ireland"),
        ("state", "Dublin"),
        ("preferred_locale", "es_SV"),
        ("timezone", "America/Chicago"),
        ("timezone", "UTC"),
        ("attribution", "7"),
        ("website", "https://x.example"),
    ],
)
def test_good_values_from_mautics_own_tests_are_accepted(mautic, field, value):
    _, base = mautic
    contact = new_contact(base, email="ok@example.com", **{field: value})  # LeadApiControllerFunctionalTest
    shown = contact["fields"]["all"][field]
    assert shown == (7 if field == "attribution" else value)


def test_values_are_read_as_the_form_reads_them(mautic):
    emu, base = mautic
    contact = new_contact(
        base,
        email="  Read.Me@Example.com ",
        website="example.com",
        attribution="1,5",
        last_active="2026-05-01T10:00:30+02:00",
        attribution_date="not a date",
        newsletter="yes",
        lifetime_value="600",
    )
    flat = contact["fields"]["all"]
    assert flat["email"] == "Read.Me@Example.com"  # InputHelper::email: trimmed, case kept
    assert flat["website"] == "http://example.com"  # UrlType's default protocol
    assert flat["attribution"] == 1.5  # "," is read as the decimal separator
    assert (
        flat["last_active"] == "2026-05-01 08:00:00" and contact["lastActive"] == "2026-05-01T08:00:00+00:00"
    )
    assert flat["attribution_date"] is None  # strtotime() false: the value is dropped, no error
    assert (flat["newsletter"], contact["fields"]["core"]["newsletter"]["normalizedValue"]) == (1, "Yes")
    assert flat["lifetime_value"] == 600
    # booleans are set before the form (RequestTrait), so false is kept on PATCH
    cid = contact["id"]
    r = api("PATCH", base, f"contacts/{cid}/edit", json={"newsletter": False, "attribution": 0})
    assert r.json()["contact"]["fields"]["all"]["newsletter"] == 0
    assert r.json()["contact"]["fields"]["all"]["attribution"] == 1.5  # numeric 0 dropped on PATCH
    assert emu.contact_by_email("read.me@example.com")["id"] == cid  # duplicate check on the cleaned email


def test_several_bad_values_are_one_message_in_form_order(mautic):
    _, base = mautic
    r = api(
        "POST",
        base,
        "contacts/new",
        json={"timezone": "Nowhere", "email": "bad@", "country": "IE", "owner": 99},
    )
    assert r.status_code == 400
    assert error(r)["message"] == (
        "email: bad@ is invalid., country: This value is not valid., "
        "timezone: This value is not valid., owner: This value is not valid."
    )
    assert list(error(r)["details"]) == ["email", "country", "timezone", "owner"]


def test_batch_items_fail_one_by_one_with_the_form_error(mautic):
    emu, base = mautic
    r = api(
        "POST",
        base,
        "contacts/batch/new",
        json=[
            {"email": "a@example.com", "country": "Germany"},
            {"email": "b@example.com", "country": "DE"},
            {"email": "c@example.com", "preferred_locale": "xx_YY"},
        ],
    )
    body = r.json()
    assert r.status_code == 201 and body["statusCodes"] == [201, 400, 400]
    assert body["errors"] == {
        "1": {
            "code": 400,
            "message": "country: This value is not valid.",
            "details": {"country": ["This value is not valid."]},
            "type": None,
        },
        "2": {
            "code": 400,
            "message": "preferred_locale: This value is not valid.",
            "details": {"preferred_locale": ["This value is not valid."]},
            "type": None,
        },
    }
    # only index 0 succeeded: PHP's [0 => contact] is a JSON list
    assert len(body["contacts"]) == 1 and sorted(c["values"]["email"] for c in emu.contacts.values()) == [
        "a@example.com"
    ]
    cid = body["contacts"][0]["id"]
    r = api(
        "PATCH",
        base,
        "contacts/batch/edit",
        json=[{"id": cid, "timezone": "Europe/Berlin"}, {"id": cid, "timezone": "Berlin"}],
    )
    assert (
        r.json()["statusCodes"] == [200, 400]
        and r.json()["errors"]["1"]["message"] == "timezone: This value is not valid."
    )
    assert emu.contacts[cid]["values"]["timezone"] == "Europe/Berlin"


def test_length_limit_reading_of_an_upgraded_instance(mautic):
    emu, base = mautic
    emu.settings["char_length_limit"] = 255  # migration Version20190524124819 on instances from 2.x
    assert (
        new_contact(base, email="long@example.com", firstname="x" * 100)["fields"]["all"]["firstname"]
        == "x" * 100
    )
    r = api("POST", base, "contacts/new", json={"email": "l2@example.com", "firstname": "x" * 192})
    assert error(r)["message"] == "firstname: This value is too long. It should have 191 characters or less."


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
def test_header_names_keep_mautics_case_where_the_server_protocol_allows():
    """uvicorn's h11 protocol writes header names as the application gives them (httptools,
    its default when installed, lowercases them): there Mautic's names show."""
    from airflow_provider_contacts.sandbox.app import SandboxConfig
    from airflow_provider_contacts.sandbox.server import SandboxServer

    with SandboxServer(SandboxConfig(vendors=["mautic"]), http="h11") as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for path, auth in (
            ("/mautic/api/contacts?limit=1", {"Authorization": "Basic c2FuZGJveDpzYW5kYm94LXBhc3N3b3Jk"}),
            ("/mautic/api/contacts", {}),
        ):  # an answer and an error answer
            conn.request("GET", path, headers=auth)
            response = conn.getresponse()
            response.read()
            names = [name for name, _ in response.getheaders()]
            assert {"Content-Type", "Content-Length", "Mautic-Version"} <= set(names), names
        conn.request("GET", "/mautic/mtracking.gif")
        response = conn.getresponse()
        response.read()
        assert {"Content-Type", "Cache-Control", "Set-Cookie"} <= {name for name, _ in response.getheaders()}


def test_clients_reading_headers_do_not_depend_on_case(seeded):
    _, base = seeded
    r = api("GET", base, "contacts", params={"limit": 1})
    assert r.headers["mautic-version"] == r.headers["MAUTIC-VERSION"] == "5.2.0"
