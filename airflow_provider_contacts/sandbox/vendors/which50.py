"""Which50 emulator (research/vendors.md C and D).

ASP.NET Web API style: PascalCase JSON, top-level arrays (no envelope), ``{"Message": ...}``
error bodies, opaque encrypted contact ids (URL-safe Base64 here), 404 for an unknown contact
or list. Which50's auth scheme is undocumented: the emulator accepts one configurable header
(``X-Api-Key``); a second key is read-only (403 on writes).

Routes (relative to ``/Which50API``): ``contacts/{id}``, ``contacts/{id}/communications``,
``contacts/{id}/emails``, ``contactLists``, ``contactLists/{id}``, ``contactLists/{id}/fields``,
and ``POST|PUT contactLists/{id}/contact[?match=A,B]`` (create, or update the contacts whose
values match; the answer is the Contact with ``ValidationWarnings``; 201 on create, 200 on
update: the real status codes are undocumented, this is the emulator's choice).
"""

from __future__ import annotations

import base64
import functools
import inspect
import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_contacts.sandbox.base import VendorEmulator

HEADER_NAME = "X-Api-Key"
API_KEY = "sandbox-which50-key"
READONLY_KEY = "sandbox-which50-readonly"
DENIED = "Request has been denied as it lacks valid Authentication credentials"
FORBIDDEN = "The user does not have the relevant permissions"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: list id -> (name, [(field id, Name, MapType)])
LISTS: dict[int, tuple[str, list[tuple[int, str, str]]]] = {
    1: ("Newsletter", [(11, "Email", "Email"), (12, "FirstName", "Text"), (13, "LastName", "Text"),
                       (14, "Mobile", "Mobile"), (15, "ReferanceAccountId", "Number")]),
    2: ("Events", [(21, "Email", "Email"), (22, "FirstName", "Text"), (23, "Company", "Text")]),
}
INTERACTIONS = [("Email", "Monthly newsletter", "Opened"), ("Email", "Spring offer", "Clicked"),
                ("SMS", "Reminder", "Delivered"), ("LandingPage", "Pricing page", "Visited"),
                ("WebForm", "Request a demo", "Submitted"), ("Event", "Dublin meetup", "Attended")]


def occurred_text(when: datetime) -> str:
    """``2024-12-27T18:06:00.6960966+00:00``: ISO 8601 with 7 fractional digits and an offset."""
    when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}0+00:00"


def encrypt_id(internal: int) -> str:
    return base64.urlsafe_b64encode(f"w50c:{internal:08d}".encode()).decode().rstrip("=")


class Which50Fault(Exception):
    """An error answer: HTTP ``status`` with ``{"Message": text, **extra}``."""

    def __init__(self, status: int, text: str, **extra: Any) -> None:
        super().__init__(text)
        self.status, self.text, self.extra = status, text, extra


