"""Conformance of the Mautic emulator with Mautic itself, over raw HTTP (no hook).

Every expectation here is read from mautic/mautic 5.x (paths relative to ``app/bundles``), its
functional tests, or the official API client's tests (mautic/api-library ``tests/Api``) — never
from what this project's hook sends — so a hook change cannot bend the emulator.
"""

from __future__ import annotations

import pytest

from tests.integration.mautic_raw import IPHONE, api, error, new_contact

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
