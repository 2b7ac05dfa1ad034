"""Triggers that wait for new contact events, on the async transport (no blocking call in ``run``).

* :class:`ContactEventsTrigger` — used by the deferrable :class:`ContactEventsSensor`: polls every
  ``poke_interval`` seconds until at least ``min_events`` events exist in ``[since, until)``.
* :class:`ContactEventsEventTrigger` — a ``BaseEventTrigger`` for
  ``Asset(..., watchers=[AssetWatcher(name, trigger)])``: each batch of new events becomes one
  asset event whose payload names every event of the batch and a content-derived
  ``batch_id``; :func:`iter_batch_events` fetches exactly those events. See its docstring for
  the delivery guarantee (at least once, same ``batch_id`` when repeated) and where its state
  is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
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


def event_order(event: Any) -> tuple[datetime, str]:
    """Chronological order of events: ``(occurred_at as a datetime, event_id)`` (the ISO texts
    alone do not sort: ``...:00Z`` comes after ``...:00.5Z``)."""
    return parse_when(event.occurred_at, "occurred_at"), str(event.event_id)


def summarise(events: list[Any], *, conn_id: str, vendor: str, since: datetime, until: datetime) -> dict[str, Any]:
    """A small JSON summary of events: count, first/last occurred_at, window, types seen, and
    references (not payloads) of up to MAX_EVENT_REFS events."""
    types: dict[str, int] = {}
    for event in events:
        types[event.event_type] = types.get(event.event_type, 0) + 1
    ordered = sorted(events, key=event_order)
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


#: modules a trigger needs, imported in a worker thread before the first poll: an import
#: reads files, which must not happen on the triggerer's event loop. The last ones are loaded
#: lazily by Airflow's connection look-up and by httpx on its first request.
_WARM_MODULES = (
    "airflow_provider_contacts.hooks",
    "airflow_provider_contacts.hooks.base",
    "airflow_provider_contacts.http.client",
    "airflow_provider_contacts.http.auth",
    "airflow_provider_contacts.http.plan",
    "airflow_provider_contacts.capabilities",
    "airflow_provider_contacts.exceptions",
    "airflow.sdk.definitions.connection",
    "airflow.sdk.execution_time.cache",
    "asgiref.sync",
    "httpcore._backends.anyio",
    "anyio.abc",
    "anyio.lowlevel",
    "anyio.to_thread",
    "anyio.streams.memory",
    "anyio.streams.stapled",
    "anyio.streams.tls",
    "anyio._backends._asyncio",
)


def _warm_imports() -> None:
    from importlib import import_module

    for name in _WARM_MODULES:
        try:
            import_module(name)
        except ImportError:  # an optional speed-up only (module names of other libraries)
            pass


def _build_hook(conn_id: str, conn: Any):
    """Hook and async transport from a fetched connection (runs in a worker thread: it imports
    the vendor's module, parses the extras and builds the HTTP client with its TLS context)."""
    from airflow_provider_contacts.exceptions import ContactsConfigError
    from airflow_provider_contacts.hooks import HOOK_CLASSES, hook_class, require_capability

    conn_type = (conn.conn_type or "").replace("-", "_")
    if conn_type not in HOOK_CLASSES:
        raise ContactsConfigError(
            f"connection type {conn.conn_type!r} is not a contacts platform", conn_id=conn_id
        )
    hook = hook_class(conn_type)(conn_id)  # imports the vendor's module
    hook.use_connection(conn)
    require_capability(hook, "activity", "list contact events")
    hook.prepare_for_async()
    transport = hook.make_async_transport()
    transport.client  # noqa: B018 - builds the httpx client (CA bundle read) off the event loop
    return hook, transport


async def _open_hook(conn_id: str):
    """The vendor hook and a fresh async transport. Nothing here blocks the event loop: imports,
    hook construction and the HTTP client run in a worker thread, and the connection is
    fetched with ``aget_connection``."""
    await asyncio.to_thread(_warm_imports)
    from airflow.sdk import BaseHook

    conn = await BaseHook.aget_connection(conn_id)
    return await asyncio.to_thread(_build_hook, conn_id, conn)


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


# ---- batches of the event-driven watcher --------------------------------------------------
def event_key(event: Any) -> str:
    """``vendor|event_type|event_id|contact_id``: what identifies one event across polls."""
    return "|".join(event.dedup_key)


def ref_key(ref: dict[str, Any], vendor: str) -> str:
    """:func:`event_key` of an event reference of a batch."""
    return "|".join([vendor, str(ref["event_type"]), str(ref["event_id"]), str(ref.get("contact_id") or "")])


def batch_id_of(conn_id: str, events: list[Any]) -> str:
    """A batch's id: a digest of the connection and the sorted keys and times of its events, so
    the same batch delivered again (after a triggerer crash) has the same id, and any other
    batch not."""
    lines = sorted(f"{event_key(e)}|{e.occurred_at}" for e in events)
    return hashlib.sha256("\n".join([conn_id, *lines]).encode("utf-8")).hexdigest()[:32]


def make_batch(events: list[Any], *, conn_id: str, vendor: str, since: datetime, until: datetime,
               more: bool = False) -> dict[str, Any]:
    """The payload of one watcher batch (the asset event's ``extra["payload"]``): the summary of
    :func:`summarise`, a content-derived ``batch_id``, and a reference to EVERY event of the batch
    (``events``), so a consumer fetches exactly these events (see :func:`iter_batch_events`)."""
    ordered = sorted(events, key=event_order)
    batch = summarise(ordered, conn_id=conn_id, vendor=vendor, since=since, until=until)
    batch["events"] = [
        {"event_id": e.event_id, "event_type": e.event_type, "contact_id": e.contact_id, "occurred_at": e.occurred_at}
        for e in ordered
    ]
    batch["events_truncated"] = False
    batch["more"] = more
    return {"batch_id": batch_id_of(conn_id, ordered), **batch}


def batch_fetch_window(batch: dict[str, Any]) -> tuple[datetime, datetime]:
    """The narrowest ``[since, until)`` holding every event of a batch."""
    first = parse_when(batch["first_occurred_at"], "first_occurred_at")
    last = parse_when(batch["last_occurred_at"], "last_occurred_at")
    return first, last + timedelta(microseconds=1)


def check_batch(batch: Any) -> dict[str, Any]:
    """``batch`` if it is a watcher batch payload, else a clear error (a consumer never guesses
    a window)."""
    from airflow_provider_contacts.exceptions import ContactsConfigError

    if not isinstance(batch, dict) or not batch.get("batch_id") or not isinstance(batch.get("events"), list):
        raise ContactsConfigError(
            "not a contact-events batch: expected the payload of a ContactEventsEventTrigger asset event "
            "(keys batch_id, events, first_occurred_at, last_occurred_at, vendor)"
        )
    if batch["events"] and not (batch.get("first_occurred_at") and batch.get("last_occurred_at")):
        raise ContactsConfigError(f"batch {batch['batch_id']} has events but no first/last_occurred_at")
    return batch


def iter_batch_events(hook: Any, batch: dict[str, Any], missing: list[dict[str, Any]] | None = None):
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
        since, until, include_types=sorted({str(ref["event_type"]) for ref in batch["events"]}),
        contact_ids=contacts if per_contact else None,
    ):
        key = event_key(event)
        if wanted.pop(key, None) is not None:
            yield event
    if missing is not None:
        missing.extend(wanted.values())


