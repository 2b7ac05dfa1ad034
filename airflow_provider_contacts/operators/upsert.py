"""UpsertContactsOperator: create or update contacts keyed by a field, in vendor batches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts._args import positive_int
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.base import ContactsActionOperator, transport_summary
from airflow_provider_contacts.operators.report import Progress
from airflow_provider_contacts.rows import change_only
from airflow_provider_contacts.rows.refs import email_problem, normalise_key
from airflow_provider_contacts.rows.spool import KeyedSpool, chunked
from airflow_provider_contacts.rows.values import field_values_problem

if TYPE_CHECKING:
    from airflow.sdk import Context


class UpsertContactsOperator(ContactsActionOperator):
    """Upsert contacts keyed by ``key`` (default ``email``) into the platform of ``conn_id``.

    Duplicate keys in the input are collapsed (the last row wins; counted as
    ``duplicates_collapsed``). Rows go out in the vendor's batch size (Mautic: 200, or the
    connection's ``batch_limit``), with up to ``max_active_requests`` batches in flight — each
    key is in exactly one batch, so the same key is never in flight twice. Every row ends as
    created, updated, or rejected into the rejects file; ``max_rejected`` then decides whether
    the task fails. The whole input is read and checked before the first batch is sent: rows
    with a missing or invalid key, NaN/Infinity, or a list/object the vendor does not take are
    rejected with their reason, and when they are already more than ``max_rejected`` allows,
    ``send_valid_rows`` (default True, templated) sends the valid rows and then fails the task;
    False fails it having sent nothing. ``dry_run=True`` reads and validates everything, sends
    nothing and counts ``would_send`` (with ``only_changed``, against the state, or against the
    vendor's contacts when ``sync_state_bootstrap="vendor"`` has no state yet: reads only, and
    the state is not stored).

    ``only_changed=True`` sends only rows that are new or differ from what the vendor last
    accepted for their key (a fingerprint per key in the state ``sync_state``: a name or a
    path/URI, default ``<dag_id>.<task_id>`` under ``[contacts] storage_base``); the others
    are counted ``unchanged``. ``sync_state_bootstrap="vendor"`` builds a missing state from
    the vendor's contacts; ``on_removed`` (``"ignore"``, ``"report"``, ``"do_not_contact"``)
    handles keys of the state that no input row named; with ``"do_not_contact"``, a run that would
    opt out more than ``max_removed`` of the state's keys (default 0.1: 10 %, rounded down; an int
    is a count; templated) fails before any change. ``full_sync=True`` (templated, e.g. from the
    trigger form) sends every row this run and refreshes the state with what the vendor accepted:
    it overwrites contacts edited in the vendor, which change-only leaves alone while their source
    row is unchanged. See ``rows/sync_state.py``.

    Columns: once the whole input is read and before the first change, every column (after
    ``columns``) is checked against the vendor's own field list, read once per task (the hook's
    ``upsert_fields``: Mautic ``GET /api/fields/contact``, its published aliases matched
    case-sensitively, plus the other keys its contact API reads; Which50 the fields of the
    contact list, ignoring case; EngageLab LiveDesk its contact fields, any other column being
    kept as a custom attribute, named once in the log and counted ``custom_attribute_columns``).
    A column it does not know is an error naming it and the closest field, unless
    ``unknown_columns="ignore"`` (see :class:`ContactsActionOperator`); the key column is never
    dropped.

    Returns a summary: ``rows_read``, ``unique_keys``, ``duplicates_collapsed``, ``created``,
    ``updated``, ``unchanged``, ``rejected``, ``batches``, ``requests``, ``retries``,
    ``seconds``, ``rows_per_second``, ``rejects_path``; with ``only_changed`` also ``sent``,
    ``state_keys``, ``sync_state_path``, ``full_sync``, and ``bootstrapped`` / ``removed...`` when used;
    when not empty, ``columns_mapped``, ``columns_dropped``, ``unknown_columns_dropped``,
    ``unknown_column_count`` and ``custom_attribute_columns``.
    """

    template_fields = (
        *ContactsActionOperator.template_fields,
        "key",
        "sync_state",
        "full_sync",
        "max_removed",
    )
    key_purpose = "the key: each row's contact"
    lineage_object = "contacts"
    lineage_accepted = ("created", "updated")
    checks_unsendable = True  # field_values_problem does, in _check: a rejected row's key is still seen

    def __init__(
        self,
        *,
        key: str = "email",
        batch_size: int | None = None,
        max_active_requests: int = 1,
        dry_run: bool = False,
        memory_rows: int = 20_000,
        only_changed: bool = False,
        sync_state: str | None = None,
        sync_state_bootstrap: str | None = None,
        on_removed: str = "ignore",
        full_sync: bool | str = False,
        max_removed: int | float | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.batch_size = positive_int(batch_size, "batch_size", optional=True)
        self.max_active_requests = positive_int(max_active_requests, "max_active_requests")
        # not ``self.dry_run``: that name is BaseOperator's dry_run() method
        self.is_dry_run = dry_run
        self.memory_rows = memory_rows
        change_only.check_arguments(
            only_changed, sync_state, sync_state_bootstrap, on_removed, key, full_sync, max_removed
        )
        self.only_changed = only_changed
        self.sync_state = sync_state
        self.sync_state_bootstrap = sync_state_bootstrap
        self.on_removed = on_removed
        self.full_sync = full_sync
        self.max_removed = max_removed

    def column_keys(self) -> tuple[tuple[tuple[str, ...], ...], str]:
        return ((str(self.key).strip(),),), self.key_purpose

    def execute(self, context: Context) -> dict[str, Any]:
        if not isinstance(self.key, str) or not self.key.strip():
            raise ContactsConfigError("key must name the field that identifies a contact, e.g. 'email'")
        key = self.key.strip()
        full_sync, max_removed = change_only.run_options(
            self.only_changed, self.on_removed, self.full_sync, self.max_removed
        )
        started = time.monotonic()
        hook = self.get_hook("upsert", "upsert contacts")
        if self.only_changed:
            change_only.check_hook(hook, self.sync_state_bootstrap, self.on_removed, key)
        rejects = self.open_rejects(context)
        spool = KeyedSpool(memory_rows=self.memory_rows)
        state = None
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        try:
            try:
                if self.only_changed:
                    state = change_only.open_state(context, hook, self.conn_id, key, self.sync_state)
                columns = self._read_input(spool, rejects, key, hook, state)
                self.check_before_sending(rejects)
                if not self._unreadable_rows():
                    change_only.check_removed(state, self.on_removed, max_removed, self.rows_read)
                extra = {} if full_sync else self._bootstrap(state, hook, key, columns)
                batches = self._sync(context, hook, spool, rejects, key, state, counts, full_sync)
                extra.update(self._finish_state(context, state, hook))
            except BaseException:
                self.failed(rejects, counts)
                raise
            finally:
                spool.close()
            summary = self._summary(key, spool, counts, batches, extra, hook, started)
            if state is not None:
                summary["full_sync"] = full_sync
            result = self.finish(context, summary, rejects, self.rows_read, hook)
            change_only.forget_reported(state, self.on_removed, extra)  # the task succeeded
            return result
        finally:
            if state is not None:
                state.close()

    def _summary(
        self, key: str, spool: KeyedSpool, counts: dict, batches: int, extra: dict, hook: Any, started: float
    ) -> dict[str, Any]:
        total = self.rows_read
        summary: dict[str, Any] = {
            "conn_id": self.conn_id,
            "key": key,
            "rows_read": total,
            "unique_keys": spool.unique,
            "duplicates_collapsed": spool.duplicates,
            **counts,
            "batches": batches,
            "dry_run": bool(self.is_dry_run),
            **extra,
            **transport_summary(hook, started),
        }
        summary["rows_per_second"] = round(total / summary["seconds"], 1) if summary["seconds"] else None
        return summary

    def _read_input(self, spool: KeyedSpool, rejects: Any, key: str, hook: Any, state: Any) -> list[str]:
        """Read and check the whole input into ``spool``; with a state, every key named (even
        by a rejected row) is noted as seen. Returns the input's columns when a bootstrap needs them."""
        columns: dict[str, None] = {}
        bootstrap = state is not None and self.sync_state_bootstrap == "vendor" and not state.existed
        readable = 0

        def check(row: Any) -> tuple[str | None, str | None]:
            nonlocal readable
            norm, problem = self._check(row, key, hook)
            if state is not None and isinstance(row, dict):
                readable += 1
                seen = norm or normalise_key(key, row.get(key))
                if seen:
                    state.see(seen)
                if bootstrap and not problem:
                    columns.update(dict.fromkeys(row))
            return norm, problem

        for index, row, norm in self.checked_rows(rejects, check, known=hook.upsert_fields):
            spool.add(index, norm, row)
        self.__dict__["_unreadable"] = self.rows_read - readable if state is not None else 0
        dropped = self.__dict__["_column_gate"].dropped
        return [c for c in columns if c not in dropped] if bootstrap else []

    def _bootstrap(self, state: Any, hook: Any, key: str, columns: list[str]) -> dict[str, Any]:
        if state is None:
            return {}
        if self.sync_state_bootstrap == "vendor" and state.existed:
            self.log.info("sync_state_bootstrap='vendor': the state exists, so the vendor is not read again")
        if not columns:
            return {}
        if self.is_dry_run:  # reads only: the counts are the first real run's; nothing is stored
            self.log.info("dry run: reading the vendor's contacts to count what the first sync would send")
        return {"bootstrapped": change_only.bootstrap(state, hook, key, columns)}

    def _sync(
        self,
        context: Context,
        hook: Any,
        spool: KeyedSpool,
        rejects: Any,
        key: str,
        state: Any,
        counts: dict[str, int],
        full_sync: bool = False,
    ) -> int:
        """Send the rows (only the changed ones with a state, unless ``full_sync``), counting into
        ``counts``; returns the batches sent. With a state, a failure midway stores the
        fingerprints of the batches already accepted before it is raised."""
        size = min(self.batch_size or hook.upsert_batch_size, hook.upsert_batch_size)
        self.log.info(
            "%d rows read, %d rejected locally; sending %s in batches of %d",
            self.rows_read,
            rejects.count,
            "nothing (dry run)"
            if self.is_dry_run
            else "every row (full_sync)"
            if full_sync and state
            else "the changed ones"
            if state
            else "the rest",
            size,
        )
        items = self.sendable(iter(spool))
        rows = state.changed(items, key, every_row=full_sync) if state is not None else items
        if self.is_dry_run:
            would_send = 0
            for index, _ in rows:
                would_send += 1
                if state is not None:
                    state.settle(index, accepted=False)
            counts["unchanged"] = state.unchanged if state is not None else 0
            counts["would_send"] = would_send
            return 0
        try:
            batches, sent = self._send_all(hook, rows, size, key, rejects, counts, state, spool.expected)
        except BaseException:
            if state is not None:
                state.commit()
            raise
        if state is not None:
            counts["unchanged"] += state.unchanged
            counts["sent"] = sent
        return batches

    def _send_all(
        self,
        hook: Any,
        rows: Any,
        size: int,
        key: str,
        rejects: Any,
        counts: dict[str, int],
        state: Any,
        total: int,
    ) -> tuple[int, int]:
        """Send ``rows`` in batches; returns (batches, rows sent). Progress counts the rows sent
        and those found unchanged, of the ``total`` keys."""
        progress = Progress(f"upsert into {self.conn_id}", total=total)
        done = batches = 0
        for chunk, outcomes in self._send(hook, chunked(rows, size), key):
            batches += 1
            for outcome in outcomes:
                index, row = chunk[outcome.index]
                if state is not None:
                    state.settle(index, outcome.accepted)
                if outcome.accepted:
                    counts[outcome.outcome] += 1
                    self.note_contact(outcome.contact_id)
                else:
                    rejects.write(
                        index,
                        row,
                        "rejected by the vendor",
                        status=outcome.http_status,
                        message=outcome.message,
                        vendor_code=outcome.vendor_code,
                    )
            done += len(chunk)
            progress.tick(done + (state.unchanged if state is not None else 0), batches)
        progress.finish(done + (state.unchanged if state is not None else 0), batches)
        return batches, done

    def _finish_state(self, context: Context, state: Any, hook: Any) -> dict[str, Any]:
        """Vanished keys (``on_removed``), then the state stored (not in a dry run). ``state_keys``
        is what the state holds once the task succeeded (reported keys are forgotten then)."""
        if state is None:
            return {}
        extra: dict[str, Any] = {}
        unreadable = self._unreadable_rows()
        if unreadable:
            self.log.warning(
                "%d row(s) could not be read (a line that is not JSON, a row that is not an object): which "
                "contacts they name is unknown, so vanished keys cannot be told from them and on_removed=%r is "
                "not applied this run; fix those rows (see the rejects file) and the next run handles vanished keys",
                unreadable,
                self.on_removed,
            )
            extra["removed_held_back_unreadable_rows"] = unreadable
        if not self.is_dry_run:
            try:
                if not unreadable:
                    extra = change_only.handle_removed(context, state, hook, self.on_removed)
            finally:  # the rows accepted are stored even when handling vanished keys fails
                state.commit()
        reported = extra.get("removed", 0) if self.on_removed == "report" else 0
        return {**extra, "state_keys": state.size() - reported, "sync_state_path": state.location}

    def _unreadable_rows(self) -> int:
        """Rows that could not be read (a line that is not JSON, a row that is not an object):
        which contacts they name is unknown, so they cannot be told from vanished keys, and
        ``on_removed`` (but ``"ignore"``) waits for a run without them. A row that is an object
        without the key names no contact: it holds nothing back."""
        return 0 if self.on_removed == "ignore" else self.__dict__.get("_unreadable", 0)

    def _check(self, row: Any, key: str, hook: Any) -> tuple[str | None, str | None]:
        """(normalised key, problem); a key with spaces around it is trimmed in the row once the
        row passed every check."""
        if not isinstance(row, dict):
            return (
                None,
                f"row is not an object (got {type(row).__name__}); each row must map field names to values",
            )
        problem = field_values_problem(row, hook)
        if problem:
            return None, problem
        value = row.get(key)
        text = value.strip() if isinstance(value, str) else None  # the common case, one strip
        norm = (text.lower() if key == "email" else text) if text else normalise_key(key, value)
        if norm is None:
            return None, f'missing key field "{key}" (or it is empty)'
        if key == "email":
            problem = email_problem(text if text is not None else str(value).strip())
            if problem:
                return None, problem
        # str.strip() returns the string itself when there was nothing to trim
        if text is not None and text is not value:
            row[key] = text
        return norm, None

    def _send(self, hook: Any, chunks: Iterator[list[tuple[int, Any]]], key: str):
        """Yield (chunk, outcomes) in completion order, at most ``max_active_requests`` in flight."""
        if self.max_active_requests == 1:
            for chunk in chunks:
                yield chunk, hook.upsert_batch([row for _, row in chunk], key)
            return
        with ThreadPoolExecutor(max_workers=self.max_active_requests, thread_name_prefix="upsert") as pool:
            pending: dict[Future, list[tuple[int, Any]]] = {}
            try:
                for chunk in chunks:
                    pending[pool.submit(hook.upsert_batch, [row for _, row in chunk], key)] = chunk
                    if len(pending) >= self.max_active_requests:
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            yield pending.pop(future), future.result()
                for future in list(pending):
                    yield pending.pop(future), future.result()
            finally:
                for future in pending:
                    future.cancel()
