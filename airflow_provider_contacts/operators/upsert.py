"""UpsertContactsOperator: create or update contacts keyed by a field, in vendor batches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts._args import positive_int
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.base import ContactsActionOperator, Progress, transport_summary
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
    rejected with their reason, and when they are already more than ``max_rejected`` allows
    the task fails having sent nothing. ``dry_run=True`` reads and validates everything and
    sends nothing.

    Returns a summary: ``rows_read``, ``unique_keys``, ``duplicates_collapsed``, ``created``,
    ``updated``, ``unchanged``, ``rejected``, ``batches``, ``requests``, ``retries``,
    ``seconds``, ``rows_per_second``, ``rejects_path``.
    """

    template_fields = (*ContactsActionOperator.template_fields, "key")
    lineage_object = "contacts"
    lineage_accepted = ("created", "updated")

    def __init__(
        self,
        *,
        key: str = "email",
        batch_size: int | None = None,
        max_active_requests: int = 1,
        dry_run: bool = False,
        memory_rows: int = 20_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.batch_size = positive_int(batch_size, "batch_size", optional=True)
        self.max_active_requests = positive_int(max_active_requests, "max_active_requests")
        self.dry_run = dry_run
        self.memory_rows = memory_rows

    def execute(self, context: Context) -> dict[str, Any]:
        if not isinstance(self.key, str) or not self.key.strip():
            raise ContactsConfigError("key must name the field that identifies a contact, e.g. 'email'")
        key = self.key.strip()
        started = time.monotonic()
        hook = self.get_hook("upsert", "upsert contacts")
        rejects = self.open_rejects(context)
        spool = KeyedSpool(memory_rows=self.memory_rows)
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        batches = 0
        try:
            for index, row, norm in self.checked_rows(rejects, lambda row: self._check(row, key, hook)):
                spool.add(index, norm, row)
            total = self.rows_read
            self.check_before_sending(rejects)
            size = min(self.batch_size or hook.upsert_batch_size, hook.upsert_batch_size)
            self.log.info(
                "%d rows read, %d rejected locally; sending %s in batches of %d",
                total,
                rejects.count,
                "nothing (dry run)" if self.dry_run else "the rest",
                size,
            )
            progress = Progress(f"upsert into {self.conn_id}")
            done = 0
            if self.dry_run:
                for _ in spool:
                    done += 1
            else:
                for chunk, outcomes in self._send(hook, chunked(spool, size), key):
                    batches += 1
                    for outcome in outcomes:
                        index, row = chunk[outcome.index]
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
                    progress.tick(done, batches)
                progress.tick(done, batches, force=True)
        except BaseException:
            rejects.close()
            raise
        finally:
            spool.close()
        summary: dict[str, Any] = {
            "conn_id": self.conn_id,
            "key": key,
            "rows_read": total,
            "unique_keys": spool.unique,
            "duplicates_collapsed": spool.duplicates,
            **counts,
            "batches": batches,
            "dry_run": bool(self.dry_run),
            **transport_summary(hook, started),
        }
        summary["rows_per_second"] = round(total / summary["seconds"], 1) if summary["seconds"] else None
        return self.finish(context, summary, rejects, total, hook)

    def _check(self, row: Any, key: str, hook: Any) -> tuple[str | None, str | None]:
        """(normalised key, problem)."""
        if not isinstance(row, dict):
            return (
                None,
                f"row is not an object (got {type(row).__name__}); each row must map field names to values",
            )
        problem = field_values_problem(row, hook)
        if problem:
            return None, problem
        norm = normalise_key(key, row.get(key))
        if norm is None:
            return None, f'missing key field "{key}" (or it is empty)'
        if key == "email":
            problem = email_problem(str(row[key]).strip())
            if problem:
                return None, problem
        if isinstance(row[key], str) and row[key] != row[key].strip():
            row[key] = row[key].strip()
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
