"""Which50 emulator (docs/vendors/which50.md C and D).

ASP.NET Web API style: PascalCase JSON, top-level arrays (no envelope), ``{"Message": ...}``
error bodies, opaque encrypted contact ids (URL-safe Base64 here), 404 for an unknown contact
or list. Which50's auth scheme is undocumented: the emulator accepts one configurable header
(``X-Api-Key``); a second key is read-only (403 on writes).

Routes (relative to ``/Which50API``): ``contacts/{id}``, ``contacts/{id}/communications``,
``contacts/{id}/emails``, ``contactLists``, ``contactLists/{id}``, ``contactLists/{id}/fields``,
and ``POST|PUT contactLists/{id}/contact[?match=A,B]`` (create, or update the contacts whose
values match; the answer is the Contact with ``ValidationWarnings``; 201 on create, 200 on
update: the real status codes are undocumented, this is the emulator's choice).

Formats, as the document lists them: JSON (``application/json``, ``text/json``, no ``Accept``)
or DataContract XML (``application/xml``, ``text/xml``: ``ArrayOfContactInteraction`` with
``Occurred`` as a DateTimeOffset, members in alphabetical order); any other ``Accept`` gets 406.
Interaction ids are counted per interaction type, so two interactions of different types can
share an ``Id``.
"""

from __future__ import annotations

import base64
import functools
import inspect
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_contacts.sandbox.base import VendorEmulator

HEADER_NAME = "X-Api-Key"
API_KEY = "sandbox-which50-key"
READONLY_KEY = "sandbox-which50-readonly"
DENIED = "Request has been denied as it lacks valid Authentication credentials"
FORBIDDEN = "The user does not have the relevant permissions"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: list id -> (name, [(field id, Name, MapType)])
LISTS: dict[int, tuple[str, list[tuple[int, str, str]]]] = {
    1: (
        "Newsletter",
        [
            (11, "Email", "Email"),
            (12, "FirstName", "Text"),
            (13, "LastName", "Text"),
            (14, "Mobile", "Mobile"),
            (15, "ReferanceAccountId", "Number"),
        ],
    ),
    2: ("Events", [(21, "Email", "Email"), (22, "FirstName", "Text"), (23, "Company", "Text")]),
}
INTERACTIONS = [
    ("Email", "Monthly newsletter", "Opened"),
    ("Email", "Spring offer", "Clicked"),
    ("SMS", "Reminder", "Delivered"),
    ("LandingPage", "Pricing page", "Visited"),
    ("WebForm", "Request a demo", "Submitted"),
    ("Event", "Dublin meetup", "Attended"),
]


def occurred_text(when: datetime) -> str:
    """``2024-12-27T18:06:00.6960966+00:00``: ISO 8601 with 7 fractional digits and an offset."""
    when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}0+00:00"


def encrypt_id(internal: int) -> str:
    return base64.urlsafe_b64encode(f"w50c:{internal:08d}".encode()).decode().rstrip("=")


# ---- formats ----------------------------------------------------------------------------------
#: the media types of the document's "Formats": JSON (the default formatter) and XML
JSON_TYPES = {"application/json", "text/json", "application/*", "text/*", "*/*"}
XML_TYPES = {"application/xml", "text/xml"}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DATACONTRACT = "http://schemas.datacontract.org/2004/07/"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
#: DateTimeOffset members (serialised as ``<DateTime>``/``<OffsetMinutes>``, as in the document)
OFFSET_FIELDS = {"Occurred"}


def negotiate(accept: str | None) -> str | None:
    """``json``, ``xml`` or None (nothing this API writes) for an ``Accept`` header, in the
    client's order of preference (q values), JSON when there is no header."""
    if not accept or not accept.strip():
        return "json"
    ranked = []
    for position, part in enumerate(accept.split(",")):
        media, *params = [x.strip().lower() for x in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, position, media))
    for _q, _position, media in sorted(ranked):
        if media in XML_TYPES:
            return "xml"
        if media in JSON_TYPES:
            return "json"
    return None


def xml_response(body: str, status: int) -> Response:
    return Response(content=body, status_code=status, media_type="application/xml; charset=utf-8")


