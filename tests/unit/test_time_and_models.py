"""The one copy of the time rules, and the normalised event at the edges."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_contacts._time import parse_iso, parse_when, to_iso, utc
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.models import ContactEvent, EventFilter

T = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-20T09:30:00Z", T),
        ("2026-11-20T09:30:00", T),  # no offset: UTC
        ("2026-11-20 09:30:00", T),
        ("2026-11-20T11:30:00+02:00", T),
        ("2026-11-20T11:30:00+0200", T),
        ("2026-11-20T11:30:00.1234567+02:00", T + timedelta(microseconds=123456)),  # Which50: 7 digits
        ("2026-11-20T09:30:00.5Z", T + timedelta(microseconds=500000)),
        ("2024-12-27T18:06:00.6960966+00:00", datetime(2024, 12, 27, 18, 6, 0, 696096, tzinfo=timezone.utc)),
        (
            "2026-11-20T09:30:00.9999999Z",
            T + timedelta(microseconds=999999),
        ),  # digits past microseconds dropped
        ("2026-11-20T04:00:00.5-05:30", T + timedelta(microseconds=500000)),
        ("2026-11-20", T.replace(hour=0, minute=0)),
    ],
)
def test_iso_texts_are_read_on_every_python(text, expected):
    assert parse_iso(text) == expected and parse_iso(text).tzinfo == timezone.utc


@pytest.mark.parametrize(
    "text", ["yesterday", "12:00", "P1D", "", "2026-13-01T00:00:00Z", "20 Nov 2026 09:00"]
)
def test_what_is_not_a_date_time_is_refused(text):
    with pytest.raises(ValueError):
        parse_iso(text)


def test_edge_form_sorts_like_the_times():
    whole, half = T, T + timedelta(microseconds=500000)
    assert to_iso(whole) == "2026-11-20T09:30:00.000000Z" and to_iso(half) == "2026-11-20T09:30:00.500000Z"
    assert sorted([to_iso(half), to_iso(whole)]) == [to_iso(whole), to_iso(half)]
    assert to_iso(datetime(2026, 11, 20, 9, 30)) == "2026-11-20T09:30:00.000000Z"  # naive is UTC
    assert to_iso(datetime(1, 1, 1)) == "0001-01-01T00:00:00.000000Z"
    assert utc(datetime(2026, 11, 20, 11, 30, tzinfo=timezone(timedelta(hours=2)))) == T


def test_window_values_name_the_field():
    with pytest.raises(ContactsConfigError, match="since='soon' is not an ISO 8601 date-time"):
        parse_when("soon", "since")
    with pytest.raises(ContactsConfigError, match="until='0001-01-01T00:00:00\\+05:00' is outside"):
        parse_when("0001-01-01T00:00:00+05:00", "until")
    with pytest.raises(ContactsConfigError, match="since is missing"):
        parse_when(None, "since")


def test_events_order_by_time_and_serialise_at_the_edges_only():
    a = ContactEvent("mautic", "2", "email.read", "7", T + timedelta(microseconds=500000))
    b = ContactEvent("mautic", "1", "email.read", "7", T)
    assert sorted([a, b], key=lambda e: e.order) == [b, a]  # the ISO texts of 0.1.0 sorted a first
    line = json.loads(json.dumps(a.to_dict()))
    assert line["occurred_at"] == "2026-11-20T09:30:00.500000Z" and isinstance(a.occurred_at, datetime)
    assert a.key == "mautic|email.read|2|7" and a.ref()["occurred_at"] == line["occurred_at"]
    window = EventFilter(T, T + timedelta(seconds=1), include=["email.read"])
    assert (
        window(a)
        and window(b)
        and not window(ContactEvent("mautic", "3", "email.read", "7", T + timedelta(seconds=1)))
    )
