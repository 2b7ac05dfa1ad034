"""The Mautic emulator speaks raw HTTP exactly as docs/vendors/mautic.md documents (§ numbers)."""

from __future__ import annotations

import requests

from airflow_provider_contacts.sandbox.vendors.mautic import CLIENT_ID, CLIENT_SECRET, USER_CLIENT
from tests.integration.mautic_raw import AUTH, token


# ---- guards (§1.3, §11.1) -----------------------------------------------------------------
def test_empty_contact_list_is_exactly_the_documented_body(mautic):
    _, base = mautic
    r = requests.get(f"{base}/api/contacts", auth=AUTH)
    assert r.status_code == 200
    assert r.text == '{"total":"0","contacts":{}}'
    assert r.headers["Mautic-Version"] == "5.2.0"


def test_guard_order_api_disabled_first_then_basic_disabled_then_401(mautic):
    emu, base = mautic
    emu.settings["api_enabled"] = False
    for url in (f"{base}/api/contacts", f"{base}/oauth/v2/token"):
        r = requests.post(url, auth=("nobody", "x"))
        assert r.status_code == 403
        assert r.json() == {
            "errors": [
                {
                    "message": "API disabled. You need to enable the API in the API settings of Mautic's Configuration.",
                    "code": 403,
                    "type": "api_disabled",
                }
            ]
        }
    emu.settings["api_enabled"] = True
    emu.settings["basic_auth_enabled"] = False
    r = requests.get(f"{base}/api/contacts", auth=("nobody", "x"))  # checked before the credentials
    assert r.status_code == 403 and r.json()["errors"][0]["type"] == "access_denied"
    assert r.json()["errors"][0]["message"].startswith("Basic Auth disabled.")
    r = requests.get(f"{base}/api/contacts")
    assert (r.status_code, r.json()) == (
        401,
        {"errors": [{"message": "API authorization denied.", "code": 401, "type": "access_denied"}]},
    )
    assert "WWW-Authenticate" not in r.headers


