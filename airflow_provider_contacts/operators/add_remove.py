"""The add/remove-for-contacts pipeline of the do-not-contact and audience membership
operators: contacts named by id or email, emails looked up in bulk, each contact changed once,
in batches, with the vendor's answer per contact."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts._args import is_template
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.base import ContactsActionOperator, write_rejected
from airflow_provider_contacts.operators.report import Progress
from airflow_provider_contacts.rows.refs import contact_ref
from airflow_provider_contacts.rows.rejects import RejectsFile
from airflow_provider_contacts.rows.spool import KeyedSpool, chunked


class ContactsAddRemoveOperator(ContactsActionOperator):
    """Base of the operators that add or remove something (``action``) for contacts named by id
    or email; a contact named several times is changed once (flat memory past ``memory_rows``
    distinct references)."""

    row_columns = ("id", "contact_id", "contactId", "email")
    key_columns = (row_columns,)
    key_purpose = "the contact of each row: its id or its email"

    def __init__(self, *, action: str, memory_rows: int = 20_000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.memory_rows = memory_rows
        if isinstance(action, str) and not is_template(action):
            self._check_action()

    def _check_action(self) -> str:
        action = str(self.action or "").strip().lower()
        if action not in ("add", "remove"):
            raise ContactsConfigError(f"action={self.action!r}: use 'add' or 'remove'")
        return action

    def spool_contact_refs(self, rejects: RejectsFile, by_ref: KeyedSpool) -> None:
        """The whole input, checked: one entry ``[id, email, row]`` per contact reference (an
        id or an email) in ``by_ref``; rows that name no contact go to the rejects file."""
        for index, row, (cid, email) in self.checked_rows(rejects, _check_ref):
            by_ref.add(index, f"id:{cid}" if cid else f"email:{email}", [cid, email, row])

    def record_outcomes(
        self, chunk: list, outcomes: Any, rejects: RejectsFile, stats: dict, done: str
    ) -> None:
        """Each contact of a sent batch (``chunk`` of ``(index, [id, row, ...])``): counted as
        ``stats[done]``, or its rejection in the vendor's words (a 404 also counts ``not_found``)."""
        for outcome in outcomes:
            index, (cid, row, *_) = chunk[outcome.index]
            if outcome.accepted:
                stats[done] += 1
                self.note_contact(cid)
                continue
            if outcome.http_status == 404:
                stats["not_found"] += 1
            write_rejected(rejects, index, row, outcome)

    def change_contacts(
        self, hook: Any, rejects: RejectsFile, stats: dict, batch_size: int, apply_batch: Any, what: str
    ) -> None:
        """The whole input read into contact references (one per id or email), emails resolved
        in bulk, ``max_rejected`` applied before the first change, then ``apply_batch(chunk)``
        for each batch of ``batch_size`` distinct contacts (``(index, [id, row, named_by_email])``
        in input order). ``stats`` needs ``not_found``, ``duplicates``, ``emails_looked_up``;
        progress counts the distinct contacts done of those to change."""
        by_ref = KeyedSpool(memory_rows=self.memory_rows)
        by_id = KeyedSpool(memory_rows=self.memory_rows)
        try:
            self.spool_contact_refs(rejects, by_ref)
            resolve_contact_refs(hook, by_ref, by_id, rejects, stats, batch_size * 5)
            self.check_before_sending(rejects)
            progress = Progress(what, total=by_id.expected, unit="contacts")
            for chunk in progress.over(chunked(by_id, max(batch_size, 1))):
                apply_batch(chunk)
            stats["duplicates"] = by_ref.duplicates + by_id.duplicates
        except BaseException:
            self.failed(rejects, stats)
            raise
        finally:
            by_ref.close()
            by_id.close()


def _check_ref(row: Any) -> tuple[tuple[str | None, str | None], str | None]:
    cid, email, problem = contact_ref(row)
    return (cid, email), problem


def resolve_contact_refs(
    hook: Any, by_ref: KeyedSpool, by_id: KeyedSpool, rejects: RejectsFile, stats: dict, chunk_size: int
) -> None:
    """Emails looked up in bulk (``hook.find_contact_ids_by_email``, read-only, ``chunk_size``
    references at a time); each contact id once in ``by_id`` as ``[id, row, named_by_email]``.
    An email without a contact is rejected "contact not found" (``stats["not_found"]``)."""
    for chunk in chunked(by_ref, max(chunk_size, 1)):
        emails = {email for _, (_, email, _) in chunk if email}
        found = hook.find_contact_ids_by_email(emails) if emails else {}
        stats["emails_looked_up"] += len(emails)
        for index, (cid, email, row) in chunk:
            cid = cid or found.get(email or "")
            if cid is None:
                stats["not_found"] += 1
                rejects.write(index, row, "contact not found", message=f"no contact with email {email}")
            else:
                by_id.add(index, str(cid), [str(cid), row, bool(email)])
