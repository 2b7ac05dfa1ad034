"""Mautic wire helpers: which values Mautic's POST/PATCH ignores as a numeric 0, and values made
JSON-ready without copying rows that need nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_contacts.hooks.mautic.wire import clean, count_zero_values, is_zero


@pytest.mark.parametrize(
    ("value", "zero"),
    [
        (0, True),
        (0.0, True),
        ("0", True),
        (" 0", True),
        ("-0", True),
        ("+0", True),
        (".0", True),
        ("0.4", True),  # Mautic reads it as an int: 0
        ("5e-1", True),
        ("10", False),
        ("", False),
        ("Anna", False),
        (False, False),
        (None, False),
        ("inf", False),  # float() reads it, int() cannot: not a zero (it once raised OverflowError)
        ("-inf", False),
        ("nan", False),
    ],
)
def test_which_values_read_as_zero(value, zero):
    assert is_zero(value) is zero


def test_the_zero_count_of_a_batch_skips_the_key_and_counts_every_other_zero():
    rows = [
        {"email": "0@example.com", "points": 0, "city": "Oslo", "score": " 0", "flag": False},
        {"email": "b@example.com", "points": "10", "ratio": 0.0, "note": "", "x": None},
        {"phone": "0", "n": 0},
    ]
    assert count_zero_values(rows, "email") == 5  # points, score, ratio, phone, n
    assert count_zero_values(rows, "phone") == 4  # the phone "0" is the key: not counted
    assert count_zero_values(rows, "n") == 4  # phone "0" counted, n is the key


def test_clean_converts_datetimes_and_leaves_other_rows_as_they_are():
    plain = {"email": "a@example.com", "points": 3, "tags": ["a"]}
    assert clean(plain) is plain
    when = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    row = {"email": "a@example.com", "last_active": when, "points": 3}
    out = clean(row)
    assert out == {"email": "a@example.com", "last_active": "2026-03-01 10:30:00", "points": 3}
    assert row["last_active"] is when  # the caller's row is not changed
