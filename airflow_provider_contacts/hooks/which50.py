"""Which50 hook (docs/vendors/which50.md C).

Which50 does not document its API authentication, so it is pluggable: ``auth_type`` ``header``
(default: ``header_name``, default ``X-Api-Key``, with ``api_key`` or the password) or
``basic`` (login/password). ``header_name`` was called ``auth_header_name`` and ``api_key``
``auth_header_value``; the old names are still read. Airflow hides the value of every extra
whose name contains a sensitive word: from 3.2 ``auth_header`` is one, so the form showed and
saved ``***`` as the header name; 3.1 lacks it, so its API showed the key in clear, while
``api_key`` is hidden by every version. The route prefix is undocumented too: the host is the
full base URL, default ``https://app.which50.com/Which50API``. JSON is PascalCase; contact ids
are opaque encrypted strings (``EncContactId``).

Capabilities: contact lists and their fields, a contact, its communications and emails,
create-or-update a contact in a list (``contactLists/{listId}/contact?match=<key field>``, one
request per contact), so :class:`UpsertContactsOperator` works with the list given by
``contact_list_id`` (extra, or the hook argument), and contact activity (communications of
the given contacts: Which50 lists activity per contact only, so ``contact_ids`` is required).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from airflow_provider_contacts._time import parse_iso
from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    ContactsError,
    ContactsHTTPError,
    InvalidRequestError,
)
from airflow_provider_contacts.hooks.base import ContactsHook, EventPlanMixin
from airflow_provider_contacts.hooks.registry import Which50Extras
from airflow_provider_contacts.http.auth import Auth, BasicAuth, HeaderAuth
from airflow_provider_contacts.http.errors import ResponseLike, default_error_mapper, safe_json
from airflow_provider_contacts.http.plan import Call, Plan
from airflow_provider_contacts.models import ContactEvent, EventQuery, KnownColumns, RowOutcome

#: an HTTP header name (RFC 9110 "token")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def map_which50_error(response: ResponseLike) -> ContactsHTTPError | None:
    """ASP.NET errors: ``Message``, with the ``ModelState`` of a validation failure."""
    err = default_error_mapper(response)
    body = safe_json(response)
    if err is not None and isinstance(body, dict) and body.get("Message"):
        detail = body.get("ModelState")
        err.message = str(body["Message"])
        if isinstance(detail, dict):
            err.message += " " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in detail.items())
    return err


class Which50Hook(EventPlanMixin, ContactsHook):
    extras_model = Which50Extras
    default_base_url = "https://app.which50.com/Which50API"
    #: rows per upsert_batch call; Which50 takes one contact per request
    upsert_batch_size = 10
    #: Which50 lists activity per contact: a consumer of a watcher batch asks for its contacts
    events_per_contact = True
    error_mapper = staticmethod(map_which50_error)

    def __init__(
        self, conn_id: str | None = None, *, contact_list_id: int | str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(conn_id, **kwargs)
        self._list_id = contact_list_id
        self._fields: dict[int, list[str]] = {}

    def build_auth(self) -> Auth:
        mode = self.extras.auth_type
        conn = self.connection
        if mode == "basic":
            login = self.require(conn.login, "login", "set the Which50 username (auth_type basic)")
            password = self.require(conn.password, "password", "set the Which50 password")
            return BasicAuth(login, password)
        name = self.header_name()
        value = self.extras.api_key or conn.password
        key = self.require(value, "api_key", 'set extra "api_key" (or the password) to the API key')
        return HeaderAuth({name: key})

    def header_name(self) -> str:
        """Extra ``header_name`` (or its old name ``auth_header_name``), default ``X-Api-Key``."""
        for key in Which50Extras.header_name.names:
            name = self.extras.str(key)
            if name is None:
                continue
            name = name.strip()
            if name == "***":
                raise ContactsConfigError(
                    f"extra field \"{key}\" is '***': Airflow's connection form masked it (it hides "
                    'extras named like "auth_header"); set extra "header_name" to the header Which50 '
                    "expects, e.g. X-Api-Key",
                    conn_id=self.conn_id,
                )
            if not _HEADER_NAME.match(name):
                raise ContactsConfigError(
                    f'extra field "{key}" is {name!r}; it must be an HTTP header name such as X-Api-Key',
                    conn_id=self.conn_id,
                )
            return name
        return Which50Extras.header_name.default

    def static_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def probe(self) -> str:
        lists = self.list_contact_lists()
        configured = self.contact_list_id(required=False)
        if configured is None:
            target = "no contact_list_id set (needed for upserts)"
        else:
            match = next((x for x in lists if str(x.get("Id")) == str(configured)), None)
            if match is None:
                return_lists = ", ".join(f"{x.get('Id')} ({x.get('Name')})" for x in lists) or "none"
                raise ContactsConfigError(
                    f"contact_list_id {configured} is not one of this account's lists: {return_lists}",
                    conn_id=self.conn_id,
                )
            target = f"contact list {configured} ({match.get('Name')}) for upserts"
        return f"Connected to Which50 at {self.base_url}; {len(lists)} contact lists; {target}"

    def explain(self, err):
        status = getattr(err, "status", None)
        if status == 401:
            mode = self.extras.auth_type
            how = "Basic login/password" if mode == "basic" else f"header {self.header_name()}"
            return (
                f"Bad credentials: Which50 refused the {how} (HTTP 401): {err.message}. {self.auth_hint(err)}"
            )
        if status == 403:
            return f"No permission: the Which50 user lacks the permission for this call (HTTP 403): {err.message}"
        if status == 404:
            return (
                f"Not found (HTTP 404) at {self.base_url}: the host must be the API base URL including its route "
                f"prefix, e.g. https://app.which50.com/Which50API: {err.message}"
            )
        return super().explain(err)

    def auth_hint(self, err: ContactsError) -> str:
        return (
            "Which50 does not document its API authentication: check auth_type, header_name and api_key "
            f"of connection {self.conn_id!r} with Which50"
        )

    def rate_hint(self, err: ContactsError) -> str:
        return (
            "Which50's rate limit (undocumented) outlasted the retries: set rate_limit_per_second or "
            f"rate_limit_per_hour in the extra of connection {self.conn_id!r} so requests wait their turn "
            "instead of being refused"
        )

    # ---- settings ---------------------------------------------------------------------------
    def contact_list_id(self, explicit: Any = None, *, required: bool = True) -> int | None:
        return self.int_setting(
            "contact_list_id",
            explicit,
            self._list_id,
            required=required,
            hint='Which50 upserts a contact into a list; set extra "contact_list_id" or pass '
            "hook_params={'contact_list_id': N}",
        )

    # ---- reads ------------------------------------------------------------------------------
    def list_contact_lists(self) -> list[dict[str, Any]]:
        """``[{Id, Name, Count}]``"""
        return list(self.transport.get_json("/contactLists") or [])

    def get_contact_list(self, list_id: int | str) -> dict[str, Any]:
        return self.transport.get_json(f"/contactLists/{int(list_id)}")

    def list_fields(self, list_id: int | str) -> list[dict[str, Any]]:
        """``[{Id, Name, DefaultValue, MapType, Position, ContactSchemaFieldValues}]``"""
        return list(self.transport.get_json(f"/contactLists/{int(list_id)}/fields") or [])

    def field_names(self, list_id: int) -> list[str]:
        if list_id not in self._fields:
            self._fields[list_id] = [str(f.get("Name")) for f in self.list_fields(list_id) if f.get("Name")]
        return self._fields[list_id]

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        """``{EncContactId, ListId, Values, ValidationWarnings}``"""
        return self.transport.get_json(f"/contacts/{_enc(contact_id)}")

    def get_communications(self, contact_id: str) -> list[dict[str, Any]]:
        """Every interaction: ``[{Id, Interaction, Name, Occurred, Status, CampaignId, CampaignName}]``"""
        return list(self.transport.get_json(f"/contacts/{_enc(contact_id)}/communications") or [])

    def get_emails(self, contact_id: str) -> list[dict[str, Any]]:
        """``[{Id, Name, Date, Delivered, Open, Read, Link}]`` (flags 0/1)"""
        return list(self.transport.get_json(f"/contacts/{_enc(contact_id)}/emails") or [])

    # ---- writes -----------------------------------------------------------------------------
    def upsert_contact(
        self,
        values: dict[str, Any],
        *,
        list_id: int | None = None,
        match: list[str] | None = None,
        custom_events: list[str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Create, or with ``match`` update the contacts of the list whose ``match`` fields equal
        the values. Returns (HTTP status, Contact). With ``match`` the call is replay-safe."""
        params: dict[str, Any] = {}
        if match:
            params["match"] = ",".join(match)
        if custom_events:
            params["customevents"] = ",".join(custom_events)
        response = self.transport.request(
            "POST",
            f"/contactLists/{self.contact_list_id(list_id)}/contact",
            params=params or None,
            json={"Values": values},
            idempotent=bool(match),
        )
        return response.status_code, (response.json() if response.content else {})

    def upsert_fields(self) -> KnownColumns:
        """What an upsert stores: the fields of the list ``contact_list_id`` (read once per hook),
        matched ignoring case as :meth:`upsert_batch` does; Which50 ignores any other name."""
        list_id = self.contact_list_id()
        assert list_id is not None  # required: contact_list_id() raised when it is missing
        names = self.field_names(list_id)
        return KnownColumns(
            frozenset(names),
            f"fields of Which50 contact list {list_id} ({', '.join(names)}; names match ignoring case)",
            fold_case=True,
        )

    def upsert_batch(self, rows: list[dict[str, Any]], key: str = "email") -> list[RowOutcome]:
        """Each row into the list, matched on ``key`` (a field of the list, any case): 201 is
        reported as created, 200 as updated (Which50's codes are undocumented; see the README)."""
        list_id = self.contact_list_id()
        assert list_id is not None  # required: contact_list_id() raised when it is missing
        names = self.field_names(list_id)
        by_lower = {n.lower(): n for n in names}
        key_field = by_lower.get(key.lower())
        if key_field is None:
            raise ContactsConfigError(
                f'key "{key}" is not a field of Which50 contact list {list_id}; its fields: {", ".join(names)}',
                conn_id=self.conn_id,
            )
        outcomes = []
        for index, row in enumerate(rows):
            unknown = [k for k in row if k.lower() not in by_lower]
            if unknown:
                outcomes.append(
                    RowOutcome(
                        index,
                        "rejected",
                        message=(
                            f"field(s) {', '.join(unknown)} are not in contact list {list_id} (fields: {', '.join(names)})"
                        ),
                    )
                )
                continue
            values = {by_lower[k.lower()]: v for k, v in row.items()}
            try:
                status, contact = self.upsert_contact(values, list_id=list_id, match=[key_field])
            except InvalidRequestError as err:
                outcomes.append(RowOutcome(index, "rejected", http_status=err.status, message=err.message))
                continue
            warnings = contact.get("ValidationWarnings") or []
            outcomes.append(
                RowOutcome(
                    index,
                    "created" if status == 201 else "updated",
                    contact_id=contact.get("EncContactId"),
                    http_status=status,
                    message="; ".join(map(str, warnings)) or None,
                )
            )
        return outcomes

    # ---- events -----------------------------------------------------------------------------
    def event_plan(self, query: EventQuery) -> Plan:
        """Communications of ``contact_ids`` with ``since <= Occurred < until``; the event type is
        the interaction kind lower-cased (``email``, ``sms``, ``landingpage``, ``webform``...) and
        an event is identified by (type, ``Id``) within its contact."""
        if not query.contact_ids:
            raise ContactsConfigError(
                "Which50 lists activity per contact only: give contact_ids (EncContactId values, e.g. from an "
                "upsert's output or your warehouse)",
                conn_id=self.conn_id,
            )
        wanted = query.wanted(fold_case=True)
        for contact_id in query.contact_ids:
            body = yield Call("GET", f"/contacts/{_enc(contact_id)}/communications")
            # ``Id`` is "the ID of the Interaction": an Email and an SMS may share one
            seen: set[tuple[str, str]] = set()
            owner = str(contact_id)
            for event in self.read_events(
                body or [], functools.partial(normalise_interaction, contact_id=owner)
            ):
                if (event.event_type, event.event_id) not in seen and wanted(event):
                    seen.add((event.event_type, event.event_id))
                    yield event


