"""The base of the action operators: the hook from the connection, the input read and checked
before anything is sent (its columns too: ``rows/columns.py``), the rejects file and threshold,
and the summary returned to XCom and attached to the outlets' Asset events (what the task log
says of them, and the progress lines: ``operators/report.py``)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_contacts._args import as_bool, is_template
from airflow_provider_contacts.exceptions import ContactsConfigError, RejectedRowsError
from airflow_provider_contacts.links import VendorContactLink, publish_link
from airflow_provider_contacts.models import KnownColumns
from airflow_provider_contacts.operators.report import log_rejected_rows, log_summary
from airflow_provider_contacts.rows.columns import ColumnGate, HeldRejects, describe_source, parse_mapping
from airflow_provider_contacts.rows.known_columns import parse_unknown
from airflow_provider_contacts.rows.outputs import output_path
from airflow_provider_contacts.rows.reasons import reason_category
from airflow_provider_contacts.rows.rejects import RejectsFile, check_threshold, parse_max_rejected
from airflow_provider_contacts.rows.source_files import (
    check_delimiter,
    check_encoding,
    refuse_rejects_over_source,
)
from airflow_provider_contacts.rows.sources import BadRow, is_replay, iter_source
from airflow_provider_contacts.rows.spool import RowSpool
from airflow_provider_contacts.rows.values import unsendable_problem

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


def open_hook(conn_id: str, hook_params: dict[str, Any] | None, capability: str, action: str) -> Any:
    """The connection's hook, built with ``hook_params`` (vendor options such as EngageLab's
    ``inbox_id`` or Which50's ``contact_list_id``), checked for ``capability``."""
    from airflow_provider_contacts.hooks import get_hook, require_capability

    if hook_params is not None and not isinstance(hook_params, dict):
        raise ContactsConfigError(
            f"hook_params must be a dict of hook options, got {type(hook_params).__name__}"
        )
    try:
        hook = get_hook(conn_id, **(hook_params or {}))
    except TypeError as err:
        raise ContactsConfigError(
            f"hook_params {sorted(hook_params or {})} do not fit this connection's hook: {err}",
            conn_id=conn_id,
        ) from None
    return require_capability(hook, capability, action)


