"""What differs between the supported Airflow versions (``_compat``): the names that moved
between Airflow releases (dates Python 3.10 cannot read: tests/unit/test_time_and_models.py)."""

from __future__ import annotations

import pytest

from airflow_provider_contacts import _compat


def test_the_exceptions_are_those_airflow_raises():
    from airflow.sdk import BaseHook

    with pytest.raises(_compat.AirflowNotFoundException):
        BaseHook.get_connection("no_such_connection_anywhere")
    assert issubclass(_compat.AirflowSensorTimeout, Exception) and issubclass(
        _compat.TaskDeferred, BaseException
    )


def test_airflow_conf_is_airflows_configuration():
    assert _compat.airflow_conf().getint("core", "max_map_length", fallback=-1) >= 1