def normalise_interaction(raw: Any, contact_id: str) -> ContactEvent:
    """A :class:`ContactEvent` from one communication; :class:`ValueError` saying why when it
    cannot be read."""
    if not isinstance(raw, dict):
        raise ValueError(f"a communication is {type(raw).__name__}, not an object")
    if raw.get("Id") is None or not raw.get("Occurred"):
        raise ValueError(f"communication {raw.get('Id')!r} has no Id or no Occurred")
    try:  # 7 fraction digits and an offset in Which50's samples; no offset is taken as UTC (undocumented)
        occurred = parse_iso(str(raw["Occurred"]))
    except (ValueError, OverflowError):
        raise ValueError(
            f"communication {raw['Id']!r}: Occurred {str(raw['Occurred'])[:40]!r} is not an ISO 8601 "
            "date-time"
        ) from None
    return ContactEvent(
        vendor="which50",
        event_id=str(raw["Id"]),
        event_type=str(raw.get("Interaction") or "interaction").lower(),
        contact_id=contact_id,
        occurred_at=occurred,
        label=raw.get("Name"),
        campaign=raw.get("CampaignName"),
        raw=dict(raw),
    )


def _enc(contact_id: Any) -> str:
    from urllib.parse import quote

    return quote(str(contact_id), safe="")
