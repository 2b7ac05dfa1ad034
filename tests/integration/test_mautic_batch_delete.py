"""The Mautic emulator's batch delete routes (``deleteEntitiesAction``, docs/vendors/mautic.md
§4.4) over raw HTTP: the ids read in every form ``BatchIdToEntityHelper`` reads them (the
api-library's ``deleteBatch`` sends ``ids[0]=3&ids[1]=4``), the answer for none, duplicates and
the limit; the hook's batch delete still works. Query strings are written out by hand so that
each test sends exactly the form it names."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_contacts.hooks.mautic import MauticHook
from tests.integration.mautic_raw import AUTH, api


def delete(base: str, route: str, query: str) -> requests.Response:
    return requests.delete(f"{base}/api/{route}/batch/delete?{query}", auth=AUTH)


@pytest.mark.parametrize(
    "query",
    [
        "ids=3,4",
        "ids=3,%204",  # str_getcsv keeps the space; MySQL reads " 4" as 4
        "ids%5B0%5D=3&ids%5B1%5D=4",  # the api-library: http_build_query(['ids' => [3, 4]])
        "ids[0]=3&ids[1]=4",
        "ids[]=3&ids[]=4",
        "0=3&1=4",  # no "ids": every parameter's value is an id
        "0[id]=3&1[id]=4",  # no "ids", arrays: their "id"
    ],
)
def test_every_form_of_the_ids_deletes_those_contacts(seeded, query):
    emu, base = seeded
    before = set(emu.contacts)
    r = delete(base, "contacts", query)
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["contacts"] and [c["id"] for c in body["contacts"]] == [3, 4]  # before deletion
    assert set(emu.contacts) == before - {3, 4}


def test_other_keys_are_kept_in_the_answer_and_unknown_ids_left_out(seeded):
    emu, base = seeded
    r = delete(base, "contacts", "ids[a]=3&ids[b]=9999&ids[c]=4")
    assert r.status_code == 200
    assert {key: c["id"] for key, c in r.json()["contacts"].items()} == {"a": 3, "c": 4}
    assert 3 not in emu.contacts and 4 not in emu.contacts and len(emu.contacts) == 38


@pytest.mark.parametrize("query", ["", "ids=", "ids=abc", "ids[]=", "ids=9998,9999"])
def test_no_id_found_is_200_with_an_empty_list_and_nothing_deleted(seeded, query):
    emu, base = seeded
    r = delete(base, "contacts", query)
    assert (r.status_code, r.json()) == (200, {"contacts": []})
    assert len(emu.contacts) == 40


def test_an_id_named_twice_is_listed_twice_and_deleted_once(seeded):
    emu, base = seeded
    body = delete(base, "contacts", "ids=3,3,4").json()
    assert [c["id"] for c in body["contacts"]] == [3, 3, 4]
    assert body["errors"] == {"1": {"message": "Item was not found.", "code": 404, "type": "api"}}
    assert len(emu.contacts) == 38


def test_an_array_item_without_id_is_a_400_item_error(seeded):
    emu, base = seeded
    body = delete(base, "contacts", "0[id]=3&1[name]=x").json()
    assert [c["id"] for c in body["contacts"]] == [3]
    assert body["errors"] == {"1": {"message": "ID is missing from the payload.", "code": 400, "type": "api"}}
    assert 3 not in emu.contacts and len(emu.contacts) == 39


def test_the_limit_counts_query_parameters_not_ids(seeded):
    emu, base = seeded
    emu.settings["batch_max_limit"] = 5
    r = delete(base, "contacts", "&".join(f"{i}={i + 1}" for i in range(6)))  # 6 parameters
    assert r.status_code == 500
    assert r.json()["errors"][0]["message"] == "A max of 5 entities are supported at a time."
    assert len(emu.contacts) == 40  # nothing processed
    r = delete(base, "contacts", "ids=" + ",".join(str(i) for i in range(1, 11)))  # one parameter
    assert r.status_code == 200 and len(r.json()["contacts"]) == 10
    assert sorted(emu.contacts) == list(range(11, 41))


def test_point_groups_read_the_same_forms_and_lose_their_scores(mautic):
    emu, base = mautic
    contact = api("POST", base, "contacts/new", json={"email": "g@example.com"}).json()["contact"]
    ids = [api("POST", base, "points/groups/new", json={"name": n}).json()["pointGroup"]["id"] for n in "ABC"]
    for gid in ids:
        assert api("POST", base, f"contacts/{contact['id']}/points/groups/{gid}/plus/5").status_code == 200
    r = delete(base, "points/groups", f"ids%5B0%5D={ids[0]}&ids%5B1%5D={ids[2]}")
    assert r.status_code == 200 and [g["name"] for g in r.json()["pointGroups"]] == ["A", "C"]
    assert [g["name"] for g in emu.state.point_groups.values()] == ["B"]
    assert emu.state.group_scores == {(contact["id"], ids[1]): 5}
    assert delete(base, "points/groups", "ids=").json() == {"pointGroups": []}


def test_the_hook_batch_delete(seeded):
    emu, _ = seeded
    deleted = MauticHook().batch_delete([3, "4", 9999])
    assert [c["id"] for c in deleted] == [3, 4]
    assert len(emu.contacts) == 38
