"""The columns of a source (rows/columns.py, rows/known_columns.py), without a server: the
``columns`` mapping and its mistakes, the key columns on a header or on every row, the rejects
held back while no row has the key, the closest field for an unknown column, bounded messages
and summaries, and Mautic's field list as the hook reads it."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.models import KnownColumns
from airflow_provider_contacts.rows import columns as columns_module
from airflow_provider_contacts.rows.columns import ColumnGate, HeldRejects, parse_mapping
from airflow_provider_contacts.rows.known_columns import Suggester, check_known, parse_unknown
from airflow_provider_contacts.rows.sources import BadRow, Header
from airflow_provider_contacts.rows.strict_json import dumps

MAUTIC_LIKE = KnownColumns(frozenset({"email", "firstname", "lastname", "zipcode", "points"}), "fields of X")


class Rejects:
    def __init__(self) -> None:
        self.records: list[tuple] = []

    def write(self, index, row, reason, **extra) -> None:
        self.records.append((index, row, reason))


def gate(mapping=None, required=(("email",),), replay=False) -> ColumnGate:
    return ColumnGate(mapping or {}, required, "the key", "the rows", replay=replay)


# ---- the arguments --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, needle",
    [
        (["first_name"], "columns must be a dict"),
        ("{not json", "is a string but not a JSON object"),
        ({"first_name": 3}, "not 'source column': 'vendor field'"),
        ({"first_name": ""}, "not 'source column': 'vendor field'"),
        ({"first_name": "firstname", "FirstName": "firstname"}, "maps two source columns to one field"),
    ],
)
def test_mapping_mistakes_are_config_errors(value, needle):
    with pytest.raises(ContactsConfigError, match=needle):
        parse_mapping(value)


def test_mapping_reads_a_dict_or_a_rendered_json_object():
    assert parse_mapping(None) == {} and parse_mapping("") == {}
    assert parse_mapping('{"first_name": "firstname", "x": null}') == {"first_name": "firstname", "x": None}
    # what a rendered "{{ params.columns }}" prints
    assert parse_mapping("{'first_name': 'firstname', 'x': None}") == {"first_name": "firstname", "x": None}


def test_unknown_columns_takes_two_choices():
    assert (parse_unknown("error"), parse_unknown(" Ignore ")) == ("error", "ignore")
    with pytest.raises(ContactsConfigError, match="use 'error' .* or 'ignore'"):
        parse_unknown("drop")


# ---- the closest field -----------------------------------------------------------------------
def test_the_closest_field_ignores_case_separators_then_spelling():
    suggest = Suggester(["email", "firstname", "lastname", "zipcode", "mobile"])
    assert [suggest(c) for c in ("first_name", "FirstName", "LastName", "zip_code", "fristname", "shoe")] == [
        "firstname",
        "firstname",
        "lastname",
        "zipcode",
        "firstname",
        None,
    ]


# ---- mapping and key columns on rows ----------------------------------------------------------
def test_rows_are_mapped_a_dropped_column_is_counted_and_a_double_value_refused():
    g = gate({"first_name": "firstname", "internal": None})
    rows = [{"email": "a@x.io", "first_name": "A", "internal": 1}, {"email": "b@x.io", "first_name": "B"}]
    assert list(g.rows(rows)) == [
        {"email": "a@x.io", "firstname": "A"},
        {"email": "b@x.io", "firstname": "B"},
    ]
    g.finish(HeldRejects(Rejects(), g))
    assert g.counts() == {"email": 2, "firstname": 2}
    g.check_known(lambda: MAUTIC_LIKE, "error")
    assert g.summary() == {"columns_mapped": {"first_name": 2}, "columns_dropped": {"internal": 1}}
    with pytest.raises(
        ContactsConfigError, match="also has a column 'firstname': a row would have two values"
    ):
        list(
            gate({"first_name": "firstname"}).rows([{"email": "a@x.io", "first_name": "A", "firstname": "B"}])
        )


def test_no_row_with_the_key_is_one_error_and_the_held_rejects_are_dropped():
    g, rejects = gate(), Rejects()
    held = HeldRejects(rejects, g, memory=2)  # past 2 records they wait in a temporary file
    for index, row in enumerate(g.rows([{"Email": f"{i}@x.io", "name": "n"} for i in range(5)])):
        held.write(index, row, 'missing key field "email"')
    with pytest.raises(ContactsConfigError) as err:
        g.finish(held)
    held.flush()
    assert rejects.records == []
    assert str(err.value) == (
        "there is no column 'email' in the rows (the key); its columns: 'Email', 'name' (did you mean "
        '\'Email\'? map it with columns={"Email": "email"}). Nothing was sent.'
    )


def test_some_rows_without_the_key_stay_rejects_in_input_order():
    g, rejects = gate(), Rejects()
    held = HeldRejects(rejects, g, memory=1)
    rows = [
        {"name": "a"},
        BadRow("line 2 is not valid JSON", "{"),
        {"name": "c"},
        {"email": "d@x.io"},
        {"name": "e"},
    ]
    for index, row in enumerate(g.rows(rows)):
        if isinstance(row, BadRow) or "email" not in row:
            held.write(index, row if isinstance(row, dict) else row.raw, "no key")
    g.finish(held)
    held.flush()
    assert [r[0] for r in rejects.records] == [0, 1, 2, 4]


def test_held_rejects_past_memory_keep_what_no_json_writer_takes():
    """Rejects held in the temporary file (past ``memory``) hold a lone surrogate, NaN and a number
    too long for ``str()``: they reach the rejects file as they were read, nothing crashes."""
    g, rejects = gate(), Rejects()
    held = HeldRejects(rejects, g, memory=0)
    long_number = 7 * (10**5000 - 1) // 9  # 5,000 sevens (int("7" * 5000) is over Python's limit)
    rows = [{"name": "\ud800"}, {"name": float("nan")}, {"name": long_number}]
    for index, row in enumerate(g.rows(rows)):
        held.write(index, row, "no key", status=None)
    g.satisfied = True  # a later row had the key
    held.flush()
    assert [r[0] for r in rejects.records] == [0, 1, 2]
    assert rejects.records[0][1] == {"name": "\ud800"}
    assert rejects.records[1][1]["name"] != rejects.records[1][1]["name"]  # NaN
    # the long number comes back as the rejects file writes it ({"$numberDecimal": "777..."})
    assert (
        dumps(rejects.records[2][1])
        == dumps({"name": long_number})
        == '{"name": {"$numberDecimal": "%s"}}' % ("7" * 5000)
    )


def test_a_header_without_the_key_is_refused_before_any_row_and_names_the_delimiter():
    g = gate()
    rows = g.rows([Header(["email;firstname"], "csv"), {"email;firstname": "a@x.io;Ann"}])
    with pytest.raises(ContactsConfigError) as err:
        next(rows)
    assert str(err.value) == (
        "there is no column 'email' in the rows (the key); its columns: 'email;firstname' (the header looks "
        "separated by ';', not by commas: set csv_delimiter=';'). Nothing was sent."
    )
    ok = gate(required=(("id", "email"),))
    with pytest.raises(ContactsConfigError, match="no column 'id' or 'email'.*its columns: 'ID', 'e_mail'"):
        list(ok.rows([Header(["ID", "e_mail"], "sql")]))


def test_a_mapping_key_no_row_has_is_a_typo_except_where_its_target_is_there():
    g = gate({"fristname": "firstname"})
    list(g.rows([{"email": "a@x.io", "first_name": "A"}]))
    with pytest.raises(ContactsConfigError) as err:
        g.finish(HeldRejects(Rejects(), g))
    assert (
        "columns names 'fristname': no such column in the rows ('fristname': did you mean 'first_name'?)"
        in str(err.value)
    )
    # a replayed rejects file holds rows after the mapping: the target (or nothing, for None) is there
    replayed = gate({"first_name": "firstname", "internal": None}, replay=True)
    list(replayed.rows([{"email": "a@x.io", "firstname": "A"}]))
    replayed.finish(HeldRejects(Rejects(), replayed))


def test_counts_fold_past_the_signatures_kept(monkeypatch):
    monkeypatch.setattr(columns_module, "SIGNATURES", 3)
    g = gate()
    rows = [{"email": "a@x.io", f"c{i % 7}": i} for i in range(70)]
    assert len(list(g.rows(rows))) == 70
    assert g.counts() == {"email": 70, **{f"c{i}": 10 for i in range(7)}}


# ---- unknown columns ---------------------------------------------------------------------------
def test_a_column_name_no_vendor_can_store_is_left_to_its_rows_rejects():
    """A name holding a NUL or a lone surrogate: each row holding it is rejected for that (the
    unsendable check), so the columns check does not fail the whole task for it."""
    g = gate()
    list(
        g.rows(
            [{"email": "a@x.io", "bad\x00name": 1}, {"email": "b@x.io", "x\ud800": 2}, {"email": "c@x.io"}]
        )
    )
    g.finish(HeldRejects(Rejects(), g))
    g.check_known(lambda: MAUTIC_LIKE, "error")
    assert g.dropped == frozenset()
    with pytest.raises(ContactsConfigError, match="'typo'"):  # any other unknown name still fails
        list(g.rows([{"email": "d@x.io", "typo": 1}]))
        g.check_known(lambda: MAUTIC_LIKE, "error")


def test_unknown_columns_error_names_each_with_the_closest_field_and_a_mapping():
    counts = {"email": 1, "first_name": 1, "LastName": 1, "zip_code": 1, "fristname": 1}
    with pytest.raises(ContactsConfigError) as err:
        check_known(counts, MAUTIC_LIKE, "error", "the rows", {"email"})
    assert str(err.value) == (
        "4 column(s) of the rows are not fields of X, so their values would not reach the vendor: "
        "'first_name' (did you mean 'firstname'?), 'LastName' (did you mean 'lastname'?), 'zip_code' (did you "
        "mean 'zipcode'?), 'fristname' (did you mean 'firstname'?). To fix: map them with columns="
        '{"LastName": "lastname", "zip_code": "zipcode"} (a column mapped to None is dropped), or pass '
        "unknown_columns='ignore' to drop every unknown column from the rows sent (counted in the summary). "
        "Nothing was sent."
    )


def test_a_mapping_to_an_unknown_field_names_the_source_column():
    g = gate({"first_name": "first_nme"})
    list(g.rows([{"email": "a@x.io", "first_name": "A"}]))
    g.finish(HeldRejects(Rejects(), g))
    with pytest.raises(ContactsConfigError) as err:
        g.check_known(lambda: MAUTIC_LIKE, "error")
    assert "'first_nme' (mapped from 'first_name'; did you mean 'firstname'?)" in str(err.value)
    assert 'map them with columns={"first_name": "firstname"}' in str(err.value)


def test_ten_thousand_unknown_columns_a_bounded_message_the_full_list_in_the_log(caplog):
    counts = {"email": 1, **{f"extra_{i}": 1 for i in range(10_000)}}
    with caplog.at_level(logging.ERROR), pytest.raises(ContactsConfigError) as err:
        check_known(counts, MAUTIC_LIKE, "error", "the rows", {"email"})
    message = str(err.value)
    assert message.startswith("10,000 column(s) of the rows are not fields of X")
    assert "'extra_19'" in message and "'extra_20'" not in message and len(message) < 1200
    assert "and 9,980 more (each one is named in the task log)" in message
    [record] = [r for r in caplog.records if "extra_9999" in r.getMessage()]
    assert record.getMessage().count("'extra_") == 10_000
    g = gate()
    list(g.rows([dict.fromkeys(counts, "v")]))
    g.check_known(lambda: MAUTIC_LIKE, "ignore")
    summary = g.summary()
    assert summary["unknown_column_count"] == 10_000 and len(summary["unknown_columns_dropped"]) == 20
    assert len(json.dumps(summary)) < 1000


def test_the_key_is_never_dropped():
    with pytest.raises(ContactsConfigError, match="the key column 'customer_id' .* cannot be dropped"):
        check_known({"customer_id": 1}, MAUTIC_LIKE, "ignore", "the rows", {"customer_id"})


def test_other_columns_kept_by_the_vendor_and_near_misses_of_its_fields():
    engagelab = KnownColumns(
        frozenset({"email", "name", "phone_number"}),
        "LiveDesk contact fields",
        others="custom attributes",
        ignored={"inbox_id": "not stored per row"},
    )
    assert check_known({"email": 1, "plan": 1, "tier": 2}, engagelab, "error", "the rows", {"email"}) == (
        [],
        ["plan", "tier"],
    )
    with pytest.raises(ContactsConfigError) as err:
        check_known({"email": 1, "Phone_Number": 1, "inbox_id": 1}, engagelab, "error", "the rows", {"email"})
    assert "'Phone_Number' (did you mean 'phone_number'?), 'inbox_id' (not stored per row)" in str(err.value)


def test_mautic_fields_published_and_api_keys(monkeypatch):
    from airflow_provider_contacts.hooks.mautic.hook import MauticHook

    hook = MauticHook("mautic_default")
    fields = [
        {"id": 2, "alias": "firstname", "isPublished": True, "isUniqueIdentifier": False},
        {"id": 6, "alias": "email", "isPublished": True, "isUniqueIdentifier": True},
        {"id": 40, "alias": "legacy_score", "isPublished": False, "isUniqueIdentifier": False},
    ]
    pages = []

    def entity_pages(*args, **kwargs):
        pages.append(args)
        return iter(fields)

    monkeypatch.setattr(hook, "_entity_pages", entity_pages)
    known = hook.upsert_fields()
    assert {"firstname", "email", "tags", "owner", "ipAddress", "doNotContact"} <= known.names
    assert "legacy_score" not in known.names and "not published" in known.ignored["legacy_score"]
    assert not known.fold_case and hook.unique_identifier_fields() == {"email"}
    assert len(pages) == 1 and pages[0][:2] == ("fields/contact", "fields")  # one read serves both
