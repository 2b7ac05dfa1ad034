"""EngageLab LiveDesk hook: Basic base64(api_key:api_secret) (docs/vendors/engagelab.md B).

Capabilities:

* list and search contacts (one endpoint: ``q``, ``labels``, ``sort``/``direction``, 15 per
  page, ``current_page`` a string or an int; ``meta.count`` may be the total or the page's
  length, so paging ends on a short or empty page);
* create (needs ``inbox_id``: the call's, else the connection extra's) and update (PATCH merges
  ``custom_attributes`` and ``additional_attributes``);
* upsert, so :class:`UpsertContactsOperator` works: each row's key (``email``,
  ``phone_number`` or ``identifier``) is searched, then the contact is updated, left alone
  when nothing changes, or created; a 422 is that row's rejection with LiveDesk's message;
* contact events for the sensor: ``contact.created`` (``created_at``) and ``contact.active``
  (``last_activity_at``) of contacts in the window. LiveDesk has no event feed: each poll
  scans the contact list (``ceil(contacts / 15)`` requests). Ids and times are read as numbers
  or strings (the document shows both); a time that cannot be read is skipped, counted in
  ``unreadable_events`` and logged.

Undocumented for LiveDesk (extra): ``sort_style`` — ``direction`` (default, the documented
``sort=field&direction=desc``) or ``prefix`` (Chatwoot's ``sort=-field``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    ContactsError,
    ContactsHTTPError,
    InvalidRequestError,
)
from airflow_provider_contacts.hooks.base import ContactsHook, EventPlanMixin
from airflow_provider_contacts.hooks.engagelab_wire import (
    ATTRIBUTES,
    PER_PAGE,
    TOP_LEVEL,
    attributes_problem,
    contact_changes,
    contact_sid,
    is_last_page,
    norm_key,
    read_timestamp,
    to_contact_fields,
)
from airflow_provider_contacts.hooks.registry import EngageLabExtras
from airflow_provider_contacts.http.auth import Auth, BasicAuth
from airflow_provider_contacts.http.errors import ResponseLike, default_error_mapper, safe_json
from airflow_provider_contacts.http.plan import Call, Page, Plan, map_plan, paged, run_plan
from airflow_provider_contacts.models import ContactEvent, EventQuery, KnownColumns, RowOutcome

log = logging.getLogger(__name__)

CONTACTS = "/api/v2/accounts/contacts"
UPSERT_KEYS = ("email", "phone_number", "identifier")


def map_engagelab_error(response: ResponseLike) -> ContactsHTTPError | None:
    """A 422 carries LiveDesk's message and the attributes it refused."""
    err = default_error_mapper(response)
    if err is not None and response.status_code == 422:
        body = safe_json(response)
        if isinstance(body, dict):
            err.message = str(body.get("message") or body.get("error") or err.message)
            err.vendor_code = ",".join(body.get("attributes") or []) or None
    return err


