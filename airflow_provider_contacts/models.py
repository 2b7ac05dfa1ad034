"""The provider's plain data: what happened to a row (:class:`RowOutcome`), an audience
(:class:`Audience`), the normalised contact event (:class:`ContactEvent`), and the
window-and-type filter every vendor applies (:class:`EventFilter`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from airflow_provider_contacts._time import to_iso

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
class Audience:
    """A group contacts are put into or taken out of: a Mautic segment or campaign, resolved by
    the hook (``kind`` is the vendor's word, ``id`` its id). ``facts`` holds what the hook needs
    later (e.g. a segment's alias, whether a campaign allows restarts)."""

    kind: str
    id: str
    name: str
    facts: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.kind} {self.name!r} (id {self.id})"


#: how an audience given to an operator or hook is read: ``id``, ``name``, or ``auto`` (a whole
#: number is looked up both ways and refused when it is one audience's id and another's name)
AUDIENCE_BY = ("auto", "id", "name")


def audience_by(value: Any) -> str:
    """``audience_by`` checked (case-insensitive; empty is ``auto``), else a config error."""
    from airflow_provider_contacts.exceptions import ContactsConfigError

    text = str(value or "auto").strip().lower()
    if text not in AUDIENCE_BY:
        raise ContactsConfigError(f"audience_by={value!r}: use one of {', '.join(AUDIENCE_BY)}")
    return text


@dataclass(frozen=True)
class KnownColumns:
    """The columns of a row that an action stores, to check a source against before the first
    change (an upsert: the vendor's own field list; the other actions: the columns they read).

    ``names`` are stored as they are (compared ignoring case when ``fold_case``: the hook maps
    them to the vendor's spelling); ``where`` says where the list comes from, for messages.
    ``others`` names what becomes of any other column when the vendor keeps it somewhere (e.g.
    EngageLab's "custom attributes"; None: another column is unknown). ``ignored`` maps a
    column the vendor would NOT store to why (e.g. a Mautic field that is not published)."""

    names: frozenset[str]
    where: str
    fold_case: bool = False
    others: str | None = None
    ignored: dict[str, str] = field(default_factory=dict)


@dataclass
class ContactEvent:
    """The normalised contact event: one schema for every vendor. ``occurred_at`` is an aware
    UTC datetime inside the code, written as ISO 8601 with microseconds at the edges
    (:meth:`to_dict`). Two events are the same event when their :attr:`dedup_key` is."""

    vendor: str
    event_id: str
    event_type: str
    contact_id: str | None
    occurred_at: datetime
    label: str | None = None
    campaign: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> tuple[str, str, str, str]:
        return (self.vendor, self.event_type, self.event_id, self.contact_id or "")

    @property
    def key(self) -> str:
        """``vendor|event_type|event_id|contact_id``: what identifies one event across polls."""
        return "|".join(self.dedup_key)

    @property
    def order(self) -> tuple[datetime, str]:
        """Chronological order: ``(occurred_at, event_id)``."""
        return self.occurred_at, str(self.event_id)

    def ref(self) -> dict[str, Any]:
        """A reference to the event (no payload), as written in summaries and batches."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "contact_id": self.contact_id,
            "occurred_at": to_iso(self.occurred_at),
        }

    def to_dict(self) -> dict[str, Any]:
        """The edge form: ``occurred_at`` as ISO 8601 text (UTC, microseconds)."""
        return {
            "vendor": self.vendor,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "contact_id": self.contact_id,
            "occurred_at": to_iso(self.occurred_at),
            "label": self.label,
            "campaign": self.campaign,
            "raw": self.raw,
        }


#: the filters every vendor's ``event_plan`` takes (in :class:`EventQuery`), besides its own
COMMON_EVENT_FILTERS = ("include_types", "exclude_types", "contact_ids")


@dataclass(frozen=True)
class EventQuery:
    """What a hook's ``event_plan`` is asked, whatever the vendor: the half-open window
    ``[since, until)`` and the filters every vendor has; a vendor's own filters come as keywords."""

    since: datetime
    until: datetime
    include_types: list[str] | None = None
    exclude_types: list[str] | None = None
    contact_ids: list[str] | None = None

    def wanted(self, *, fold_case: bool = False) -> EventFilter:
        """The window and type filters as a predicate on events."""
        return EventFilter(
            self.since, self.until, self.include_types, self.exclude_types, fold_case=fold_case
        )


#: the arguments of the activity operator and the sensor that pick events (both template them)
EVENT_SELECTION_ARGS = ("since", "until", "event_types", "exclude_event_types", "contact_ids")


class EventFilter:
    """The filters every vendor applies on its side of the API: the half-open window
    ``[since, until)`` on ``occurred_at`` and the event types (``include`` empty = all)."""

    def __init__(
        self,
        since: datetime,
        until: datetime,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        *,
        fold_case: bool = False,
    ) -> None:
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
        return self.since <= event.occurred_at < self.until
