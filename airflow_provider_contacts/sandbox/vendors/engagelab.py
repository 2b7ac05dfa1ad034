"""EngageLab LiveDesk emulator (docs/vendors/engagelab.md B and D; LiveDesk is Chatwoot-derived).

* Basic ``api_key:api_secret`` on every call, else 401 ``{"error": "Invalid Access Token"}``;
* ``GET /api/v2/accounts/contacts``: list and search in one (``q`` on name/email/phone/
  identifier, exact id when numeric), ``labels`` any-match, ``sort`` (a ``-`` prefix means
  descending, as Chatwoot's clients send it) and ``direction`` (LiveDesk's documented
  parameter), 15 per page, ``meta.count`` the total, ``meta.current_page`` echoing the raw
  ``page`` (a string when sent, the integer 1 when not); only "resolved" contacts (with an
  email, phone number or identifier) are listed;
* ``POST`` creates (``inbox_id`` required, as LiveDesk documents), ``PATCH /:id`` updates and
  merges ``additional_attributes`` / ``custom_attributes``;
* 422 ``{"message", "attributes"}`` for a taken email/phone/identifier, an invalid email, a
  phone not in E.164; 404 ``{"error": "Resource could not be found"}``; email is lower-cased.

Settings: ``seed_contacts`` (25), ``inbox_ids`` ([1]), and the readings the document leaves
open: ``count_means`` (``total``: ``meta.count`` is every matching contact; ``page``: the
length of this page), ``field_types`` (``numbers`` as in the example, or ``strings`` for
``id``, ``created_at``, ``last_activity_at`` as the field table says), ``null_last_activity``
(``omit`` the key or send ``null``). Contacts carry ``contact_inboxes[].inbox`` with every
documented key (``id``, ``channel_id``, ``name``, ``channel_type``, ``provider``); seeded email
contacts have ``additional_attributes.source_id`` as in the document's example.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_contacts.sandbox.base import VendorEmulator, basic_credentials

API_KEY = "sandbox-api-key"
API_SECRET = "sandbox-api-secret"
INBOX_ID = 1
PER_PAGE = 15
NOT_FOUND = {"error": "Resource could not be found"}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
E164_RE = re.compile(r"^\+[1-9]\d{1,14}$")
SORTABLE = {"email", "name", "phone_number", "last_activity_at", "created_at", "company", "city", "country"}
WRITABLE = ("name", "email", "phone_number", "identifier", "blocked", "avatar_url")

DEFAULTS: dict[str, Any] = {
    "seed_contacts": 25,
    "inbox_ids": [INBOX_ID],
    # what the document leaves open, each reading playable:
    "count_means": "total",  # meta.count "count of results": the total, or "page" (this page's length)
    "field_types": "numbers",  # id, created_at, last_activity_at as in the example, or "strings" (the field table)
    "null_last_activity": "omit",  # a contact never active: the key left out, or "null"
}


class EngageLabEmulator(VendorEmulator):
    name = "engagelab"
    mount = "/engagelab"
    defaults = DEFAULTS

    def reset(self, seed: int | None = None, empty: bool = False) -> None:
        super().reset(seed)
        with self.lock:
            self.contacts: dict[int, dict[str, Any]] = {}
            self.next_id = 1
            self.rng = random.Random(self.seed)
            if not empty:
                now = int(self.clock())
                for i in range(int(self.settings["seed_contacts"])):
                    unresolved = i % 12 == 11  # a visitor with no email, phone or identifier
                    self.add_contact(
                        name=f"Visitor {i}" if unresolved else f"Lena Park {i}",
                        email=None if unresolved else f"ld{i}@example.com",
                        phone_number=None if unresolved or i % 3 else f"+6590000{i:03d}",
                        created_at=now - (30 - i) * 86400,
                        last_activity_at=now - self.rng.randint(3600, 20 * 86400) if i % 2 == 0 else None,
                        labels=["vip"] if i % 4 == 0 else [],
                        custom_attributes={"plan": self.rng.choice(["free", "pro"])},
                        additional_attributes={"city": "Singapore", "company_name": f"Co {i % 5}"},
                    )
                    if i % 5 == 0 and not unresolved:  # came in by email, as in the document's example
                        contact = self.contacts[self.next_id - 1]
                        source = (
                            f"email:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}.{contact['email']}"
                        )
                        contact["additional_attributes"]["source_id"] = source
                        contact["contact_inboxes"] = [
                            {
                                "source_id": contact["email"],
                                "inbox": {
                                    "id": 985,
                                    "channel_id": 107,
                                    "name": "邮箱",
                                    "channel_type": "Channel::Email",
                                    "provider": None,
                                },
                            }
                        ]

    # state helpers (tests use them too) ------------------------------------------------------
    def add_contact(
        self,
        *,
        created_at: int | None = None,
        last_activity_at: int | None = None,
        labels: list[str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        with self.lock:
            contact: dict[str, Any] = {
                "additional_attributes": dict(fields.pop("additional_attributes", None) or {}),
                "availability_status": "offline",
                "email": (fields.get("email") or None) and str(fields["email"]).strip().lower(),
                "id": self.next_id,
                "name": fields.get("name") or "",
                "phone_number": fields.get("phone_number") or None,
                "blocked": bool(fields.get("blocked", False)),
                "identifier": fields.get("identifier") or None,
                "thumbnail": fields.get("avatar_url") or "",
                "custom_attributes": dict(fields.pop("custom_attributes", None) or {}),
                "last_activity_at": last_activity_at,
                "created_at": int(created_at if created_at is not None else self.clock()),
                "labels": list(labels or []),
                "contact_inboxes": [],
            }
            self.next_id += 1
            self.contacts[contact["id"]] = contact
            return contact

    def touch(self, contact_id: int, when: datetime | None = None) -> None:
        """Activity on a contact (a conversation message), as LiveDesk records it."""
        with self.lock:
            self.contacts[contact_id]["last_activity_at"] = int(
                (when or datetime.now(timezone.utc)).timestamp()
            )

    def contact_by_email(self, email: str) -> dict[str, Any] | None:
        email = email.strip().lower()
        return next((c for c in self.contacts.values() if c["email"] == email), None)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"contacts": len(self.contacts), "settings": dict(self.settings)}

    # json --------------------------------------------------------------------------------------
    def contact_json(self, contact: dict[str, Any], with_inboxes: bool = True) -> dict[str, Any]:
        out = {k: v for k, v in contact.items() if k not in ("labels", "contact_inboxes")}
        if out["last_activity_at"] is None and self.settings["null_last_activity"] != "null":
            del out["last_activity_at"]  # omitted when null, as Chatwoot's jbuilder view does
        if self.settings["field_types"] == "strings":
            for key in ("id", "created_at", "last_activity_at"):
                if out.get(key) is not None:
                    out[key] = str(out[key])
        if with_inboxes:
            out["contact_inboxes"] = [
                {**entry, "inbox": dict(entry["inbox"])} for entry in contact["contact_inboxes"]
            ]
        return out

    def fault_response(self, status: int, retry_after: float):
        from fastapi.responses import PlainTextResponse

        if status == 429:  # Rack::Attack's default throttled answer
            return PlainTextResponse(
                "Retry later\n", status_code=429, headers={"Retry-After": f"{retry_after:g}"}
            )
        return JSONResponse({"error": "Internal Server Error"}, status_code=status)

    # validation --------------------------------------------------------------------------------
    def _validate(self, data: dict[str, Any], current_id: int | None) -> tuple[list[str], list[str]]:
        messages: list[str] = []
        attributes: list[str] = []

        def taken(field: str, value: Any) -> bool:
            return any(c[field] == value and c["id"] != current_id for c in self.contacts.values())

        email = data.get("email")
        if email not in (None, ""):
            email = str(email).strip().lower()
            if not EMAIL_RE.match(email):
                messages.append("Email Invalid email")
                attributes.append("email")
            elif taken("email", email):
                messages.append("Email has already been taken")
                attributes.append("email")
        phone = data.get("phone_number")
        if phone not in (None, ""):
            if not E164_RE.match(str(phone)):
                messages.append("Phone number should be in e164 format")
                attributes.append("phone_number")
            elif taken("phone_number", phone):
                messages.append("Phone number has already been taken")
                attributes.append("phone_number")
        identifier = data.get("identifier")
        if identifier not in (None, "") and taken("identifier", identifier):
            messages.append("Identifier has already been taken")
            attributes.append("identifier")
        return messages, attributes

    # routing -----------------------------------------------------------------------------------
    def _authorized(self, header: str | None) -> bool:
        return basic_credentials(header) == (API_KEY, API_SECRET)

    def build_router(self):
        router = APIRouter()
        router.add_api_route("/api/v2/accounts/contacts", self._list_contacts, methods=["GET"])
        router.add_api_route("/api/v2/accounts/contacts", self._create_contact, methods=["POST"])
        router.add_api_route(
            "/api/v2/accounts/contacts/{contact_id}", self._update_contact, methods=["PATCH"]
        )
        return router

    # ---- the routes ----------------------------------------------------------------------------
    def _list_contacts(self, request: Request) -> Any:
        if not self._authorized(request.headers.get("authorization")):
            return _denied()
        query = request.query_params
        raw_page = query.get("page")
        try:
            page = max(1, int(raw_page)) if raw_page is not None else 1
        except ValueError:
            page = 1
        with self.lock:
            rows = self._sorted(self._matching(query), query)
            include = (query.get("include_contact_inboxes") or "true").lower() != "false"
            payload = [self.contact_json(c, include) for c in rows[(page - 1) * PER_PAGE : page * PER_PAGE]]
            count = len(payload) if self.settings["count_means"] == "page" else len(rows)
            return {
                "meta": {"count": count, "current_page": raw_page if raw_page is not None else 1},
                "payload": payload,
            }

    def _matching(self, query: Any) -> list[dict[str, Any]]:
        """The listed contacts (those with an email, a phone or an identifier) that match ``q``
        and carry one of ``labels``."""
        rows = [c for c in self.contacts.values() if c["email"] or c["phone_number"] or c["identifier"]]
        q = (query.get("q") or "").strip().lower()
        if q:
            rows = [
                c
                for c in rows
                if (q.isdigit() and c["id"] == int(q))
                or any(q in str(c[f] or "").lower() for f in ("name", "email", "phone_number", "identifier"))
            ]
        labels = query.getlist("labels[]") or query.getlist("labels")
        labels = [x for value in labels for x in value.split(",") if x]
        if labels:
            rows = [c for c in rows if set(labels) & set(c["labels"])]
        return rows

    @staticmethod
    def _sorted(rows: list[dict[str, Any]], query: Any) -> list[dict[str, Any]]:
        sort = query.get("sort") or ""
        descending = sort.startswith("-") or (query.get("direction") or "").lower() == "desc"
        field = sort.lstrip("-")
        if field not in SORTABLE:
            return sorted(rows, key=lambda c: c["id"])

        def sort_key(c: dict[str, Any]) -> tuple[int, Any]:
            value = (
                c.get(field)
                if field in c
                else c["additional_attributes"].get("company_name" if field == "company" else field)
            )
            # nulls last whatever the direction (PostgreSQL's NULLS LAST as Sift sorts)
            if value is None:
                return (1, 0)
            if field in ("created_at", "last_activity_at"):
                try:
                    return (0, float(value))
                except (TypeError, ValueError):  # a test's unreadable value: with the nulls
                    return (1, 0)
            return (0, value)

        present = sorted((c for c in rows if sort_key(c)[0] == 0), key=sort_key, reverse=descending)
        return present + [c for c in rows if sort_key(c)[0] == 1]

    async def _create_contact(self, request: Request) -> Any:
        if not self._authorized(request.headers.get("authorization")):
            return _denied()
        data = await _body_of(request)
        if data is None:
            return JSONResponse({"error": "The request body must be a JSON object"}, status_code=422)
        with self.lock:
            inbox_id = data.get("inbox_id")
            if inbox_id in (None, ""):
                return JSONResponse({"message": "Inbox must exist", "attributes": ["inbox"]}, status_code=422)
            if int(inbox_id) not in [int(i) for i in self.settings["inbox_ids"]]:
                return JSONResponse(NOT_FOUND, status_code=404)
            messages, attributes = self._validate(data, None)
            if messages:
                return JSONResponse(
                    {"message": ", ".join(messages), "attributes": attributes}, status_code=422
                )
            fields = {k: data[k] for k in WRITABLE if k in data}
            contact = self.add_contact(
                additional_attributes=data.get("additional_attributes"),
                custom_attributes=data.get("custom_attributes"),
                **fields,
            )
            source_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            inbox = {
                "id": int(inbox_id),
                "channel_id": 100 + int(inbox_id),
                "name": "API inbox",
                "channel_type": "Channel::Api",
                "provider": None,
            }
            contact["contact_inboxes"] = [{"source_id": source_id, "inbox": inbox}]
            return {
                "payload": {
                    "contact": self.contact_json(contact),
                    "contact_inbox": {"inbox": inbox, "source_id": source_id},
                }
            }

    async def _update_contact(self, contact_id: str, request: Request) -> Any:
        if not self._authorized(request.headers.get("authorization")):
            return _denied()
        data = await _body_of(request)
        with self.lock:
            contact = self.contacts.get(int(contact_id)) if contact_id.isdigit() else None
            if contact is None:
                return JSONResponse(NOT_FOUND, status_code=404)
            if data is None:
                return JSONResponse({"error": "The request body must be a JSON object"}, status_code=422)
            messages, attributes = self._validate(data, contact["id"])
            if messages:
                return JSONResponse(
                    {"message": ", ".join(messages), "attributes": attributes}, status_code=422
                )
            for key in WRITABLE:
                if key in data:
                    value = data[key]
                    if key == "email" and value:
                        value = str(value).strip().lower()
                    contact["thumbnail" if key == "avatar_url" else key] = value
            for key in ("additional_attributes", "custom_attributes"):
                if isinstance(data.get(key), dict):
                    contact[key].update(data[key])  # an incremental merge (LiveDesk docs)
            return {"payload": self.contact_json(contact)}

    def connection(self, root_url: str) -> dict[str, Any]:
        return {
            "conn_type": "engagelab",
            "host": self.base_url(root_url),
            "login": API_KEY,
            "password": API_SECRET,
            "extra": {"inbox_id": INBOX_ID},
        }

    def credentials_text(self) -> str:
        return f"Basic {API_KEY} / {API_SECRET}, inbox_id {INBOX_ID}"


def _denied() -> JSONResponse:
    return JSONResponse({"error": "Invalid Access Token"}, status_code=401)


async def _body_of(request: Request) -> dict[str, Any] | None:
    try:
        data = await request.json()
    except Exception:
        return None
    return data if isinstance(data, dict) else None