class _Backoff:
    """Capped exponential waits after failed polls: ``first``, doubling, at most ``cap``."""

    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap, self.failures = max(float(first), 0.001), max(float(cap), 0.001), 0

    def next_wait(self) -> float:
        self.failures += 1
        return min(self.cap, self.first * 2 ** (self.failures - 1))

    def reset(self) -> None:
        self.failures = 0


def default_state_key(conn_id: str, include_types: list[str] | None, exclude_types: list[str] | None,
                      contact_ids: list[str] | None) -> str:
    """The watermark's key names what the watcher watches: two watchers of one connection with
    other filters, sharing a ``state_path`` file, never read each other's watermark. (Without
    filters the key is the one of 0.1.0, so existing state is kept.)"""
    watched = {"include_types": sorted(include_types or []), "exclude_types": sorted(exclude_types or []),
               "contact_ids": sorted(str(c) for c in contact_ids or [])}
    if not any(watched.values()):
        return f"contact_events_watermark:{conn_id}"
    digest = hashlib.sha256(json.dumps(watched, sort_keys=True).encode()).hexdigest()[:12]
    return f"contact_events_watermark:{conn_id}:{digest}"


class ContactEventsEventTrigger(BaseEventTrigger):
    """Event-driven scheduling on new contact events (``AssetWatcher``).

    Each poll lists events in ``[watermark - lag, now)`` and hands those not delivered before
    to Airflow as ONE trigger event (one asset event, one DAG run), at most
    ``max_batch_events`` at a time (a bigger backlog is delivered in several batches, one right
    after the other). The payload is a *batch*: a ``batch_id`` derived from its content, and a
    reference to every event in it, so the consumer fetches exactly that batch's events
    (:func:`iter_batch_events`).

    **Guarantee: every event is delivered in at least one batch, and a batch delivered more
    than once carries the same ``batch_id``; a consumer that skips a ``batch_id`` it has
    already processed processes each event exactly once.** How:

    * the state (watermark ``(occurred_at, event id)``, the keys delivered within
      ``lag_seconds``, and the batch being handed over) is saved BEFORE the batch is yielded;
      Airflow's triggerer keeps a yielded event in memory and writes it to its database on its
      next loop (about a second later), so the batch is only *committed* when the next poll
      starts and at least ``handover_seconds`` after the yield. A triggerer that dies in between
      finds the uncommitted batch on restart and delivers it again, unchanged (same
      ``batch_id``), before polling;
    * the state lives in the watched asset's **asset state store** on Airflow 3.3+; on 3.1/3.2
      set ``state_path`` to a JSON file every triggerer host can reach (a local path or an
      ``ObjectStoragePath`` URI). With neither it lives in memory only and a restart replays
      from ``start_from`` (default: ``lag_seconds`` before the start): duplicates, never loss;
    * an event older than the lag when it first becomes visible is not delivered: set
      ``lag_seconds`` to how late your vendor can show an event.

    A vendor or connection error never becomes an asset event: the watcher logs it, waits
    (``poke_interval``, doubling, at most ``max_backoff_seconds``), keeps its state and
    resumes when the vendor answers again.
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
        max_batch_events: int = 500,
        handover_seconds: float = 10.0,
        max_backoff_seconds: float = 900.0,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.include_types = include_types
        self.exclude_types = exclude_types
        self.contact_ids = contact_ids
        self.poke_interval = poke_interval
        self.lag_seconds = lag_seconds
        self.start_from = start_from
        self.state_key = state_key or default_state_key(conn_id, include_types, exclude_types, contact_ids)
        self.state_path = state_path
        self.max_batch_events = max_batch_events
        self.handover_seconds = handover_seconds
        self.max_backoff_seconds = max_backoff_seconds
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
                "max_batch_events": self.max_batch_events,
                "handover_seconds": self.handover_seconds,
                "max_backoff_seconds": self.max_backoff_seconds,
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
            self._memory_state = json.loads(json.dumps(state))

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
    async def poll_once(self, hook, transport, now: datetime,
                        state: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """One poll from the committed ``state`` (without ``pending``): ``(batch, next_state)``,
        or ``(None, None)`` when nothing new occurred."""
        lag = timedelta(seconds=self.lag_seconds)
        if state:
            watermark_at = parse_when(state["watermark"][0], "watermark")
            since = watermark_at - lag
            delivered = set(state.get("recent", {}))
        else:
            since = parse_when(self.start_from, "start_from") if self.start_from else now - lag
            delivered = set()
        if since >= now:
            return None, None
        fresh: dict[str, Any] = {}
        async for event in hook.aiter_events(
            transport, since, now,
            include_types=self.include_types, exclude_types=self.exclude_types, contact_ids=self.contact_ids,
        ):
            key = event_key(event)
            if key not in delivered and key not in fresh:
                fresh[key] = event
        if not fresh:
            return None, None
        ordered = sorted(fresh.values(), key=event_order)
        limit = max(int(self.max_batch_events), 1)
        taken = ordered[:limit]
        batch = make_batch(taken, conn_id=self.conn_id, vendor=hook.conn_type, since=since, until=now,
                           more=len(ordered) > limit)
        newest = taken[-1]
        mark = [newest.occurred_at, newest.event_id]
        old_mark = list(state["watermark"]) if state else None
        if old_mark and (parse_when(old_mark[0], "watermark"), old_mark[1]) > (parse_when(mark[0], "occurred_at"), mark[1]):
            mark = old_mark  # only late events this time: the watermark stays
        horizon = parse_when(mark[0], "watermark") - lag
        # remember the keys delivered inside the lag window: key -> occurred_at
        recent = dict(state.get("recent", {})) if state else {}
        recent.update({event_key(e): e.occurred_at for e in taken})
        recent = {k: t for k, t in recent.items() if parse_when(t, "occurred_at") >= horizon}
        return batch, {"watermark": mark, "recent": recent}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = transport = None
        state: dict[str, Any] | None = None
        loaded = False
        handed_over_at: float | None = None  # monotonic time of the last yield
        wait = 0.0
        backoff = _Backoff(self.poke_interval, max(self.max_backoff_seconds, self.poke_interval))
        try:
            while True:
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    if hook is None:
                        hook, transport = await _open_hook(self.conn_id)
                    if not loaded:
                        state = await self.load_state()
                        loaded = True
                        log.info("%s: watching contact events; state in %s", self.conn_id, self._where_state_lives())
                        if state and state.get("pending"):
                            batch = state["pending"]["batch"]
                            log.warning(
                                "%s: delivering batch %s (%d events) again: the triggerer stopped before it was "
                                "confirmed; if it reached Airflow already, consumers skip it by its batch_id",
                                self.conn_id, batch.get("batch_id"), batch.get("count", 0))
                            yield TriggerEvent(batch)
                            handed_over_at = _monotonic()
                    if state and state.get("pending"):
                        # the batch was yielded: it is in Airflow's database once the triggerer's
                        # next loop has run; commit it only then
                        if handed_over_at is not None:
                            remaining = self.handover_seconds - (_monotonic() - handed_over_at)
                            if remaining > 0:
                                await asyncio.sleep(remaining)
                        state = dict(state["pending"]["next"])
                        await self.save_state(state)
                    batch, next_state = await self.poll_once(hook, transport, datetime.now(timezone.utc), state)
                except Exception as err:
                    wait = backoff.next_wait()
                    self._log_failure(err, wait, state)
                    if transport is not None:
                        await transport.aclose()
                    hook = transport = None  # the connection is read again (it may be fixed by then)
                    continue
                backoff.reset()
                wait = self.poke_interval
                if batch is None:
                    continue
                state = {**(state or {}), "pending": {"batch": batch, "next": next_state}}
                try:
                    await self.save_state(state)
                except Exception as err:
                    state = {k: v for k, v in state.items() if k != "pending"} or None
                    wait = backoff.next_wait()
                    self._log_failure(err, wait, state)
                    continue
                log.info("%s: batch %s: %d new event(s) (%s .. %s)%s", self.conn_id, batch["batch_id"], batch["count"],
                         batch["first_occurred_at"], batch["last_occurred_at"], "; more follow" if batch["more"] else "")
                yield TriggerEvent(batch)
                handed_over_at = _monotonic()
                if batch["more"]:
                    wait = 0.0  # the rest of the backlog right after the handover
        finally:
            if transport is not None:
                await transport.aclose()

    def _log_failure(self, err: Exception, wait: float, state: dict[str, Any] | None) -> None:
        where = f"watermark {state['watermark'][0]}" if state and state.get("watermark") else "no watermark yet"
        level = logging.ERROR if _fatal(err) else logging.WARNING
        log.log(level, "%s: polling contact events failed: %s: %s; no asset event; next try in %.0f s (state kept: %s)",
                self.conn_id, type(err).__name__, err, wait, where)


def _monotonic() -> float:
    import time

    return time.monotonic()