def _xml_value(name: str, value: Any, depth: int) -> str:
    from xml.sax.saxutils import escape

    if value is None:
        return f'<{name} i:nil="true"/>'
    if name in OFFSET_FIELDS and isinstance(value, str):
        sign, hours, minutes = value[-6], int(value[-5:-3]), int(value[-2:])
        offset = (hours * 60 + minutes) * (-1 if sign == "-" else 1)
        local = datetime.fromisoformat(value[:26] + value[-6:])  # 7 fractional digits: 6 are enough here
        utc = (local - timedelta(minutes=offset)).replace(tzinfo=None)
        text = utc.strftime("%Y-%m-%dT%H:%M:%S.") + value[20:27] + "Z"
        return (
            f'<{name} xmlns:d{depth}p1="http://schemas.datacontract.org/2004/07/System">'
            f"<d{depth}p1:DateTime>{text}</d{depth}p1:DateTime>"
            f"<d{depth}p1:OffsetMinutes>{offset}</d{depth}p1:OffsetMinutes></{name}>"
        )
    if isinstance(value, bool):
        return f"<{name}>{'true' if value else 'false'}</{name}>"
    if isinstance(value, (int, float, str)):
        return f"<{name}>{escape(str(value))}</{name}>"
    prefix = f"d{depth}p1"
    if isinstance(value, dict):  # Dictionary<string, object>
        items = []
        for key, item in value.items():
            kind = "boolean" if isinstance(item, bool) else "int" if isinstance(item, int) else "string"
            inner = (
                f'<{prefix}:Value i:nil="true"/>'
                if item is None
                else f'<{prefix}:Value xmlns:d{depth + 2}p1="http://www.w3.org/2001/XMLSchema" '
                f'i:type="d{depth + 2}p1:{kind}">{escape(str(item).lower() if isinstance(item, bool) else str(item))}'
                f"</{prefix}:Value>"
            )
            items.append(
                f"<{prefix}:KeyValueOfstringanyType><{prefix}:Key>{escape(str(key))}</{prefix}:Key>{inner}"
                f"</{prefix}:KeyValueOfstringanyType>"
            )
        return f'<{name} xmlns:{prefix}="{ARRAYS}">{"".join(items)}</{name}>'
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            inner = "".join(f"<{prefix}:string>{escape(item)}</{prefix}:string>" for item in value)
            return f'<{name} xmlns:{prefix}="{ARRAYS}">{inner}</{name}>'
        element = name[:-1] if name.endswith("s") else name
        return f"<{name}>{''.join(_xml_object(element, item, depth + 1) for item in value)}</{name}>"
    return f"<{name}>{escape(str(value))}</{name}>"


def _xml_object(name: str, data: dict[str, Any], depth: int = 2) -> str:
    """DataContractSerializer's layout: members in alphabetical order."""
    return f"<{name}>{''.join(_xml_value(key, data[key], depth + 1) for key in sorted(data))}</{name}>"


def to_xml(data: Any, type_name: str, namespace: str) -> str:
    """``data`` (an object or a list of objects of ``type_name``) as DataContract XML, the shape
    of the document's XML sample (``ArrayOfContactInteraction`` ...)."""
    ns = f'xmlns:i="{XSI}" xmlns="{DATACONTRACT}{namespace}"'
    if isinstance(data, list):
        inner = "".join(_xml_object(type_name, item) for item in data)
        return f"<ArrayOf{type_name} {ns}>{inner}</ArrayOf{type_name}>"
    body = _xml_object(type_name, data)
    return f"<{type_name} {ns}>{body[len(type_name) + 2 :]}"


def error_xml(text: str, extra: dict[str, Any]) -> str:
    """ASP.NET Web API's HttpError in XML."""
    from xml.sax.saxutils import escape

    detail = ""
    for key, messages in (extra.get("ModelState") or {}).items():
        detail += "".join(f"<{escape(key)}>{escape(str(m))}</{escape(key)}>" for m in messages)
    return f"<Error><Message>{escape(text)}</Message>{f'<ModelState>{detail}</ModelState>' if detail else ''}</Error>"