class ContactsActionOperator(BaseOperator):
    """Base of the action operators: input sources, the rejects file and threshold, the
    summary returned to XCom and attached to the outlets' Asset events.

    ``max_rejected`` (a count, or a fraction of the rows read) fails the task above it;
    ``send_valid_rows`` (templated; default :attr:`send_valid_rows_default`) says what happens
    when the rows rejected before sending are already over it: True sends the valid rows, then
    fails naming the rejects; False fails before sending anything.

    :param csv_delimiter: the separator of a CSV source: one character (default ``,``; ``"\\t"``
        is a tab). Templated.
    :param source_encoding: the text encoding of a source file (default ``utf-8``; any Python
        codec, e.g. ``latin-1``, ``cp1252``, ``utf-16``). Templated.
    :param columns: ``{source column: vendor field}`` (templated; a JSON object string is read
        too), applied to every row as it is read, before any check; a column mapped to ``None`` is
        dropped. Two columns mapped to one field, a row holding both a mapped column and its
        target, and a key that no row has (a typo: the error names the columns the source has)
        are configuration errors before any change. Summary: ``columns_mapped`` and
        ``columns_dropped`` (rows per column).
    :param unknown_columns: what to do with a column the vendor (upsert: its own field list) or
        the operator (the others: the columns it reads) does not know, once the whole input is
        read and before the first change: ``"error"`` (default; one error naming every such
        column and the closest known name) or ``"ignore"`` (dropped from every row sent, named
        once in the log; summary ``unknown_columns_dropped`` (rows per column, at most 20) and
        ``unknown_column_count``). A source without the key column(s) (on a CSV or SQL header, or
        in no row of other sources) is one error naming the columns it has.
    """

    template_fields: tuple[str, ...] = (
        "conn_id",
        "rows",
        "source_path",
        "source_format",
        "source_conn_id",
        "source_sql",
        "source_parameters",
        "rejects_path",
        "hook_params",
        "send_valid_rows",
        "csv_delimiter",
        "source_encoding",
        "columns",
        "unknown_columns",
    )
    template_fields_renderers = {"source_sql": "sql", "rows": "json", "columns": "json"}
    ui_color = "#e8f4ea"
    operator_extra_links = (VendorContactLink(),)
    #: the vendor object the operator changes: the name of its OpenLineage output dataset
    lineage_object: ClassVar[str] = "contacts"
    #: the summary counts of the rows the vendor accepted (the output's row count; none: no count)
    lineage_accepted: ClassVar[tuple[str, ...]] = ()
    #: ``send_valid_rows`` when not given: True where sending a row twice is harmless (a corrected
    #: re-run of the whole input changes nothing more), False for non-idempotent actions
    send_valid_rows_default: ClassVar[bool] = True
    #: True when the operator's row check itself rejects what no vendor can store
    #: (``rows.values.unsendable_problem``), e.g. to note the row's key first
    checks_unsendable: ClassVar[bool] = False
    #: the columns the operator reads from a row: any other is unknown (``unknown_columns``)
    row_columns: ClassVar[tuple[str, ...]] = ()
    #: a source must have one column of each group (its header, or else one of its rows)...
    key_columns: ClassVar[tuple[tuple[str, ...], ...]] = ()
    #: ...for this reason (said in the error)
    key_purpose: ClassVar[str] = ""

    def __init__(
        self,
        *,
        conn_id: str,
        rows: Any = None,
        source_path: str | None = None,
        source_format: str | None = None,
        source_conn_id: str | None = None,
        source_sql: str | None = None,
        source_parameters: Any = None,
        rejects_path: str | None = None,
        max_rejected: int | float = 0,
        hook_params: dict[str, Any] | None = None,
        send_valid_rows: bool | str | None = None,
        csv_delimiter: str = ",",
        source_encoding: str = "utf-8",
        columns: dict[str, str | None] | str | None = None,
        unknown_columns: str = "error",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.columns = columns
        self.unknown_columns = unknown_columns
        if not is_template(columns):
            parse_mapping(columns)
        if not is_template(unknown_columns):
            parse_unknown(unknown_columns)
        self.conn_id = conn_id
        self.hook_params = hook_params
        self.rows = rows
        self.source_path = source_path
        self.source_format = source_format
        self.source_conn_id = source_conn_id
        self.source_sql = source_sql
        self.source_parameters = source_parameters
        self.rejects_path = rejects_path
        self.max_rejected = parse_max_rejected(max_rejected)
        #: rows rejected before sending over ``max_rejected``: send the valid rows, then fail (True),
        #: or fail before sending anything (False); templated
        self.send_valid_rows = self.send_valid_rows_default if send_valid_rows is None else send_valid_rows
        if not is_template(send_valid_rows):
            as_bool(self.send_valid_rows, "send_valid_rows")
        self.csv_delimiter = csv_delimiter
        self.source_encoding = source_encoding
        for value, check in ((csv_delimiter, check_delimiter), (source_encoding, check_encoding)):
            if not is_template(value):  # a template is checked once rendered
                check(value)

    def iter_input(self) -> Iterator[Any]:
        return iter_source(self)

    def checked_rows(
        self, rejects: RejectsFile, check: Any, known: Any = None
    ) -> Iterator[tuple[int, Any, Any]]:
        """``(index, row, checked)`` for the input rows (``columns`` applied) that ``check(row) ->
        (checked, problem)`` accepts; unparseable rows and rows with a problem go to the rejects
        file. Counts ``self.rows_read``. Once the whole input is read, its columns are checked
        (``rows/columns.py``): the key columns, then ``known()`` (default: :meth:`known_columns`)."""
        read = 0  # a local count: BaseOperator.__setattr__ is too costly once per row
        gate = self.open_columns()
        choice = parse_unknown(self.unknown_columns)
        held = HeldRejects(rejects, gate)
        source = self.iter_input()
        try:
            for index, row in enumerate(gate.rows(source)):
                read += 1
                if isinstance(row, BadRow):
                    held.write(index, row.raw, row.reason)
                    continue
                problem = None if self.checks_unsendable else unsendable_problem(row)
                checked, problem = (None, problem) if problem else check(row)
                if problem:
                    held.write(index, row, problem)
                    continue
                yield index, row, checked
            gate.finish(held)
            gate.check_known(known or self.known_columns, choice)
        finally:
            getattr(source, "close", lambda: None)()  # a SQL cursor closed now, not by the GC
            held.flush()
            self.rows_read = read

    def open_columns(self) -> ColumnGate:
        """This run's :class:`ColumnGate`: the ``columns`` mapping and the key columns."""
        required, purpose = self.column_keys()
        gate = ColumnGate(
            parse_mapping(self.columns), required, purpose, describe_source(self), replay=is_replay(self)
        )
        self.__dict__["_column_gate"] = gate
        return gate

    def column_keys(self) -> tuple[tuple[tuple[str, ...], ...], str]:
        return self.key_columns, self.key_purpose

    def known_columns(self) -> KnownColumns:
        """The columns this operator reads (:attr:`row_columns`): the others are unknown."""
        names = self.row_columns
        return KnownColumns(frozenset(names), f"columns {type(self).__name__} reads ({', '.join(names)})")

    def sendable(self, items: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
        """``(index, row)`` items without the columns ``unknown_columns="ignore"`` dropped."""
        gate = self.__dict__.get("_column_gate")
        dropped = gate.dropped if gate is not None else frozenset()
        if not dropped:
            yield from items
            return
        for index, row in items:
            yield index, {k: v for k, v in row.items() if k not in dropped}

    def spool_checked_rows(self, rejects: RejectsFile, check: Any) -> RowSpool:
        """Read and check the WHOLE input before anything is sent: the rows ``check`` accepts
        are spooled as ``[index, row, checked]`` (flat memory), the others are in the rejects
        file. The caller then applies ``max_rejected`` to what is already rejected
        (:meth:`check_before_sending`: fail before the first change, or send the valid rows)."""
        spool = RowSpool()
        try:
            for index, row, checked in self.checked_rows(rejects, check):
                spool.add([index, row, checked])
        except BaseException:
            spool.close()
            raise
        return spool

    def check_before_sending(self, rejects: RejectsFile) -> None:
        """Fail before the first change when the rows already rejected locally are more than
        ``max_rejected`` allows (the rejects file is complete for them); with ``send_valid_rows``
        the valid rows are sent first and :meth:`finish` fails the task, saying so."""
        send_valid = as_bool(self.send_valid_rows, "send_valid_rows")
        self.__dict__["_valid_rows_sent"] = False
        try:
            check_threshold(
                self.max_rejected, rejects.count, self.rows_read, rejects.path, before_sending=True
            )
        except RejectedRowsError:
            valid = self.rows_read - rejects.count
            if not send_valid or valid <= 0:
                rejects.close()
                raise
            dry = bool(getattr(self, "is_dry_run", False))
            self.__dict__["_valid_rows_sent"] = not dry
            self.log.warning(
                "%d of %d rows were rejected before sending, more than max_rejected allows (rejected rows in %s); "
                "%s the %d valid rows all the same (send_valid_rows=True), then the task fails",
                rejects.count,
                self.rows_read,
                rejects.path,
                "counting (dry run)" if dry else "sending",
                valid,
            )

    def failed(self, rejects: RejectsFile, done: dict[str, int]) -> None:
        """After a failure: close the rejects file and keep what is known (``last_summary``, which
        lineage on failure reports): the counts ``done`` reached, the rows read and rejected so
        far; when the vendor was already changed, say so in the log."""
        rejects.close()
        rows_read = self.__dict__.get("rows_read", 0)
        self.last_summary = {
            **done,
            "rows_read": rows_read,
            "rejected": rejects.count,
            "rejected_by_reason": rejects.tally.by_reason(),
            "rejects_path": rejects.path,
        }
        log_rejected_rows(self.log, rejects)
        if any(done.get(k) for k in self.lineage_accepted):
            log.error(
                "Failed after changing the vendor: %s (of %d rows read); %d rows rejected so far, in %s",
                json.dumps(done, sort_keys=True),
                rows_read,
                rejects.count,
                rejects.path,
            )

    def open_rejects(self, context: Context) -> RejectsFile:
        path = self.rejects_path or output_path(context, "rejects.ndjson")
        refuse_rejects_over_source(self.source_path, str(path))
        rejects = RejectsFile(str(path))
        self.log.info("Rejected rows (if any) go to %s", path)
        return rejects

    def get_hook(self, capability: str, action: str) -> Any:
        return open_hook(self.conn_id, self.hook_params, capability, action)

    def note_contact(self, contact_id: Any) -> None:
        """Remember a contact the task changed (two are enough to know it was not just one)."""
        touched = self.__dict__.setdefault("_touched", [])
        if contact_id is not None and len(touched) < 2 and str(contact_id) not in touched:
            touched.append(str(contact_id))

    def finish(
        self, context: Context, summary: dict[str, Any], rejects: RejectsFile, total: int, hook: Any = None
    ) -> dict[str, Any]:
        """Close the rejects file, publish the summary and the vendor link, then apply ``max_rejected``."""
        touched = self.__dict__.get("_touched") or []
        if hook is not None and touched:
            publish_link(self, context, hook.contacts_url(touched[0] if len(touched) == 1 else None))
        rejects.close()
        summary["replayed"] = self.rows_read if is_replay(self) else 0
        summary["rejected"] = rejects.count
        summary["rejected_by_reason"] = rejects.tally.by_reason()
        summary["rejects_path"] = rejects.path
        gate = self.__dict__.get("_column_gate")
        summary.update(gate.summary() if gate is not None else {})
        self.last_summary = summary
        log_summary(self.log, summary)
        log_rejected_rows(self.log, rejects)
        self.attach_to_outlets(context, summary)
        sent = bool(self.__dict__.get("_valid_rows_sent"))
        check_threshold(self.max_rejected, rejects.count, total, rejects.path, valid_rows_sent=sent)
        return summary

    def attach_to_outlets(self, context: Context, summary: dict[str, Any]) -> None:
        attach_to_outlets(self, context, summary)

    def lineage_output(self) -> tuple[str, dict[str, str]]:
        """(name, tags) of the vendor object changed: ``lineage_object``, and tags saying what the
        change was when the object does not say it (an operator whose object is known only once
        it ran, e.g. one segment, overrides this)."""
        return self.lineage_object, {}

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The source read, the vendor object written and the rejects file, with row counts
        (``operators/lineage.py``); None without the OpenLineage provider."""
        from airflow_provider_contacts.operators.lineage import action_lineage

        return action_lineage(self)


def write_rejected(rejects: RejectsFile, index: int, row: Any, outcome: Any) -> None:
    """A row the vendor refused (a :class:`~airflow_provider_contacts.models.RowOutcome`), in its words."""
    rejects.write(
        index,
        row,
        outcome.message or "rejected by the vendor",
        status=outcome.http_status,
        message=outcome.message,
        vendor_code=outcome.vendor_code,
        category=reason_category(outcome.message, outcome.http_status, outcome.vendor_code, from_vendor=True),
    )


def attach_to_outlets(operator: BaseOperator, context: Context, summary: dict[str, Any]) -> None:
    """Put the summary's scalar values in the extra of each outlet Asset's event."""
    outlets = getattr(operator, "outlets", None) or []
    events = context.get("outlet_events")
    if not outlets or events is None:
        return
    from airflow.sdk import Asset

    scalars = {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool)) or v is None}
    for outlet in outlets:
        if isinstance(outlet, Asset):
            events[outlet].extra.update(scalars)


def transport_summary(hook: Any, started: float) -> dict[str, Any]:
    stats = hook.stats
    seconds = round(time.monotonic() - started, 3)
    return {"requests": stats.get("requests", 0), "retries": stats.get("retries", 0), "seconds": seconds}
