"""Triggers that wait for new contact events, on the async client (no blocking call in ``run``).

* :class:`ContactEventsTrigger` — used by the deferrable :class:`ContactEventsSensor`: polls every
  ``poke_interval`` seconds until at least ``min_events`` events exist in ``[since, until)``.
* :class:`ContactEventsEventTrigger` — a ``BaseEventTrigger`` for
  ``Asset(..., watchers=[AssetWatcher(name, trigger)])``: each batch of new events becomes one
  asset event whose payload names every event of the batch and a content-derived
  ``batch_id``; :func:`~airflow_provider_contacts.triggers.batches.iter_batch_events` fetches
  exactly those events. See its docstring for the delivery guarantee (at least once, same
  ``batch_id`` when repeated) and where its state is kept.

Both run the same poll loop (:mod:`.polling`); batches and summaries are in :mod:`.batches`,
the watcher's state in :mod:`.state`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_contacts._time import parse_when, to_iso
from airflow_provider_contacts.triggers.batches import make_batch, summarise
from airflow_provider_contacts.triggers.polling import Backoff, is_fatal, poll_loop, watched_events
from airflow_provider_contacts.triggers.state import WatcherState, default_state_key

log = logging.getLogger(__name__)


def serialized(trigger: BaseTrigger) -> tuple[str, dict[str, Any]]:
    """``(classpath, kwargs)``: every argument of the trigger's ``__init__``, as it was kept."""
    cls = type(trigger)
    names = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
    return f"{cls.__module__}.{cls.__qualname__}", {name: getattr(trigger, name) for name in names}


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
        return serialized(self)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        errors = 0

        async def poll(hook: Any, transport: Any) -> tuple[dict[str, Any] | None, float]:
            nonlocal errors
            since = parse_when(self.since, "since")
            until = parse_when(self.until, "until") if self.until else datetime.now(timezone.utc)
            events = [e async for e in watched_events(self, hook, transport, since, until)]
            errors = 0
            log.info(
                "%s: %d event(s) in the window, waiting for %d", self.conn_id, len(events), self.min_events
            )
            if len(events) < self.min_events:
                return None, self.poke_interval
            return summarise(
                events, conn_id=self.conn_id, vendor=hook.conn_type, since=since, until=until
            ), 0.0

        def failed(err: Exception) -> float:
            nonlocal errors
            errors += 1
            if is_fatal(err) or errors >= self.max_consecutive_errors:
                raise err
            log.warning("%s: poll failed (%s); trying again in %s s", self.conn_id, err, self.poke_interval)
            return self.poke_interval

        loop = poll_loop(self.conn_id, poll, failed)
        try:
            async for summary in loop:
                yield TriggerEvent({"status": "success", "summary": summary})
                return
        except Exception as err:
            message = getattr(err, "message", None) and str(err) or f"{type(err).__name__}: {err}"
            yield TriggerEvent({"status": "error", "message": message, "error_type": type(err).__name__})
        finally:
            await loop.aclose()


