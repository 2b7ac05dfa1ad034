"""DoNotContactOperator: add or remove do-not-contact for many contacts, in vendor batches."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.capabilities import parse_dnc_reason
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators._common import (
    BadRow,
    ContactsActionOperator,
    Progress,
    chunked,
    transport_summary,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

def contact_ref(row: Any) -> tuple[str | None, str | None, str | None]:
    """(contact id, email, problem) from an id, an email, or an object with ``id`` /
    ``contact_id`` / ``email``."""
    if isinstance(row, BadRow):
        return None, None, row.reason
    value = row
    if isinstance(row, dict):
        for name in ("id", "contact_id", "contactId"):
            if row.get(name) not in (None, ""):
                value = row[name]
                break
        else:
            value = row.get("email")
            if value in (None, ""):
                return None, None, 'row has no "id", "contact_id" or "email"'
    if isinstance(value, bool) or value is None:
        return None, None, f"{value!r} is not a contact id or email"
    if isinstance(value, int):
        return (str(value), None, None) if value > 0 else (None, None, f"contact id {value} is not valid")
    text = str(value).strip()
    if text.isdigit():
        return text, None, None
    if "@" in text and " " not in text:
        return None, text.lower(), None
    return None, None, f"{text[:80]!r} is neither a contact id nor an email"


class DoNotContactOperator(ContactsActionOperator):
    """Add (``action="add"``) or remove (``"remove"``) do-not-contact for contacts given by id
    or email, on a ``channel`` (default ``email``) with a ``reason`` (``unsubscribed``,
    ``bounced``, ``manual`` or a number) and ``comments``.

    Emails are resolved in bulk (unknown ones are rejected "contact not found"); changes go in
    the vendor's batch edits, so 10,000 contacts take ⌈10000/200⌉ edit requests on Mautic
    plus the email look-ups. Both actions are idempotent, so a task retry is safe.
    """

    template_fields = (*ContactsActionOperator.template_fields, "action", "channel", "reason", "comments")

    def __init__(
        self,
        *,
        action: str,
        channel: str = "email",
        reason: str | int = "manual",
        comments: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.channel = channel
        self.reason = reason
        self.comments = comments
        if isinstance(action, str) and "{{" not in action:
            self._check_action()
        if isinstance(reason, (int, str)) and "{{" not in str(reason):
            parse_dnc_reason(reason)

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
        chunk_rows = max(hook.dnc_batch_size * 5, 1)
        stats = {"updated": 0, "not_found": 0, "duplicates": 0, "emails_looked_up": 0}
        progress = Progress(f"do-not-contact {action} on {self.conn_id}")

        def flush(pending: list[tuple[int, Any, tuple[str | None, str | None]]]) -> None:
            emails = {email for _, _, (_, email) in pending if email}
            found = hook.find_contact_ids_by_email(emails) if emails else {}
            stats["emails_looked_up"] += len(emails)
            ids: list[str] = []
            rows_for: dict[str, tuple[int, Any]] = {}
            for index, row, (cid, email) in pending:
                cid = cid or found.get(email or "")
                if cid is None:
                    stats["not_found"] += 1
                    rejects.write(index, row, "contact not found", message=f"no contact with email {email}")
                    continue
                if cid in rows_for:
                    stats["duplicates"] += 1
                    continue
                rows_for[cid] = (index, row)
                ids.append(cid)
            if ids:
                outcomes = hook.set_do_not_contact(ids, action=action, channel=channel, reason=reason, comments=self.comments)
                for outcome in outcomes:
                    index, row = rows_for[ids[outcome.index]]
                    if outcome.accepted:
                        stats["updated"] += 1
                        self.note_contact(ids[outcome.index])
                    else:
                        if outcome.http_status == 404:
                            stats["not_found"] += 1
                        rejects.write(index, row, outcome.message or "rejected by the vendor",
                                      status=outcome.http_status, message=outcome.message, vendor_code=outcome.vendor_code)
            progress.tick(self.rows_read, 0)

        def check(row: Any) -> tuple[tuple[str | None, str | None], str | None]:
            cid, email, problem = contact_ref(row)
            return (cid, email), problem

        try:
            for pending in chunked(self.checked_rows(rejects, check), chunk_rows):
                flush(pending)
        except BaseException:
            rejects.close()
            raise
        total = self.rows_read
        summary = {
            "conn_id": self.conn_id, "action": action, "channel": channel, "reason": reason,
            "rows_read": total, **stats, **transport_summary(hook, started),
        }
        return self.finish(context, summary, rejects, total, hook)
