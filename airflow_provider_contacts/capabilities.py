"""Vendor-neutral contracts between the operators/sensors and the vendor hooks.

A hook "can" an action when it implements the matching protocol. Operators pick the hook from
the connection type and check ``isinstance(hook, <Protocol>)``; an action the vendor cannot do
is a clear :class:`~airflow_provider_contacts.exceptions.UnsupportedActionError` that names the
connection types that can.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from airflow_provider_contacts.models import Audience, ContactEvent, EventQuery, KnownColumns, RowOutcome


@runtime_checkable
class ContactUpserter(Protocol):
    """Create-or-update contacts keyed by a field."""

    #: rows per call of :meth:`upsert_batch` (the vendor's batch limit, or 1)
    upsert_batch_size: int

    def upsert_batch(self, rows: list[dict[str, Any]], key: str) -> list[RowOutcome]:
        """Upsert ``rows`` (unique keys); one outcome per row, ``index`` = position in rows."""
        ...

    def upsert_fields(self) -> KnownColumns:
        """The columns an upsert stores, from the vendor's own field list (read once per hook);
        the operator checks the input's columns against them before the first change."""
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
    ) -> list[RowOutcome]: ...


@runtime_checkable
class PointGroupCapable(Protocol):
    def list_point_groups(self) -> list[dict[str, Any]]: ...

    def get_group_score(self, contact_id: str, group_id: str) -> int: ...

    def adjust_group_score(self, contact_id: str, group_id: str, op: str, value: int) -> int: ...


@runtime_checkable
class ActivityCapable(Protocol):
    """Implemented through ``hooks.base.EventPlanMixin``: the hook writes ``event_plan`` once
    and gets ``iter_events`` (blocking) and ``aiter_events`` (async, for triggers)."""

    def event_plan(self, query: EventQuery, **filters: Any) -> Any: ...

    def iter_events(self, since: datetime, until: datetime, **filters: Any) -> Iterator[ContactEvent]:
        """Events with ``since <= occurred_at < until`` (UTC), de-duplicated; every vendor takes
        the filters ``include_types``, ``exclude_types`` and ``contact_ids``."""
        ...


@runtime_checkable
class ContactLister(Protocol):
    def iter_contacts(self, **filters: Any) -> Iterator[dict[str, Any]]: ...


@runtime_checkable
class AudienceMembershipCapable(Protocol):
    """Put contacts into an audience (Mautic: a segment or a campaign) and take them out.

    The operator reads the current membership of each batch first (:meth:`audience_members`)
    and changes only what differs, so a retried task never re-adds a member (which restarts a
    Mautic campaign that allows restarts) and reports "already" for the rest."""

    #: the kinds of audience the vendor has, e.g. ``("segment", "campaign")``
    audience_kinds: tuple[str, ...]
    #: contact ids per call of :meth:`audience_members` and :meth:`change_membership`
    membership_batch_size: int

    def find_contact_ids_by_email(self, emails: Iterable[str]) -> dict[str, str]: ...

    def resolve_audience(self, kind: str, audience: int | str, by: str = "auto") -> Audience:
        """The audience from an id or a name (``by``: ``auto``, ``id`` or ``name``); a clear
        config error when it does not exist, a name matches several, a value is one audience's
        id and another's name (``auto``), or the vendor refuses changes to it."""
        ...

    def audience_members(self, audience: Audience, contact_ids: list[str]) -> set[str]:
        """Those of ``contact_ids`` that are members now."""
        ...

    def existing_contact_ids(self, contact_ids: list[str]) -> set[str]:
        """Those of ``contact_ids`` that exist."""
        ...

    def change_membership(
        self, audience: Audience, contact_ids: list[str], action: Literal["add", "remove"]
    ) -> list[RowOutcome]:
        """One outcome per contact (``index`` = position in ``contact_ids``): ``updated`` when
        the change was made, ``rejected`` with the vendor's reason (404: no such contact)."""
        ...


CAPABILITIES: dict[str, type] = {
    "upsert": ContactUpserter,
    "do_not_contact": DoNotContactCapable,
    "point_groups": PointGroupCapable,
    "activity": ActivityCapable,
    "list_contacts": ContactLister,
    "audience_membership": AudienceMembershipCapable,
}
