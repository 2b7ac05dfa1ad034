"""DoNotContactOperator: add or remove do-not-contact for many contacts, in vendor batches."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.base import ContactsActionOperator, Progress, transport_summary
from airflow_provider_contacts.rows.refs import contact_ref
from airflow_provider_contacts.rows.spool import KeyedSpool, chunked
from airflow_provider_contacts.rules import parse_dnc_reason

if TYPE_CHECKING:
    from airflow.sdk import Context


class DoNotContactOperator(ContactsActionOperator):
    """Add (``action="add"``) or remove (``"remove"``) do-not-contact for contacts given by id
    or email, on a ``channel`` (default ``email``) with a ``reason`` (``unsubscribed``,
    ``bounced``, ``manual`` or a number) and ``comments``.

    The whole input is read and checked first; a contact named several times (by the same id or
    email, or by an id and an email of the same contact, anywhere in the input) is changed once
    and the other rows are counted as ``duplicates``. Emails are resolved in bulk (unknown ones
    are rejected "contact not found"); changes go in the vendor's batch edits, so 10,000
    contacts take ⌈10000/200⌉ edit requests on Mautic plus the email look-ups. Both actions are
    idempotent, so a task retry is safe.
    """

    template_fields = (*ContactsActionOperator.template_fields, "action", "channel", "reason", "comments")
    lineage_object = "contacts"
    lineage_accepted = ("updated",)

    def __init__(
        self,
        *,
        action: str,
        channel: str = "email",
        reason: str | int = "manual",
        comments: str | None = None,
        memory_rows: int = 20_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.memory_rows = memory_rows
        self.action = action
        self.channel = channel
        self.reason = reason
        self.comments = comments
        if isinstance(action, str) and "{{" not in action:
            self._check_action()
        if isinstance(reason, (int, str)) and "{{" not in str(reason):
            parse_dnc_reason(reason)

    def lineage_output(self) -> tuple[str, dict[str, str]]:
        tags = {"do_not_contact": self._check_action(), "channel": str(self.channel or "email").strip()}
        return self.lineage_object, tags

    def _check_action(self) -> str:
        action = str(self.action or "").strip().lower()
        if action not in ("add", "remove"):
            raise ContactsConfigError(f"action={self.action!r}: use 'add' or 'remove'")
        return action

    def execute(self, context: Context) -> dict[str, Any]:
        action = self._check_action()
        reason = parse_dnc_reason(self.reason)
        channel = str(self.channel or "email").strip()
        started = time.monotonic()
        hook = self.get_hook("do_not_contact", "set do-not-contact")
        rejects = self.open_rejects(context)
        stats = {"updated": 0, "not_found": 0, "duplicates": 0, "emails_looked_up": 0}
        by_ref, by_id = KeyedSpool(memory_rows=self.memory_rows), KeyedSpool(memory_rows=self.memory_rows)
        try:
            # 1. the whole input, checked, one entry per contact reference (id or email)
            for index, row, (cid, email) in self.checked_rows(rejects, _check_ref):
                by_ref.add(index, f"id:{cid}" if cid else f"email:{email}", [cid, email, row])
            # 2. emails resolved in bulk, one entry per contact id across the whole input
            self._resolve(hook, by_ref, by_id, rejects, stats)
            self.check_before_sending(rejects)
            # 3. the changes, in the vendor's batches
            progress = Progress(f"do-not-contact {action} on {self.conn_id}")
            for batch_no, chunk in enumerate(chunked(by_id, max(hook.dnc_batch_size, 1)), start=1):
                ids = [cid for _, (cid, _) in chunk]
                outcomes = hook.set_do_not_contact(
                    ids, action=action, channel=channel, reason=reason, comments=self.comments
                )
                self._record(chunk, outcomes, rejects, stats)
                progress.tick(stats["updated"], batch_no)
            stats["duplicates"] = by_ref.duplicates + by_id.duplicates
        except BaseException:
            rejects.close()
            raise
        finally:
            by_ref.close()
            by_id.close()
        total = self.rows_read
        summary = {"conn_id": self.conn_id, "action": action, "channel": channel, "reason": reason}
        summary.update(rows_read=total, **stats, **transport_summary(hook, started))
        return self.finish(context, summary, rejects, total, hook)

    @staticmethod
    def _resolve(hook: Any, by_ref: KeyedSpool, by_id: KeyedSpool, rejects: Any, stats: dict) -> None:
        """Emails looked up in bulk (read-only); each contact id once in ``by_id``; an email
        without a contact is rejected "contact not found"."""
        for chunk in chunked(by_ref, max(hook.dnc_batch_size * 5, 1)):
            emails = {email for _, (_, email, _) in chunk if email}
            found = hook.find_contact_ids_by_email(emails) if emails else {}
            stats["emails_looked_up"] += len(emails)
            for index, (cid, email, row) in chunk:
                cid = cid or found.get(email or "")
                if cid is None:
                    stats["not_found"] += 1
                    rejects.write(index, row, "contact not found", message=f"no contact with email {email}")
                else:
                    by_id.add(index, str(cid), [str(cid), row])

    def _record(self, chunk: list, outcomes: Any, rejects: Any, stats: dict) -> None:
        """Each contact of a sent batch: updated, or its rejection with the vendor's words."""
        for outcome in outcomes:
            index, (cid, row) = chunk[outcome.index]
            if outcome.accepted:
                stats["updated"] += 1
                self.note_contact(cid)
                continue
            if outcome.http_status == 404:
                stats["not_found"] += 1
            rejects.write(
                index,
                row,
                outcome.message or "rejected by the vendor",
                status=outcome.http_status,
                message=outcome.message,
                vendor_code=outcome.vendor_code,
            )


def _check_ref(row: Any) -> tuple[tuple[str | None, str | None], str | None]:
    cid, email, problem = contact_ref(row)
    return (cid, email), problem
