"""Input checks that need no server: a bad DNC reason names ``reason``, ``max_rejected`` is
unambiguous, the row spool keeps the input order across memory and disk, and NDJSON lines read
as json.loads reads them."""

from __future__ import annotations

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.rows.rejects import parse_max_rejected
from airflow_provider_contacts.rules import parse_dnc_reason


@pytest.mark.parametrize("reason", ["--1", "²", "+-3", "1.5", "0", -2])
def test_dnc_bad_reason_names_reason(reason):
    with pytest.raises(ContactsConfigError, match=r"reason="):
        DoNotContactOperator(task_id="dnc", conn_id="mautic_default", action="add", reason=reason, rows=[1])


# Mautic's DoNotContact constants: UNSUBSCRIBED = 1, BOUNCED = 2, MANUAL = 3 (0: contactable)
@pytest.mark.parametrize(
    ("reason", "code"),
    [("unsubscribed", 1), ("bounced", 2), ("manual", 3), (" Bounced ", 2), ("1", 1), (2, 2), (3, 3)],
)
def test_each_dnc_reason_is_mautics_code(reason, code):
    assert parse_dnc_reason(reason) == code


# ---- 10. max_rejected: an int is a count, a float a fraction up to 1.0 ---------------------
def test_max_rejected_is_unambiguous():
    assert parse_max_rejected(1.0) == 1.0 and isinstance(parse_max_rejected(1.0), float)
    assert parse_max_rejected(1) == 1 and isinstance(parse_max_rejected(1), int)
    assert parse_max_rejected("0.25") == 0.25 and parse_max_rejected("3") == 3
    for bad in (1.5, -1, -0.1, float("nan"), True, "lots", None):
        with pytest.raises(ContactsConfigError, match="max_rejected"):
            parse_max_rejected(bad)


def test_row_spool_keeps_input_order_across_memory_and_disk():
    from airflow_provider_contacts.rows.spool import RowSpool

    spool = RowSpool(memory_rows=3)
    items = [[i, {"email": f"r{i}@example.com", "n": i * 1.5}, None] for i in range(10)]
    for item in items:
        spool.add(item)
    assert len(spool) == 10 and spool._file is not None  # 7 items went to disk
    assert list(spool) == items and list(spool) == items  # iterable more than once
    spool.add([10, {}, None])
    assert [item[0] for item in spool] == list(range(11))
    spool.close()
    assert list(spool) == []


def test_ndjson_lines_read_what_json_reads_and_name_the_bad_line(tmp_path):
    """Lines msgspec refuses are read by json.loads: NaN, Infinity, numbers out of range and
    lone surrogates come out as values (the value checks reject them with the field's name)."""
    import math

    from airflow_provider_contacts.rows.sources import BadRow, _ndjson_lines

    path = tmp_path / "rows.ndjson"
    path.write_text(
        '{"email": "a@example.com", "n": 123456789012345678901234567890, "x": 0.1}\n'
        "\n"
        '{"email": "b@example.com", "score": NaN}\n'
        '{"email": "c@example.com", "score": 1e400, "low": -Infinity}\n'
        '{"email": "d@example.com", "name": "\\ud800"}\n'
        '{"email": "e@example.com", "a": 1, "a": 2}\n'
        "{email: nope}\n",
        encoding="utf-8",
    )
    with open(path, encoding="utf-8") as handle:
        lines = list(_ndjson_lines(handle))
    assert [number for number, _ in lines] == [1, 3, 4, 5, 6, 7]
    values = [value for _, value in lines]
    assert values[0] == {"email": "a@example.com", "n": 123456789012345678901234567890, "x": 0.1}
    assert math.isnan(values[1]["score"])
    assert values[2]["score"] == math.inf and values[2]["low"] == -math.inf
    assert values[3]["name"] == "\ud800"
    assert values[4] == {"email": "e@example.com", "a": 2}
    assert isinstance(values[5], BadRow)
    assert values[5].reason == "line 7 is not valid JSON (Expecting property name enclosed in double quotes)"
    assert values[5].raw == "{email: nope}"
