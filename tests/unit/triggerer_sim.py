"""A faithful, deterministic model of how Airflow 3.3's triggerer hands a watcher's events to
the database, for crash tests of ``ContactEventsEventTrigger``.

Read from ``airflow/jobs/triggerer_job_runner.py`` (3.3.2):

* ``TriggerRunner.run_trigger`` iterates ``trigger.run()``; each yielded event is appended to
  the runner's in-memory ``events`` deque and the trigger is resumed AT ONCE (no wait for any
  write). We run Airflow's own ``TriggerRunner.run_trigger`` here.
* ``TriggerRunner.arun`` loops about once a second: ``sync_state_to_supervisor`` drains
  ``events`` (``process_trigger_events``, Airflow's own code here) and sends them to the
  supervisor process, which keeps them in ITS in-memory ``events`` deque.
* ``TriggerRunnerSupervisor.run_once`` then writes them to the database (``handle_events`` ->
  ``Trigger.submit_event``: for a watcher, one asset event with ``extra["payload"]``).
* The asset state store (``asset_state_store.aset``) is a request to the supervisor that
  writes the row and answers: when ``aset`` returns, the value is in the database.
* A crash of the triggerer loses both in-memory deques; the database (asset events and the
  asset state store) survives, and a new triggerer builds the trigger again from its
  serialized kwargs.

Time is virtual: the trigger module's ``asyncio.sleep``, ``datetime.now`` and ``_monotonic``
are replaced by a clock that the test advances, so a crash can be placed at an exact point.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger


class VirtualClock:
    def __init__(self, start: datetime) -> None:
        self.start = start
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._seq = itertools.count()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float, result: Any = None) -> Any:
        self.sleeps.append(float(seconds))
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(float(seconds), 0.0), next(self._seq), future))
        await future
        return result

    async def advance(self, to: float) -> None:
        """Run everything due up to virtual time ``to``, in order."""
        await settle()
        while self._sleepers and self._sleepers[0][0] <= to:
            wake, _, future = heapq.heappop(self._sleepers)
            if future.done():
                continue
            self.t = max(self.t, wake)
            future.set_result(None)
            await settle()
        self.t = max(self.t, to)
        await settle()


async def settle(rounds: int = 50) -> None:
    """Let every ready coroutine run until it waits again (the trigger's awaits on the scripted
    source and the in-memory store never wait on anything real)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class _QuietLog:
    """Airflow's structlog logger, minus the thread hop of its async methods."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("a"):

            async def noop(*args: Any, **kwargs: Any) -> None:
                return None

            return noop
        return lambda *args, **kwargs: None


class StateStoreDB:
    """The asset state store rows: ``aset`` returns once the value is written (JSON only)."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self.crash_after_set: Callable[[Any], bool] | None = None

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.rows[key]) if key in self.rows else default

    async def aset(self, key: str, value: Any) -> None:
        self.rows[key] = json.dumps(value)
        if self.crash_after_set is not None and self.crash_after_set(value):
            raise asyncio.CancelledError("triggerer crashed right after this write")


class Database:
    def __init__(self) -> None:
        self.asset_events: list[dict[str, Any]] = []
        self.store = StateStoreDB()


class Triggerer:
    """One triggerer process (runner + supervisor) running one watcher trigger."""

    def __init__(self, db: Database, trigger: Any) -> None:
        from airflow.jobs.triggerer_job_runner import TriggerRunner

        self.db = db
        self.trigger = trigger
        trigger.asset_state_store = db.store  # what TriggerRunner.create_triggers injects
        self.runner = TriggerRunner()
        self.runner.log = cast("FilteringBoundLogger", _QuietLog())
        self.task = asyncio.create_task(self.runner.run_trigger(1, trigger))  # starts at the next await
        self.runner.triggers[1] = {"task": self.task, "name": "ID 1", "events": 0, "is_watcher": True}
        self.supervisor_events: list[Any] = []
        self.alive = True

    def sync(self) -> None:
        """TriggerRunner.arun -> sync_state_to_supervisor: the runner's events move to the supervisor."""
        message = self.runner.process_trigger_events(finished_ids=[])
        self.supervisor_events.extend(message.events or [])

    def write(self) -> None:
        """TriggerRunnerSupervisor.run_once -> handle_events: each event becomes an asset event."""
        for entry in self.supervisor_events:
            self.db.asset_events.append(json.loads(json.dumps(entry.event.payload)))
        self.supervisor_events.clear()

    async def crash(self) -> None:
        self.alive = False
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        self.runner.events.clear()
        self.supervisor_events.clear()

    @property
    def failed(self) -> BaseException | None:
        if self.task.done() and not self.task.cancelled():
            return self.task.exception()
        return None


class ScriptedSource:
    """A vendor whose events become visible at a virtual time, with their own occurred_at."""

    conn_type = "mautic"

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.events: list[tuple[float, Any]] = []
        self.polls = 0
        self.error: Exception | None = None

    def add(
        self,
        event_id: str,
        occurred: datetime,
        visible_at: float | None = None,
        etype: str = "email.read",
        contact: str = "7",
    ) -> None:
        from airflow_provider_contacts.models import ContactEvent

        event = ContactEvent("mautic", event_id, etype, contact, occurred)
        self.events.append((self.clock.t if visible_at is None else visible_at, event))

    async def aiter_events(self, transport: Any, since: datetime, until: datetime, **filters: Any):
        self.polls += 1
        if self.error is not None:
            raise self.error
        for visible, event in self.events:
            if visible <= self.clock.t and since <= event.occurred_at < until:
                yield event


class _Transport:
    async def aclose(self) -> None:
        return None


def install(monkeypatch: Any, clock: VirtualClock, source: ScriptedSource) -> None:
    """Point the trigger module at the virtual clock and the scripted source."""
    from airflow_provider_contacts.triggers import contact_events as module
    from airflow_provider_contacts.triggers import polling

    class VirtualDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            value = clock.now()
            return value if tz is not None else value.replace(tzinfo=None)

    async def open_hook(conn_id: str):
        return source, _Transport()

    monkeypatch.setenv("AIRFLOW_DISABLE_GREENBACK_PORTAL", "true")
    virtual_asyncio = SimpleNamespace(
        **{name: getattr(asyncio, name) for name in dir(asyncio) if not name.startswith("__")}
        | {"sleep": clock.sleep}
    )
    monkeypatch.setattr(module, "asyncio", virtual_asyncio)
    monkeypatch.setattr(polling, "asyncio", virtual_asyncio)
    monkeypatch.setattr(module, "datetime", VirtualDatetime)
    monkeypatch.setattr(polling, "open_hook", open_hook)
    if hasattr(module, "_monotonic"):
        monkeypatch.setattr(module, "_monotonic", clock.monotonic)


def delivered(db: Database) -> list[tuple[str | None, str]]:
    """(batch_id, event_id) of every event of every asset event, in order."""
    return [
        (payload.get("batch_id"), ref["event_id"])
        for payload in db.asset_events
        for ref in payload.get("events", [])
    ]


def processed_once(db: Database) -> list[str]:
    """Event ids a consumer processes when it skips a batch_id it has seen (no batch_id: every
    asset event is processed)."""
    seen: set[str] = set()
    out: list[str] = []
    for payload in db.asset_events:
        batch_id = payload.get("batch_id")
        if batch_id is not None and batch_id in seen:
            continue
        if batch_id is not None:
            seen.add(batch_id)
        out.extend(ref["event_id"] for ref in payload.get("events", []))
    return out


T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
