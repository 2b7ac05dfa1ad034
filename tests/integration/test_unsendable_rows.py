"""Rows no vendor can store, through the operators into the Mautic emulator: a NUL character, a
lone surrogate, nesting 100,000 deep, a 5,000-digit number, NaN. Each is a per-row reject with a
reason naming the field (or a clear error naming the file and line), never a crash; the rejects
file stays strict JSON in valid UTF-8 that a replay reads back as it was; ``index`` is what the
README says for every source. The emulator answers a body Mautic refuses as Mautic does."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
import requests

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from tests.integration.mautic_raw import AUTH
from tests.integration.operator_support import context, emails

GOOD = {"email": "good@example.com", "firstname": "Good"}
NUL = "field {!r} holds a NUL character (U+0000), which vendors cannot store in text"
SURROGATE = "field {!r} holds a lone surrogate (U+D800), which is not Unicode text"
LONG = "field 'n' is a number of 5000 digits; no vendor stores a number that long"


def upsert(tmp_path, **kw: Any) -> dict:
    kw.setdefault("rejects_path", str(tmp_path / "rejects.ndjson"))
    kw.setdefault("max_rejected", 1.0)
    kw.setdefault("unknown_columns", "ignore")  # the columns here are made up: each test is about values
    return UpsertContactsOperator(task_id="up", conn_id="mautic_default", **kw).execute(context(tmp_path))


def strict_lines(path) -> list[dict]:
    """The rejects file read as jq, Spark or JSON.parse read it: UTF-8 (strict), strict JSON."""
    text = open(path, "rb").read().decode("utf-8")  # noqa: SIM115 - raises on invalid UTF-8

    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not JSON")

    return [json.loads(line, parse_constant=refuse) for line in text.splitlines()]


def reasons(path) -> list[tuple[int, str]]:
    return [(r["index"], r["reason"]) for r in strict_lines(path)]


def batches(sandbox) -> int:
    return sum(1 for r in sandbox.requests("mautic") if r["method"] == "POST" and "batch/new" in r["path"])


# ---- NUL and lone surrogates ----------------------------------------------------------------
def test_nul_and_lone_surrogates_are_rejected_per_row_before_sending(sandbox, tmp_path):
    sandbox.reset(empty=True)
    rows = [
        {"email": "g04a\x00b@example.com"},
        GOOD,
        {"email": "n@example.com", "tags": ["vip", "a\x00"]},
        {"email": "s@example.com", "lastname": "x\ud800y"},
        {"email": "k@example.com", "bad\x00name": "v"},
    ]
    summary = upsert(tmp_path, rows=rows)
    assert (summary["rows_read"], summary["created"], summary["rejected"]) == (5, 1, 4)
    assert batches(sandbox) == 1 and sorted(emails(sandbox.emulator("mautic"))) == ["good@example.com"]
    records = strict_lines(tmp_path / "rejects.ndjson")
    assert [(r["index"], r["reason"]) for r in records] == [
        (0, NUL.format("email") + ": remove it from the source"),
        (2, NUL.format("tags[1]") + ": remove it from the source"),
        (
            3,
            SURROGATE.format("lastname")
            + " and no vendor can store (Mautic refuses the whole batch): fix the "
            "text where it is produced (often a broken \\u escape or encoding)",
        ),
        (
            4,
            "the field name 'bad\\x00name' holds a NUL character (U+0000), which vendors cannot store in text: "
            "remove it from the source",
        ),
    ]
    assert [r["row"] for r in records] == [rows[0], rows[2], rows[3], rows[4]]  # kept whole
    assert b'"x\\ud800y"' in (tmp_path / "rejects.ndjson").read_bytes()  # escaped: valid UTF-8


def test_a_lone_surrogate_escape_in_ndjson_is_rejected_and_the_sandbox_stays_usable(sandbox, tmp_path):
    sandbox.reset(empty=True)
    (tmp_path / "rows.ndjson").write_text(
        '{"email": "s@example.com", "firstname": "\\ud800"}\n{"email": "good@example.com"}\n'
    )
    summary = upsert(tmp_path, source_path=str(tmp_path / "rows.ndjson"))
    assert (summary["rows_read"], summary["created"], summary["rejected"]) == (2, 1, 1)
    assert reasons(tmp_path / "rejects.ndjson")[0][1].startswith(SURROGATE.format("firstname"))
    base = sandbox.base_url("mautic")
    assert requests.get(f"{base}/api/contacts", auth=AUTH).status_code == 200


def test_dnc_rejects_a_reference_holding_nul(sandbox, tmp_path):
    op = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        rows=["a\x00b@example.com", 1],
        rejects_path=str(tmp_path / "r.ndjson"),
        max_rejected=1,
    )
    summary = op.execute(context(tmp_path))
    assert (summary["updated"], summary["rejected"]) == (1, 1)
    assert reasons(tmp_path / "r.ndjson") == [
        (
            0,
            "the row holds a NUL character (U+0000), which vendors cannot store in text: remove it from the source",
        )
    ]


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b'[{"email": "s@example.com", "firstname": "\\ud800"}]', "application/json"),  # JSON_ERROR_UTF16
        (b'[{"email": "s@example.com", "firstname": "\xff"}]', "application/json"),  # JSON_ERROR_UTF8
        (b"[" * 513 + b"]" * 513, "application/json"),  # JSON_ERROR_DEPTH (512 levels at most)
        (b'[{"email": "s@example.com", "points": NaN}]', "application/json"),  # JSON_ERROR_SYNTAX
        (b'"a text"', "application/json"),  # decoded, but not an array: BodyListener refuses it
    ],
)
def test_the_emulator_refuses_a_body_json_decode_refuses_and_keeps_nothing(sandbox, body, content_type):
    sandbox.reset(empty=True)
    base = sandbox.base_url("mautic")
    r = requests.post(
        f"{base}/api/contacts/batch/new", data=body, headers={"Content-Type": content_type}, auth=AUTH
    )
    assert r.status_code == 400
    assert r.json() == {
        "errors": [
            {
                "message": "Looks like I encountered an error (error #400). If I do it again, please report me "
                "to the system administrator!",
                "code": 400,
                "type": None,
            }
        ]
    }
    assert sandbox.emulator("mautic").contacts == {}
    assert requests.get(f"{base}/api/contacts", auth=AUTH).status_code == 200  # never poisoned
    paired = b'[{"email": "p@example.com", "firstname": "\\ud83d\\ude00"}]'  # a surrogate pair is fine
    r = requests.post(
        f"{base}/api/contacts/batch/new", data=paired, headers={"Content-Type": content_type}, auth=AUTH
    )
    assert r.status_code == 201 and r.json()["contacts"][0]["fields"]["all"]["firstname"] == "\U0001f600"


# ---- nesting 100,000 deep -------------------------------------------------------------------
DEEP = "[" * 100_000 + "]" * 100_000


def test_a_row_nested_100000_deep_is_rejected_in_ndjson_and_inline(sandbox, tmp_path):
    sandbox.reset(empty=True)
    lines = [
        json.dumps(GOOD),
        '{"email": "d@example.com", "tags": ' + DEEP + "}",
        '{"email": "m@example.com", "x": ' + "[" * 150 + "]" * 150 + "}",
    ]
    (tmp_path / "rows.ndjson").write_text("\n".join(lines) + "\n")
    summary = upsert(tmp_path, source_path=str(tmp_path / "rows.ndjson"))
    assert (summary["rows_read"], summary["created"], summary["rejected"]) == (3, 1, 2)
    assert reasons(tmp_path / "rejects.ndjson") == [
        (1, "line 2 nests lists/objects too deep to read; no vendor takes that"),
        (2, "field 'x' nests lists/objects more than 100 levels deep; no vendor takes that: flatten it"),
    ]
    deep: list = []  # 300 levels: Airflow itself walks an operator's template fields deeper than ~900
    inner = deep
    for _ in range(300):
        inner.append([])
        inner = inner[0]
    summary = upsert(tmp_path, rows=[GOOD, {"email": "d@example.com", "tags": deep}])
    assert (summary["rows_read"], summary["updated"], summary["rejected"]) == (2, 1, 1)
    [record] = strict_lines(tmp_path / "rejects.ndjson")  # written whole
    assert record == {
        "index": 1,
        "row": {"email": "d@example.com", "tags": deep},
        "reason": "field 'tags' nests lists/objects more than 100 levels deep; no vendor takes that: flatten it",
        "status": None,
        "message": None,
        "vendor_code": None,
    }


def test_a_json_array_or_inline_string_nested_100000_deep_is_a_clear_error(sandbox, tmp_path):
    (tmp_path / "rows.json").write_text("[\n" + json.dumps(GOOD) + ",\n" + '{"tags": ' + DEEP + "}\n]")
    with pytest.raises(
        ContactsConfigError, match=r"rows.json': the element at line 3 nests lists/objects too deep"
    ):
        upsert(tmp_path, source_path=str(tmp_path / "rows.json"))
    with pytest.raises(ContactsConfigError, match="rows is a JSON string nested too deep for Python to read"):
        upsert(tmp_path, rows='[{"tags": ' + DEEP + "}]")
    assert batches(sandbox) == 0


# ---- a 5,000-digit number -------------------------------------------------------------------
BIG = "9" * 5000


@pytest.mark.parametrize("source", ["ndjson", "json", "inline string", "inline int"])
def test_a_5000_digit_number_is_rejected_and_replayed_whole(sandbox, tmp_path, source):
    sandbox.reset(empty=True)
    row = '{"email": "big@example.com", "n": ' + BIG + "}"
    kw: dict[str, Any] = {  # type: ignore[assignment]
        "ndjson": {"source_path": str(tmp_path / "rows.ndjson")},
        "json": {"source_path": str(tmp_path / "rows.json")},
        "inline string": {"rows": f"[{json.dumps(GOOD)}, {row}]"},
        "inline int": {
            "rows": [GOOD, {"email": "big@example.com", "n": int("9" * 4000) * 10**1000 + int("9" * 1000)}]
        },
    }[source]
    (tmp_path / "rows.ndjson").write_text(json.dumps(GOOD) + "\n" + row + "\n")
    (tmp_path / "rows.json").write_text(f"[{json.dumps(GOOD)},\n{row}]")
    summary = upsert(tmp_path, **kw)
    assert (summary["rows_read"], summary["created"], summary["rejected"]) == (2, 1, 1)
    [record] = strict_lines(tmp_path / "rejects.ndjson")
    assert (record["index"], record["reason"].split(" (")[0]) == (1, LONG)
    assert record["row"] == {"email": "big@example.com", "n": {"$numberDecimal": BIG}}
    again = tmp_path / "again.ndjson"
    summary = upsert(
        tmp_path,
        source_path=str(tmp_path / "rejects.ndjson"),
        source_format="rejects",
        rejects_path=str(again),
    )
    assert (summary["replayed"], summary["rejected"], batches(sandbox)) == (1, 1, 1)
    assert strict_lines(again) == [record | {"index": 0}]


# ---- NaN: strict JSON in the rejects file, read back by the replay ----------------------------
def test_nan_and_infinity_are_written_as_strict_json_and_replayed_as_numbers(sandbox, tmp_path):
    sandbox.reset(empty=True)
    (tmp_path / "rows.ndjson").write_text(
        '{"email": "n@example.com", "score": NaN}\n{"email": "i@example.com", "s": {"a": [-Infinity]}}\n'
    )
    summary = upsert(tmp_path, source_path=str(tmp_path / "rows.ndjson"))
    assert (summary["rows_read"], summary["rejected"], batches(sandbox)) == (2, 2, 0)
    records = strict_lines(tmp_path / "rejects.ndjson")
    assert [r["row"] for r in records] == [
        {"email": "n@example.com", "score": {"$numberDouble": "NaN"}},
        {"email": "i@example.com", "s": {"a": [{"$numberDouble": "-Infinity"}]}},
    ]
    again = tmp_path / "again.ndjson"
    upsert(
        tmp_path,
        source_path=str(tmp_path / "rejects.ndjson"),
        source_format="rejects",
        rejects_path=str(again),
    )
    assert strict_lines(again) == [{**r, "index": i} for i, r in enumerate(records)]  # the same reasons


# ---- index: the 0-based position of the row in its input --------------------------------------
def test_index_is_the_rows_position_in_every_source(sandbox, tmp_path, monkeypatch):
    sandbox.reset(empty=True)
    bad = {"email": "broken@"}
    (tmp_path / "rows.ndjson").write_text(
        f"\n{json.dumps(GOOD)}\n\n{json.dumps(bad)}\n"
    )  # blank lines: no rows
    (tmp_path / "rows.csv").write_text("email\ngood@example.com\n\nbroken@\n")
    (tmp_path / "rows.json").write_text(json.dumps([GOOD, bad]))
    db = tmp_path / "w.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table c (email text)")
        conn.executemany("insert into c values (?)", [("good@example.com",), ("broken@",)])
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    sources: dict[str, dict[str, Any]] = {
        "inline": {"rows": [GOOD, bad]},
        "ndjson": {"source_path": str(tmp_path / "rows.ndjson")},
        "csv": {"source_path": str(tmp_path / "rows.csv")},
        "json": {"source_path": str(tmp_path / "rows.json")},
        "sql": {"source_sql": "select email from c order by rowid", "source_conn_id": "warehouse"},
    }
    for name, kw in sources.items():
        upsert(tmp_path, rejects_path=str(tmp_path / f"{name}.rejects.ndjson"), **kw)
        assert reasons(tmp_path / f"{name}.rejects.ndjson") == [
            (1, "email 'broken@' is not a valid address")
        ], name
    # a replay: the position of the record in the replayed file (its own index kept the original's)
    first = tmp_path / "first.ndjson"
    upsert(tmp_path, rows=[bad, GOOD, {"email": "x@"}, bad | {"n": 1}], rejects_path=str(first))
    assert [i for i, _ in reasons(first)] == [0, 2, 3]
    again = tmp_path / "again.ndjson"
    upsert(tmp_path, source_path=str(first), source_format="rejects", rejects_path=str(again))
    assert [i for i, _ in reasons(again)] == [0, 1, 2]


def test_a_row_rejected_for_nul_still_names_its_key_for_change_only(sandbox, tmp_path):
    """Change-only: a key whose row is rejected (here for a NUL) was named by the input, so it is
    not reported (or opted out) as vanished from the source."""
    sandbox.reset(empty=True)
    state = {"only_changed": True, "sync_state": str(tmp_path / "state.sqlite"), "on_removed": "report"}
    rows = [{"email": "a@example.com"}, {"email": "b@example.com", "firstname": "B"}]
    assert upsert(tmp_path, rows=rows, **state)["created"] == 2
    rows[1]["firstname"] = "B\x00"
    summary = upsert(tmp_path, rows=rows, rejects_path=str(tmp_path / "second.ndjson"), **state)
    assert (summary["rejected"], summary["removed"], summary["unchanged"]) == (1, 0, 1)
    assert reasons(tmp_path / "second.ndjson")[0][1].startswith(NUL.format("firstname"))
