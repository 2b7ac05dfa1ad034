"""Mautic audiences: segments and campaigns, found by id or name, their members read in bulk,
and contacts added or removed (``docs/vendors/mautic.md`` §13).

* segment members are read with ``GET /contacts?search=segment:<alias>`` and ``where id in``;
  campaign members with ``GET /campaigns/{id}/contacts`` and ``where lead_id in`` (which answers
  a failed query with HTTP 200 and ``errors``);
* adding to a segment has a batch route (``POST /segments/{id}/contacts/add``, ``ids``);
  removing from a segment and both campaign changes go one contact per request;
* re-adding an active member of a campaign that allows restarts starts the campaign again for
  it: that add is not idempotent and is never retried once sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    ContactsError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from airflow_provider_contacts.hooks.mautic.contacts import MauticContacts
from airflow_provider_contacts.hooks.mautic.wire import listed, mautic_id, where_params
from airflow_provider_contacts.http.errors import extract_vendor_error
from airflow_provider_contacts.models import Audience, RowOutcome, audience_by

#: kind → (route, the list answer's key, the single answer's key)
ROUTES = {"segment": ("segments", "lists", "list"), "campaign": ("campaigns", "campaigns", "campaign")}
NAMES_SHOWN = 20


def _names_shown(records: list[dict[str, Any]]) -> str:
    names = sorted(str(r.get("name")) for r in records)
    shown = ", ".join(repr(n) for n in names[:NAMES_SHOWN]) + (" …" if len(names) > NAMES_SHOWN else "")
    return shown or "none"


class MauticAudience(MauticContacts):
    """The segment and campaign membership endpoints of :class:`~.hook.MauticHook`."""

    audience_kinds = ("segment", "campaign")

    @property
    def membership_batch_size(self) -> int:
        return self.batch_limit

    # ---- finding the audience -------------------------------------------------------------
    def list_audiences(self, kind: str) -> list[dict[str, Any]]:
        """Every segment or campaign (published or not), by id."""
        path, key, _ = ROUTES[kind]
        params = lambda start: {"start": start, "limit": 100, "orderBy": "id"}  # noqa: E731
        return list(self._entity_pages(path, key, params, 100))

    def resolve_audience(self, kind: str, audience: int | str, by: str = "auto") -> Audience:
        """A segment or campaign by id (checked to exist) or by name (exact, else
        case-insensitive; zero or several matches are a config error). ``by``: ``"id"``,
        ``"name"`` or ``"auto"`` (a whole number is looked up both ways, and an id of one
        audience that is the name of another is refused as ambiguous; other text is a name).
        A segment Mautic would refuse changes to (unpublished: HTTP 403) is a config error too,
        before any change."""
        if kind not in ROUTES:
            raise ContactsConfigError(f"audience type {kind!r}: Mautic has {', '.join(ROUTES)}")
        if isinstance(audience, bool) or audience is None or str(audience).strip() == "":
            raise ContactsConfigError(f"audience {audience!r}: give the {kind}'s id or name")
        by = audience_by(by)
        text = str(audience).strip()
        numeric = re.fullmatch(r"[0-9]+", text) is not None
        if by == "id" and not numeric:
            raise ContactsConfigError(
                f"audience {audience!r} with audience_by='id': give the {kind}'s id (a whole number), "
                "or audience_by='name'",
                conn_id=self.conn_id,
            )
        if by == "id":
            record = self._audience_by_id(kind, text)
        elif by == "name" or not numeric:
            record = self._audience_by_name(kind, text)
        else:
            record = self._audience_by_id_or_name(kind, text)
        found = Audience(
            kind,
            str(record["id"]),
            str(record.get("name") or ""),
            {
                "alias": record.get("alias"),
                "published": record.get("isPublished", True) not in (False, 0, "0"),
                # unknown → assume restarts are allowed: a re-add is then never repeated
                "allow_restart": record.get("allowRestart", True) not in (False, 0, "0"),
            },
        )
        if kind == "segment" and not found.facts["published"]:
            raise ContactsConfigError(
                f"{found.describe()} is unpublished: Mautic refuses membership changes to it "
                "(HTTP 403); publish it or pick another segment",
                conn_id=self.conn_id,
            )
        return found

    def _audience_by_id(self, kind: str, audience_id: str) -> dict[str, Any]:
        record = self._audience_if_exists(kind, audience_id)
        if record is None:
            raise ContactsConfigError(
                f"{kind} id {int(audience_id)} does not exist in Mautic at {self.base_url}",
                conn_id=self.conn_id,
            )
        return record

    def _audience_if_exists(self, kind: str, audience_id: str) -> dict[str, Any] | None:
        path, _, one = ROUTES[kind]
        try:
            return self._get(f"{path}/{int(audience_id)}")[one]
        except NotFoundError:
            return None

    def _audience_by_name(self, kind: str, name: str) -> dict[str, Any]:
        records = self.list_audiences(kind)
        matches = self._named(kind, records, name)
        if matches:
            return matches[0]
        raise ContactsConfigError(
            f"no {kind} named {name!r} in Mautic ({kind}s: {_names_shown(records)})", conn_id=self.conn_id
        )

    def _named(self, kind: str, records: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
        """The one record named ``name`` (exact, else case-insensitive), none, or the config
        error of a name several records have."""
        for same in (lambda n: n == name, lambda n: n.casefold() == name.casefold()):
            matches = [r for r in records if same(str(r.get("name") or ""))]
            if len(matches) > 1:
                ids = ", ".join(str(r["id"]) for r in matches)
                raise ContactsConfigError(
                    f"{kind} name {name!r} matches {len(matches)} {kind}s (ids {ids}); give the id instead",
                    conn_id=self.conn_id,
                )
            if matches:
                return matches
        return []

    def _audience_by_id_or_name(self, kind: str, text: str) -> dict[str, Any]:
        """``audience_by="auto"`` with a whole number: the audience with that id, or the one with
        that name; both, and not the same one, is the ambiguity a config error names. The listing
        serves both look-ups (a ``GET`` by id only when the id is not listed)."""
        records = self.list_audiences(kind)
        number = int(text)
        by_id = next((r for r in records if str(r.get("id")) == str(number)), None)
        if by_id is None:
            by_id = self._audience_if_exists(kind, text)
        named = [
            r for r in self._named(kind, records, text) if by_id is None or str(r["id"]) != str(by_id["id"])
        ]
        if by_id is not None and named:
            other = named[0]
            raise ContactsConfigError(
                f"audience {text!r} is ambiguous: {kind} id {number} is {by_id.get('name')!r}, and {kind} "
                f"id {other['id']} is named {other.get('name')!r}; set audience_by='id' or audience_by='name'",
                conn_id=self.conn_id,
            )
        if by_id is not None or named:
            return by_id or named[0]
        raise ContactsConfigError(
            f"{kind} id {number} does not exist in Mautic at {self.base_url}, and no {kind} is named "
            f"{text!r} ({kind}s: {_names_shown(records)})",
            conn_id=self.conn_id,
        )

    # ---- reading membership ---------------------------------------------------------------
    def existing_contact_ids(self, contact_ids: list[str]) -> set[str]:
        return self._ids_where(None, contact_ids)

    def audience_members(self, audience: Audience, contact_ids: list[str]) -> set[str]:
        if not contact_ids:
            return set()
        if audience.kind == "segment":
            return self._ids_where(f"segment:{audience.facts['alias']}", contact_ids)
        return self._campaign_members(audience.id, contact_ids)

    def _ids_where(self, search: str | None, contact_ids: list[str]) -> set[str]:
        """The ids among ``contact_ids`` of the contacts matching ``search``: one request (a
        page one longer than the most that can match ends the listing)."""
        ids = [mautic_id(c) for c in contact_ids]
        if not ids:
            return set()
        where = [{"col": "id", "expr": "in", "val": ",".join(ids)}]
        found = self.iter_contacts(search=search, where=where, page_size=len(ids) + 1, minimal=True)
        return {str(c["id"]) for c in found}

    def iter_members(self, audience: Audience) -> Iterator[str]:
        """The ids of every member of the audience (paged; stable while members change)."""
        if audience.kind == "segment":
            search = f"segment:{audience.facts['alias']}"
            return (str(c["id"]) for c in self.iter_contacts(search=search, page_size=200, minimal=True))
        return self._campaign_member_pages(audience.id, None)

    def _campaign_members(self, campaign_id: str, contact_ids: list[str]) -> set[str]:
        return set(self._campaign_member_pages(campaign_id, [mautic_id(c) for c in contact_ids]))

    def _campaign_member_pages(self, campaign_id: str, ids: list[str] | None) -> Iterator[str]:
        """``GET /campaigns/{id}/contacts`` page by page (``where lead_id in`` ids when given:
        then one page one longer than the ids ends it), ordered by contact id (Mautic has no
        default order there)."""
        query = where_params([{"col": "lead_id", "expr": "in", "val": ",".join(ids)}]) if ids else {}
        query.update({"order[0][col]": "lead_id", "order[0][dir]": "ASC"})
        start, limit = 0, len(ids) + 1 if ids else 200
        while True:
            params = {**query, "start": start, "limit": limit}
            body = self._get(f"campaigns/{mautic_id(campaign_id)}/contacts", params)
            if isinstance(body, dict) and body.get("errors"):  # a failed query is an HTTP 200 (§13.3)
                _, problem = extract_vendor_error(body)
                raise ContactsError(
                    f"Mautic could not list campaign {campaign_id}'s members: {problem}", conn_id=self.conn_id
                )
            rows = listed(body.get("contacts"))
            yield from (str(r.get("lead_id")) for r in rows if isinstance(r, dict))
            if len(rows) < limit:
                return
            start += len(rows)

    # ---- changing membership --------------------------------------------------------------
    def change_membership(
        self, audience: Audience, contact_ids: list[str], action: Literal["add", "remove"]
    ) -> list[RowOutcome]:
        if action not in ("add", "remove"):
            raise ContactsConfigError(f"action {action!r}: use 'add' or 'remove'")
        ids = [mautic_id(c) for c in contact_ids]
        if audience.kind == "segment" and action == "add":
            return self._segment_add(audience.id, ids)
        path, _, _ = ROUTES[audience.kind]
        # a campaign re-add may restart the campaign for the contact: never repeated once sent
        idempotent = not (audience.kind == "campaign" and action == "add" and audience.facts["allow_restart"])
        return [
            self._one(position, f"{path}/{mautic_id(audience.id)}/contact/{cid}/{action}", cid, idempotent)
            for position, cid in enumerate(ids)
        ]

    def _one(self, position: int, path: str, contact_id: str, idempotent: bool) -> RowOutcome:
        """One contact's change; a refusal that concerns this contact is its outcome."""
        try:
            self._send("POST", path, idempotent=idempotent)
        except (NotFoundError, PermissionDeniedError, InvalidRequestError) as err:
            message = "contact not found" if isinstance(err, NotFoundError) else err.message
            return RowOutcome(
                position,
                "rejected",
                contact_id,
                http_status=err.status,
                message=message,
                vendor_code=None if err.vendor_code is None else str(err.vendor_code),
            )
        return RowOutcome(position, "updated", contact_id)

    def _segment_add(self, segment_id: str, ids: list[str]) -> list[RowOutcome]:
        """``POST /segments/{id}/contacts/add`` in batches; ``details`` says per id whether it
        was added (false: no such contact, or one the API user may not edit)."""
        outcomes: list[RowOutcome] = []
        for start in range(0, len(ids), self.batch_limit):
            chunk = ids[start : start + self.batch_limit]
            body = self._send(
                "POST",
                f"segments/{mautic_id(segment_id)}/contacts/add",
                json={"ids": [int(c) for c in chunk]},
                idempotent=True,
            )
            details = body.get("details") if isinstance(body, dict) else None
            details = details if isinstance(details, dict) else {}
            failed = [c for c in chunk if not (details.get(c) or {}).get("success")]
            existing = self.existing_contact_ids(failed) if failed else set()
            for offset, cid in enumerate(chunk):
                if cid not in failed:
                    outcomes.append(RowOutcome(start + offset, "updated", cid))
                elif cid in existing:
                    outcomes.append(
                        RowOutcome(
                            start + offset,
                            "rejected",
                            cid,
                            http_status=403,
                            message="the API user may not edit this contact",
                        )
                    )
                else:
                    outcomes.append(
                        RowOutcome(
                            start + offset, "rejected", cid, http_status=404, message="contact not found"
                        )
                    )
        return outcomes
