"""Vendor-neutral contracts between the operators/sensors and the vendor hooks.

A hook "can" an action when it implements the matching protocol. Operators pick the hook from
the connection type and check ``isinstance(hook, <Protocol>)``; an action the vendor cannot do
is a clear :class:`~airflow_provider_contacts.exceptions.UnsupportedActionError` that names the
connection types that can.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Literal, Protocol, runtime_checkable

Outcome = Literal["created", "updated", "unchanged", "rejected"]


@dataclass
class RowOutcome:
    """What happened to one input row."""

    index: int
    outcome: Outcome
    contact_id: str | None = None
    http_status: int | None = None
    message: str | None = None
    vendor_code: str | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome != "rejected"


@dataclass
class ContactEvent:
    """The normalised contact event (DESIGN.md): one schema for every vendor."""

    vendor: str
    event_id: str
    event_type: str
    contact_id: str | None
    occurred_at: str  # UTC ISO 8601, e.g. 2026-11-20T09:30:00Z
    label: str | None = None
    campaign: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> tuple[str, str, str, str]:
        return (self.vendor, self.event_type, self.event_id, self.contact_id or "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def to_utc_iso(value: datetime) -> str:
    """``2026-11-20T09:30:00Z`` for any aware datetime (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


class EventFilter:
    """The filters every vendor applies on its side of the API: the half-open window
    ``[since, until)`` on ``occurred_at`` and the event types (``include`` empty = all)."""

    def __init__(self, since: datetime, until: datetime, include: Iterable[str] | None = None,
                 exclude: Iterable[str] | None = None, *, fold_case: bool = False) -> None:
        self.since, self.until = since, until
        self.fold = (lambda t: t.lower()) if fold_case else (lambda t: t)
        self.include = {self.fold(t) for t in include or ()}
        self.exclude = {self.fold(t) for t in exclude or ()}

    def wants_type(self, event_type: str) -> bool:
        kind = self.fold(event_type)
        return (not self.include or kind in self.include) and kind not in self.exclude

    def __call__(self, event: ContactEvent) -> bool:
        if not self.wants_type(event.event_type):
            return False
        occurred = datetime.fromisoformat(event.occurred_at.replace("Z", "+00:00"))
        return self.since <= occurred < self.until


#: point-group operators, and the rounding rule of this provider for ``divide``
POINT_OPERATORS = ("plus", "minus", "times", "divide", "set")
DNC_REASONS = {"unsubscribed": 1, "bounced": 2, "manual": 3}


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


def whole_number(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (an int, an integral finite float, or a
    string of ASCII digits with one optional sign), else None. ``"--5"``, ``"+-3"``, ``"²"``,
    ``"1e3"``, ``True``, NaN and infinities are not whole numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def compute_score(current: int, op: str, value: int) -> int:
    """The score after ``op value``. Division rounds toward zero (7 / 2 = 3, -7 / 2 = -3);
    dividing by 0 is a ValueError (a :class:`ContactsConfigError`)."""
    from airflow_provider_contacts.exceptions import ContactsConfigError

    if op == "plus":
        return current + value
    if op == "minus":
        return current - value
    if op == "times":
        return current * value
    if op == "divide":
        if value == 0:
            raise ContactsConfigError("cannot divide a score by 0")
        quotient = abs(current) // abs(value)
        return quotient if (current >= 0) == (value > 0) else -quotient
    if op == "set":
        return value
    raise ContactsConfigError(f"op {op!r} is not one of {', '.join(POINT_OPERATORS)}")


def check_adjustment(op: Any, value: Any, operators: tuple[str, ...] = POINT_OPERATORS) -> tuple[str, int]:
    """(op, integer value) of a point adjustment, or :class:`InvalidAdjustment` naming the
    problem: an unknown op, a value that is not a whole number, a division by zero."""
    from airflow_provider_contacts.exceptions import InvalidAdjustment

    name = str(op or "").strip().lower()
    if name not in operators:
        raise InvalidAdjustment(f"op {op!r} is not allowed; use one of {', '.join(operators)}")
    number = whole_number(value)
    if number is None:
        raise InvalidAdjustment(f"value {value!r} is not an integer; scores are whole numbers")
    if name == "divide" and number == 0:
        raise InvalidAdjustment("divide by zero: value 0 with op divide")
    return name, number


def parse_dnc_reason(reason: Any) -> int:
    """``unsubscribed`` / ``bounced`` / ``manual`` or a whole number > 0."""
    from airflow_provider_contacts.exceptions import ContactsConfigError

    if isinstance(reason, bool) or reason is None:
        raise ContactsConfigError(f"reason={reason!r}: use unsubscribed, bounced, manual or a number > 0")
    number = whole_number(reason)
    if number is not None:
        if number <= 0:
            raise ContactsConfigError(
                f"reason={reason!r}: must be > 0 (1 unsubscribed, 2 bounced, 3 manual); to make a "
                "contact contactable again use action='remove'"
            )
        return number
    if isinstance(reason, str) and reason.strip().lower() in DNC_REASONS:
        return DNC_REASONS[reason.strip().lower()]
    raise ContactsConfigError(
        f"reason={reason!r} is not a do-not-contact reason; use unsubscribed, bounced or manual (or 1-3)"
    )


@runtime_checkable
class ContactUpserter(Protocol):
    """Create-or-update contacts keyed by a field."""

    #: rows per call of :meth:`upsert_batch` (the vendor's batch limit, or 1)
    upsert_batch_size: int

    def upsert_batch(self, rows: list[dict[str, Any]], key: str) -> list[RowOutcome]:
        """Upsert ``rows`` (unique keys); one outcome per row, ``index`` = position in rows."""
        ...


@runtime_checkable
class DoNotContactCapable(Protocol):
    dnc_batch_size: int

    def find_contact_ids_by_email(self, emails: Iterable[str]) -> dict[str, str]:
        """Lower-cased email -> contact id, for the emails that exist."""
        ...

    def set_do_not_contact(
        self,
        contact_ids: list[str],
        *,
        action: Literal["add", "remove"],
        channel: str = "email",
        reason: int = 3,
        comments: str | None = None,
    ) -> list[RowOutcome]:
        ...


@runtime_checkable
class PointGroupCapable(Protocol):
    def list_point_groups(self) -> list[dict[str, Any]]: ...

    def get_group_score(self, contact_id: str, group_id: str) -> int: ...

    def adjust_group_score(self, contact_id: str, group_id: str, op: str, value: int) -> int: ...


@runtime_checkable
class ActivityCapable(Protocol):
    """Implemented through ``hooks.base.EventPlanMixin``: the hook writes ``event_plan`` once
    and gets ``iter_events`` (blocking) and ``aiter_events`` (async, for triggers)."""

    def event_plan(self, since: datetime, until: datetime, **filters: Any) -> Any: ...

    def iter_events(
        self,
        since: datetime,
        until: datetime,
        *,
        include_types: list[str] | None = None,
        exclude_types: list[str] | None = None,
        contact_ids: list[str] | None = None,
    ) -> Iterator[ContactEvent]:
        """Events with ``since <= occurred_at < until`` (UTC), de-duplicated."""
        ...


@runtime_checkable
class ContactLister(Protocol):
    def iter_contacts(self, **filters: Any) -> Iterator[dict[str, Any]]: ...


CAPABILITIES: dict[str, type] = {
    "upsert": ContactUpserter,
    "do_not_contact": DoNotContactCapable,
    "point_groups": PointGroupCapable,
    "activity": ActivityCapable,
    "list_contacts": ContactLister,
}
