"""The one copy of the time rules.

* Inside the code every datetime is aware and in UTC; a naive datetime is taken as UTC.
* At the edges (files, XCom, asset events, state) a time is ISO 8601 in UTC with microseconds,
  ``2026-11-20T09:30:00.000000Z``: fixed width, so the texts sort like the times.
* Any ISO 8601 text is read on every supported Python (``Z``, offsets with or without a colon,
  1 to 9 fraction digits), through pendulum.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

_STARTS_WITH_A_DATE = re.compile(r"\d{4}-?\d{2}-?\d{2}")


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken as UTC. Raises OverflowError when the UTC
    time is before year 1 or after year 9999."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_iso(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text (a date alone is its midnight UTC; no offset
    means UTC). Raises ValueError when the text is not a date-time, OverflowError when it is
    outside years 1-9999 in UTC."""
    import pendulum

    if not _STARTS_WITH_A_DATE.match(text.strip()):
        raise ValueError(f"not an ISO 8601 date-time: {text!r}")
    try:
        parsed = pendulum.parse(text.strip(), tz="UTC")
    except (pendulum.parsing.exceptions.ParserError, ValueError, TypeError) as exc:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}") from exc
    if not isinstance(parsed, datetime):  # a duration, a time of day...
        raise ValueError(f"not an ISO 8601 date-time: {text!r}")
    plain = datetime(
        parsed.year,
        parsed.month,
        parsed.day,
        parsed.hour,
        parsed.minute,
        parsed.second,
        parsed.microsecond,
        tzinfo=timezone(parsed.utcoffset() or timezone.utc.utcoffset(None)),
    )
    return utc(plain)


def parse_when(value: Any, field: str) -> datetime:
    """``value`` (a datetime or ISO 8601 text) as an aware UTC datetime, or the provider's config
    error naming ``field`` and what to give."""
    from airflow_provider_contacts.exceptions import ContactsConfigError

    try:
        if isinstance(value, datetime):
            return utc(value)
        if isinstance(value, str) and value.strip():
            return parse_iso(value)
    except ValueError:
        raise ContactsConfigError(
            f"{field}={value!r} is not an ISO 8601 date-time such as 2026-11-20T00:00:00Z"
        ) from None
    except OverflowError:
        raise ContactsConfigError(
            f"{field}={value!r} is outside the dates a window can use (0001-01-01 to 9999-12-31 in UTC); "
            "give a real date-time such as 2026-11-20T00:00:00Z"
        ) from None
    raise ContactsConfigError(f"{field} is missing: give an ISO 8601 date-time or a datetime")


def to_iso(value: datetime) -> str:
    """``2026-11-20T09:30:00.000000Z``: the edge form of a time (UTC, microseconds)."""
    return utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