def test_bad_basic_credentials_and_bad_or_expired_tokens(mautic):
    emu, base = mautic
    r = requests.get(f"{base}/api/contacts", auth=("sandbox", "wrong"))
    assert r.status_code == 401
    assert r.json()["errors"][0] == {
        "message": "Authorization denied, invalid credentials.",
        "code": 401,
        "type": "access_denied",
    }
    r = requests.get(f"{base}/api/contacts", headers={"Authorization": "Bearer nope"})
    assert r.json() == {
        "errors": [{"message": "The access token provided is invalid.", "code": 401, "type": "invalid_grant"}]
    }
    good = token(base)
    assert (
        requests.get(f"{base}/api/contacts", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    )
    emu.expire_tokens()
    r = requests.get(f"{base}/api/contacts", headers={"Authorization": f"Bearer {good}"})
    assert (
        r.status_code == 401 and r.json()["errors"][0]["message"] == "The access token provided has expired."
    )


def test_user_without_permission_gets_the_controller_403(mautic):
    _, base = mautic
    r = requests.get(f"{base}/api/contacts", auth=("viewer", "viewer-password"))
    assert r.status_code == 403
    assert r.json() == {
        "errors": [
            {
                "code": 403,
                "message": "You do not have access to the requested area/action.",
                "details": [],
                "type": None,
            }
        ]
    }


def test_token_endpoint_client_credentials_and_its_errors(mautic):
    _, base = mautic
    r = requests.post(
        f"{base}/oauth/v2/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    body = r.json()
    assert r.status_code == 200 and set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert (body["expires_in"], body["token_type"], body["scope"]) == (3600, "bearer", None)
    # client id/secret in an HTTP Basic header work too
    r = requests.post(
        f"{base}/oauth/v2/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert r.status_code == 200
    cases = [
        (
            {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            "invalid_request",
            "Invalid grant_type parameter or parameter missing",
        ),
        (
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x"},
            "invalid_client",
            "The client credentials are invalid",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": USER_CLIENT[0],
                "client_secret": USER_CLIENT[1],
            },
            "unauthorized_client",
            "The grant type is unauthorized for this client_id",
        ),
    ]
    for data, type_, message in cases:
        r = requests.post(f"{base}/oauth/v2/token", data=data)
        assert (r.status_code, r.json()) == (
            400,
            {"errors": [{"message": message, "code": 400, "type": type_}]},
        )


def test_hourly_rate_limiter_429_without_retry_after_and_401s_not_counted(mautic):
    emu, base = mautic
    emu.settings["rate_limit_per_hour"] = 2
    assert requests.get(f"{base}/api/contacts").status_code == 401  # not counted
    first = requests.get(f"{base}/api/contacts", auth=AUTH)
    assert first.headers["X-RateLimit-Limit"] == "2" and first.headers["X-RateLimit-Remaining"] == "1"
    assert requests.get(f"{base}/api/contacts", auth=AUTH).status_code == 200
    r = requests.get(f"{base}/api/contacts", auth=AUTH)
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert int(r.headers["X-RateLimit-Reset"]) == int(first.headers["X-RateLimit-Reset"])
    assert r.json() == {
        "errors": [
            {"code": 429, "message": "You exceeded the rate limit of 2 API calls per hour.", "details": []}
        ]
    }
    # each new OAuth token starts its own bucket (§8)
    assert (
        requests.get(f"{base}/api/contacts", headers={"Authorization": f"Bearer {token(base)}"}).status_code
        == 200
    )


# ---- contacts (§3, §9) --------------------------------------------------------------------
def test_new_contact_upserts_on_email_201_then_200(mautic):
    _, base = mautic
    r = requests.post(
        f"{base}/api/contacts/new", auth=AUTH, json={"email": "Ann@Example.com", "firstname": "Ann"}
    )
    assert r.status_code == 201
    cid = r.json()["contact"]["id"]
    assert r.headers["Location"].endswith(f"/api/contacts/{cid}")
    r = requests.post(
        f"{base}/api/contacts/new", auth=AUTH, json={"email": "ann@example.com", "lastname": "Lee"}
    )
    assert r.status_code == 200 and "Location" not in r.headers
    fields = r.json()["contact"]["fields"]["all"]
    assert (r.json()["contact"]["id"], fields["firstname"], fields["lastname"]) == (cid, "Ann", "Lee")
    r = requests.post(f"{base}/api/contacts/new", auth=AUTH, json={"email": "not-an-email"})
    assert r.status_code == 400
    assert r.json()["errors"][0] == {
        "code": 400,
        "message": "email: not-an-email is invalid.",
        "details": {"email": ["not-an-email is invalid."]},
        "type": None,
    }


def test_zero_is_dropped_on_post_and_patch_but_put_sets_it_and_blanks_absent_fields(mautic):
    _, base = mautic
    cid = requests.post(
        f"{base}/api/contacts/new",
        auth=AUTH,
        json={"email": "z@example.com", "firstname": "Zed", "attribution": 5, "points": 4},
    ).json()["contact"]["id"]
    r = requests.patch(
        f"{base}/api/contacts/{cid}/edit", auth=AUTH, json={"attribution": 0, "points": 0, "city": ""}
    )
    c = r.json()["contact"]
    assert (c["fields"]["all"]["attribution"], c["points"], c["fields"]["all"]["firstname"]) == (5, 4, "Zed")
    r = requests.put(
        f"{base}/api/contacts/{cid}/edit", auth=AUTH, json={"email": "z@example.com", "attribution": 0}
    )
    c = r.json()["contact"]
    assert r.status_code == 200
    assert (c["fields"]["all"]["attribution"], c["fields"]["all"]["firstname"]) == (0, None)


def test_patch_on_missing_is_404_put_creates_with_a_new_id_delete_serialises_null_id(mautic):
    emu, base = mautic
    r = requests.patch(f"{base}/api/contacts/999/edit", auth=AUTH, json={"firstname": "X"})
    assert r.status_code == 404 and r.json()["errors"][0]["message"] == "Item was not found."
    r = requests.put(f"{base}/api/contacts/999/edit", auth=AUTH, json={"email": "new@example.com"})
    assert r.status_code == 201 and r.json()["contact"]["id"] == 1
    r = requests.delete(f"{base}/api/contacts/1/delete", auth=AUTH)
    assert r.status_code == 200 and r.json()["contact"]["id"] is None and emu.contacts == {}


def test_tags_are_additive_and_minus_removes(mautic):
    _, base = mautic
    cid = requests.post(
        f"{base}/api/contacts/new", auth=AUTH, json={"email": "t@example.com", "tags": ["a", "b"]}
    ).json()["contact"]["id"]
    r = requests.patch(f"{base}/api/contacts/{cid}/edit", auth=AUTH, json={"tags": "c,-a"})
    assert [t["tag"] for t in r.json()["contact"]["tags"]] == ["b", "c"]


def test_list_keyset_paging_by_id_where_and_string_total(mautic):
    emu, base = mautic
    for i in range(5):
        requests.post(f"{base}/api/contacts/new", auth=AUTH, json={"email": f"p{i}@example.com"})
    r = requests.get(
        f"{base}/api/contacts",
        auth=AUTH,
        params={
            "orderBy": "id",
            "limit": "2",
            "where[0][col]": "id",
            "where[0][expr]": "gt",
            "where[0][val]": "2",
        },
    )
    body = r.json()
    assert body["total"] == "3" and list(body["contacts"]) == ["3", "4"]
    r = requests.get(
        f"{base}/api/contacts",
        auth=AUTH,
        params={
            "where[0][col]": "email",
            "where[0][expr]": "in",
            "where[0][val]": "P1@example.com,p4@example.com",
        },
    )
    assert sorted(r.json()["contacts"]) == ["2", "5"]
    r = requests.get(f"{base}/api/contacts", auth=AUTH, params={"where[0][val]": "1"})  # no expr/col
    assert r.status_code == 500 and "details" not in r.json()["errors"][0]


# ---- batches (§4) -------------------------------------------------------------------------
def test_batch_over_the_limit_is_a_500_and_stores_nothing(mautic):
    emu, base = mautic
    r = requests.post(
        f"{base}/api/contacts/batch/new", auth=AUTH, json=[{"email": f"b{i}@example.com"} for i in range(201)]
    )
    assert r.status_code == 500
    assert r.json() == {
        "errors": [
            {
                "code": 500,
                "message": "A max of 200 entities are supported at a time.",
                "details": [],
                "type": None,
            }
        ]
    }
    assert emu.contacts == {}
    emu.settings["batch_max_limit"] = 300
    assert (
        requests.post(
            f"{base}/api/contacts/batch/new",
            auth=AUTH,
            json=[{"email": f"b{i}@example.com"} for i in range(201)],
        ).status_code
        == 201
    )
    assert len(emu.contacts) == 201


def test_batch_with_one_bad_email_stores_two_and_keys_the_error_by_index(mautic):
    emu, base = mautic
    items = [{"email": "a@example.com"}, {"email": "bad-email"}, {"email": "c@example.com"}]
    r = requests.post(f"{base}/api/contacts/batch/new", auth=AUTH, json=items)
    body = r.json()
    assert r.status_code == 201
    assert body["statusCodes"] == [201, 400, 201]
    assert sorted(body["contacts"]) == ["0", "2"]  # an object: index 1 is missing
    assert body["errors"] == {
        "1": {
            "code": 400,
            "message": "email: bad-email is invalid.",
            "details": {"email": ["bad-email is invalid."]},
            "type": None,
        }
    }
    assert sorted(c["values"]["email"] for c in emu.contacts.values()) == ["a@example.com", "c@example.com"]
    # failing index 0 only: errors is a JSON list; a duplicate inside one batch updates (200)
    r = requests.post(
        f"{base}/api/contacts/batch/new",
        auth=AUTH,
        json=[{"email": "x"}, {"email": "d@example.com"}, {"email": "D@example.com", "city": "Oslo"}],
    )
    body = r.json()
    assert body["statusCodes"] == [400, 201, 200]
    assert isinstance(body["errors"], list) and body["errors"][0]["message"] == "email: x is invalid."
    assert body["contacts"]["1"]["id"] == body["contacts"]["2"]["id"]


def test_batch_edit_statuses_and_batch_delete_by_query(mautic):
    emu, base = mautic
    requests.post(
        f"{base}/api/contacts/batch/new",
        auth=AUTH,
        json=[{"email": "a@example.com"}, {"email": "b@example.com"}],
    )
    r = requests.patch(
        f"{base}/api/contacts/batch/edit",
        auth=AUTH,
        json=[{"id": 1, "city": "Rome"}, {"id": 77, "city": "X"}, {"city": "Y"}],
    )
    body = r.json()
    assert r.status_code == 200 and body["statusCodes"] == [200, 404, 400]
    assert body["errors"] == {
        "1": {"message": "Item was not found.", "code": 404, "type": "api"},
        "2": {"message": "ID is missing from the payload.", "code": 400, "type": "api"},
    }
    assert emu.contacts[1]["values"]["city"] == "Rome"
    r = requests.delete(f"{base}/api/contacts/batch/delete", auth=AUTH, params={"ids": "2,99,1"})
    body = r.json()
    assert "statusCodes" not in body and sorted(body["contacts"]) == ["0", "2"]
    assert body["contacts"]["0"]["id"] == 2 and emu.contacts == {}


# ---- do not contact (§5) ------------------------------------------------------------------
def test_dnc_reason_zero_is_400_and_unsubscribed_is_never_overwritten(mautic):
    emu, base = mautic
    requests.post(f"{base}/api/contacts/new", auth=AUTH, json={"email": "d@example.com"})
    r = requests.post(f"{base}/api/contacts/1/dnc/email/add", auth=AUTH, json={"reason": 0})
    assert (r.status_code, r.json()) == (
        400,
        {
            "errors": [
                {
                    "code": 400,
                    "message": "Invalid reason code given",
                    "details": ["Reason code needs to be an integer and higher than 0."],
                    "type": None,
                }
            ]
        },
    )
    r = requests.post(
        f"{base}/api/contacts/1/dnc/email/add", auth=AUTH, json={"reason": 1, "comments": "asked"}
    )
    assert [(d["channel"], d["reason"]) for d in r.json()["contact"]["doNotContact"]] == [("email", 1)]
    r = requests.post(f"{base}/api/contacts/1/dnc/email/add", auth=AUTH, json={"reason": 2})
    assert r.status_code == 200 and r.json()["contact"]["doNotContact"][0]["reason"] == 1
    r = requests.post(f"{base}/api/contacts/1/dnc/email/remove", auth=AUTH)
    assert r.json()["recordFound"] is True and r.json()["contact"]["doNotContact"] == []
    assert requests.post(f"{base}/api/contacts/1/dnc/email/remove", auth=AUTH).json()["recordFound"] is False
    assert (
        requests.post(f"{base}/api/contacts/9/dnc/email/add", auth=AUTH, json={"reason": 3}).status_code
        == 404
    )


def test_dnc_lists_inside_batch_edit_add_and_reason_zero_removes(mautic):
    emu, base = mautic
    requests.post(
        f"{base}/api/contacts/batch/new",
        auth=AUTH,
        json=[{"email": "a@example.com"}, {"email": "b@example.com"}],
    )
    requests.patch(
        f"{base}/api/contacts/batch/edit",
        auth=AUTH,
        json=[
            {"id": 1, "doNotContact": [{"channel": "email", "reason": 2, "comments": "bounce"}]},
            {"id": 2, "doNotContact": [{"channel": "sms"}]},
        ],
    )
    assert [(d["channel"], d["reason"]) for d in emu.contacts[1]["dnc"]] == [("email", 2)]
    assert [(d["channel"], d["reason"]) for d in emu.contacts[2]["dnc"]] == [("sms", 3)]
    requests.patch(
        f"{base}/api/contacts/batch/edit",
        auth=AUTH,
        json=[{"id": 1, "doNotContact": [{"channel": "email", "reason": 0}]}],
    )
    assert emu.contacts[1]["dnc"] == []
