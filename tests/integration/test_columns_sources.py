"""A source without its key column is one configuration error naming the columns it has
(issue 21 item 2, first bullet), the ``columns`` mapping's mistakes, the columns the
do-not-contact and point-group operators read, and ``/api/fields/contact`` as Mautic pages it."""

from __future__ import annotations

import json
import re
import sqlite3
from types import SimpleNamespace

import pytest
import requests

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks.mautic import contacts as mautic_contacts
from airflow_provider_contacts.hooks.mautic.hook import MauticHook
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from tests.integration.mautic_raw import AUTH


def context():
    ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="t", map_index=-1, try_number=1)
    return {"ti": ti, "task_instance": ti}


def run(cls, tmp_path, **kwargs) -> dict:
    kwargs.setdefault("rejects_path", str(tmp_path / "rejects.ndjson"))
    return cls(task_id="t", conn_id="mautic_default", **kwargs).execute(context())


def refused(cls, tmp_path, **kwargs) -> str:
    """The message of the config error ``cls`` raises; no request was sent, no row rejected."""
    with pytest.raises(ContactsConfigError) as err:
        run(cls, tmp_path, **kwargs)
    return str(err.value)


def test_a_csv_written_with_semicolons_is_one_error_naming_the_delimiter(sandbox, tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_text("email;firstname\n" + "".join(f"u{i}@example.com;U{i}\n" for i in range(500)))
    message = refused(UpsertContactsOperator, tmp_path, source_path=str(source))
    assert message == (
        f"there is no column 'email' in source_path {str(source)!r} (the key: each row's contact); its columns: "
        "'email;firstname' (the header looks separated by ';', not by commas: set csv_delimiter=';'). "
        "Nothing was sent."
    )
    assert sandbox.requests("mautic") == [] and (tmp_path / "rejects.ndjson").read_text() == ""


def test_a_sql_result_without_the_key_is_one_error_before_any_request(sandbox, tmp_path, monkeypatch):
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table customers (e_mail text, firstname text)")
        conn.executemany(
            "insert into customers values (?, ?)", [("a@example.com", "A"), ("b@example.com", "B")]
        )
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    sql = {"source_conn_id": "warehouse", "source_sql": "select e_mail, firstname from customers"}
    message = refused(UpsertContactsOperator, tmp_path, **sql)
    assert message == (
        "there is no column 'email' in the result of source_sql on 'warehouse' (the key: each row's contact); "
        "its columns: 'e_mail', 'firstname' (did you mean 'e_mail'? map it with columns={\"e_mail\": "
        '"email"}). Nothing was sent.'
    )
    dnc = refused(DoNotContactOperator, tmp_path, action="add", **sql)
    assert dnc.startswith("there is no column 'id' or 'contact_id' or 'contactId' or 'email' in the result")
    assert sandbox.requests("mautic") == []
    summary = run(UpsertContactsOperator, tmp_path, **sql, columns={"e_mail": "email"})
    assert (summary["created"], summary["columns_mapped"]) == (2, {"e_mail": 2})


def test_ndjson_where_no_row_has_the_key_is_one_error_some_rows_stay_rejects(sandbox, tmp_path):
    source = tmp_path / "contacts.ndjson"
    source.write_text(
        "".join(json.dumps({"Email": f"u{i}@example.com", "name": "U"}) + "\n" for i in range(300))
    )
    message = refused(UpsertContactsOperator, tmp_path, source_path=str(source))
    assert (
        "there is no column 'email' in source_path" in message and "its columns: 'Email', 'name'" in message
    )
    assert sandbox.requests("mautic") == [] and (tmp_path / "rejects.ndjson").read_text() == ""
    source.write_text('{"firstname": "no key"}\n{"email": "k@example.com", "firstname": "K"}\n')
    summary = run(UpsertContactsOperator, tmp_path, source_path=str(source), max_rejected=1)
    assert (summary["created"], summary["rejected"]) == (1, 1)
    [reject] = [json.loads(line) for line in (tmp_path / "rejects.ndjson").read_text().splitlines()]
    assert (reject["index"], reject["reason"]) == (0, 'missing key field "email" (or it is empty)')


def test_mapping_mistakes_are_refused_before_any_request(sandbox, tmp_path):
    rows = [{"email": "m@example.com", "first_name": "M"}]
    message = refused(UpsertContactsOperator, tmp_path, rows=rows, columns={"fristname": "firstname"})
    assert message == (
        "columns names 'fristname': no such column in the rows ('fristname': did you mean 'first_name'?); "
        "its columns: 'email', 'first_name'. Fix the names in columns. Nothing was sent."
    )
    message = refused(
        UpsertContactsOperator,
        tmp_path,
        rows=[{**rows[0], "firstname": "N"}],
        columns={"first_name": "firstname"},
    )
    assert "columns maps 'first_name' to 'firstname', but the rows also has a column 'firstname'" in message
    assert sandbox.requests("mautic") == []
    for kwargs, needle in (
        ({"columns": ["first_name"]}, "columns must be a dict"),
        ({"columns": {"first_name": 1}}, "not 'source column': 'vendor field'"),
        (
            {"columns": {"a": "email", "b": "email"}},
            "maps two source columns to one field ('a' and 'b' to 'email')",
        ),
        ({"unknown_columns": "drop"}, "unknown_columns='drop': use 'error'"),
    ):
        with pytest.raises(ContactsConfigError, match=re.escape(needle)):  # when the task is built
            UpsertContactsOperator(task_id="t", conn_id="mautic_default", rows=rows, **kwargs)
    templated = UpsertContactsOperator(
        task_id="t",
        conn_id="mautic_default",
        rows=rows,
        columns="{{ params.columns }}",
        unknown_columns="{{ x }}",
    )
    assert templated.columns == "{{ params.columns }}"  # checked once rendered


def test_do_not_contact_and_point_groups_read_named_columns(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    emu.state.upsert({"email": "dnc@example.com"})
    rows = [{"email": "dnc@example.com", "name": "Dee"}]
    message = refused(DoNotContactOperator, tmp_path, action="add", rows=rows)
    assert message.startswith(
        "1 column(s) of the rows are not columns DoNotContactOperator reads (id, contact_id, contactId, email), "
        "so their values would not reach the vendor: 'name'."
    )
    assert sandbox.requests("mautic") == []
    summary = run(DoNotContactOperator, tmp_path, action="add", rows=rows, unknown_columns="ignore")
    assert (summary["updated"], summary["unknown_columns_dropped"]) == (1, {"name": 1})
    adjustment = {"contact": "dnc@example.com", "group": 1, "op": "plus", "value": 1, "note": "x"}
    message = refused(AdjustPointGroupsOperator, tmp_path, rows=[adjustment], ledger_path=str(tmp_path / "l"))
    assert "are not columns AdjustPointGroupsOperator reads (contact, group, op, value)" in message
    message = refused(
        AdjustPointGroupsOperator,
        tmp_path,
        rows=[{"contact": 1, "op": "plus", "value": 1}],
        ledger_path=str(tmp_path),
    )
    assert message.startswith("there is no column 'group' in the rows (each adjustment needs contact, group")


def test_the_emulator_pages_fields_as_mautic_does_and_the_hook_reads_every_page(sandbox, monkeypatch):
    base, auth = sandbox.base_url("mautic"), AUTH
    url = f"{base}/api/fields/contact"
    default = requests.get(url, auth=auth, timeout=30).json()
    assert isinstance(default["total"], int) and len(default["fields"]) == min(default["total"], 30)
    aliases = []
    for start in range(0, default["total"], 7):
        page = requests.get(url, params={"start": start, "limit": 7}, auth=auth, timeout=30).json()
        aliases += [f["alias"] for f in page["fields"].values()]
    # limit 0: every field, start ignored (CommonRepository::buildLimiterClauses); the search is on label and alias
    everything = requests.get(url, params={"limit": 0, "start": 5}, auth=auth, timeout=30).json()
    found = requests.get(url, params={"search": "zipcode"}, auth=auth, timeout=30).json()
    assert [f["alias"] for f in found["fields"].values()] == ["zipcode"] and found["total"] == 1
    assert aliases == [f["alias"] for f in everything["fields"].values()] and len(aliases) == default["total"]
    sandbox.clear_requests()
    monkeypatch.setattr(mautic_contacts, "FIELDS_PAGE", 7)
    known = MauticHook().upsert_fields()
    assert set(aliases) <= known.names
    pages = [r["query"] for r in sandbox.requests("mautic")]
    assert pages == [f"start={s}&limit=7" for s in range(0, default["total"] + 1, 7)][: len(pages)]
    assert len(pages) == -(-(default["total"] + 1) // 7)  # a full last page asks once more


def test_a_user_who_may_not_read_the_fields_is_told_the_permission(sandbox, tmp_path, monkeypatch):
    conn = json.loads(sandbox.connection_env()["AIRFLOW_CONN_MAUTIC_DEFAULT"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_MAUTIC_VIEWER", json.dumps({**conn, "login": "viewer", "password": "viewer-password"})
    )
    with pytest.raises(ContactsConfigError, match=r"may not read them .*lead:fields:view"):
        UpsertContactsOperator(
            task_id="t",
            conn_id="mautic_viewer",
            rows=[{"email": "v@example.com"}],
            rejects_path=str(tmp_path / "r"),
        ).execute(context())
    assert [(r["method"], r["status"]) for r in sandbox.requests("mautic")] == [("GET", 403)]
