"""What differs between the supported Airflow and Python versions (``_compat``): date-times
Python 3.10 cannot read, the names that moved between Airflow releases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_contacts import _compat

PLUS_8 = timezone(timedelta(hours=8))
READABLE = [
    # Which50's Occurred: 7 fractional digits and an offset (Python 3.10's fromisoformat refuses it)
    ("2024-12-27T18:06:00.6960966+00:00", datetime(2024, 12, 27, 18, 6, 0, 696096, tzinfo=timezone.utc)),
    ("2026-11-20T17:30:00.1234567+08:00", datetime(2026, 11, 20, 17, 30, 0, 123456, tzinfo=PLUS_8)),
    ("2026-11-20T09:30:00.9999999Z", datetime(2026, 11, 20, 9, 30, 0, 999999, tzinfo=timezone.utc)),
    ("2026-11-20T09:30:00.5-05:30", datetime(2026, 11, 20, 9, 30, 0, 500000, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
    ("2026-11-20T09:30:00", datetime(2026, 11, 20, 9, 30)),  # naive stays naive: the caller decides
    ("2026-11-20 09:30:00", datetime(2026, 11, 20, 9, 30)),
]
UNREADABLE = ["20 Nov 2026 09:00", "2026-11-20", "garbage", "", "2026-13-01T00:00:00"]


@pytest.mark.parametrize("text, expected", READABLE, ids=[t for t, _ in READABLE])
def test_fromisoformat_reads_what_python_3_11_reads_on_every_python(text, expected):
    for parse in (_compat.fromisoformat, _compat._fromisoformat_pendulum):  # the second is 3.10's path
        value = parse(text)
        assert value == expected and type(value) is datetime, parse
        assert value.utcoffset() == expected.utcoffset() and (value.tzinfo is None) == (expected.tzinfo is None)
        assert value.tzinfo is None or isinstance(value.tzinfo, timezone)


@pytest.mark.parametrize("text", UNREADABLE)
def test_fromisoformat_refuses_what_is_no_date_time(text):
    with pytest.raises(ValueError):
        _compat._fromisoformat_pendulum(text)
    if text != "2026-11-20":  # a date alone: Python 3.11+ reads it as midnight, pendulum path refuses
        with pytest.raises(ValueError):
            _compat.fromisoformat(text)


def test_the_exceptions_are_those_airflow_raises():
    from airflow.sdk import BaseHook

    with pytest.raises(_compat.AirflowNotFoundException):
        BaseHook.get_connection("no_such_connection_anywhere")
    assert issubclass(_compat.AirflowSensorTimeout, Exception) and issubclass(_compat.TaskDeferred, BaseException)


def test_airflow_conf_is_airflows_configuration():
    assert _compat.airflow_conf().getint("core", "max_map_length", fallback=-1) >= 1
