"""Raw-HTTP helpers for the Mautic emulator tests: credentials, requests, Mautic's error body."""

from __future__ import annotations

import requests

from airflow_provider_contacts.sandbox.vendors.mautic import CLIENT_ID, CLIENT_SECRET

AUTH = ("sandbox", "sandbox-password")


IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 10_0 like Mac OS X) AppleWebKit/602.1.50 (KHTML, like Gecko) "
    "Mobile/14A346 [FBAN/FBIOS;FBAV/68.0.0.49.70;FBDV/iPhone8,1;FBMD/iPhone;FBSN/iOS;FBSV/10.0]"
)


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


def token(base: str) -> str:
    r = requests.post(
        f"{base}/oauth/v2/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert r.status_code == 200
    return r.json()["access_token"]
