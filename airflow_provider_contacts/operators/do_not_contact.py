"""DoNotContactOperator: add or remove do-not-contact for many contacts, in vendor batches."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts._args import is_template
from airflow_provider_contacts.operators.add_remove import ContactsAddRemoveOperator
from airflow_provider_contacts.operators.base import ContactsActionOperator, transport_summary
from airflow_provider_contacts.rules import dnc_reason_name, parse_dnc_reason

if TYPE_CHECKING:
    from airflow.sdk import Context


class DoNotContactOperator(ContactsAddRemoveOperator):
    """Add (``action="add"``) or remove (``"remove"``) do-not-contact for contacts given by id
    or email, on a ``channel`` (default ``email``) with a ``reason`` (``unsubscribed``,
    ``bounced``, ``manual`` or a number) and ``comments``.

    The whole input is read and checked first; a contact named several times (by the same id or
    email, or by an id and an email of the same contact, anywhere in the input) is changed once
    and the other rows are counted as ``duplicates``. Emails are resolved in bulk (unknown ones
    are rejected "contact not found"); changes go in the vendor's batch edits, so 10,000
    contacts take ⌈10000/200⌉ edit requests on Mautic plus the email look-ups. Both actions are
    idempotent, so a task retry is safe. The summary names the reason (``reason``:
    ``unsubscribed``, ``bounced``, ``manual``, or the number of another code) and gives its code
    (``reason_code``).

    A row is an id, an email, or an object with ``id``, ``contact_id``, ``contactId`` or
    ``email``; any other column is unknown (``unknown_columns``, ``columns``: see
    :class:`~.base.ContactsActionOperator`), and a source with none of them is one error.
    """

    template_fields = (*ContactsActionOperator.template_fields, "action", "channel", "reason", "comments")
    lineage_object = "contacts"
    lineage_accepted = ("updated",)

    def __init__(
        self,
        *,
        channel: str = "email",
        reason: str | int = "manual",
        comments: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channel = channel
        self.reason = reason
        self.comments = comments
        if isinstance(reason, (int, str)) and not is_template(reason):
            parse_dnc_reason(reason)

    def lineage_output(self) -> tuple[str, dict[str, str]]:
        tags = {"do_not_contact": self._check_action(), "channel": str(self.channel or "email").strip()}
        return self.lineage_object, tags

    def execute(self, context: Context) -> dict[str, Any]:
        action = self._check_action()
        reason = parse_dnc_reason(self.reason)
        channel = str(self.channel or "email").strip()
        started = time.monotonic()
        hook = self.get_hook("do_not_contact", "set do-not-contact")
        rejects = self.open_rejects(context)
        stats = {"updated": 0, "not_found": 0, "duplicates": 0, "emails_looked_up": 0}

        def apply_batch(chunk: list) -> None:
            ids = [cid for _, (cid, _, _) in chunk]
            outcomes = hook.set_do_not_contact(
                ids, action=action, channel=channel, reason=reason, comments=self.comments
            )
            self.record_outcomes(chunk, outcomes, rejects, stats, "updated")

        what = f"do-not-contact {action} on {self.conn_id}"
        self.change_contacts(hook, rejects, stats, hook.dnc_batch_size, apply_batch, what)
        total = self.rows_read
        summary: dict[str, Any] = {"conn_id": self.conn_id, "action": action, "channel": channel}
        summary.update(reason=dnc_reason_name(reason), reason_code=reason)
        summary.update(rows_read=total, **stats, **transport_summary(hook, started))
        return self.finish(context, summary, rejects, total, hook)