class Which50Emulator(VendorEmulator):
    name = "which50"
    mount = "/which50"
    base_path = "/Which50API"
    defaults = {"seed_contacts": 20}

    def reset(self, seed: int | None = None, empty: bool = False) -> None:
        super().reset(seed, empty)
        with self.lock:
            self.rng = random.Random(self.seed)
            self.contacts: dict[str, dict[str, Any]] = {}
            self.interactions: dict[str, list[dict[str, Any]]] = {}
            self.next_id = 1
            self.next_interaction = 1000
            if not empty:
                now = datetime.fromtimestamp(self.clock(), timezone.utc)
                for i in range(int(self.settings["seed_contacts"])):
                    contact = self.add_contact(1 if i % 4 else 2, {"Email": f"w{i}@example.ie", "FirstName": f"Pat{i}"})
                    for _ in range(self.rng.randint(0, 4)):
                        kind, name, status = self.rng.choice(INTERACTIONS)
                        self.add_interaction(contact["EncContactId"], kind, name, status,
                                             now - timedelta(minutes=self.rng.randint(30, 10 * 24 * 60)))

    @property
    def lists(self) -> list[dict[str, Any]]:
        return [{"Id": i, "Name": name, "Count": sum(1 for c in self.contacts.values() if c["ListId"] == i)}
                for i, (name, _fields) in LISTS.items()]

    # state helpers (tests use them too) ------------------------------------------------------
    def add_contact(self, list_id: int, values: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            enc = encrypt_id(self.next_id)
            contact = {"Id": self.next_id, "EncContactId": enc, "ListId": list_id, "Values": dict(values)}
            self.next_id += 1
            self.contacts[enc] = contact
            self.interactions[enc] = []
            return contact

    def add_interaction(self, enc_id: str, kind: str, name: str, status: str, when: datetime | None = None,
                        campaign: tuple[int, str] | None = None) -> dict[str, Any]:
        with self.lock:
            when = when or datetime.fromtimestamp(self.clock(), timezone.utc)
            campaign_id, campaign_name = campaign or (7, "Autumn 2026")
            item = {"Id": self.next_interaction, "Interaction": kind, "Name": name, "Occurred": occurred_text(when),
                    "Status": status, "CampaignId": campaign_id, "CampaignName": campaign_name}
            self.next_interaction += 1
            self.interactions[enc_id].append(item)
            return item

    def contact_by_value(self, list_id: int, field: str, value: Any) -> dict[str, Any] | None:
        return next((c for c in self.contacts.values()
                     if c["ListId"] == list_id and str(c["Values"].get(field, "")).lower() == str(value).lower()), None)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"contacts": len(self.contacts), "interactions": sum(len(v) for v in self.interactions.values())}

    # answers ----------------------------------------------------------------------------------
    @staticmethod
    def message(status: int, text: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"Message": text, **extra}, status_code=status)

    def fault_response(self, status: int, retry_after: float):
        headers = {"Retry-After": f"{retry_after:g}"} if status == 429 else {}
        return JSONResponse({"Message": "An error has occurred."}, status_code=status, headers=headers)

    def contact_json(self, contact: dict[str, Any], warnings: list[str] | None = None) -> dict[str, Any]:
        return {"ValidationWarnings": list(warnings or []), "EncContactId": contact["EncContactId"],
                "ListId": contact["ListId"], "Values": dict(contact["Values"])}

    # routing ----------------------------------------------------------------------------------
    def build_router(self):
        router = APIRouter()
        prefix = "/Which50API"

        def auth(request: Request, write: bool = False) -> None:
            key = request.headers.get(HEADER_NAME)
            if key not in (API_KEY, READONLY_KEY):
                raise Which50Fault(401, DENIED)
            if write and key == READONLY_KEY:
                raise Which50Fault(403, FORBIDDEN)

        def contact_of(request: Request, contact_id: str) -> dict[str, Any]:
            auth(request)
            contact = self.contacts.get(contact_id)
            if contact is None:
                raise Which50Fault(404, f"Contact {contact_id} was not found")
            return contact

        def list_of(request: Request, list_id: str, write: bool = False) -> int:
            auth(request, write)
            if not list_id.isdigit() or int(list_id) not in LISTS:
                raise Which50Fault(404, f"Contact list {list_id} was not found")
            return int(list_id)

        def answers(handler):
            """Turn a :class:`Which50Fault` raised by ``handler`` into its ``{"Message"}`` answer."""
            if inspect.iscoroutinefunction(handler):
                @functools.wraps(handler)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    try:
                        return await handler(*args, **kwargs)
                    except Which50Fault as fault:
                        return self.message(fault.status, fault.text, **fault.extra)
                return async_wrapper

            @functools.wraps(handler)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return handler(*args, **kwargs)
                except Which50Fault as fault:
                    return self.message(fault.status, fault.text, **fault.extra)
            return wrapper

        @router.get(prefix + "/contactLists")
        @answers
        def contact_lists(request: Request) -> Any:
            auth(request)
            return self.lists

        @router.get(prefix + "/contactLists/{list_id}")
        @answers
        def contact_list(list_id: str, request: Request) -> Any:
            found = list_of(request, list_id)
            return next(x for x in self.lists if x["Id"] == found)

        @router.get(prefix + "/contactLists/{list_id}/fields")
        @answers
        def fields(list_id: str, request: Request) -> Any:
            found = list_of(request, list_id)
            return [{"Id": fid, "Name": name, "DefaultValue": None, "MapType": map_type, "Position": pos,
                     "ContactSchemaFieldValues": []} for pos, (fid, name, map_type) in enumerate(LISTS[found][1])]

        @router.get(prefix + "/contacts/{contact_id}")
        @answers
        def contact(contact_id: str, request: Request) -> Any:
            return self.contact_json(contact_of(request, contact_id))

        @router.get(prefix + "/contacts/{contact_id}/communications")
        @answers
        def communications(contact_id: str, request: Request) -> Any:
            contact_of(request, contact_id)
            with self.lock:
                return list(self.interactions[contact_id])

        @router.get(prefix + "/contacts/{contact_id}/emails")
        @answers
        def emails(contact_id: str, request: Request) -> Any:
            contact_of(request, contact_id)
            with self.lock:
                return [{"Id": i["Id"], "Name": i["Name"], "Date": i["Occurred"], "Delivered": 1,
                         "Open": int(i["Status"] in ("Opened", "Clicked")), "Read": int(i["Status"] in ("Opened", "Clicked")),
                         "Link": int(i["Status"] == "Clicked")}
                        for i in self.interactions[contact_id] if i["Interaction"] == "Email"]

        @router.api_route(prefix + "/contactLists/{list_id}/contact", methods=["POST", "PUT"])
        @answers
        async def upsert(list_id: str, request: Request) -> Any:
            found = list_of(request, list_id, write=True)
            try:
                body = await request.json()
            except Exception:
                body = None
            values = (body or {}).get("Values", (body or {}).get("values")) if isinstance(body, dict) else None
            if not isinstance(values, dict):
                return self.message(400, "The request is invalid.",
                                    ModelState={"contact.Values": ["The Values field is required."]})
            known = {name: name for _fid, name, _t in LISTS[found][1]}
            lower = {name.lower(): name for name in known}
            clean: dict[str, Any] = {}
            warnings: list[str] = []
            for name, value in values.items():
                field = lower.get(str(name).lower())
                if field is None:
                    warnings.append(f"Field '{name}' does not exist in contact list {found} and was ignored")
                    continue
                clean[field] = value
            email = clean.get("Email")
            if email not in (None, "") and not EMAIL_RE.match(str(email)):
                return self.message(400, "The request is invalid.",
                                    ModelState={"contact.Values.Email": [f"'{email}' is not a valid email address"]})
            match = [m.strip() for m in (request.query_params.get("match") or "").split(",") if m.strip()]
            with self.lock:
                matched: list[dict[str, Any]] = []
                if match:
                    fields_ = [lower.get(m.lower()) for m in match]
                    if None in fields_:
                        return self.message(400, f"match: unknown field(s) {', '.join(match)}")
                    if any(clean.get(f) in (None, "") for f in fields_):
                        return self.message(400, f"match: the body has no value for {', '.join(match)}")
                    matched = [c for c in self.contacts.values() if c["ListId"] == found and all(
                        str(c["Values"].get(f, "")).lower() == str(clean[f]).lower() for f in fields_)]
                if matched:
                    for c in matched:
                        c["Values"].update(clean)
                    return JSONResponse(self.contact_json(matched[0], warnings), status_code=200)
                created = self.add_contact(found, clean)
                return JSONResponse(self.contact_json(created, warnings), status_code=201)

        return router

    def connection(self, root_url: str) -> dict[str, Any]:
        return {
            "conn_type": "which50",
            "host": self.base_url(root_url),
            "extra": {"auth_type": "header", "header_name": HEADER_NAME, "api_key": API_KEY,
                      "contact_list_id": 1},
        }

    def credentials_text(self) -> str:
        return f"header {HEADER_NAME}: {API_KEY} (read-only: {READONLY_KEY}); contact list 1"