def _raise(error: Exception) -> Any:
    raise error


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
            #: interaction ids are counted per interaction type (the document calls ``Id`` "the ID
            #: of the Interaction"), so an Email and an SMS can share an Id
            self.next_interaction: dict[str, int] = {}
            if not empty:
                now = datetime.fromtimestamp(self.clock(), timezone.utc)
                for i in range(int(self.settings["seed_contacts"])):
                    contact = self.add_contact(
                        1 if i % 4 else 2, {"Email": f"w{i}@example.ie", "FirstName": f"Pat{i}"}
                    )
                    for _ in range(self.rng.randint(0, 4)):
                        kind, name, status = self.rng.choice(INTERACTIONS)
                        self.add_interaction(
                            contact["EncContactId"],
                            kind,
                            name,
                            status,
                            now - timedelta(minutes=self.rng.randint(30, 10 * 24 * 60)),
                        )

    @property
    def lists(self) -> list[dict[str, Any]]:
        return [
            {"Id": i, "Name": name, "Count": sum(1 for c in self.contacts.values() if c["ListId"] == i)}
            for i, (name, _fields) in LISTS.items()
        ]

    # state helpers (tests use them too) ------------------------------------------------------
    def add_contact(self, list_id: int, values: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            enc = encrypt_id(self.next_id)
            contact = {"Id": self.next_id, "EncContactId": enc, "ListId": list_id, "Values": dict(values)}
            self.next_id += 1
            self.contacts[enc] = contact
            self.interactions[enc] = []
            return contact

    def add_interaction(
        self,
        enc_id: str,
        kind: str,
        name: str,
        status: str,
        when: datetime | None = None,
        campaign: tuple[int, str] | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            when = when or datetime.fromtimestamp(self.clock(), timezone.utc)
            campaign_id, campaign_name = campaign or (7, "Autumn 2026")
            interaction_id = self.next_interaction.get(kind, 1000)
            self.next_interaction[kind] = interaction_id + 1
            item = {
                "Id": interaction_id,
                "Interaction": kind,
                "Name": name,
                "Occurred": occurred_text(when),
                "Status": status,
                "CampaignId": campaign_id,
                "CampaignName": campaign_name,
            }
            self.interactions[enc_id].append(item)
            return item

    def contact_by_value(self, list_id: int, field: str, value: Any) -> dict[str, Any] | None:
        return next(
            (
                c
                for c in self.contacts.values()
                if c["ListId"] == list_id and str(c["Values"].get(field, "")).lower() == str(value).lower()
            ),
            None,
        )

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "contacts": len(self.contacts),
                "interactions": sum(len(v) for v in self.interactions.values()),
            }

    # answers ----------------------------------------------------------------------------------
    @staticmethod
    def message(status: int, text: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"Message": text, **extra}, status_code=status)

    def fault_response(self, status: int, retry_after: float):
        headers = {"Retry-After": f"{retry_after:g}"} if status == 429 else {}
        return JSONResponse({"Message": "An error has occurred."}, status_code=status, headers=headers)

    def contact_json(self, contact: dict[str, Any], warnings: list[str] | None = None) -> dict[str, Any]:
        return {
            "ValidationWarnings": list(warnings or []),
            "EncContactId": contact["EncContactId"],
            "ListId": contact["ListId"],
            "Values": dict(contact["Values"]),
        }

    # routing ----------------------------------------------------------------------------------
    def build_router(self):
        router = APIRouter()
        prefix = "/Which50API"
        routes: list[tuple[str, str, Callable[..., Any], str, str]] = [
            ("GET", "/contactLists", self._contact_lists, "ContactsList", DTO),
            ("GET", "/contactLists/{list_id}", self._contact_list, "ContactsList", DTO),
            ("GET", "/contactLists/{list_id}/fields", self._fields, "ContactSchemaField", DTO),
            ("GET", "/contacts/{contact_id}", self._contact, "Contact", DTO),
            (
                "GET",
                "/contacts/{contact_id}/communications",
                self._communications,
                "ContactInteraction",
                DTO_CONTACTS,
            ),
            ("GET", "/contacts/{contact_id}/emails", self._emails, "ContactEmail", DTO_CONTACTS),
            ("POST", "/contactLists/{list_id}/contact", self._upsert, "Contact", DTO),
            ("PUT", "/contactLists/{list_id}/contact", self._upsert, "Contact", DTO),
        ]
        for method, path, handler, type_name, namespace in routes:
            endpoint = answers(self, type_name, namespace)(handler)
            router.add_api_route(prefix + path, endpoint, methods=[method], name=handler.__name__.strip("_"))
        return router

    def _auth(self, request: Request, write: bool = False) -> None:
        key = request.headers.get(HEADER_NAME)
        if key not in (API_KEY, READONLY_KEY):
            raise Which50Fault(401, DENIED)
        if write and key == READONLY_KEY:
            raise Which50Fault(403, FORBIDDEN)

    def _contact_of(self, request: Request, contact_id: str) -> dict[str, Any]:
        self._auth(request)
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise Which50Fault(404, f"Contact {contact_id} was not found")
        return contact

    def _list_of(self, request: Request, list_id: str, write: bool = False) -> int:
        self._auth(request, write)
        if not list_id.isdigit() or int(list_id) not in LISTS:
            raise Which50Fault(404, f"Contact list {list_id} was not found")
        return int(list_id)

    # ---- the routes ----------------------------------------------------------------------------
    def _contact_lists(self, request: Request) -> Any:
        self._auth(request)
        return self.lists

    def _contact_list(self, list_id: str, request: Request) -> Any:
        found = self._list_of(request, list_id)
        return next(x for x in self.lists if x["Id"] == found)

    def _fields(self, list_id: str, request: Request) -> Any:
        found = self._list_of(request, list_id)
        return [
            {
                "Id": fid,
                "Name": name,
                "DefaultValue": None,
                "MapType": map_type,
                "Position": pos,
                "ContactSchemaFieldValues": [],
            }
            for pos, (fid, name, map_type) in enumerate(LISTS[found][1])
        ]

    def _contact(self, contact_id: str, request: Request) -> Any:
        return self.contact_json(self._contact_of(request, contact_id))

    def _communications(self, contact_id: str, request: Request) -> Any:
        self._contact_of(request, contact_id)
        with self.lock:
            return list(self.interactions[contact_id])

    def _emails(self, contact_id: str, request: Request) -> Any:
        self._contact_of(request, contact_id)
        with self.lock:
            return [
                {
                    "Id": i["Id"],
                    "Name": i["Name"],
                    "Date": i["Occurred"],
                    "Delivered": 1,
                    "Open": int(i["Status"] in ("Opened", "Clicked")),
                    "Read": int(i["Status"] in ("Opened", "Clicked")),
                    "Link": int(i["Status"] == "Clicked"),
                }
                for i in self.interactions[contact_id]
                if i["Interaction"] == "Email"
            ]

    async def _upsert(self, list_id: str, request: Request) -> Any:
        found = self._list_of(request, list_id, write=True)
        try:
            body = await request.json()
        except Exception:
            body = None
        values = (body or {}).get("Values", (body or {}).get("values")) if isinstance(body, dict) else None
        if not isinstance(values, dict):
            raise Which50Fault(
                400,
                "The request is invalid.",
                ModelState={"contact.Values": ["The Values field is required."]},
            )
        lower = {name.lower(): name for _fid, name, _t in LISTS[found][1]}
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
            raise Which50Fault(
                400,
                "The request is invalid.",
                ModelState={"contact.Values.Email": [f"'{email}' is not a valid email address"]},
            )
        match = [m.strip() for m in (request.query_params.get("match") or "").split(",") if m.strip()]
        with self.lock:
            matched = self._matched(found, clean, lower, match)
            if matched:
                for c in matched:
                    c["Values"].update(clean)
                return self.contact_json(matched[0], warnings), 200
            created = self.add_contact(found, clean)
            return self.contact_json(created, warnings), 201

    def _matched(
        self, found: int, clean: dict[str, Any], lower: dict[str, str], match: list[str]
    ) -> list[dict[str, Any]]:
        """The contacts of list ``found`` whose ``match`` fields equal the body's (case-insensitive)."""
        if not match:
            return []
        asked = [lower.get(m.lower()) for m in match]
        fields_ = [f for f in asked if f is not None]
        if len(fields_) < len(asked):
            raise Which50Fault(400, f"match: unknown field(s) {', '.join(match)}")
        if any(clean.get(f) in (None, "") for f in fields_):
            raise Which50Fault(400, f"match: the body has no value for {', '.join(match)}")
        return [
            c
            for c in self.contacts.values()
            if c["ListId"] == found
            and all(str(c["Values"].get(f, "")).lower() == str(clean[f]).lower() for f in fields_)
        ]

    def connection(self, root_url: str) -> dict[str, Any]:
        return {
            "conn_type": "which50",
            "host": self.base_url(root_url),
            "extra": {
                "auth_type": "header",
                "header_name": HEADER_NAME,
                "api_key": API_KEY,
                "contact_list_id": 1,
            },
        }

    def credentials_text(self) -> str:
        return f"header {HEADER_NAME}: {API_KEY} (read-only: {READONLY_KEY}); contact list 1"