class ContactEventsEventTrigger(BaseEventTrigger):
    """Event-driven scheduling on new contact events (``AssetWatcher``).

    Each poll lists events in ``[watermark - lag, now)`` and hands those not delivered before
    to Airflow as ONE trigger event (one asset event, one DAG run), at most
    ``max_batch_events`` at a time (a bigger backlog is delivered in several batches, one right
    after the other). The payload is a *batch*: a ``batch_id`` derived from its content, and a
    reference to every event in it, so the consumer fetches exactly that batch's events
    (:func:`~airflow_provider_contacts.triggers.batches.iter_batch_events`).

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
        self._state: WatcherState | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return serialized(self)

    # state ------------------------------------------------------------------------------
    @property
    def state(self) -> WatcherState:
        """Where the state lives: the asset state store the triggerer injects (3.3+) as
        ``asset_state_store``, else ``state_path``, else memory."""
        store = getattr(self, "asset_state_store", None)
        if self._state is None or self._state.store is not store:
            memory = self._state._memory if self._state is not None else None
            self._state = WatcherState(self.state_key, self.state_path, store)
            self._state._memory = memory
        return self._state

    async def load_state(self) -> dict[str, Any] | None:
        return await self.state.load()

    async def save_state(self, state: dict[str, Any]) -> None:
        await self.state.save(state)

    # polling ----------------------------------------------------------------------------
    async def poll_once(
        self, hook: Any, transport: Any, now: datetime, state: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """One poll from the committed ``state`` (without ``pending``): ``(batch, next_state)``,
        or ``(None, None)`` when nothing new occurred."""
        lag = timedelta(seconds=self.lag_seconds)
        if state:
            since = parse_when(state["watermark"][0], "watermark") - lag
            delivered = set(state.get("recent", {}))
        else:
            since = parse_when(self.start_from, "start_from") if self.start_from else now - lag
            delivered = set()
        if since >= now:
            return None, None
        fresh: dict[str, Any] = {}
        async for event in watched_events(self, hook, transport, since, now):
            if event.key not in delivered and event.key not in fresh:
                fresh[event.key] = event
        if not fresh:
            return None, None
        ordered = sorted(fresh.values(), key=lambda e: e.order)
        limit = max(int(self.max_batch_events), 1)
        taken = ordered[:limit]
        batch = make_batch(
            taken,
            conn_id=self.conn_id,
            vendor=hook.conn_type,
            since=since,
            until=now,
            more=len(ordered) > limit,
        )
        return batch, self._next_state(state, taken, lag)

    @staticmethod
    def _next_state(state: dict[str, Any] | None, taken: list[Any], lag: timedelta) -> dict[str, Any]:
        """The watermark ``[occurred_at, event_id]`` of the newest event delivered (it never goes
        back: a poll of late events only keeps it), and the keys delivered within ``lag`` of it."""
        newest = (taken[-1].occurred_at, str(taken[-1].event_id))
        if state:
            old = (parse_when(state["watermark"][0], "watermark"), str(state["watermark"][1]))
            newest = max(old, newest)
        horizon = newest[0] - lag
        recent = dict(state.get("recent", {})) if state else {}
        recent.update({e.key: to_iso(e.occurred_at) for e in taken})
        recent = {k: t for k, t in recent.items() if parse_when(t, "occurred_at") >= horizon}
        return {"watermark": [to_iso(newest[0]), newest[1]], "recent": recent}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        cycle = _WatchCycle(self)
        backoff = Backoff(self.poke_interval, max(self.max_backoff_seconds, self.poke_interval))

        def failed(err: Exception) -> float:
            wait = backoff.next_wait()
            where = (
                f"watermark {cycle.state['watermark'][0]}"
                if cycle.state and cycle.state.get("watermark")
                else ("no watermark yet")
            )
            log.log(
                logging.ERROR if is_fatal(err) else logging.WARNING,
                "%s: polling contact events failed: %s: %s; no asset event; next try in %.0f s (state kept: %s)",
                self.conn_id,
                type(err).__name__,
                err,
                wait,
                where,
            )
            return wait

        async def step(hook: Any, transport: Any) -> tuple[dict[str, Any] | None, float]:
            batch, wait = await cycle.step(hook, transport)
            backoff.reset()
            return batch, wait

        loop = poll_loop(self.conn_id, step, failed)
        try:
            async for batch in loop:
                yield TriggerEvent(batch)
                cycle.handed_over()
        finally:
            await loop.aclose()


class _WatchCycle:
    """One watcher's cycle: load the state (re-delivering a batch a crash left unconfirmed),
    commit the batch handed over last once Airflow has written it, poll, and save the next
    batch as pending BEFORE it is yielded."""

    def __init__(self, trigger: ContactEventsEventTrigger) -> None:
        self.trigger = trigger
        self.state: dict[str, Any] | None = None
        self.loaded = False
        self.handed_over_at: float | None = None  # monotonic time of the last yield

    def handed_over(self) -> None:
        self.handed_over_at = _monotonic()

    async def step(self, hook: Any, transport: Any) -> tuple[dict[str, Any] | None, float]:
        t = self.trigger
        if not self.loaded:
            self.state = await t.load_state()
            self.loaded = True
            log.info("%s: watching contact events; state in %s", t.conn_id, t.state.where())
            if self.state and self.state.get("pending"):
                batch = self.state["pending"]["batch"]
                log.warning(
                    "%s: delivering batch %s (%d events) again: the triggerer stopped before it was confirmed; "
                    "if it reached Airflow already, consumers skip it by its batch_id",
                    t.conn_id,
                    batch.get("batch_id"),
                    batch.get("count", 0),
                )
                return batch, 0.0
        if self.state and self.state.get("pending"):
            # the batch was yielded: it is in Airflow's database once the triggerer's next loop
            # has run; commit it only then
            if self.handed_over_at is not None:
                remaining = t.handover_seconds - (_monotonic() - self.handed_over_at)
                if remaining > 0:
                    await asyncio.sleep(remaining)
            self.state = dict(self.state["pending"]["next"])
            await t.save_state(self.state)
        batch, next_state = await t.poll_once(hook, transport, datetime.now(timezone.utc), self.state)
        if batch is None:
            return None, t.poke_interval
        pending = {**(self.state or {}), "pending": {"batch": batch, "next": next_state}}
        await t.save_state(pending)  # saved before it is yielded; a failure here delivers nothing
        self.state = pending
        log.info(
            "%s: batch %s: %d new event(s) (%s .. %s)%s",
            t.conn_id,
            batch["batch_id"],
            batch["count"],
            batch["first_occurred_at"],
            batch["last_occurred_at"],
            "; more follow" if batch["more"] else "",
        )
        return batch, 0.0 if batch["more"] else t.poke_interval


def _monotonic() -> float:
    return time.monotonic()