class EngageLabHook(EventPlanMixin, ContactsHook):
    extras_model = EngageLabExtras
    default_base_url = "https://livedesk-api.engagelab.com"
    #: one contact per request: a batch is a group of rows upserted one after the other
    upsert_batch_size = 15
    error_mapper = staticmethod(map_engagelab_error)

    def __init__(
        self, conn_id: str | None = None, *, inbox_id: int | str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(conn_id, **kwargs)
        self._inbox_id = inbox_id
        #: contact times the last event listing could not read (skipped, and logged)

    def build_auth(self) -> Auth:
        conn = self.connection
        key = self.require(conn.login, "login", "set the LiveDesk API key as the login")
        secret = self.require(conn.password, "password", "set the LiveDesk API secret as the password")
        return BasicAuth(key, secret)

    def static_headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json"}

    def probe(self) -> str:
        page = self.list_contacts(page=1, include_contact_inboxes=False)
        inbox = self.inbox_id(required=False)
        where = f"inbox_id {inbox}" if inbox is not None else "no inbox_id set (needed to create contacts)"
        # meta.count may be the page's length (see is_last_page): a full first page says "at least"
        visible = (
            f"at least {PER_PAGE}"
            if page["total"] == len(page["contacts"]) == PER_PAGE
            else str(page["total"])
        )
        return f"Connected to EngageLab LiveDesk at {self.base_url}; {visible} contacts visible, {where}"

    def explain(self, err):
        status = getattr(err, "status", None)
        if status == 401:
            return f"Bad credentials: LiveDesk refused the API key/secret (HTTP 401): {err.message}. {self.auth_hint(err)}"
        if status == 404:
            return (
                f"Not found (HTTP 404) at {self.base_url}: the host must be the LiveDesk API base URL, "
                "e.g. https://livedesk-api.engagelab.com"
            )
        return super().explain(err)

    def auth_hint(self, err: ContactsError) -> str:
        return (
            f"Use the API Key as login and the API Secret as password of connection {self.conn_id!r} "
            "(Project Settings > API Management > API Key)"
        )

    def rate_hint(self, err: ContactsError) -> str:
        return (
            "LiveDesk's rate limit (3000 requests per minute per IP; contact search 100 per minute per account) "
            f"outlasted the retries: set rate_limit_per_second in the extra of connection {self.conn_id!r} "
            "(e.g. 40) so requests wait their turn instead of being refused"
        )

    # ---- settings ---------------------------------------------------------------------------
    def inbox_id(self, explicit: Any = None, *, required: bool = True) -> int | None:
        return self.int_setting(
            "inbox_id",
            explicit,
            self._inbox_id,
            required=required,
            hint='LiveDesk creates a contact in an inbox; set extra "inbox_id" to the channel id '
            "(Project Settings > Channels) or pass inbox_id",
        )

    def _sort_params(self, sort: str | None, direction: str | None) -> dict[str, Any]:
        if not sort:
            return {}
        style = self.extras.sort_style
        field = sort.lstrip("-")
        direction = (direction or ("desc" if sort.startswith("-") else "asc")).lower()
        if direction not in ("asc", "desc"):
            raise ContactsConfigError(f"direction={direction!r}: use asc or desc", conn_id=self.conn_id)
        if style == "prefix":
            return {"sort": f"-{field}" if direction == "desc" else field}
        return {"sort": field, "direction": direction}

    # ---- contacts -----------------------------------------------------------------------------
    def _list_params(
        self,
        page: int,
        q: str | None,
        labels: list[str] | None,
        sort: str | None,
        direction: str | None,
        include_contact_inboxes: bool,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"page": int(page), **self._sort_params(sort, direction)}
        if q:
            params["q"] = q
        if labels:
            params["labels[]"] = list(labels)
        if not include_contact_inboxes:
            params["include_contact_inboxes"] = "false"
        return params

    @staticmethod
    def _page(body: Any, page: int) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        meta = body.get("meta") or {}
        try:
            current = int(meta.get("current_page", page))  # "1" when the page was sent, 1 when not
        except (TypeError, ValueError):
            current = page
        return {
            "total": int(meta.get("count") or 0),
            "page": current,
            "contacts": list(body.get("payload") or []),
        }

    def list_contacts(
        self,
        *,
        page: int = 1,
        q: str | None = None,
        labels: list[str] | None = None,
        sort: str | None = None,
        direction: str | None = None,
        include_contact_inboxes: bool = True,
    ) -> dict[str, Any]:
        """One page of 15: ``{"total", "page", "contacts"}``; ``total`` is ``meta.count``, which
        LiveDesk documents as "count of results": all matching contacts, or this page's length."""
        params = self._list_params(page, q, labels, sort, direction, include_contact_inboxes)
        return self._page(self.transport.get_json(CONTACTS, params=params), page)

    def contacts_plan(
        self,
        *,
        q: str | None = None,
        labels: list[str] | None = None,
        sort: str | None = None,
        direction: str | None = None,
    ) -> Plan:
        """Every matching contact, page by page, until :func:`is_last_page`."""
        return self._pages(q, labels, sort, direction)

    def _pages(
        self,
        q: str | None,
        labels: list[str] | None,
        sort: str | None,
        direction: str | None,
        key: Any = None,
    ) -> Plan:
        def read(body: Any, page: int) -> Page:
            result = self._page(body, page)
            return Page(result["contacts"], is_last_page(result, page))

        return paged(
            lambda page: Call(
                "GET", CONTACTS, params=self._list_params(page, q, labels, sort, direction, False)
            ),
            read,
            key=key,
            repeats="adjacent",
        )

    def iter_contacts(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return run_plan(self.transport, self.contacts_plan(**filters))

    def search_contacts(self, q: str, **filters: Any) -> list[dict[str, Any]]:
        return list(self.iter_contacts(q=q, **filters))

    def find_contact(self, key: str, value: Any) -> dict[str, Any] | None:
        """The contact whose ``key`` equals ``value`` (email compared case-insensitively)."""
        wanted = norm_key(key, value)
        for contact in self.iter_contacts(q=str(value).strip()):
            if norm_key(key, contact.get(key)) == wanted:
                return contact
        return None

    def create_contact(
        self, fields: dict[str, Any], *, inbox_id: int | None = None, replay_safe: bool = False
    ) -> dict[str, Any]:
        body = {**fields, "inbox_id": self.inbox_id(inbox_id)}
        answer = self.transport.request("POST", CONTACTS, json=body, idempotent=replay_safe).json()
        payload = (answer or {}).get("payload") or {}
        return payload.get("contact") or payload

    def update_contact(self, contact_id: int | str, changes: dict[str, Any]) -> dict[str, Any]:
        """PATCH; LiveDesk merges ``custom_attributes`` and ``additional_attributes`` into the
        existing ones. Setting values twice is harmless, so a lost answer is retried."""
        answer = self.transport.request(
            "PATCH", f"{CONTACTS}/{contact_id}", json=changes, idempotent=True
        ).json()
        return (answer or {}).get("payload") or {}

    # ---- upsert ------------------------------------------------------------------------------
    def structured_value_problem(self, field: str, value: Any) -> str | None:
        return attributes_problem(field, value)

    def upsert_fields(self) -> KnownColumns:
        """What an upsert stores: the contact fields (:data:`TOP_LEVEL`, ``custom_attributes``,
        ``additional_attributes``); any other column becomes a custom attribute
        (:func:`to_contact_fields`), except ``inbox_id`` (a new contact's inbox is the hook's)."""
        return KnownColumns(
            frozenset((*TOP_LEVEL, *ATTRIBUTES)),
            f"LiveDesk contact fields ({', '.join((*TOP_LEVEL, *ATTRIBUTES))})",
            others="custom attributes",
            ignored={
                "inbox_id": "not stored per row: a new contact's inbox is the hook's inbox_id (the extra, or "
                "hook_params={'inbox_id': N})"
            },
        )

    def upsert_batch(self, rows: list[dict[str, Any]], key: str = "email") -> list[RowOutcome]:
        if key not in UPSERT_KEYS:
            raise ContactsConfigError(
                f'key "{key}" cannot identify a LiveDesk contact; use one of {", ".join(UPSERT_KEYS)} '
                "(the fields LiveDesk keeps unique)",
                conn_id=self.conn_id,
            )
        inbox = self.inbox_id()  # checked before any request
        assert inbox is not None  # required: inbox_id() raised when it is missing
        return [self._upsert_one(i, row, key, inbox) for i, row in enumerate(rows)]

    def _upsert_one(self, index: int, row: dict[str, Any], key: str, inbox: int) -> RowOutcome:
        fields = to_contact_fields(row)
        try:
            existing = self.find_contact(key, row[key])
            if existing is None:
                try:
                    # replay-safe: a repeat of a create that LiveDesk processed gets a 422 "taken"
                    created = self.create_contact(fields, inbox_id=inbox, replay_safe=True)
                    return RowOutcome(index, "created", contact_id=contact_sid(created), http_status=200)
                except InvalidRequestError as err:
                    if (
                        err.status != 422
                        or key not in str(err.vendor_code or "").split(",")
                        or "taken" not in err.message
                    ):
                        raise
                    existing = self.find_contact(key, row[key])  # created by our lost try (or meanwhile)
                    if existing is None:
                        raise
                    if not contact_changes(existing, fields):
                        return RowOutcome(
                            index,
                            "created",
                            contact_id=contact_sid(existing),
                            http_status=200,
                            message="the answer to the create was lost; the repeat found the contact",
                        )
            changes = contact_changes(existing, fields)
            if not changes:
                return RowOutcome(index, "unchanged", contact_id=contact_sid(existing), http_status=200)
            self.update_contact(existing["id"], changes)
            return RowOutcome(index, "updated", contact_id=contact_sid(existing), http_status=200)
        except InvalidRequestError as err:
            return RowOutcome(
                index,
                "rejected",
                http_status=err.status,
                message=err.message,
                vendor_code=str(err.vendor_code) if err.vendor_code else None,
            )

    # ---- events ------------------------------------------------------------------------------
    def event_plan(self, query: EventQuery) -> Plan:
        """``contact.created`` and ``contact.active`` events in ``[since, until)``, from one scan
        of the contact list ordered by creation (stable pages while contacts are added)."""
        since_s, until_s = query.since.timestamp(), query.until.timestamp()
        wanted = {str(c) for c in query.contact_ids} if query.contact_ids else None
        types = [t for t in ("contact.created", "contact.active") if query.wanted().wants_type(t)]
        if not types or until_s <= since_s:
            return

        def events_of(contact: dict[str, Any]) -> Iterator[ContactEvent]:
            if wanted is not None and str(contact.get("id")) not in wanted:
                return
            for event_type, field in (
                ("contact.created", "created_at"),
                ("contact.active", "last_activity_at"),
            ):
                if event_type not in types or contact.get(field) is None:  # never active: no event
                    continue
                at = read_timestamp(contact[field])
                if at is None:
                    self.skip_unreadable_event(
                        f"contact {contact.get('id')}: {field}={contact[field]!r} is not a time"
                    )
                elif since_s <= at < until_s:
                    yield ContactEvent(
                        vendor="engagelab",
                        event_id=f"{contact['id']}:{field}:{int(at)}",
                        event_type=event_type,
                        contact_id=str(contact["id"]),
                        occurred_at=datetime.fromtimestamp(at, timezone.utc),
                        label=contact.get("name") or None,
                        raw={
                            "email": contact.get("email"),
                            "phone_number": contact.get("phone_number"),
                            "identifier": contact.get("identifier"),
                            field: contact[field],
                        },
                    )

        # ordered by creation, pages are stable while contacts are added; a contact shifted onto
        # the next page comes twice and is read once
        yield from map_plan(
            self._pages(None, None, "created_at", "asc", key=lambda c: c.get("id")), events_of
        )
