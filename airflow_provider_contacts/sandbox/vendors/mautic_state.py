"""State of the Mautic emulator: contacts, do-not-contact, points, point groups, timeline.

Plain Python, no HTTP (like moto's backends): :mod:`.mautic` translates requests to these
methods and their :class:`MauticFault` exceptions to Mautic's error bodies. The fields and how a
value is read are in :mod:`.mautic_fields`; users, segments, companies, campaigns, stages,
notes, devices, UTM tags and page hits in :mod:`.mautic_records`. Every behaviour follows
Mautic 5.x's source (mautic/mautic); a § mark is a section of ``docs/vendors/mautic.md``.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_contacts.sandbox.vendors.mautic_common import (
    ACCESS,
    NOT_FOUND,
    UTC,
    MauticFault,
    crash,
    iso,
    mysql_datetime,
    php_empty,
    php_int,
    php_is_numeric,
)
from airflow_provider_contacts.sandbox.vendors.mautic_fields import (
    CONTACT_FIELD,
    CONTACT_FIELDS,
    CONTACT_GROUPS,
    DEFAULT_CHAR_LIMIT,
    UNIQUE_CONTACT_FIELDS,
    bind,
    clean_email,
    normalized,
    shown,
)
from airflow_provider_contacts.sandbox.vendors.mautic_records import RecordsMixin

#: what ``StatsApiController::listAction`` answers for a query the database refuses (an unknown
#: column, a clause without ``expr``): the exception's message, under HTTP 200 (§13.3)
STATS_QUERY_FAILED = "An exception occurred while executing a query: SQLSTATE[42S22]: Column not found"

# ---- fields (§3.2, §9): see mautic_fields ------------------------------------------------
FIELD_GROUPS = CONTACT_GROUPS
UNIQUE_FIELDS = UNIQUE_CONTACT_FIELDS
#: every stored field value of a new contact (points and last_active live on the contact)
_EMPTY_VALUES = {f.alias: None for f in CONTACT_FIELDS if f.alias not in ("points", "last_active")}
#: (alias, group, kind, static entry, field) for contact_json; kind 0 text-like, 1 points,
#: 2 last_active, 3 number, 4 boolean
_SERIALISE = [
    (
        f.alias,
        f.group,
        1
        if f.alias == "points"
        else 2
        if f.alias == "last_active"
        else 3
        if f.type == "number"
        else 4
        if f.type == "boolean"
        else 0,
        f.group_entry(),
        f,
    )
    for f in CONTACT_FIELDS
]
#: what a PUT blanks when absent (last_active is left alone: it is also the contact's lastActive)
_PUT_BLANKS = tuple(f.alias for f in CONTACT_FIELDS if f.alias != "last_active")

#: §7: API-visible timeline types and their labels
EVENT_TYPES: dict[str, str] = {
    "asset.download": "Asset downloaded",
    "campaign.event": "Campaign action triggered",
    "campaign_membership": "Campaign membership change",
    "email.failed": "Email failed",
    "email.read": "Email read",
    "email.sent": "Email sent",
    "form.submitted": "Form submitted",
    "lead.donotcontact": "Do not contact",
    "lead.utmtagsadded": "UTM tags recorded",
    "page.hit": "Page hit",
    "point.gained": "Point gained",
    "segment_membership": "Segment membership change",
    "stage.changed": "Stage changed",
}

DNC_REASONS = {0: "contactable", 1: "unsubscribed", 2: "bounced", 3: "manual"}

POINT_GROUPS = [
    ("Engagement", "Opens, clicks and visits"),
    ("Product interest", "Pricing and product pages"),
    ("Sales readiness", "Demo requests and forms"),
]
FIRST = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jana", "Kofi", "Lea"]
LAST = ["Silva", "Novak", "Okafor", "Berg", "Rossi", "Haddad", "Kim", "Moreau", "Tanaka", "Weber"]


class MauticState(RecordsMixin):
    """All the data of one Mautic instance."""

    def __init__(self, settings: dict[str, Any], seed: int, empty: bool, clock: Any) -> None:
        self.settings = settings
        self.clock = clock
        self.rng = random.Random(seed)
        self.contacts: dict[int, dict[str, Any]] = {}
        self.next_contact_id = 1
        self.point_groups: dict[int, dict[str, Any]] = {}
        self.next_group_id = 1
        self.group_scores: dict[tuple[int, int], int] = {}
        self.events: list[dict[str, Any]] = []
        self.row_ids: dict[str, int] = {}
        self.next_dnc_id = 1
        self.next_utm_id = 1
        self.tags: dict[str, int] = {}
        #: the user the current request acts as (a contact it creates has it as ``createdBy``):
        #: the emulator sets it per /api request; the seed is Ada Admin's (user 1)
        self.acting_user: int | None = 1
        self._seed_records()
        self._timeline_cache: dict[str, Any] | None = None
        self._timeline_size = -1
        #: lower-cased email -> contact ids (Mautic has a DB index on email; so do we)
        self.by_email: dict[str, set[int]] = {}
        if empty:
            self.companies.clear()
        else:
            self._seed()
            self.reindex()

    def reindex(self) -> None:
        self.by_email = {}
        for contact in self.contacts.values():
            self._index(contact)

    def _index(self, contact: dict[str, Any], old: Any = None) -> None:
        if old:
            ids = self.by_email.get(str(old).lower())
            if ids is not None:
                ids.discard(contact["id"])
        email = contact["values"].get("email")
        if email:
            self.by_email.setdefault(str(email).lower(), set()).add(contact["id"])

    # ---- helpers --------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(int(self.clock()), UTC)

    def _next_row(self, event_type: str) -> int:
        self.row_ids[event_type] = self.row_ids.get(event_type, 0) + 1
        return self.row_ids[event_type]

    def contact(self, contact_id: Any, message: str = NOT_FOUND) -> dict[str, Any]:
        try:
            key = int(str(contact_id))
        except ValueError:
            raise MauticFault(404, message) from None
        found = self.contacts.get(key)
        if found is None:
            raise MauticFault(404, message)
        return found

    def may_edit(self, contact: dict[str, Any], owner_only: bool = False) -> bool:
        """``CorePermissions::hasEntityAccess('lead:leads:editown', 'lead:leads:editother', user)``
        for the acting user (§1.4). With ``contact_edit_scope`` "other" (an admin) every contact;
        with "own" (editown without editother) only a contact whose permission user is the acting
        user: its owner, else its creator (``Lead::getPermissionUser``); ``owner_only`` for the
        campaign add, which passes ``getOwner()``. A contact with neither user needs editother."""
        if self.settings.get("contact_edit_scope", "other") != "own":
            return True
        user = contact["owner"] if owner_only else (contact["owner"] or contact["createdBy"])
        return user is not None and user == self.acting_user

    def contact_to_edit(
        self, contact_id: Any, message: str = NOT_FOUND, owner_only: bool = False
    ) -> dict[str, Any]:
        """``LeadAccessTrait::checkLeadAccess($id, 'edit')``: 404 ``message``, then 403."""
        contact = self.contact(contact_id, message)
        if not self.may_edit(contact, owner_only):
            raise MauticFault(403, ACCESS)
        return contact

    def find_by_unique(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """§3.4: OR over the unique identifiers with a value; newest dateAdded, then id, wins."""
        matches = []
        for alias in UNIQUE_FIELDS:
            wanted = values.get(alias)
            if php_empty(wanted):
                continue
            wanted = clean_email(wanted).lower()  # values are cleaned first (checkForDuplicateContact)
            matches += [self.contacts[i] for i in self.by_email.get(wanted, ()) if i in self.contacts]
        if not matches:
            return None
        return max(matches, key=lambda c: (c["dateAdded"], c["id"]))

    # ---- seeding --------------------------------------------------------------------------
    def _seed(self) -> None:
        rng = self.rng
        now = self.now()
        for name, description in POINT_GROUPS:
            self.create_point_group({"name": name, "description": description})
        count = int(self.settings.get("seed_contacts", 40))
        for i in range(1, count + 1):
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            added = now - timedelta(days=30, minutes=i * 17)
            contact = self._new_contact(added)
            contact["values"].update(
                firstname=first,
                lastname=last,
                email=f"{first.lower()}.{last.lower()}{i}@example.com",
                company=rng.choice(["Acme", "Globex", "Initech", "Umbrella", None]),
                city=rng.choice(["Lisbon", "Berlin", "Lagos", "Osaka", "Lyon"]),
                country=rng.choice(["Portugal", "Germany", "Nigeria", "Japan", "France"]),
            )
            contact["dateIdentified"] = added
            company = self.find_company({"companyname": contact["values"]["company"]})
            if company is not None:
                contact["companies"].append(
                    {"company_id": company["id"], "date_associated": added, "is_primary": True}
                )
            contact["owner"] = 1 if i % 3 else 2
            contact["stage"] = 1 + (i % 3)
            if i % 4 == 0:
                contact["segments"][1] = {"dateAdded": added, "manuallyAdded": True}
            if i % 5 == 0:
                contact["segments"][2] = {"dateAdded": added, "manuallyAdded": False}
            for group_id in self.point_groups:
                if (i + group_id) % 3 == 0:
                    self.group_scores[(contact["id"], group_id)] = rng.randint(1, 12) * 5
        # a realistic timeline over the last 7 days, unique row ids per type
        kinds = [
            ("email.sent", 30),
            ("email.read", 18),
            ("page.hit", 25),
            ("form.submitted", 8),
            ("point.gained", 10),
            ("campaign.event", 10),
            ("email.failed", 3),
        ]
        ids = sorted(self.contacts)
        for kind, per_day in kinds:
            for _ in range(per_day * 7 // 4):
                when = now - timedelta(seconds=rng.randint(120, 7 * 86400))
                cid = rng.choice(ids)
                self.add_event(kind, cid, when)
        # two bounced and one unsubscribed contact
        for cid, reason in ((ids[2], 2), (ids[5], 2), (ids[8], 1)):
            self.add_dnc(self.contacts[cid], "email", reason, "seeded", None, when=now - timedelta(days=2))

    def _new_contact(self, when: datetime | None = None) -> dict[str, Any]:
        when = when or self.now()
        contact: dict[str, Any] = {
            "id": self.next_contact_id,
            "values": dict(_EMPTY_VALUES),
            "points": 0,
            "dateAdded": when,
            "dateModified": None,
            "dateIdentified": None,
            "lastActive": None,
            "owner": None,
            "createdBy": self.acting_user,
            "modifiedBy": None,
            "stage": None,
            "tags": [],
            "dnc": [],
            "ipAddresses": {},
            "utmtags": [],
            "segments": {},
            "campaigns": {},
            "companies": [],
            "devices": [],
        }
        self.contacts[contact["id"]] = contact
        self.next_contact_id += 1
        return contact

    # ---- timeline -------------------------------------------------------------------------
    def add_event(
        self,
        event_type: str,
        contact_id: int | None,
        when: datetime | None = None,
        label: Any = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record one timeline event (also used by tests to make events appear)."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown Mautic event type {event_type!r}; one of {sorted(EVENT_TYPES)}")
        when = (when or self.now()).astimezone(UTC).replace(microsecond=0)
        row = self._next_row(event_type)
        event_id = str(row) if event_type == "page.hit" else f"{event_type}{row}"
        if label is None:
            label = {
                "email.sent": {"label": "Monthly newsletter", "href": "/s/emails/view/1"},
                "email.read": {"label": "Monthly newsletter", "href": "/s/emails/view/1"},
                "email.failed": {"label": "Monthly newsletter", "href": "/s/emails/view/1"},
                "page.hit": {
                    "label": "https://example.com/pricing",
                    "href": "https://example.com/pricing",
                    "isExternal": True,
                },
                "form.submitted": {"label": "Request a demo", "href": "/s/forms/view/1"},
                "campaign.event": {"label": "Send welcome / Welcome", "href": "/s/campaigns/view/1"},
                "point.gained": "Manual change / API",
            }.get(event_type, EVENT_TYPES[event_type])
        event = {
            "event": event_type,
            "eventId": event_id,
            "row": row,
            "eventLabel": label,
            "eventType": EVENT_TYPES[event_type],
            "timestamp": when,
            "contactId": contact_id,
            "details": dict(details or {}),
        }
        if event_type == "campaign.event":
            event["details"].setdefault(
                "log", {"campaignId": "1", "campaignName": "Welcome", "eventName": "Send welcome"}
            )
        self.events.append(event)
        return event

    def activity(self, *, contact_id: int | None, query: dict[str, Any]) -> dict[str, Any]:
        """§7: per-type limit/offset, ``total`` summed, ``maxPages`` from the largest type."""
        filters = query.get("filters", {})
        if not isinstance(filters, dict):
            raise crash()
        include = _as_list(filters.get("includeEvents"))
        exclude = _as_list(filters.get("excludeEvents"))
        date_from = mysql_datetime(filters["dateFrom"]) if filters.get("dateFrom") not in (None, "") else None
        date_to = mysql_datetime(filters["dateTo"]) if filters.get("dateTo") not in (None, "") else None
        search = str(filters.get("search") or "")
        order = query.get("order") or ["timestamp", "DESC"]
        order = _as_list(order) + ["", ""]
        column, direction = str(order[0] or ""), str(order[1] or "ASC").upper()
        page = max(1, php_int(query.get("page", 1)) or 1)
        limit = php_int(query.get("limit", 25)) if query.get("limit") not in (None, "") else 25

        by_type = self._events_by_type(contact_id, include, exclude, date_from, date_to, search)
        page_events: list[dict[str, Any]] = []
        largest = 0
        total = 0
        for rows in by_type.values():
            if column == "eventLabel":
                rows.sort(key=_label_text, reverse=(direction == "DESC"))
            elif direction == "DESC":
                rows.reverse()  # already in (timestamp, row) order
            total += len(rows)
            largest = max(largest, len(rows))
            if limit > 0:
                page_events += rows[(page - 1) * limit : page * limit]
            else:
                page_events += rows
        if limit <= 0:
            if total:
                raise crash()  # getMaxPage divides by zero
            max_pages: Any = 1
        else:
            max_pages = max(1, math.ceil(largest / limit))
        if column in ("timestamp", "eventLabel"):
            key = (lambda e: _label_text(e)) if column == "eventLabel" else (lambda e: e["timestamp"])
            page_events.sort(key=key, reverse=(direction == "DESC"))
        return {
            "events": [self._event_json(e) for e in page_events],
            "filters": {
                "search": search,
                "includeEvents": include,
                "excludeEvents": exclude,
                **({"dateFrom": filters["dateFrom"]} if "dateFrom" in filters else {}),
                **({"dateTo": filters["dateTo"]} if "dateTo" in filters else {}),
            },
            "order": [column, direction],
            "types": dict(EVENT_TYPES),
            "total": total,
            "page": page,
            "limit": limit,
            "maxPages": max_pages,
        }

    def _events_by_type(
        self,
        contact_id: int | None,
        include: list[Any],
        exclude: list[Any],
        date_from: datetime | None,
        date_to: datetime | None,
        search: str,
    ) -> dict[str, list[dict[str, Any]]]:
        """The events of each type the filters keep, in (timestamp, row) order."""
        by_type: dict[str, list[dict[str, Any]]] = {}
        for kind, (keys, rows) in self._timeline().items():
            if (include and kind not in include) or kind in exclude:
                continue
            lo = 0 if date_from is None else bisect.bisect_left(keys, (date_from, -1))
            hi = len(keys) if date_to is None else bisect.bisect_right(keys, (date_to, float("inf")))
            selected = rows[lo:hi]
            if contact_id is not None:
                selected = [e for e in selected if e["contactId"] == contact_id]
            if search and kind != "lead.utmtagsadded":
                selected = [e for e in selected if search.lower() in _label_text(e).lower()]
            if selected:
                by_type[kind] = selected
        return by_type

    def _timeline(self) -> dict[str, tuple[list[tuple[datetime, int]], list[dict[str, Any]]]]:
        """Events per type in (timestamp, row) order with their sort keys (for bisect), rebuilt
        only after events were added: an indexed timeline, like Mautic's per-type tables."""
        if self._timeline_cache is None or self._timeline_size != len(self.events):
            grouped: dict[str, list[dict[str, Any]]] = {}
            for event in self.events:
                grouped.setdefault(event["event"], []).append(event)
            cache = {}
            for kind, rows in grouped.items():
                rows.sort(key=lambda e: (e["timestamp"], e["row"]))
                cache[kind] = ([(e["timestamp"], e["row"]) for e in rows], rows)
            self._timeline_cache = cache
            self._timeline_size = len(self.events)
        return self._timeline_cache

    def generate_events(
        self, count: int, start: datetime, end: datetime, types: list[str] | None = None
    ) -> int:
        """Add ``count`` events spread evenly over [start, end) (benchmarks, demos)."""
        kinds = types or [
            "email.sent",
            "email.read",
            "page.hit",
            "form.submitted",
            "point.gained",
            "campaign.event",
        ]
        ids: list[int | None] = [*sorted(self.contacts)] or [None]
        span = (end - start).total_seconds()
        for i in range(count):
            when = start + timedelta(seconds=span * i / max(count, 1))
            self.add_event(kinds[i % len(kinds)], ids[i % len(ids)], when)
        return count

    def _event_json(self, event: dict[str, Any]) -> dict[str, Any]:
        out = {
            "event": event["event"],
            "eventId": event["eventId"],
            "eventLabel": event["eventLabel"],
            "eventType": event["eventType"],
            "timestamp": iso(event["timestamp"]),
        }
        if event["contactId"] is not None:
            out["contactId"] = str(event["contactId"])
        out["details"] = event["details"]
        return out

    # ---- contacts: writing ----------------------------------------------------------------
    @property
    def char_limit(self) -> int:
        return int(self.settings.get("char_length_limit", DEFAULT_CHAR_LIMIT) or 0)

    def validate(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The API form (§3.4): each field's value read as Mautic's form reads it
        (:func:`~.mautic_fields.bind`), then the owner and stage choices. A failure is a 400
        whose message is ``"<alias>: <msg>, ..."`` and whose details are ``{alias: [msgs]}``
        (``FormErrorMessagesTrait``). Returns (field values, booleans set directly)."""
        values, direct, errors = bind(CONTACT_FIELD, body, self.char_limit)
        for key, choices in (("owner", self.users), ("stage", self.stages)):
            if key in body and body[key] not in (None, ""):
                try:
                    ok = int(str(body[key]).strip()) in choices
                except ValueError:
                    ok = False
                if not ok:
                    errors[key] = ["This value is not valid."]
        if errors:
            message = ", ".join(f"{alias}: {msg}" for alias, msgs in errors.items() for msg in msgs)
            raise MauticFault(400, message, details=errors)
        return values, direct

    def apply(
        self,
        contact: dict[str, Any],
        body: dict[str, Any],
        method: str,
        read: tuple[dict[str, Any], dict[str, Any]] | None = None,
    ) -> None:
        """Write a validated body into a contact with POST/PATCH or PUT semantics (§9,
        ``CustomFieldsApiControllerTrait::setCustomFieldValues``, ``LeadModel::setFieldValues``)."""
        put = method == "PUT"
        values, direct = read if read is not None else self.validate(body)
        old_email = contact["values"].get("email")
        overwrite_blank = put or not php_empty(body.get("overwriteWithBlank"))
        stored = contact["values"]
        stored.update(direct)  # booleans: set before the form (RequestTrait), whatever the method
        if put:  # the form is submitted with clearMissing: every absent field is blank
            for alias in _PUT_BLANKS:
                if alias not in values and alias not in direct:
                    values[alias] = None
        for alias, value in values.items():
            if not put and value is not None and php_is_numeric(value) and php_int(float(value)) == 0:
                continue  # §9: POST/PATCH drop every numeric 0 (issue #15030)
            if (value is None or value == "" or value == 0) and not overwrite_blank:
                continue  # setFieldValues: `null == $v || '' == $v` is blank
            if alias == "points":
                contact["points"] = 0 if value is None else int(value)
            elif alias == "last_active":
                contact["lastActive"] = (
                    None
                    if value is None
                    else datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                )
            else:
                stored[alias] = value
        for key in ("owner", "stage"):
            if key in body:
                contact[key] = None if body[key] in (None, "") else int(str(body[key]).strip())
        if "tags" in body:
            self._apply_tags(contact, body["tags"])
        if body.get("ipAddress"):
            ip = str(body["ipAddress"])
            contact["ipAddresses"][ip] = {"ipAddress": ip, "ipDetails": {}}
        if body.get("lastActive"):
            contact["lastActive"] = mysql_datetime(str(body["lastActive"]))
        if stored.get("email") and contact["dateIdentified"] is None:
            contact["dateIdentified"] = self.now()
        for entry in _as_list(body.get("doNotContact")):
            if not isinstance(entry, dict):
                continue
            channel = str(entry.get("channel") or "email")
            reason = php_int(entry.get("reason", 3)) if entry.get("reason") not in (None, "") else 3
            if reason == 0:
                self.remove_dnc(contact, channel)
            else:
                self.add_dnc(contact, channel, reason, entry.get("comments"), entry.get("channelId"))
        self.touch(contact)
        if stored.get("email") != old_email or old_email is None:
            self._index(contact, old_email)

    def _apply_tags(self, contact: dict[str, Any], tags: Any) -> None:
        names = tags.split(",") if isinstance(tags, str) else [str(t) for t in _as_list(tags)]
        for name in (n.strip() for n in names):
            if not name:
                continue
            if name.startswith("-"):
                name = name[1:].strip()
                if name in contact["tags"]:
                    contact["tags"].remove(name)
                continue
            if name not in self.tags:
                self.tags[name] = len(self.tags) + 1
            if name not in contact["tags"]:
                contact["tags"].append(name)

    def upsert(self, body: dict[str, Any], batch: bool = False) -> tuple[dict[str, Any], int]:
        """``POST /contacts/new`` and one batch/new item (§3.4): 201 created, 200 updated. A
        batch item matching a contact the user may not edit is a 403 before validation; the
        single route checks only the create permission, so it updates that contact (§1.4)."""
        existing = self.find_by_unique(body)  # getNewEntity: the match comes first
        if batch and existing is not None and not self.may_edit(existing):
            raise MauticFault(403, ACCESS)
        read = self.validate(body)
        if existing is not None:
            self.apply(existing, body, "PATCH", read)
            return existing, 200
        contact = self._new_contact()
        self.apply(contact, body, "POST", read)
        return contact, 201

    def edit(self, contact_id: Any, body: dict[str, Any], method: str) -> tuple[dict[str, Any], int]:
        """``PUT|PATCH /contacts/{id}/edit`` (§3.5): PATCH 404 on missing, PUT creates."""
        try:
            contact = self.contact(contact_id)
            status = 200
        except MauticFault:
            if method != "PUT":
                raise
            read = self.validate(body)
            contact = self._new_contact()
            self.apply(contact, body, "PUT", read)
            return contact, 201
        if not self.may_edit(contact):
            raise MauticFault(403, ACCESS)
        read = self.validate(body)
        other = self.find_by_unique(body)
        if other is not None and other["id"] != contact["id"]:
            self._merge(into=contact, other=other)
        self.apply(contact, body, method, read)
        return contact, status

    def _merge(self, into: dict[str, Any], other: dict[str, Any]) -> None:
        """§3.5 edit-merge: the other contact is merged into the edited one and deleted."""
        for alias, value in other["values"].items():
            if into["values"].get(alias) in (None, "") and value not in (None, ""):
                into["values"][alias] = value
        into["points"] += other["points"]
        for tag in other["tags"]:
            if tag not in into["tags"]:
                into["tags"].append(tag)
        into["ipAddresses"].update(other["ipAddresses"])
        into["dateAdded"] = min(into["dateAdded"], other["dateAdded"])
        del self.contacts[other["id"]]
        self._index({"id": other["id"], "values": {}}, other["values"].get("email"))

    def delete(self, contact_id: Any) -> dict[str, Any]:
        contact = self.contact(contact_id)
        del self.contacts[contact["id"]]
        for nid in [n for n, note in self.notes.items() if note["lead_id"] == contact["id"]]:
            del self.notes[nid]  # lead_notes and lead_devices rows cascade with the contact
        for did in contact["devices"]:
            self.devices.pop(did, None)
        self._index({"id": contact["id"], "values": {}}, contact["values"].get("email"))
        for key in [k for k in self.group_scores if k[0] == contact["id"]]:
            del self.group_scores[key]
        return contact

    # ---- do not contact (§5) --------------------------------------------------------------
    def add_dnc(
        self,
        contact: dict[str, Any],
        channel: str,
        reason: int,
        comments: Any,
        channel_id: Any,
        when: datetime | None = None,
    ) -> None:
        for entry in contact["dnc"]:
            if entry["channel"] == channel:
                if entry["reason"] != reason and entry["reason"] != 1:
                    entry["reason"] = reason
                    entry["comments"] = comments
                return
        row = self.next_dnc_id
        self.next_dnc_id += 1
        when = when or self.now()
        contact["dnc"].append(
            {
                "id": row,
                "dateAdded": when,
                "reason": reason,
                "comments": comments,
                "channel": channel,
                "channelId": int(channel_id) if channel_id not in (None, "") else None,
            }
        )
        event = self.add_event(
            "lead.donotcontact",
            contact["id"],
            when,
            label=DNC_REASONS.get(reason, str(reason)).capitalize(),
            details={"dnc": {"channel": channel, "reason": reason, "comments": comments}},
        )
        event["eventId"] = f"lead.donotcontact{row}"

    def remove_dnc(self, contact: dict[str, Any], channel: str) -> bool:
        for entry in contact["dnc"]:
            if entry["channel"] == channel:
                contact["dnc"].remove(entry)
                return True
        return False

    # ---- points (§6) ----------------------------------------------------------------------
    def adjust_points(self, contact_id: Any, operator: str, delta: str, body: dict[str, Any]) -> None:
        contact = self.contact_to_edit(contact_id, "Contact not found.")
        if operator not in ("plus", "minus", "times", "divide"):
            raise MauticFault(400, "Invalid operator")
        amount = php_int(delta)
        if amount == 0:
            if not php_is_numeric(delta):
                raise crash()  # TypeError in addPointsChangeLogEntry
            return
        before = contact["points"]
        after = {
            "plus": before + amount,
            "minus": before - amount,
            "times": before * amount,
            "divide": int(before / amount),
        }[operator]
        contact["points"] = after
        self._log_points(contact["id"], after - before, body, None)

    def _log_points(
        self, contact_id: int, delta: int, body: dict[str, Any], group: dict[str, Any] | None
    ) -> None:
        if delta == 0:
            return
        event_name = body.get("eventName") or body.get("eventname") or "Manual change"
        action_name = body.get("actionName") or body.get("actionname") or "API"
        details = {"log": {"eventName": event_name, "actionName": action_name, "delta": delta}}
        if group is not None:
            details["log"]["group"] = {"id": group["id"], "name": group["name"]}
        self.add_event("point.gained", contact_id, label=f"{event_name} / {delta}", details=details)

    def create_point_group(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /points/groups/new``: the ``Group`` form (``name`` not blank, §6.2)."""
        group: dict[str, Any] = {
            "id": 0,
            "name": None,
            "description": None,
            "isPublished": True,
            "dateAdded": self.now(),
            "dateModified": None,
        }
        self._fill_point_group(group, body, "POST")
        group["id"] = self.next_group_id
        self.next_group_id += 1
        self.point_groups[group["id"]] = group
        return group

    def edit_point_group(
        self, group_id: Any, body: dict[str, Any], method: str
    ) -> tuple[dict[str, Any], int]:
        """``editEntityAction``: PATCH on a missing id is 404; PUT on a missing id creates a
        group with a new id (201), as for contacts."""
        try:
            group = self.point_group(group_id)
        except MauticFault:
            if method != "PUT":
                raise
            return self.create_point_group(body), 201
        draft = dict(group)
        self._fill_point_group(draft, body, method)
        draft["dateModified"] = self.now()
        group.update(draft)
        return group, 200

    @staticmethod
    def _fill_point_group(group: dict[str, Any], body: dict[str, Any], method: str) -> None:
        """The form of ``PointBundle/Form/Type/GroupType.php``: PATCH keeps absent fields; POST
        and PUT submit with clearMissing, so an absent ``name`` is blank (NotBlank "A name is
        required.", ``Group::loadValidatorMetadata``) and an absent ``isPublished`` false on PUT
        (a new group gets the entity default, published)."""
        partial = method == "PATCH"
        for key in ("name", "description"):
            if key in body or not partial:
                value = body.get(key)
                group[key] = None if value in (None, "") else str(value).strip() if key == "name" else value
        if "isPublished" in body:
            value = body["isPublished"]
            group["isPublished"] = value is True or str(value).strip().lower() in ("1", "true", "yes", "on")
        elif method == "PUT":
            group["isPublished"] = False
        if not group["name"]:
            raise MauticFault(400, "name: A name is required.", details={"name": ["A name is required."]})

    def point_group(self, group_id: Any, message: str = NOT_FOUND) -> dict[str, Any]:
        try:
            group = self.point_groups.get(int(str(group_id)))
        except ValueError:
            group = None
        if group is None:
            raise MauticFault(404, message)
        return group

    def adjust_group(
        self, contact_id: Any, group_id: Any, operator: str, value: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """§6.2 check order: contact 404 → group 404 → operator 400 → arithmetic."""
        contact = self.contact(contact_id, "Contact could not be found.")
        group = self.point_group(group_id, "The specified point group was not found.")
        if operator not in ("plus", "minus", "times", "divide", "set"):
            raise MauticFault(400, "The requested operation is not permitted.")
        if not re.fullmatch(r"-?\d+", value):
            raise crash()  # TypeError: {value} is typed int
        amount = int(value)
        key = (contact["id"], group["id"])
        before = self.group_scores.get(key, 0)
        if operator == "divide":
            if amount == 0 or before % amount != 0:
                raise crash()  # DivisionByZeroError / float into setScore(int)
            after = before // amount
        else:
            after = {
                "plus": before + amount,
                "minus": before - amount,
                "times": before * amount,
                "set": amount,
            }[operator]
        self.group_scores[key] = after
        self._log_points(contact["id"], after - before, body, group)
        return after, group

    def group_json(self, group: dict[str, Any], full: bool = False) -> dict[str, Any]:
        out = {"id": group["id"], "name": group["name"], "description": group["description"]}
        if full:
            out.update(
                isPublished=group["isPublished"],
                dateAdded=iso(group["dateAdded"]),
                dateModified=iso(group["dateModified"]),
                createdBy=1,
                createdByUser="Ada Admin",
                modifiedBy=None,
                modifiedByUser=None,
            )
        return out

    # ---- serialising (§3.2) ---------------------------------------------------------------
    def contact_json(self, contact: dict[str, Any], minimal: bool = False) -> dict[str, Any]:
        values = contact["values"]
        groups: dict[str, Any] = {"core": {}, "social": {}, "personal": {}, "professional": {}}
        flat: dict[str, Any] = {"id": contact["id"]}
        for alias, group, kind, meta, f in _SERIALISE:
            if kind == 0:
                value = values[alias]
            elif kind == 1:  # points: always an int (fixNumbers)
                value = contact["points"]
            elif kind == 2:  # last_active: the lastActive column, as DBAL reads it
                moment = contact["lastActive"]
                value = None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
            else:  # numbers and booleans
                value = shown(f, values[alias])
            entry = meta.copy()
            entry["value"] = value
            entry["normalizedValue"] = "" if value is None else (value if kind != 4 else normalized(f, value))
            groups[group][alias] = entry
            flat[alias] = value
        groups["all"] = flat
        out: dict[str, Any] = {
            "id": contact["id"],
            "isPublished": True,
            "dateAdded": iso(contact["dateAdded"]),
            "dateModified": iso(contact["dateModified"]),
            "createdBy": contact["createdBy"],
            "createdByUser": self.user_name(contact["createdBy"]),
            "modifiedBy": contact["modifiedBy"],
            "modifiedByUser": self.user_name(contact["modifiedBy"]),
            "points": contact["points"],
            "color": None,
            "fields": groups,
        }
        if minimal:
            return out
        stage = self.stages.get(contact["stage"]) if contact["stage"] is not None else None
        out.update(
            lastActive=iso(contact["lastActive"]),
            owner=self.owner_json(contact["owner"]),
            ipAddresses=contact["ipAddresses"],
            tags=[{"id": self.tags[t], "tag": t, "description": None} for t in contact["tags"]],
            utmtags=[self.utm_json(u) for u in contact["utmtags"]],
            stage=self.stage_json(stage, iso, full=False) if stage else None,
            dateIdentified=iso(contact["dateIdentified"]),
            preferredProfileImage="gravatar",
            doNotContact=[
                {k: (iso(v) if k == "dateAdded" else v) for k, v in entry.items()} for entry in contact["dnc"]
            ],
            frequencyRules=[],
        )
        return out

    # ---- listing (§3.1) -------------------------------------------------------------------
    def list_contacts(self, query: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
        rows = list(self.contacts.values())
        search = str(query.get("search") or "").strip()
        if search:
            segments = {s["alias"]: s["id"] for s in self.segments.values()}
            rows = [c for c in rows if _search_match(c, search, segments)]
        for clause in _as_list(query.get("where")):
            rows = [c for c in rows if _where_match(c, clause)]
        order = _as_list(query.get("order"))
        if order:
            keys = [
                (str(o.get("col", "")), str(o.get("dir", "ASC")).upper())
                for o in order
                if isinstance(o, dict)
            ]
        elif query.get("orderBy"):
            direction = str(query.get("orderByDir") or "ASC").upper()
            keys = [(col.strip(), direction) for col in str(query["orderBy"]).split(",")]
        else:
            keys = [("last_active", "DESC")]
        for col, direction in reversed(keys):
            rows.sort(key=functools.partial(_sort_value, col=col), reverse=(direction == "DESC"))
        total = len(rows)
        start = max(0, php_int(query.get("start", 0)))
        limit_raw = query.get("limit", 30)
        if limit_raw in (None, "", "0", 0):
            page = rows[start:]
        else:
            page = rows[start : start + max(0, php_int(limit_raw))]
        return total, page

    def list_campaign_members(self, campaign: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
        """``GET /campaigns/{id}/contacts`` (``CampaignApiController::getContactsAction``, run by
        ``StatsApiController::listAction`` over ``campaign_leads``): the caller's ``where``
        plus campaign and ``manually_removed = 0``; ``order``; ``start``, ``limit`` (default
        100). ``total`` is the raw count (text). A failing query is caught by ``listAction``
        and answered with **HTTP 200** and ``errors`` (§13.3)."""
        rows = self.campaign_members(campaign)
        try:
            for clause in _as_list(query.get("where")):
                _where_match(_MEMBER_ROW, clause, _member_column)  # SQL fails even with no rows
                rows = [r for r in rows if _where_match(r, clause, _member_column)]
            for order in reversed(_as_list(query.get("order"))):
                col, direction = str(order.get("col", "")), str(order.get("dir", "ASC")).upper()
                rows.sort(key=_member_sort_key(col), reverse=(direction == "DESC"))
        except MauticFault:
            return {"errors": [{"message": STATS_QUERY_FAILED, "code": 0}]}
        start = max(0, php_int(query.get("start", 0)))
        limit = php_int(query.get("limit", 100))
        return {"total": str(len(rows)), "contacts": rows[start : start + limit]}


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        return [value[k] for k in sorted(value, key=lambda k: (len(str(k)), str(k)))]
    if isinstance(value, list):
        return value
    return [value]


def _label_text(event: dict[str, Any]) -> str:
    label = event["eventLabel"]
    return str(label.get("label", "")) if isinstance(label, dict) else str(label or "")


def _number(value: Any) -> Any:
    if value in (None, ""):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() else number


def _column(contact: dict[str, Any], col: str) -> Any:
    col = col.strip()
    if col.startswith("l."):
        col = col[2:]
    col = re.sub(r"(?<!^)(?=[A-Z])", "_", col).lower()  # convertOrmProperties
    if col == "id":
        return contact["id"]
    if col == "points":
        return contact["points"]
    if col in ("date_added", "date_modified", "last_active", "date_identified"):
        key = {
            "date_added": "dateAdded",
            "date_modified": "dateModified",
            "last_active": "lastActive",
            "date_identified": "dateIdentified",
        }[col]
        return contact[key]
    if col in CONTACT_FIELD:
        return contact["values"].get(col)
    raise crash()  # unknown column → SQL error


def _sort_value(contact: dict[str, Any], col: str) -> tuple:
    value = _column(contact, col)
    return (value is not None, value if not isinstance(value, str) else value.lower())


_MEMBER_ROW: dict[str, str | None] = dict.fromkeys(
    ("campaign_id", "lead_id", "manually_removed", "manually_added", "rotation"), "0"
)
_MEMBER_ROW.update(date_added="1970-01-01 00:00:00", date_last_exited=None)


def _member_sort_key(col: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: _member_column(row, col)


def _member_column(row: dict[str, Any], col: str) -> Any:
    """A ``campaign_leads`` column as the database compares it; an unknown one fails the query."""
    col = col.strip().split(".")[-1]
    if col not in row:
        raise crash()
    value = row[col]
    if value is None or col in ("date_added", "date_last_exited"):
        return None if value is None else mysql_datetime(value)
    return int(value)


def _comparable(value: Any, x: Any) -> Any:
    """``x`` as the database compares it with the column's ``value``."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return int(str(x))
        except ValueError:
            return x
    if isinstance(value, datetime):
        return mysql_datetime(str(x))
    return str(x).lower() if x is not None else None


def _where_match(contact: dict[str, Any], clause: Any, column: Any = None) -> bool:
    if (
        not isinstance(clause, dict)
        or "expr" not in clause
        or ("col" not in clause and clause.get("expr") not in ("andX", "orX"))
    ):
        raise crash()  # InvalidArgumentException
    expr = clause["expr"]
    if expr in ("andX", "orX"):
        parts = [_where_match(contact, c, column) for c in _as_list(clause.get("val"))]
        return all(parts) if expr == "andX" else any(parts)
    value = (column or _column)(contact, str(clause["col"]))
    target = clause.get("val")
    comparable = functools.partial(_comparable, value)
    own = value.lower() if isinstance(value, str) else value
    if expr == "isNull":
        return value is None
    if expr == "isNotNull":
        return value is not None
    if expr == "isEmpty":
        return value in (None, "")
    if expr == "isNotEmpty":
        return value not in (None, "")
    if expr in ("in", "notIn"):
        items = target.split(",") if isinstance(target, str) else _as_list(target)
        hit = own in {comparable(i.strip() if isinstance(i, str) else i) for i in items}
        return hit if expr == "in" else not hit
    if expr in ("between", "notBetween"):
        low, high = (_as_list(target) + [None, None])[:2]
        hit = own is not None and comparable(low) <= own <= comparable(high)
        return hit if expr == "between" else not hit
    if expr in ("like", "notLike"):
        pattern = "^" + re.escape(str(target).lower()).replace("%", ".*").replace("_", ".") + "$"
        hit = own is not None and re.match(pattern, str(own)) is not None
        return hit if expr == "like" else not hit
    if own is None:
        return False
    rhs = comparable(target)
    try:
        return {
            "eq": own == rhs,
            "neq": own != rhs,
            "lt": own < rhs,
            "lte": own <= rhs,
            "gt": own > rhs,
            "gte": own >= rhs,
        }[expr]
    except KeyError:
        raise crash() from None
    except TypeError:
        return False


def _search_match(contact: dict[str, Any], search: str, segments: dict[str, int]) -> bool:
    """A small subset of the search commands (§3.1): ``email:``, ``ids:``, ``segment:``,
    ``tag:``, ``is:anonymous`` / ``!is:anonymous`` and free text over names and email."""
    values = contact["values"]
    if ":" in search:
        command, _, arg = search.partition(":")
        arg = arg.strip().lower()
        command = command.strip().lower()
        if command == "email":
            return str(values.get("email") or "").lower() == arg
        if command == "ids":
            return str(contact["id"]) in {a.strip() for a in arg.split(",")}
        if command == "segment":
            return segments.get(arg) in contact["segments"]
        if command == "tag":
            return arg in {t.lower() for t in contact["tags"]}
        if command in ("is", "!is") and arg == "anonymous":
            anonymous = contact["dateIdentified"] is None
            return anonymous if command == "is" else not anonymous
    needle = search.lower()
    hay = " ".join(str(values.get(k) or "") for k in ("firstname", "lastname", "email", "company")).lower()
    return needle in hay
