"""ContactEventsSensor: wait until at least ``min_events`` new contact events exist."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_contacts.models import EVENT_SELECTION_ARGS

if TYPE_CHECKING:
    from airflow.sdk import Context


def _default_deferrable() -> bool:
    from airflow_provider_contacts._compat import airflow_conf

    return airflow_conf().getboolean("operators", "default_deferrable", fallback=False)


def _default_since(context: Context) -> Any:
    """The run's data interval start; a run without one (a manual run of an unscheduled DAG, an
    asset-triggered run) starts at its ``run_after``: events from when the run was requested."""
    start = context.get("data_interval_start")
    if start is not None:
        return start
    return getattr(context.get("dag_run"), "run_after", None)


class ContactEventsSensor(BaseSensorOperator):
    """Wait for new contact events on any connection that can list them (Mautic activity,
    Dmartech contact events, Which50 communications, EngageLab new/changed contacts).

    "New" means ``since <= occurred_at < until`` (UTC). ``since`` defaults to the run's
    data interval start, or for a run without one (manual run of an unscheduled DAG, asset
    trigger) to the run's ``run_after``; ``until`` defaults to "now" at each poke. The XCom value is a small
    summary (count, first/last ``occurred_at``, the window, the event types seen), never
    the events.

    :param conn_id: a contacts connection (its type picks the vendor)
    :param min_events: how many events make the wait succeed
    :param event_types: only count these event types (vendor keys, e.g. ``email.read``)
    :param exclude_event_types: never count these
    :param contact_ids: only events of these contacts (required for Which50)
    :param deferrable: poke once, then wait in the triggerer (default:
        ``[operators] default_deferrable``); ``poke_interval`` and ``timeout`` apply in
        every mode, ``mode="reschedule"`` works too
    """

    template_fields: Sequence[str] = ("conn_id", *EVENT_SELECTION_ARGS, "min_events")

    def __init__(
        self,
        *,
        conn_id: str,
        min_events: int = 1,
        since: Any = None,
        until: Any = None,
        event_types: list[str] | None = None,
        exclude_event_types: list[str] | None = None,
        contact_ids: list[str | int] | None = None,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.min_events = min_events
        self.since = since
        self.until = until
        self.event_types = event_types
        self.exclude_event_types = exclude_event_types
        self.contact_ids = contact_ids
        self.deferrable = _default_deferrable() if deferrable is None else deferrable

    # window -------------------------------------------------------------------------------
    def _window(self, context: Context):
        from datetime import datetime, timezone

        from airflow_provider_contacts._time import parse_when
        from airflow_provider_contacts.exceptions import ContactsConfigError
        from airflow_provider_contacts.rules import whole_number

        since = self.since if self.since not in (None, "") else _default_since(context)
        if since in (None, ""):
            raise ContactsConfigError(
                "since is missing and there is no run to take it from: set since= to an ISO 8601 "
                "date-time such as 2026-11-20T00:00:00Z",
                conn_id=self.conn_id,
            )
        since_at = parse_when(since, "since")
        until_at = parse_when(self.until, "until") if self.until not in (None, "") else None
        if until_at is not None and since_at >= until_at:
            raise ContactsConfigError(
                f"since ({since_at.isoformat()}) must be before until ({until_at.isoformat()})",
                conn_id=self.conn_id,
            )
        min_events = whole_number(self.min_events)
        if min_events is None:
            raise ContactsConfigError(
                f"min_events={self.min_events!r} must be a whole number >= 1", conn_id=self.conn_id
            )
        if min_events < 1:
            raise ContactsConfigError(f"min_events={min_events} must be >= 1", conn_id=self.conn_id)
        self.min_events = min_events
        return since_at, until_at or datetime.now(timezone.utc), until_at

    def _filters(self) -> dict[str, Any]:
        from airflow_provider_contacts._args import as_list

        return {
            "include_types": as_list(self.event_types, "event_types"),
            "exclude_types": as_list(self.exclude_event_types, "exclude_event_types"),
            "contact_ids": as_list(self.contact_ids, "contact_ids"),
        }

    # poke ---------------------------------------------------------------------------------
    def poke(self, context: Context) -> PokeReturnValue:
        from airflow_provider_contacts.hooks import get_hook, require_capability
        from airflow_provider_contacts.triggers.batches import summarise

        since, until, _ = self._window(context)
        hook = require_capability(get_hook(self.conn_id), "activity", "list contact events")
        try:
            events = list(hook.iter_events(since, until, **self._filters()))
        finally:
            hook.close()
        summary = summarise(events, conn_id=self.conn_id, vendor=hook.conn_type, since=since, until=until)
        self.log.info(
            "%s: %d event(s) in [%s, %s), waiting for %d",
            self.conn_id,
            len(events),
            summary["window"][0],
            summary["window"][1],
            self.min_events,
        )
        return PokeReturnValue(is_done=len(events) >= self.min_events, xcom_value=summary)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        since, _, until = self._window(context)
        from airflow_provider_contacts._time import to_iso
        from airflow_provider_contacts.triggers.contact_events import ContactEventsTrigger

        filters = self._filters()
        self.defer(
            trigger=ContactEventsTrigger(
                conn_id=self.conn_id,
                since=to_iso(since),
                until=to_iso(until) if until else None,
                min_events=self.min_events,
                include_types=filters["include_types"],
                exclude_types=filters["exclude_types"],
                contact_ids=filters["contact_ids"],
                poke_interval=float(self.poke_interval),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_contacts.exceptions import ContactsError

        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "the trigger ended without an event")
            raise ContactsError(f"waiting for contact events failed: {message}", conn_id=self.conn_id)
        summary = event["summary"]
        self.log.info("%s: %d event(s) arrived", self.conn_id, summary["count"])
        return summary
