"""Vendor-neutral contracts between the operators/sensors and the vendor hooks.

A hook "can" an action when it implements the matching protocol. Operators pick the hook from
the connection type and check ``isinstance(hook, <Protocol>)``; an action the vendor cannot do
is a clear :class:`~airflow_provider_contacts.exceptions.UnsupportedActionError` that names the
connection types that can.
"""

from __future__ import annotations

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
