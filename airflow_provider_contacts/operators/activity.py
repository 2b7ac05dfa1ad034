"""FetchContactActivityOperator: every contact event of a window, normalised, to NDJSON."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_contacts._args import as_list, positive_int
from airflow_provider_contacts._time import parse_when, to_iso
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.models import EVENT_SELECTION_ARGS
from airflow_provider_contacts.operators.base import attach_to_outlets, open_hook, transport_summary
from airflow_provider_contacts.operators.report import Progress
from airflow_provider_contacts.rows.outputs import open_text, output_path

if TYPE_CHECKING:
    from airflow.sdk import Context


class FetchContactActivityOperator(BaseOperator):
    """Write every contact event with ``since <= occurred_at < until`` (UTC) to ``output_path``
    as NDJSON, one normalised event per line (``vendor, event_id, event_type, contact_id,
    occurred_at, label, campaign, raw``), de-duplicated.

    ``since``/``until`` default to the run's data interval; both are templated ISO 8601
    strings or datetimes. ``event_types`` / ``exclude_event_types`` / ``contact_ids`` filter.
    ``output_path`` is a local path or an object-storage URI (default: a per-task temp path).
    ``page_size``: events per request (per event type on Mautic), when the vendor pages.
    Memory stays flat: events are written as they arrive. Returns a summary with counts per
    type, the first/last ``occurred_at`` and the output path — never the events.
    """

    template_fields = (
        "conn_id",
        *EVENT_SELECTION_ARGS,
        "output_path",
        "hook_params",
        "event_filters",
    )
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        conn_id: str,
        since: Any = None,
        until: Any = None,
        event_types: Any = None,
        exclude_event_types: Any = None,
        contact_ids: Any = None,
        output_path: str | None = None,
        page_size: int | None = None,
        hook_params: dict[str, Any] | None = None,
        event_filters: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.page_size = positive_int(page_size, "page_size", optional=True)
        self.conn_id = conn_id
        self.since = since
        self.until = until
        self.event_types = event_types
        self.exclude_event_types = exclude_event_types
        self.contact_ids = contact_ids
        self.output_path = output_path
        self.hook_params = hook_params
        self.event_filters = event_filters

    def window(self, context: Context):

        since = self.since if self.since not in (None, "") else context.get("data_interval_start")
        until = self.until if self.until not in (None, "") else context.get("data_interval_end")
        if since is None or until is None:
            raise ContactsConfigError("since and until are needed (this run has no data interval); give both")
        since, until = parse_when(since, "since"), parse_when(until, "until")
        empty = self._empty_interval(context) if since >= until else None
        if empty is not None:
            raise ContactsConfigError(
                f"this run's data interval is empty ({empty} to itself, as in a manual run): pass since and "
                'until (ISO 8601, templated: e.g. since="{{ params.since }}" with a params field in the '
                "trigger form) to say which events to fetch"
            )
        if since >= until:
            raise ContactsConfigError(
                f"since ({since.isoformat()}) must be before until ({until.isoformat()}); the window is [since, until)"
            )
        return since, until

    def _empty_interval(self, context: Context) -> str | None:
        """The instant of this run's data interval when a bound was taken from it and it is empty
        (a manual run of a scheduled DAG has ``data_interval_start == data_interval_end``)."""
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        if start is None or end is None or (self.since not in (None, "") and self.until not in (None, "")):
            return None
        first, last = parse_when(start, "data_interval_start"), parse_when(end, "data_interval_end")
        return first.isoformat() if first == last else None

    def execute(self, context: Context) -> dict[str, Any]:

        since, until = self.window(context)
        include = as_list(self.event_types, "event_types")
        exclude = as_list(self.exclude_event_types, "exclude_event_types")
        contacts = as_list(self.contact_ids, "contact_ids")
        started = time.monotonic()
        hook = open_hook(self.conn_id, self.hook_params, "activity", "fetch contact activity")
        path = str(self.output_path or output_path(context, "activity.ndjson"))
        by_type: dict[str, int] = {}
        first = last = None
        count = 0
        progress = Progress(f"activity from {self.conn_id}", unit="events")
        with open_text(path, "w") as out:
            extra = {"page_size": self.page_size} if self.page_size else {}
            if self.event_filters:
                if not isinstance(self.event_filters, dict):
                    raise ContactsConfigError(
                        "event_filters must be a dict of vendor filters, e.g. {'label_sn': 'vip'}"
                    )
                extra.update(self.event_filters)
            events = hook.iter_events(
                since, until, include_types=include, exclude_types=exclude, contact_ids=contacts, **extra
            )
            for event in events:
                out.write(json.dumps(event.to_dict(), default=str, ensure_ascii=False) + "\n")
                count += 1
                by_type[event.event_type] = by_type.get(event.event_type, 0) + 1
                first = event.occurred_at if first is None or event.occurred_at < first else first
                last = event.occurred_at if last is None or event.occurred_at > last else last
                if count % 1000 == 0:
                    progress.tick(count, 0)
        summary = {
            "conn_id": self.conn_id,
            "events": count,
            "by_type": dict(sorted(by_type.items())),
            "first_occurred_at": to_iso(first) if first else None,
            "last_occurred_at": to_iso(last) if last else None,
            "since": to_iso(since),
            "until": to_iso(until),
            "output_path": path,
            "unreadable_events": hook.unreadable_events,
            **transport_summary(hook, started),
        }
        self.log.info("Wrote %d events to %s: %s", count, path, json.dumps(summary["by_type"]))
        attach_to_outlets(self, context, summary)
        self.last_summary = summary
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The vendor's activity read and the NDJSON file written, with the event count
        (``operators/lineage.py``); None without the OpenLineage provider."""
        from airflow_provider_contacts.operators.lineage import activity_lineage

        return activity_lineage(self)
