"""Triggers that wait for new contact events, on the async transport (no blocking call in ``run``).

* :class:`ContactEventsTrigger` — used by the deferrable :class:`ContactEventsSensor`: polls every
  ``poke_interval`` seconds until at least ``min_events`` events exist in ``[since, until)``.
* :class:`ContactEventsEventTrigger` — a ``BaseEventTrigger`` for
  ``Asset(..., watchers=[AssetWatcher(name, trigger)])``: each batch of new events triggers the
  DAG once, with the batch's summary as the asset event's extra. See its docstring for the
  exactly-once rules and where the watermark is kept.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

log = logging.getLogger(__name__)

#: events listed by reference in a summary, at most (the rest is counted only)
MAX_EVENT_REFS = 100


def parse_when(value: Any, field: str) -> datetime:
    """An aware UTC datetime from a datetime or an ISO 8601 string (naive = UTC)."""
    from airflow_provider_contacts.exceptions import ContactsConfigError

    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and value.strip():
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ContactsConfigError(
                f"{field}={value!r} is not an ISO 8601 date-time such as 2026-11-20T00:00:00Z"
            ) from None
    else:
        raise ContactsConfigError(f"{field} is missing: give an ISO 8601 date-time or a datetime")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        return when.astimezone(timezone.utc)
    except OverflowError:
        raise ContactsConfigError(
            f"{field}={value!r} is outside the dates a window can use (0001-01-01 to 9999-12-31 in UTC); "
            "give a real date-time such as 2026-11-20T00:00:00Z"
        ) from None


def iso(when: datetime) -> str:
    from airflow_provider_contacts.capabilities import to_utc_iso

    return to_utc_iso(when)


def summarise(events: list[Any], *, conn_id: str, vendor: str, since: datetime, until: datetime) -> dict[str, Any]:
    """A small JSON summary of events: count, first/last occurred_at, window, types seen, and
    references (not payloads) of up to MAX_EVENT_REFS events."""
    types: dict[str, int] = {}
    for event in events:
        types[event.event_type] = types.get(event.event_type, 0) + 1
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    return {
        "conn_id": conn_id,
        "vendor": vendor,
        "count": len(events),
        "first_occurred_at": ordered[0].occurred_at if ordered else None,
        "last_occurred_at": ordered[-1].occurred_at if ordered else None,
        "window": [iso(since), iso(until)],
        "event_types": dict(sorted(types.items())),
        "events": [
            {"event_id": e.event_id, "event_type": e.event_type, "contact_id": e.contact_id, "occurred_at": e.occurred_at}
            for e in ordered[:MAX_EVENT_REFS]
        ],
        "events_truncated": len(events) > MAX_EVENT_REFS,
    }


async def _open_hook(conn_id: str):
    """The vendor hook and a fresh async transport, connection fetched without blocking."""
    from airflow.sdk import BaseHook

    from airflow_provider_contacts.exceptions import ContactsConfigError
    from airflow_provider_contacts.hooks import HOOK_CLASSES, hook_class, require_capability

    conn = await BaseHook.aget_connection(conn_id)
    conn_type = (conn.conn_type or "").replace("-", "_")
    if conn_type not in HOOK_CLASSES:
        raise ContactsConfigError(
            f"connection type {conn.conn_type!r} is not a contacts platform", conn_id=conn_id
        )
    hook = hook_class(conn_type)(conn_id)
    hook.use_connection(conn)
    require_capability(hook, "activity", "list contact events")
    return hook, hook.make_async_transport()


def _fatal(err: Exception) -> bool:
    """Errors that polling again cannot fix: settings, credentials, permissions, bad requests."""
    from airflow_provider_contacts.exceptions import (
        AuthenticationError,
        ContactsConfigError,
        InvalidRequestError,
        NotFoundError,
        PermissionDeniedError,
        UnsupportedActionError,
    )

    return isinstance(
        err,
        (AuthenticationError, PermissionDeniedError, ContactsConfigError, UnsupportedActionError,
         InvalidRequestError, NotFoundError),
    )


class ContactEventsTrigger(BaseTrigger):
    """Poll until at least ``min_events`` events occurred in ``[since, until)``.

    ``until`` None means "up to now" at each poll. Yields one event and stops:
    ``{"status": "success", "summary": {...}}`` or ``{"status": "error", "message": ...}``.
    Authentication, permission and settings errors end the wait at once; transient errors
    (after the transport's own retries) are tolerated ``max_consecutive_errors`` times.
    """

    def __init__(
        self,
        conn_id: str,
        since: str,
        until: str | None = None,
        min_events: int = 1,
        include_types: list[str] | None = None,
        exclude_types: list[str] | None = None,
        contact_ids: list[str] | None = None,
        poke_interval: float = 60.0,
        max_consecutive_errors: int = 3,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.since = since
        self.until = until
        self.min_events = min_events
        self.include_types = include_types
        self.exclude_types = exclude_types
        self.contact_ids = contact_ids
        self.poke_interval = poke_interval
        self.max_consecutive_errors = max_consecutive_errors

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_contacts.triggers.contact_events.ContactEventsTrigger",
            {
                "conn_id": self.conn_id,
                "since": self.since,
                "until": self.until,
                "min_events": self.min_events,
                "include_types": self.include_types,
                "exclude_types": self.exclude_types,
                "contact_ids": self.contact_ids,
                "poke_interval": self.poke_interval,
                "max_consecutive_errors": self.max_consecutive_errors,
            },
        )

    def _filters(self) -> dict[str, Any]:
        return {
            "include_types": self.include_types,
            "exclude_types": self.exclude_types,
            "contact_ids": self.contact_ids,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        errors = 0
        transport = None
        try:
            hook, transport = await _open_hook(self.conn_id)
            since = parse_when(self.since, "since")
            while True:
                until = parse_when(self.until, "until") if self.until else datetime.now(timezone.utc)
                try:
                    events = [e async for e in hook.aiter_events(transport, since, until, **self._filters())]
                    errors = 0
                except Exception as err:
                    errors += 1
                    if _fatal(err) or errors >= self.max_consecutive_errors:
                        raise
                    log.warning("%s: poll failed (%s); trying again in %s s", self.conn_id, err, self.poke_interval)
                    events = None
                if events is not None:
                    log.info("%s: %d event(s) in the window, waiting for %d", self.conn_id, len(events), self.min_events)
                    if len(events) >= self.min_events:
                        summary = summarise(events, conn_id=self.conn_id, vendor=hook.conn_type, since=since, until=until)
                        yield TriggerEvent({"status": "success", "summary": summary})
                        return
                await asyncio.sleep(self.poke_interval)
        except Exception as err:
            message = getattr(err, "message", None) and str(err) or f"{type(err).__name__}: {err}"
            yield TriggerEvent({"status": "error", "message": message, "error_type": type(err).__name__})
        finally:
            if transport is not None:
                await transport.aclose()


class ContactEventsEventTrigger(BaseEventTrigger):
    """Event-driven scheduling on new contact events (``AssetWatcher``).

    Each poll lists events in ``[watermark - lag, now)`` and delivers those not delivered
    before, as ONE trigger event (one DAG run) per poll that found any. Exactly once:

    * the watermark is the largest ``(occurred_at, event_id)`` delivered; events that arrive
      late (their ``occurred_at`` is older than the watermark) are still delivered if they are
      at most ``lag_seconds`` older; the keys delivered inside that lag are remembered so
      nothing is delivered twice;
    * the state (watermark + the keys inside the lag) survives a triggerer restart:
      on Airflow 3.3+ it is kept in the watched asset's **asset state store** (injected by the
      triggerer as ``self.asset_state_store``); on 3.1/3.2, which have no state store, set
      ``state_path`` to a JSON file that every triggerer host can read and write (a local
      path or an ``ObjectStoragePath`` URI such as ``s3://bucket/contacts-watermark.json``).
      With neither, the state lives in memory only: after a restart the trigger starts again
      from ``start_from`` (default: ``lag_seconds`` before the start) and may deliver again
      events it had already delivered in that span (never fewer). The log says which applies.
    * an event older than the lag when it first becomes visible is not delivered (say how late
      your vendor can be with ``lag_seconds``); the state is saved right after the trigger
      event is handed to Airflow, so a crash in between can repeat that one batch, never lose it.
    """

    def __init__(
        self,
        conn_id: str,
        include_types: list[str] | None = None,
        exclude_types: list[str] | None = None,
        contact_ids: list[str] | None = None,
        poke_interval: float = 60.0,
        lag_seconds: float = 300.0,
        start_from: str | None = None,
        state_key: str | None = None,
        state_path: str | None = None,
        max_consecutive_errors: int = 5,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.include_types = include_types
        self.exclude_types = exclude_types
        self.contact_ids = contact_ids
        self.poke_interval = poke_interval
        self.lag_seconds = lag_seconds
        self.start_from = start_from
        self.state_key = state_key or f"contact_events_watermark:{conn_id}"
        self.state_path = state_path
        self.max_consecutive_errors = max_consecutive_errors
        self._memory_state: dict[str, Any] | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_contacts.triggers.contact_events.ContactEventsEventTrigger",
            {
                "conn_id": self.conn_id,
                "include_types": self.include_types,
                "exclude_types": self.exclude_types,
                "contact_ids": self.contact_ids,
                "poke_interval": self.poke_interval,
                "lag_seconds": self.lag_seconds,
                "start_from": self.start_from,
                "state_key": self.state_key,
                "state_path": self.state_path,
                "max_consecutive_errors": self.max_consecutive_errors,
            },
        )

    # state ------------------------------------------------------------------------------
    def _store(self):
        return getattr(self, "asset_state_store", None)

    async def load_state(self) -> dict[str, Any] | None:
        store = self._store()
        if store is not None:
            value = await store.aget(self.state_key, None)
            return value if isinstance(value, dict) else None
        if self.state_path:
            return await asyncio.to_thread(self._read_state_file)
        return self._memory_state

    async def save_state(self, state: dict[str, Any]) -> None:
        store = self._store()
        if store is not None:
            await store.aset(self.state_key, state)
        elif self.state_path:
            await asyncio.to_thread(self._write_state_file, state)
        else:
            self._memory_state = state

    def _path(self):
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(self.state_path)

    def _read_state_file(self) -> dict[str, Any] | None:
        path = self._path()
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return data.get(self.state_key) if isinstance(data, dict) else None

    def _write_state_file(self, state: dict[str, Any]) -> None:
        path = self._path()
        data = json.loads(path.read_text()) if path.exists() else {}
        data[self.state_key] = state
        tmp = path.parent / f".{path.name}.tmp"
        tmp.write_text(json.dumps(data, sort_keys=True))
        tmp.rename(path)

    def _where_state_lives(self) -> str:
        if self._store() is not None:
            return f"the asset state store (key {self.state_key!r})"
        if self.state_path:
            return f"the file {self.state_path}"
        return "memory only (a triggerer restart replays from start_from; set state_path on Airflow < 3.3)"

    # polling ----------------------------------------------------------------------------
    async def poll_once(self, hook, transport, now: datetime) -> dict[str, Any] | None:
        """One poll: returns the summary of the new batch (and saves the state) or None."""
        lag = timedelta(seconds=self.lag_seconds)
        state = await self.load_state()
        if state:
            watermark_at = parse_when(state["watermark"][0], "watermark")
            since = watermark_at - lag
            delivered = set(state.get("recent", {}))
        else:
            since = parse_when(self.start_from, "start_from") if self.start_from else now - lag
            watermark_at = since
            delivered = set()
        if since >= now:
            return None
        fresh = []
        async for event in hook.aiter_events(
            transport, since, now,
            include_types=self.include_types, exclude_types=self.exclude_types, contact_ids=self.contact_ids,
        ):
            key = "|".join(event.dedup_key)
            if key in delivered:
                continue
            delivered.add(key)
            fresh.append(event)
        if not fresh:
            return None
        summary = summarise(fresh, conn_id=self.conn_id, vendor=hook.conn_type, since=since, until=now)
        newest = max(fresh, key=lambda e: (e.occurred_at, e.event_id))
        old_mark = tuple(state["watermark"]) if state else None
        mark = (newest.occurred_at, newest.event_id)
        if old_mark and old_mark > mark:
            mark = old_mark  # only late events this time: the watermark stays
        horizon = parse_when(mark[0], "watermark") - lag
        # remember the keys delivered inside the lag window: key -> occurred_at
        recent = dict(state.get("recent", {})) if state else {}
        recent.update({"|".join(e.dedup_key): e.occurred_at for e in fresh})
        recent = {k: t for k, t in recent.items() if parse_when(t, "occurred_at") >= horizon}
        summary["_next_state"] = {"watermark": list(mark), "recent": recent}
        return summary

    async def run(self) -> AsyncIterator[TriggerEvent]:
        transport = None
        errors = 0
        try:
            hook, transport = await _open_hook(self.conn_id)
            log.info("%s: watching contact events; state in %s", self.conn_id, self._where_state_lives())
            while True:
                try:
                    summary = await self.poll_once(hook, transport, datetime.now(timezone.utc))
                    errors = 0
                except Exception as err:
                    errors += 1
                    if _fatal(err) or errors >= self.max_consecutive_errors:
                        raise
                    log.warning("%s: poll failed (%s); trying again in %s s", self.conn_id, err, self.poke_interval)
                    summary = None
                if summary is not None:
                    next_state = summary.pop("_next_state")
                    yield TriggerEvent({"status": "success", **summary})
                    await self.save_state(next_state)
                await asyncio.sleep(self.poke_interval)
        except Exception as err:
            log.error("%s: contact events watcher stopped: %s", self.conn_id, err)
            yield TriggerEvent({"status": "error", "message": str(err), "error_type": type(err).__name__})
        finally:
            if transport is not None:
                await transport.aclose()
