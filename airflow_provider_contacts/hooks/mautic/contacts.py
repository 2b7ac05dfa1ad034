"""Mautic contacts: read, list, find by email, create and edit one by one or in batches,
upsert (the operators' capability) and do-not-contact."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from airflow_provider_contacts._args import parse_flag
from airflow_provider_contacts.exceptions import ContactsConfigError, PermissionDeniedError
from airflow_provider_contacts.hooks.mautic.base import MauticBase
from airflow_provider_contacts.hooks.mautic.errors import BatchLimitExceeded, batch_error_mapper
from airflow_provider_contacts.hooks.mautic.wire import (
    BatchItem,
    ContactPage,
    as_int,
    channel_name,
    clean,
    contact_id_of,
    count_zero_values,
    entities,
    field_value,
    index_keyed,
    list_params,
    mautic_id,
)
from airflow_provider_contacts.models import KnownColumns, RowOutcome
from airflow_provider_contacts.rules import parse_dnc_reason

log = logging.getLogger(__name__)

#: the keys Mautic's contact API reads besides the contact fields (docs/vendors/mautic.md 3.4)
CONTACT_API_KEYS = frozenset(
    {
        "companies",
        "doNotContact",
        "frequencyRules",
        "ipAddress",
        "lastActive",
        "overwriteWithBlank",
        "owner",
        "preferred_profile_image",
        "stage",
        "tags",
    }
)
#: field definitions per ``GET /fields/contact`` request
FIELDS_PAGE = 200


class MauticContacts(MauticBase):
    """The contact endpoints of :class:`~.hook.MauticHook`."""

    def get_contact(self, contact_id: int | str) -> dict[str, Any]:
        return self._get(f"contacts/{mautic_id(contact_id)}")["contact"]

    def list_contacts(
        self,
        *,
        search: str | None = None,
        start: int = 0,
        limit: int = 30,
        order_by: str | None = "id",
        order_dir: str = "ASC",
        where: list[dict[str, Any]] | None = None,
        published: bool | None = None,
        minimal: bool = False,
        select: list[str] | None = None,
    ) -> ContactPage:
        """One page of ``GET /contacts`` (``total`` as int, contacts as a list in server order).
        ``order_by`` must be a DB column (``id``, ``date_added``, ``last_active``...)."""
        params = list_params(
            search=search,
            start=start,
            limit=limit,
            order_by=order_by,
            order_dir=order_dir,
            where=where,
            published=published,
            minimal=minimal,
            select=select,
        )
        body = self._get("contacts", params)
        return ContactPage(total=as_int(body.get("total")), contacts=entities(body, "contacts"))

    def iter_contacts(
        self,
        *,
        search: str | None = None,
        where: list[dict[str, Any]] | None = None,
        page_size: int = 200,
        minimal: bool = False,
        select: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching contact once: keyset paging by id (``id > last``), stable while
        contacts change (the default ``last_active`` order is not)."""

        def params(last: int) -> dict[str, Any]:
            clauses = list(where or []) + [{"col": "id", "expr": "gt", "val": last}]
            return list_params(
                search=search,
                start=0,
                limit=page_size,
                order_by="id",
                order_dir="ASC",
                where=clauses,
                published=None,
                minimal=minimal,
                select=select,
            )

        return self._entity_pages("contacts", "contacts", params, page_size, keyset=True)

    def iter_contact_fields(self, fields: Iterable[str], *, page_size: int = 200) -> Iterator[dict[str, Any]]:
        """Every contact once as ``{alias: value}`` for ``fields`` (keyset paging by id): what
        a change-only sync fingerprints on its first run. Mautic answers an empty field as null."""
        wanted = list(fields)
        for contact in self.iter_contacts(page_size=page_size, minimal=True):
            yield {alias: field_value(contact, alias) for alias in wanted}

    def find_contacts_by_email(
        self, emails: Iterable[str], *, chunk_size: int = 100
    ) -> dict[str, dict[str, Any]]:
        """Lower-cased email → contact, for those that exist (one request per ``chunk_size``
        emails, ``where email in``). When several contacts share an email, the newest wins,
        as in Mautic's own upsert."""
        wanted = sorted(
            {e.strip().lower() for e in emails if isinstance(e, str) and e.strip() and "," not in e}
        )
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), chunk_size):
            chunk = wanted[i : i + chunk_size]
            where = [{"col": "email", "expr": "in", "val": ",".join(chunk)}]
            page_size = max(len(chunk) * 2, 10)
            for contact in self.iter_contacts(where=where, page_size=page_size, minimal=True):
                email = str(field_value(contact, "email") or "").lower()
                if email in chunk:
                    current = found.get(email)
                    if current is None or (str(contact.get("dateAdded")), int(contact["id"])) > (
                        str(current.get("dateAdded")),
                        int(current["id"]),
                    ):
                        found[email] = contact
        return found

    def find_contact_ids_by_email(self, emails: Iterable[str]) -> dict[str, str]:
        return {email: str(c["id"]) for email, c in self.find_contacts_by_email(emails).items()}

    def create_contact(self, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """``POST /contacts/new``: Mautic upserts on unique identifiers (email by default).
        Returns (contact, created). Replay-safe when the data has an email."""
        response = self.transport.request(
            "POST", "/api/contacts/new", json=self._body(data), idempotent=bool(data.get("email"))
        )
        return response.json()["contact"], response.status_code == 201

    def edit_contact(self, contact_id: int | str, data: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /contacts/{id}/edit``: absent fields are kept. Note Mautic ignores numeric 0
        on POST/PATCH (use :meth:`replace_contact` to set 0)."""
        return self._send(
            "PATCH", f"contacts/{mautic_id(contact_id)}/edit", json=self._body(data), idempotent=True
        )["contact"]

    def replace_contact(self, contact_id: int | str, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """``PUT /contacts/{id}/edit``. **Every field absent from ``data`` is blanked**, and an
        unknown id creates a new contact (with a new id). Returns (contact, created)."""
        warnings.warn(
            "MauticHook.replace_contact (PUT) blanks every field absent from the data and creates a "
            "new contact when the id is unknown; use edit_contact (PATCH) for partial updates",
            UserWarning,
            stacklevel=2,
        )
        log.warning(
            "%s: PUT contact %s: fields absent from the data will be blanked", self.conn_id, contact_id
        )
        response = self.transport.request(
            "PUT", f"/api/contacts/{mautic_id(contact_id)}/edit", json=clean(data), idempotent=False
        )
        return response.json()["contact"], response.status_code == 201

    def _body(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` as a POST/PATCH body: datetimes in Mautic's format, and ``overwriteWithBlank``
        when an empty value must clear the field (``blank_values="clear"``; Mautic skips empty
        values otherwise)."""
        body = clean(data)
        return {**body, "overwriteWithBlank": True} if self.blank_values == "clear" else body

    def delete_contact(self, contact_id: int | str) -> dict[str, Any]:
        return self._send("DELETE", f"contacts/{mautic_id(contact_id)}/delete")["contact"]

    def batch_create(self, items: list[dict[str, Any]]) -> list[BatchItem]:
        """``POST /contacts/batch/new`` (upsert per item), split to the batch limit; one
        :class:`BatchItem` per input item, in input order."""
        cleaned = [self._body(item) for item in items]
        replay_safe = all(item.get("email") for item in cleaned)
        return self._batched("POST", "contacts/batch/new", cleaned, idempotent=replay_safe)

    def batch_edit(
        self, items: list[dict[str, Any]], *, method: Literal["PATCH", "PUT"] = "PATCH"
    ) -> list[BatchItem]:
        """``PATCH|PUT /contacts/batch/edit``; each item needs ``id``. PUT blanks absent
        fields and creates unknown ids — prefer PATCH."""
        if method not in ("PATCH", "PUT"):
            raise ContactsConfigError(f"method {method!r}: use PATCH or PUT")
        for position, item in enumerate(items):
            if item.get("id") in (None, ""):
                raise ContactsConfigError(
                    f"item {position} has no id; batch edit needs the contact id in every item"
                )
        cleaned = [self._body(item) if method == "PATCH" else clean(item) for item in items]
        return self._batched(method, "contacts/batch/edit", cleaned, idempotent=(method == "PATCH"))

    def batch_delete(self, contact_ids: Iterable[int | str]) -> list[dict[str, Any]]:
        """``DELETE /contacts/batch/delete?ids=…``; returns the deleted contacts (unknown ids
        are silently skipped by Mautic)."""
        ids = [mautic_id(c) for c in contact_ids]
        deleted: list[dict[str, Any]] = []
        start = 0
        while start < len(ids):
            chunk = ids[start : start + self.batch_limit]
            try:
                body = self._send(
                    "DELETE",
                    "contacts/batch/delete",
                    params={"ids": ",".join(chunk)},
                    error_mapper=batch_error_mapper(len(chunk)),
                )
            except BatchLimitExceeded as err:
                self._learn_limit(err)
                continue
            deleted += list(index_keyed(body.get("contacts")).values())
            start += len(chunk)
        return deleted

    # ---- capability: upsert ---------------------------------------------------------------
    def contact_fields(self) -> list[dict[str, Any]]:
        """Every contact field's definition, from ``GET /fields/contact`` (every page of
        ``FIELDS_PAGE``), read once per hook (§12.12)."""
        if self._contact_fields is None:
            pages = self._entity_pages(
                "fields/contact", "fields", lambda start: {"start": start, "limit": FIELDS_PAGE}, FIELDS_PAGE
            )
            self._contact_fields = [f for f in pages if isinstance(f, dict)]
        return self._contact_fields

    def unique_identifier_fields(self) -> set[str] | None:
        """Aliases flagged "unique identifier" (None when the server does not say). Read from
        ``GET /fields/contact``: ``/contacts/list/fields`` does not show the flag (its
        serializer group ``leadFieldList`` has only id, label, alias, type, group, order, object)."""
        if self._unique_fields is None:
            flags: dict[str, bool] = {}
            for f in self.contact_fields():
                for key in ("isUniqueIdentifier", "isUniqueIdentifer", "is_unique_identifer"):
                    if key in f and isinstance(alias := f.get("alias"), str):
                        flags[alias] = parse_flag(f[key]) is True
            self._unique_fields = {alias for alias, flag in flags.items() if flag} if flags else set()
            if not flags:
                return None
        return self._unique_fields or None

    def upsert_fields(self) -> KnownColumns:
        """What an upsert stores: the published contact fields (aliases, which Mautic matches
        case-sensitively; an unpublished field is ignored by its API form) and the other keys its
        contact API reads (:data:`CONTACT_API_KEYS`). Every other key is ignored by Mautic
        without a word (§9)."""
        published: set[str] = set()
        ignored: dict[str, str] = {}
        try:
            fields = self.contact_fields()
        except PermissionDeniedError as err:  # FieldApiController asks lead:fields:view
            raise ContactsConfigError(
                "an upsert checks every column against this Mautic's contact fields before the first change, "
                f"and this Mautic user may not read them (GET /api/fields/contact: HTTP 403, {err.message}). "
                "Give its role the permission Contacts - Custom Fields: View (lead:fields:view)",
                conn_id=self.conn_id,
            ) from None
        for f in fields:
            alias = f.get("alias")
            if not isinstance(alias, str):
                continue
            if parse_flag(f.get("isPublished", True)) is True:
                published.add(alias)
            else:
                ignored[alias] = (
                    "a field that is not published: Mautic ignores it; publish it or drop the column"
                )
        return KnownColumns(
            frozenset(published | CONTACT_API_KEYS),
            "published contact fields of this Mautic (GET /api/fields/contact; aliases match case-sensitively) "
            f"or other keys its contact API reads ({', '.join(sorted(CONTACT_API_KEYS))})",
            ignored=ignored,
        )

    def structured_value_problem(self, field: str, value: Any) -> str | None:
        """Mautic takes a list of values for ``tags`` and for multiselect fields (it joins them
        with ``|``); an object, or a list holding lists or objects, has no field to go to."""
        if isinstance(value, (list, tuple)) and all(not isinstance(v, (dict, list, tuple)) for v in value):
            return None
        problem = super().structured_value_problem(field, value)
        if problem and isinstance(value, dict):
            problem += " (Mautic takes a list of values only, for tags and multiselect fields)"
        return problem

    def upsert_batch(self, rows: list[dict[str, Any]], key: str = "email") -> list[RowOutcome]:
        """Upsert ``rows`` through ``batch/new``: Mautic matches existing contacts on its unique
        identifier fields (email by default), so ``key`` must be one of them."""
        if key != "email":
            unique = self.unique_identifier_fields()
            if unique is not None and key not in unique:
                raise ContactsConfigError(
                    f'key "{key}" is not a unique identifier in this Mautic (unique: {", ".join(sorted(unique)) or "none"}); '
                    "Mautic matches contacts on unique identifier fields only. Use key='email' or mark the "
                    "field 'Is Unique Identifier' in Mautic's custom fields.",
                    conn_id=self.conn_id,
                )
        self._tell_blank_values(rows, key)
        zeros = count_zero_values(rows, key)
        if zeros:
            log.warning(
                "%s: %d field value(s) are numeric 0; Mautic ignores 0 on create/update (POST/PATCH, "
                "Mautic issue #15030), so those fields keep their current value.",
                self.conn_id,
                zeros,
            )
        outcomes = []
        for item in self.batch_create(rows):
            if item.ok:
                outcomes.append(
                    RowOutcome(
                        item.index,
                        "created" if item.status == 201 else "updated",
                        contact_id=contact_id_of(item.contact),
                        http_status=item.status,
                    )
                )
            else:
                outcomes.append(
                    RowOutcome(
                        item.index,
                        "rejected",
                        http_status=item.status,
                        message=item.message or f"HTTP {item.status}",
                        vendor_code=item.error_type,
                    )
                )
        return outcomes

    def _tell_blank_values(self, rows: list[dict[str, Any]], key: str) -> None:
        """Once per hook: with ``blank_values="keep"``, say that the empty values of the data
        leave Mautic's current values as they are."""
        if self.blank_values != "keep" or self._blank_values_told:
            return
        blanks = sum(1 for row in rows for k, v in row.items() if (v is None or v == "") and k != key)
        if blanks:
            self._blank_values_told = True
            log.warning(
                "%s: %d empty field value(s) in a batch; Mautic keeps a contact's current value for an "
                "empty one on create/update, so those fields are not cleared. To clear them, use "
                "hook_params={'blank_values': 'clear'} (said once per task).",
                self.conn_id,
                blanks,
            )

    # ---- do not contact -------------------------------------------------------------------
    def add_do_not_contact(
        self,
        contact_id: int | str,
        channel: str = "email",
        reason: int | str = 3,
        comments: str | None = None,
        channel_id: int | None = None,
    ) -> dict[str, Any]:
        """``POST /contacts/{id}/dnc/{channel}/add``. An existing "unsubscribed" entry is never
        overwritten by Mautic. Idempotent."""
        body: dict[str, Any] = {"reason": parse_dnc_reason(reason)}
        if comments is not None:
            body["comments"] = comments
        if channel_id is not None:
            body["channelId"] = channel_id
        return self._send(
            "POST",
            f"contacts/{mautic_id(contact_id)}/dnc/{channel_name(channel)}/add",
            json=body,
            idempotent=True,
        )["contact"]

    def remove_do_not_contact(self, contact_id: int | str, channel: str = "email") -> bool:
        """``POST /contacts/{id}/dnc/{channel}/remove``; True when an entry was removed."""
        body = self._send(
            "POST", f"contacts/{mautic_id(contact_id)}/dnc/{channel_name(channel)}/remove", idempotent=True
        )
        return bool(body.get("recordFound"))

    def set_do_not_contact(
        self,
        contact_ids: list[str],
        *,
        action: Literal["add", "remove"],
        channel: str = "email",
        reason: int | str = 3,
        comments: str | None = None,
    ) -> list[RowOutcome]:
        """Add or remove DNC for many contacts with ``doNotContact`` lists inside batch edits
        (⌈n/limit⌉ requests). Unknown ids are rejected "contact not found"."""
        if action not in ("add", "remove"):
            raise ContactsConfigError(f"action {action!r}: use 'add' or 'remove'")
        entry: dict[str, Any] = {
            "channel": channel_name(channel),
            "reason": parse_dnc_reason(reason) if action == "add" else 0,
        }
        if comments is not None and action == "add":
            entry["comments"] = comments
        items = [{"id": mautic_id(cid), "doNotContact": [dict(entry)]} for cid in contact_ids]
        outcomes = []
        for item in self._batched("PATCH", "contacts/batch/edit", items, idempotent=True):
            problem = "contact not found" if item.status == 404 else None
            outcomes.append(
                RowOutcome(
                    item.index,
                    "updated" if item.ok else "rejected",
                    contact_id=str(items[item.index]["id"]),
                    http_status=item.status,
                    message=None if item.ok else problem or item.message or f"HTTP {item.status}",
                    vendor_code=None if item.ok else item.error_type,
                )
            )
        return outcomes
