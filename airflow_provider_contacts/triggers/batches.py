"""Summaries and batches of contact events: what a sensor returns and what a watcher hands to
Airflow (small JSON, references not payloads), and how a consumer fetches exactly a batch's
events back from the vendor."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_contacts._time import parse_when, to_iso
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.models import ContactEvent

#: events listed by reference in a sensor's summary, at most (the rest is counted only)
MAX_EVENT_REFS = 100


def summarise(
    events: list[ContactEvent],
    *,
    conn_id: str,
    vendor: str,
    since: datetime,
    until: datetime,
    max_refs: int | None = MAX_EVENT_REFS,
) -> dict[str, Any]:
    """A small JSON summary of events: count, first/last ``occurred_at``, window, types seen, and
    references (not payloads) of up to ``max_refs`` events (None: all)."""
    types: dict[str, int] = {}
    for event in events:
        types[event.event_type] = types.get(event.event_type, 0) + 1
    ordered = sorted(events, key=lambda e: e.order)
    listed = ordered if max_refs is None else ordered[:max_refs]
    return {
        "conn_id": conn_id,
        "vendor": vendor,
        "count": len(events),
        "first_occurred_at": to_iso(ordered[0].occurred_at) if ordered else None,
        "last_occurred_at": to_iso(ordered[-1].occurred_at) if ordered else None,
        "window": [to_iso(since), to_iso(until)],
        "event_types": dict(sorted(types.items())),
        "events": [e.ref() for e in listed],
        "events_truncated": len(listed) < len(ordered),
    }


def ref_key(ref: dict[str, Any], vendor: str) -> str:
    """:attr:`ContactEvent.key` of an event reference of a batch."""
    return "|".join([vendor, str(ref["event_type"]), str(ref["event_id"]), str(ref.get("contact_id") or "")])


def batch_id_of(conn_id: str, events: list[ContactEvent]) -> str:
    """A batch's id: a digest of the connection and the sorted keys and times of its events, so
    the same batch delivered again (after a triggerer crash) has the same id, and any other
    batch not."""
    lines = sorted(f"{e.key}|{to_iso(e.occurred_at)}" for e in events)
    return hashlib.sha256("\n".join([conn_id, *lines]).encode("utf-8")).hexdigest()[:32]


def make_batch(
    events: list[ContactEvent],
    *,
    conn_id: str,
    vendor: str,
    since: datetime,
    until: datetime,
    more: bool = False,
) -> dict[str, Any]:
    """The payload of one watcher batch (the asset event's ``extra["payload"]``): the summary of
    :func:`summarise` with a reference to EVERY event, a content-derived ``batch_id`` and
    ``more`` (a backlog continues in the next batch), so a consumer fetches exactly these events
    (:func:`iter_batch_events`)."""
    batch = summarise(events, conn_id=conn_id, vendor=vendor, since=since, until=until, max_refs=None)
    return {"batch_id": batch_id_of(conn_id, events), **batch, "more": more}


def batch_fetch_window(batch: dict[str, Any]) -> tuple[datetime, datetime]:
    """The narrowest ``[since, until)`` holding every event of a batch."""
    first = parse_when(batch["first_occurred_at"], "first_occurred_at")
    last = parse_when(batch["last_occurred_at"], "last_occurred_at")
    return first, last + timedelta(microseconds=1)


def check_batch(batch: Any) -> dict[str, Any]:
    """``batch`` if it is a watcher batch payload, else a clear error (a consumer never guesses
    a window)."""
    if not isinstance(batch, dict) or not batch.get("batch_id") or not isinstance(batch.get("events"), list):
        raise ContactsConfigError(
            "not a contact-events batch: expected the payload of a ContactEventsEventTrigger asset event "
            "(keys batch_id, events, first_occurred_at, last_occurred_at, vendor)"
        )
    if batch["events"] and not (batch.get("first_occurred_at") and batch.get("last_occurred_at")):
        raise ContactsConfigError(f"batch {batch['batch_id']} has events but no first/last_occurred_at")
    return batch


def iter_batch_events(
    hook: Any, batch: dict[str, Any], missing: list[dict[str, Any]] | None = None
) -> Iterator[ContactEvent]:
    """The full events of a watcher batch, each once, fetched with ``hook`` (blocking): the
    vendor is asked for the batch's window and event types (and its contacts when the vendor
    lists events per contact) and only the batch's keys are kept. References no longer found
    at the vendor are appended to ``missing`` (if given)."""
    batch = check_batch(batch)
    if not batch["events"]:
        return
    vendor = batch.get("vendor") or hook.conn_type
    wanted = {ref_key(ref, vendor): ref for ref in batch["events"]}
    since, until = batch_fetch_window(batch)
    contacts = sorted({str(ref["contact_id"]) for ref in batch["events"] if ref.get("contact_id")})
    per_contact = getattr(hook, "events_per_contact", False)
    for event in hook.iter_events(
        since,
        until,
        include_types=sorted({str(ref["event_type"]) for ref in batch["events"]}),
        contact_ids=contacts if per_contact else None,
    ):
        if wanted.pop(event.key, None) is not None:
            yield event
    if missing is not None:
        missing.extend(wanted.values())