DTO, DTO_CONTACTS = "W50API.Models.DTO", "W50API.Models.DTO.Contacts"


def answers(emulator: Any, type_name: str, namespace: str) -> Callable[[Callable], Callable]:
    """Render what a handler returns (data, or ``(data, status)``) in the format the ``Accept``
    header asks for (JSON, or DataContract XML of ``type_name``), and a :class:`Which50Fault` it
    raises as ASP.NET's error body; 406 for a type neither formatter writes."""

    def render(request: Request, call: Callable[[], Any]) -> Any:
        fmt = negotiate(request.headers.get("accept"))
        if fmt is None:
            return Response(status_code=406)
        try:
            result = call()
            data, status = result if isinstance(result, tuple) else (result, 200)
        except Which50Fault as fault:
            if fmt == "xml":
                return xml_response(error_xml(fault.text, fault.extra), fault.status)
            return emulator.message(fault.status, fault.text, **fault.extra)
        if fmt == "xml":
            return xml_response(to_xml(data, type_name, namespace), status)
        return JSONResponse(data, status_code=status)

    def decorate(handler: Callable) -> Callable:
        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if negotiate(kwargs["request"].headers.get("accept")) is None:
                    return Response(status_code=406)  # before the handler: no write, no answer
                try:
                    result = await handler(*args, **kwargs)
                except Which50Fault as fault:
                    return render(kwargs["request"], functools.partial(_raise, fault))
                return render(kwargs["request"], lambda: result)

            return async_wrapper

        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return render(kwargs["request"], lambda: handler(*args, **kwargs))

        return wrapper

    return decorate
