"""The pieces under the source and rejects-file rules, without a server: what a row may hold
(``rows/values.py``), strict JSON lines and their way back (``rows/strict_json.py``), source
file options, compressions and same-file paths (``rows/source_files.py``), the provider package
of a connection type, and the Mautic emulator's reading of a JSON body."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.rows.db_providers import provider_package
from airflow_provider_contacts.rows.source_files import check_delimiter, compression, same_file
from airflow_provider_contacts.rows.sources import detect_format
from airflow_provider_contacts.rows.strict_json import dumps, restore
from airflow_provider_contacts.rows.values import MAX_DIGITS, LongNumber, read_int, unsendable_problem
from airflow_provider_contacts.sandbox.vendors.mautic_common import BodyRefused, php_json_body


def nested(levels: int) -> list:
    top: list = []
    inner = top
    for _ in range(levels - 1):
        inner.append([])
        inner = inner[0]
    return top


def strict(line: str) -> Any:
    line.encode("utf-8")  # valid UTF-8

    def refuse(token: str) -> Any:
        raise ValueError(token)

    return json.loads(line, parse_constant=refuse)


# ---- rows/values.py -------------------------------------------------------------------------
def test_a_number_of_4300_digits_is_read_and_one_more_is_a_long_number():
    assert read_int("9" * MAX_DIGITS) == int("9" * MAX_DIGITS)
    assert read_int("-" + "9" * MAX_DIGITS) == -int("9" * MAX_DIGITS)
    assert read_int("9" * (MAX_DIGITS + 1)) == LongNumber("9" * (MAX_DIGITS + 1))
    assert unsendable_problem({"n": int("9" * MAX_DIGITS)}) is None
    assert str(unsendable_problem({"n": 10**MAX_DIGITS})).startswith("field 'n' is a number of 4301 digits")


def test_a_sql_decimal_infinity_is_a_number_the_checks_reject_not_an_overflow():
    from decimal import Decimal

    from airflow_provider_contacts.rows.values import json_safe

    assert json_safe(Decimal("Infinity")) == float("inf") and json_safe(Decimal("12")) == 12
    assert json_safe(Decimal("9" * 5000)) == 10**5000 - 1  # then rejected for its length
    assert str(unsendable_problem({"n": json_safe(Decimal("9" * 5000))})).startswith("field 'n' is a number")


@pytest.mark.parametrize(
    "row, reason",
    [
        ({"email": "a@b.co", "tags": ["x", "y"], "n": 5, "f": 1.5, "ok": True, "no": None}, None),
        ({"a": {"b": [1, {"c": "x\x00"}]}}, "field 'a.b[1].c' holds a NUL character"),
        ({"a": {"k\ud800": 1}}, "the field name 'k\\ud800' holds a lone surrogate (U+D800)"),
        ({"a": "\udfff"}, "field 'a' holds a lone surrogate (U+DFFF)"),
        ({1: "x", "b": "\x00"}, "field 'b' holds a NUL"),
        ("\ud800@example.com", "the row holds a lone surrogate (U+D800)"),
        ({"deep": nested(100)}, None),
        ({"deep": nested(101)}, "field 'deep' nests lists/objects more than 100 levels deep"),
        ({"n": LongNumber("-" + "1" * 5000)}, "field 'n' is a number of 5000 digits"),
    ],
)
def test_what_no_vendor_can_store_is_named(row, reason):
    problem = unsendable_problem(row)
    assert (problem is None) if reason is None else str(problem).startswith(reason), problem


# ---- rows/strict_json.py --------------------------------------------------------------------
def test_strict_json_keeps_the_row_and_restore_reads_it_back():
    row = {
        "nan": float("nan"),
        "inf": [float("inf"), float("-inf")],
        "big": 10**5000,
        "long": LongNumber("7" * 4500),
        "text": "é\ud800\x00",
        "date": __import__("datetime").date(2026, 1, 2),
    }
    line = dumps({"index": 3, "row": row})
    back = strict(line)
    assert back["row"]["nan"] == {"$numberDouble": "NaN"}
    assert back["row"]["inf"] == [{"$numberDouble": "Infinity"}, {"$numberDouble": "-Infinity"}]
    assert back["row"]["big"] == {"$numberDecimal": "1" + "0" * 5000}
    assert back["row"]["text"] == "é\ud800\x00" and "\\ud800" in line and "é" in line
    assert back["row"]["date"] == "2026-01-02"
    again = restore(back["row"])
    assert again["inf"] == [float("inf"), float("-inf")] and again["nan"] != again["nan"]
    assert again["big"] == LongNumber("1" + "0" * 5000) and again["long"] == LongNumber("7" * 4500)
    assert restore({"$numberDecimal": "12"}) == 12 and restore({"$numberDouble": "1.5"}) == {
        "$numberDouble": "1.5"
    }


def test_strict_json_never_fails_on_depth_cycles_or_names():
    line = dumps({"row": {"deep": nested(100_000)}})
    assert line.count("[") == 100 and "<cut: nested deeper than 100 levels>" in line
    cycle: list = []
    cycle.append(cycle)
    assert "<cut: nested deeper" in dumps({"row": cycle})
    assert strict(dumps({"row": {(1, 2): "tuple name", 3: "int name"}})) == {
        "row": {"(1, 2)": "tuple name", "3": "int name"}
    }


# ---- rows/source_files.py, rows/sources.py ----------------------------------------------------
def test_compressions_are_told_by_their_magic_bytes_only():
    assert compression(b"\x1f\x8b\x08\x00") == "gzip"
    assert compression(b"BZh91AY&SY\x00") == "bzip2"
    assert compression(b"BZh9\x17rE8P\x90") == "bzip2"  # an empty bzip2 stream
    assert compression(b"BZhome,email\n") is None  # a CSV whose header starts with "BZh"
    assert compression(b"email,name\n") is None and compression(b"") is None
    assert detect_format("s3://b/k/rows.CSV.bz2", None) == "csv"
    assert detect_format("rows.ndjson.zst", None) == "ndjson" and detect_format("r.json.gz", None) == "json"


def test_a_tab_delimiter_can_be_typed_as_backslash_t():
    assert check_delimiter("\\t") == "\t" and check_delimiter("\t") == "\t" and check_delimiter(";") == ";"
    with pytest.raises(ContactsConfigError, match="csv_delimiter=None must be one character"):
        check_delimiter(None)


def test_same_file_however_the_path_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.ndjson").write_text("")
    os.link(tmp_path / "a.ndjson", tmp_path / "hard.ndjson")
    assert same_file("a.ndjson", f"file://{tmp_path}/a.ndjson")
    assert same_file(str(tmp_path / "a.ndjson"), "file://localhost" + str(tmp_path / "a.ndjson"))
    assert same_file("a.ndjson", "hard.ndjson")  # a hard link
    assert same_file("s3://b/x//y.ndjson", "S3://conn@b/x/y.ndjson") and same_file("s3a://b/k", "s3://b/k")
    # Airflow 3.1 writes memory://bucket/key as memory:///bucket/key: the same object
    assert same_file("memory:///bkt/r/run1.ndjson", "memory://bkt//r/run1.ndjson")
    assert not same_file("a.ndjson", "b.ndjson") and not same_file("s3://b/k", "s3://c/k")
    assert not same_file("s3://b/k", str(tmp_path / "b" / "k")) and not same_file("s3://b/k", "gs://b/k")


def test_the_provider_package_of_a_connection_type():
    assert provider_package("postgres") == "apache-airflow-providers-postgres"
    assert provider_package("mssql") == "apache-airflow-providers-microsoft-mssql"
    assert provider_package("gcpbigquery") == "apache-airflow-providers-google"
    assert provider_package("hiveserver2") == "apache-airflow-providers-apache-hive"
    assert provider_package("Some_DB") == "apache-airflow-providers-some-db"  # the naming rule


# ---- the Mautic emulator's body parsing (PHP's json_decode) -------------------------------------
def test_the_emulator_reads_a_body_as_php_json_decode_does():
    assert php_json_body(json.dumps(nested(512)).encode()) == nested(512)  # 512 levels: PHP's default depth
    assert php_json_body(b'["a\\\\ud800"]') == ["a\\ud800"]  # an escaped backslash, not a surrogate
    assert php_json_body(b'["\\ud83d\\ude00"]') == ["\U0001f600"]
    for refused in (
        json.dumps(nested(513)).encode(),
        b'{"k\\udc00": 1}',
        b"\xef\xbb\xbf[]",  # a BOM: json_decode's syntax error
        b"[1e999999, Infinity]",
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
    ):
        with pytest.raises(BodyRefused):
            php_json_body(refused)
