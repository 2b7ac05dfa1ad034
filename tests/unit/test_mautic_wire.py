"""Mautic wire helpers: which values Mautic's POST/PATCH ignores as a numeric 0."""

from __future__ import annotations

import pytest

from airflow_provider_contacts.hooks.mautic.wire import is_zero


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
