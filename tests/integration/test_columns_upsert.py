"""Columns the vendor does not know, against the emulators over real HTTP (issue 21 item 1):
one error before any change naming each column and the closest field, the ``columns`` mapping
landing in the stored contact, ``unknown_columns="ignore"`` dropping and counting, EngageLab's
custom attributes, Which50's list fields, a rejects file of one vendor replayed into another."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks.mautic import contacts as mautic_contacts
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

ISSUE_ROW = {
    "email": "ann@example.com",
    "first_name": "Ann",
    "LastName": "Lee",
    "zip_code": "D02",
    "fristname": "A",
}


def context(task_id: str = "up"):
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id=task_id, map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti}


def calls(sandbox, vendor: str = "mautic") -> list[tuple[str, str, str]]:
    """(method, path below the API root, query) of each request the emulator answered."""
    return [(r["method"], r["path"].split("/api/", 1)[-1], r["query"]) for r in sandbox.requests(vendor)]


def upsert(tmp_path, conn_id: str = "mautic_default", **kwargs) -> dict:
    kwargs.setdefault("rejects_path", str(tmp_path / "rejects.ndjson"))
    return UpsertContactsOperator(task_id="up", conn_id=conn_id, **kwargs).execute(context())


FIELDS_READ = ("GET", "fields/contact", "start=0&limit=200")


def test_unknown_columns_are_one_error_before_any_change_naming_the_closest_fields(sandbox, tmp_path):
    sandbox.reset(empty=True)
    with pytest.raises(ContactsConfigError) as err:
        upsert(tmp_path, rows=[ISSUE_ROW, {"email": "bo@example.com", "first_name": "Bo"}])
    message = str(err.value)
    for named in (
        "'first_name' (did you mean 'firstname'?)",
        "'LastName' (did you mean 'lastname'?)",
        "'zip_code' (did you mean 'zipcode'?)",
        "'fristname' (did you mean 'firstname'?)",
    ):
        assert named in message
    assert message.startswith("4 column(s) of the rows are not published contact fields of this Mautic")
    assert (
        'columns={"LastName": "lastname", "zip_code": "zipcode"}' in message and "Nothing was sent" in message
    )
    assert calls(sandbox) == [FIELDS_READ]  # the field list, read once; no change
    assert sandbox.emulator("mautic").contacts == {}
    assert (tmp_path / "rejects.ndjson").read_text() == ""


def test_the_columns_mapping_lands_in_the_stored_contact(sandbox, tmp_path):
    sandbox.reset(empty=True)
    rows = [ISSUE_ROW, {"email": "bo@example.com", "first_name": "Bo", "LastName": "Ma", "zip_code": "D04"}]
    mapping = {"first_name": "firstname", "LastName": "lastname", "zip_code": "zipcode", "fristname": None}
    summary = upsert(tmp_path, rows=rows, columns=mapping)
    assert (summary["created"], summary["rejected"]) == (2, 0)
    assert summary["columns_mapped"] == {"LastName": 2, "first_name": 2, "zip_code": 2}
    assert summary["columns_dropped"] == {"fristname": 1} and "unknown_columns_dropped" not in summary
    stored = sandbox.emulator("mautic").contact_by_email("ann@example.com")["values"]
    assert (stored["firstname"], stored["lastname"], stored["zipcode"]) == ("Ann", "Lee", "D02")
    assert calls(sandbox) == [FIELDS_READ, ("POST", "contacts/batch/new", "")]
    # the mapping as a rendered template (a JSON object string) works the same
    summary = upsert(tmp_path, rows=rows, columns=json.dumps(mapping))
    assert (summary["updated"], summary["columns_dropped"]) == (2, {"fristname": 1})


def test_unknown_columns_ignore_drops_them_from_the_rows_sent_counted_and_logged_once(
    sandbox, tmp_path, monkeypatch, caplog
):
    sandbox.reset(empty=True)
    sent: list[dict] = []
    real = mautic_contacts.MauticContacts.batch_create

    def batch_create(self, items):
        sent.extend(items)
        return real(self, items)

    monkeypatch.setattr(mautic_contacts.MauticContacts, "batch_create", batch_create)
    rows = [
        {"email": "a@example.com", "firstname": "A", "shoe_size": 44, "favourite_colour": "red"},
        {"email": "b@example.com", "shoe_size": 41},
        {"email": "c@example.com", "tags": ["vip"], "owner": 1},  # keys Mautic reads besides its fields
    ]
    with caplog.at_level(logging.INFO):
        summary = upsert(tmp_path, rows=rows, unknown_columns="ignore")
    assert (summary["created"], summary["rejected"]) == (3, 0)
    assert summary["unknown_columns_dropped"] == {"shoe_size": 2, "favourite_colour": 1}
    assert summary["unknown_column_count"] == 2
    assert sent == [
        {"email": "a@example.com", "firstname": "A"},
        {"email": "b@example.com"},
        {"email": "c@example.com", "tags": ["vip"], "owner": 1},
    ]
    named = [r.getMessage() for r in caplog.records if "shoe_size" in r.getMessage()]
    assert len(named) == 1 and "shoe_size (2 rows), favourite_colour (1 rows)" in named[0]
    assert sandbox.emulator("mautic").contact_by_email("c@example.com")["tags"] == ["vip"]


def test_ten_thousand_unknown_columns(sandbox, tmp_path, caplog):
    sandbox.reset(empty=True)
    row = {"email": "wide@example.com", **{f"custom_{i}": i for i in range(10_000)}}
    with caplog.at_level(logging.ERROR), pytest.raises(ContactsConfigError) as err:
        upsert(tmp_path, rows=[row])
    assert str(err.value).startswith("10,000 column(s) of the rows are not published contact fields")
    assert (
        "and 9,980 more (each one is named in the task log)" in str(err.value) and len(str(err.value)) < 2000
    )
    assert any(r.getMessage().count("'custom_") == 10_000 for r in caplog.records)
    assert calls(sandbox) == [FIELDS_READ] and sandbox.emulator("mautic").contacts == {}
    summary = upsert(tmp_path, rows=[row], unknown_columns="ignore")
    assert (summary["created"], summary["unknown_column_count"]) == (1, 10_000)
    assert len(summary["unknown_columns_dropped"]) == 20 and len(json.dumps(summary)) < 2000


def test_the_key_column_must_be_a_field_even_with_ignore(sandbox, tmp_path):
    with pytest.raises(ContactsConfigError, match="the key column 'customer_id' .*cannot be dropped"):
        upsert(
            tmp_path,
            rows=[{"customer_id": "c1", "email": "k@example.com"}],
            key="customer_id",
            unknown_columns="ignore",
        )
    assert calls(sandbox) == [FIELDS_READ]


def test_engagelab_names_the_columns_kept_as_custom_attributes(sandbox, tmp_path, caplog):
    emu = sandbox.emulator("engagelab")
    rows = [
        {"email": "attr@example.com", "name": "Attr", "plan": "pro", "tier": "gold"},
        {"email": "t@example.com", "tier": "b"},
    ]
    with caplog.at_level(logging.INFO):
        summary = upsert(tmp_path, "engagelab_default", rows=rows)
    assert (summary["created"], summary["custom_attribute_columns"]) == (2, {"tier": 2, "plan": 1})
    assert emu.contact_by_email("attr@example.com")["custom_attributes"] == {"plan": "pro", "tier": "gold"}
    said = [r.getMessage() for r in caplog.records if "custom attributes" in r.getMessage()]
    assert said == [
        "2 column(s) of the rows are not LiveDesk contact fields (name, email, phone_number, identifier, "
        "blocked, avatar_url, custom_attributes, additional_attributes) and are kept as custom attributes: "
        "plan (1 rows), tier (2 rows)"
    ]
    # a near miss of a field is not taken for a custom attribute; inbox_id is never stored per row
    sandbox.clear_requests()
    with pytest.raises(ContactsConfigError) as err:
        upsert(
            tmp_path,
            "engagelab_default",
            rows=[{"email": "n@example.com", "Phone-Number": "+6581", "inbox_id": 2}],
        )
    assert "'Phone-Number' (did you mean 'phone_number'?), 'inbox_id' (not stored per row" in str(err.value)
    assert calls(sandbox, "engagelab") == []


def test_a_which50_rejects_file_replayed_into_mautic_is_checked_the_same_way(sandbox, tmp_path):
    sandbox.reset(empty=True)
    which50_rejects = tmp_path / "which50.ndjson"
    rows = [
        {"email": "ok@example.ie", "FirstName": "Ok"},
        {
            "email": "moved@example.ie",
            "FirstName": "Pat",
            "LastName": "Byrne",
            "ReferanceAccountId": ["A1", "A2"],
        },
    ]
    summary = upsert(
        tmp_path, "which50_default", rows=rows, rejects_path=str(which50_rejects), max_rejected=1
    )
    assert (summary["created"], summary["rejected"]) == (1, 1)
    replay = {"source_path": str(which50_rejects), "source_format": "rejects"}
    with pytest.raises(ContactsConfigError) as err:
        upsert(tmp_path, **replay)
    assert str(err.value).startswith(
        f"3 column(s) of the rejects file {str(which50_rejects)!r} (replayed) are not published contact fields"
    )
    assert (
        "'FirstName' (did you mean 'firstname'?), 'LastName' (did you mean 'lastname'?), 'ReferanceAccountId'"
        in str(err.value)
    )
    assert calls(sandbox) == [FIELDS_READ]
    mapping = {"FirstName": "firstname", "LastName": "lastname", "ReferanceAccountId": None}
    summary = upsert(tmp_path, **replay, columns=mapping)
    assert (summary["replayed"], summary["created"], summary["columns_dropped"]) == (
        1,
        1,
        {"ReferanceAccountId": 1},
    )
    stored = sandbox.emulator("mautic").contact_by_email("moved@example.ie")["values"]
    assert (stored["firstname"], stored["lastname"]) == ("Pat", "Byrne")
