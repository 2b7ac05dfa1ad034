"""SetAudienceMembershipOperator: put contacts into an audience (a Mautic segment or campaign)
or take them out, in the vendor's batches.

How a retry stays exact: each batch's current membership is read first and only the contacts
whose membership differs are changed; the others are counted ``already``. Adding to a segment
and removing from either are idempotent on Mautic's side too, but re-adding an active member of
a campaign that allows restarts starts the campaign again for that contact: reading first means
a task retried after a crash (or an answer lost in transit) never re-adds anyone, and such an add
is never repeated by the transport.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts._args import is_template
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.models import audience_by as audience_by_checked
from airflow_provider_contacts.operators.add_remove import ContactsAddRemoveOperator
from airflow_provider_contacts.operators.base import ContactsActionOperator, transport_summary

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_contacts.models import Audience


class SetAudienceMembershipOperator(ContactsAddRemoveOperator):
    """Add (``action="add"``) or remove (``"remove"``) contacts, given by id or email, to or from
    an ``audience`` — a Mautic segment (``audience_type="segment"``, the default) or campaign
    (``"campaign"``) given by id or by name.

    ``audience_by`` says how ``audience`` is read: ``"id"``, ``"name"`` (the audience's name, not
    a segment's alias), or ``"auto"`` (the default): text is a name, and a whole number (``3``,
    ``"3"``) is looked up both as an id and as a name — found one way, that audience; found both
    ways as two different audiences (segment 1 "Newsletter" and segment 7 named "1"), a config
    error naming both, before any change: set ``audience_by`` then.

    The audience is resolved first: a name matching no audience or several is a config error, as
    is an unpublished segment (Mautic refuses changes to it), before any change. The whole input
    is then read and checked; a contact named several times is changed once (``duplicates``);
    emails are resolved in bulk (unknown ones are rejected "contact not found"). Per batch of
    the connection's ``batch_limit`` contacts: one request reads who is a member, then only the
    differences are sent — one batch request to add to a segment, one request per contact for
    the other changes (Mautic has no batch route for them). A removal naming a contact id that
    does not exist is rejected "contact not found" (one more read per batch, only when needed).

    Summary: ``added``, ``removed``, ``already`` (already a member for an add, already not one
    for a remove), ``not_found``, ``duplicates``, ``emails_looked_up``, ``rejected``, the
    audience's ``audience_id`` and ``audience_name``, and the transport counters; the column
    counts of :class:`~.base.ContactsActionOperator` when not empty. A row's columns are
    ``id``, ``contact_id``, ``contactId`` or ``email``; any other is unknown (``unknown_columns``).

    EngageLab LiveDesk has labels, but its API documents no way to set them on a contact, so
    only Mautic connections can do this (the capability check says so).
    """

    template_fields = (
        *ContactsActionOperator.template_fields,
        "action",
        "audience",
        "audience_type",
        "audience_by",
    )
    #: OpenLineage (issue 16 item 3, the shared code of operators/lineage.py): the output is the
    #: audience, e.g. ``segments/3``, known once the task ran (:meth:`lineage_output`); its row
    #: count is the contacts whose membership is now as asked
    lineage_object = "segments"
    lineage_accepted = ("added", "removed", "already")

    def __init__(
        self, *, audience: int | str, audience_type: str = "segment", audience_by: str = "auto", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.audience = audience
        self.audience_type = audience_type
        self.audience_by = audience_by
        if not is_template(audience_by):
            audience_by_checked(audience_by)

    def lineage_output(self) -> tuple[str, dict[str, str]]:
        """(name, tags) of the audience changed: ``<kind>s/<id>`` and the action, from the summary
        of the run (before it, the kind only)."""
        summary = getattr(self, "last_summary", None) or {}
        kind = str(summary.get("audience_type") or self.audience_type or "segment").strip().lower()
        if not summary.get("audience_id"):
            return f"{kind}s", {}
        tags = {"membership": str(summary["action"]), "audience_name": str(summary["audience_name"])}
        return f"{kind}s/{summary['audience_id']}", tags

    def _check_kind(self, hook: Any) -> str:
        kind = str(self.audience_type or "").strip().lower()
        if kind not in hook.audience_kinds:
            raise ContactsConfigError(
                f"audience_type={self.audience_type!r}: {hook.hook_name} has {', '.join(hook.audience_kinds)}",
                conn_id=self.conn_id,
            )
        return kind

    def execute(self, context: Context) -> dict[str, Any]:
        action = self._check_action()
        started = time.monotonic()
        hook = self.get_hook("audience_membership", "add contacts to or remove them from an audience")
        by = audience_by_checked(self.audience_by)
        audience = hook.resolve_audience(self._check_kind(hook), self.audience, by=by)
        self.log.info("%s contacts: %s on %s", action.capitalize(), audience.describe(), self.conn_id)
        rejects = self.open_rejects(context)
        stats = dict.fromkeys(
            ("added", "removed", "already", "not_found", "duplicates", "emails_looked_up"), 0
        )
        size = hook.membership_batch_size
        what = f"{audience.kind} {action} on {self.conn_id}"
        apply_batch = lambda chunk: self._apply(hook, audience, action, chunk, rejects, stats)  # noqa: E731
        self.change_contacts(hook, rejects, stats, size, apply_batch, what)
        total = self.rows_read
        summary: dict[str, Any] = {"conn_id": self.conn_id, "action": action, "audience_type": audience.kind}
        summary.update(audience_id=audience.id, audience_name=audience.name, rows_read=total)
        summary.update(**stats, **transport_summary(hook, started))
        return self.finish(context, summary, rejects, total, hook)

    def _apply(
        self, hook: Any, audience: Audience, action: str, chunk: list, rejects: Any, stats: dict
    ) -> None:
        """One batch: read who is a member, change only the others, count the rest ``already``
        (a removal of an id that does not exist is rejected "contact not found")."""
        members = hook.audience_members(audience, [cid for _, (cid, _, _) in chunk])
        todo = [item for item in chunk if (item[1][0] in members) == (action == "remove")]
        left = [item for item in chunk if (item[1][0] in members) != (action == "remove")]
        unsure = [cid for _, (cid, _, by_email) in left if action == "remove" and not by_email]
        existing = hook.existing_contact_ids(unsure) if unsure else set()
        for index, (cid, row, _) in left:
            if cid in unsure and cid not in existing:
                stats["not_found"] += 1
                rejects.write(index, row, "contact not found", message=f"no contact with id {cid}")
            else:
                stats["already"] += 1
        if todo:
            outcomes = hook.change_membership(audience, [cid for _, (cid, _, _) in todo], action)
            self.record_outcomes(todo, outcomes, rejects, stats, "added" if action == "add" else "removed")
