"""Dmartech open platform hook: signed requests (``access-key`` + ``access-sign``).

The signature is :class:`~airflow_provider_contacts.hooks.dmartech_auth.DmartechSigner`.
Errors are keyed on the envelope's ``code`` whatever the HTTP status.

Capabilities (A.5): contact lists (``contactPageList``, every customer type, paged), a
contact's details, labels, unsubscribe status and grade scores, labels, and contact events
(``contactEvents``: at most 20 per page, day buckets flattened into normalised events). The
open platform has no contact write endpoint, so upsert, do-not-contact and point groups are
not available for Dmartech.

Undocumented, hence configurable in the connection's extra: ``timezone`` (dates in payloads
are the tenant's local time; default ``Asia/Shanghai``), ``list_page_size`` (default 100;
the maximum for lists is undocumented), ``max_active_requests`` (contacts whose events are
fetched in parallel, default 4, always under the client-side ``rate_limit_per_second`` = 20).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_contacts._time import utc
from airflow_provider_contacts.exceptions import ContactsConfigError, ContactsError
from airflow_provider_contacts.hooks.base import ContactsHook, EventPlanMixin
from airflow_provider_contacts.hooks.dmartech_auth import DmartechSigner
from airflow_provider_contacts.hooks.dmartech_wire import (
    AUTH_HINT,
    as_int,
    clean_params,
    contact_event_pages,
    customer_id_of,
    map_dmartech_error,
    normalise_event,
    result_page,
)
from airflow_provider_contacts.hooks.registry import DmartechExtras
from airflow_provider_contacts.http.auth import Auth
from airflow_provider_contacts.http.plan import Call, Plan, map_plan, paged, run_plan
from airflow_provider_contacts.http.policy import TransportSettings
from airflow_provider_contacts.models import ContactEvent, EventFilter, EventQuery

CONTACT_PATH = "/open-api/v1/contact"
#: contactEvents refuses a larger pageSize (A.5)
EVENTS_MAX_PAGE_SIZE = 20


class DmartechHook(EventPlanMixin, ContactsHook):
    extras_model = DmartechExtras
    default_base_url = "https://api.dmartech.cn/openapi"
    transport_defaults = TransportSettings(rate_per_second=20)
    #: contactEvents is per contact: a consumer of a watcher batch asks for its contacts only
    events_per_contact = True
    error_mapper = staticmethod(map_dmartech_error)

    def build_auth(self) -> Auth:
        conn = self.connection
        key = self.require(conn.login, "login", "set the Dmartech access key as the login")
        secret = self.require(conn.password, "password", "set the Dmartech accessKeySecret as the password")
        if len(secret.encode("utf-8")) not in (16, 24, 32):
            raise ContactsConfigError(
                "password (accessKeySecret) must be 16, 24 or 32 characters (an AES key); "
                "copy it again from the Dmartech console",
                conn_id=self.conn_id,
            )
        return DmartechSigner(key, secret)

    def probe(self) -> str:
        page = self.list_contacts(page_size=1)
        return f"Connected to Dmartech at {self.base_url} (access key {self.connection.login}); {page['total']} contacts visible"

    def explain(self, err):
        code = getattr(err, "vendor_code", None)
        if code in (40001, 401):
            return (
                f"Bad credentials: Dmartech refused the access key or signature (code {code}: "
                f"{err.message}). {self.auth_hint(err)}"
            )
        if code == 10002:
            return f"Bad credentials: Dmartech says unauthorized or expired (code 10002: {err.message}); {self.auth_hint(err)}"
        if code == 40003:
            return (
                f"No permission: this access key may not call {err.path or 'the endpoint'} (code 40003). Grant the "
                "contact interfaces to the key in the console (Dmartech also answers this for an IP not whitelisted)"
            )
        if code == 40006:
            return f"Rate limited: Dmartech's call count or frequency limit is reached (code 40006). {self.rate_hint(err)}"
        return super().explain(err)

    def auth_hint(self, err: ContactsError) -> str:
        if getattr(err, "vendor_code", None) == 10002:
            return "renew the access key in the console's open-platform page"
        return AUTH_HINT

    def rate_hint(self, err: ContactsError) -> str:
        return (
            "Dmartech allows 20 calls per second and a daily quota per plan (code 40006 says either): lower "
            f"rate_limit_per_second (default 20) or max_active_requests in the extra of connection {self.conn_id!r}; "
            "if the day's quota is used up, wait for the next day or ask Dmartech for more"
        )

    def prepare_for_async(self) -> None:
        import cryptography.hazmat.primitives.ciphers  # noqa: F401 - used by sign() on every new signature
        import cryptography.hazmat.primitives.padding  # noqa: F401

        self.tz  # noqa: B018 - reads the zone file once (zoneinfo caches it)

    # ---- helpers --------------------------------------------------------------------------
    @property
    def tz(self):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        name = self.extras.timezone
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ContactsConfigError(
                f'extra field "timezone" is {name!r}; use an IANA zone such as Asia/Shanghai (the tenant\'s time zone)',
                conn_id=self.conn_id,
            ) from None

    @property
    def list_page_size(self) -> int:
        return int(self.extras.list_page_size)

    def _data(self, endpoint: str, params: dict[str, Any] | None = None) -> Any:
        body = self.transport.get_json(f"{CONTACT_PATH}/{endpoint}", params=clean_params(params or {}))
        return body.get("data") if isinstance(body, dict) else None

    def _lookup(self, customer_id: str | None, name: str | None, value: str | None) -> dict[str, Any]:
        if bool(customer_id) == bool(name and value):
            raise ContactsConfigError(
                "give either customer_id, or name and value (a primary-key field and its value)",
                conn_id=self.conn_id,
            )
        return {"customerId": customer_id} if customer_id else {"name": name, "value": value}

    # ---- contacts -------------------------------------------------------------------------
    def list_fields(self) -> list[dict[str, Any]]:
        """``[{fieldName, sn, name, searchType, sortType}]`` of the tenant's contact fields."""
        return list((self._data("contactFieldDetails") or {}).get("resultList") or [])

    def _search_sn(self, search_field: str | None) -> str | None:
        """The ``sn`` to search on, from a fieldName, display name or sn; checked locally."""
        if not search_field:
            return None
        return self._pick_search_sn(search_field, self.list_fields())

    def _pick_search_sn(self, search_field: str, fields: list[dict[str, Any]]) -> str:
        field = next(
            (f for f in fields if search_field in (f.get("sn"), f.get("fieldName"), f.get("name"))), None
        )
        if field is None or not field.get("searchType"):
            searchable = ", ".join(str(f.get("fieldName")) for f in fields if f.get("searchType")) or "none"
            raise ContactsConfigError(
                f"search_field={search_field!r} is not a searchable Dmartech field; searchable: {searchable}",
                conn_id=self.conn_id,
            )
        return str(field["sn"])

    def list_contacts(
        self,
        *,
        page_no: int | None = 1,
        page_size: int | None = None,
        customer_type: int = 4,
        search_field: str | None = None,
        search_value: str | None = None,
        sort_field: str | None = None,
        sort_order: str | None = None,
        app_ids: list[str] | None = None,
        label_sn: str | None = None,
    ) -> dict[str, Any]:
        """One page: ``{"total", "total_pages", "contacts"}``. ``customer_type``: 1 real-name,
        2 anonymous, 3 WeChat fans (needs ``app_ids``), 4 all. ``label_sn`` lists a label's
        contacts instead (``contactByLabelPageList``)."""
        if customer_type not in (1, 2, 3, 4):
            raise ContactsConfigError(
                f"customer_type={customer_type!r}: use 1 (real-name), 2 (anonymous), "
                "3 (WeChat fans) or 4 (all)",
                conn_id=self.conn_id,
            )
        if customer_type == 3 and not app_ids:
            raise ContactsConfigError("customer_type=3 (WeChat fans) needs app_ids", conn_id=self.conn_id)
        params: dict[str, Any] = {"pageSize": page_size or self.list_page_size}
        if label_sn:
            endpoint, params["sn"] = "contactByLabelPageList", label_sn
        else:
            endpoint = "contactPageList"
            params.update(
                customerType=customer_type,
                searchField=self._search_sn(search_field),
                searchValue=search_value if search_field else None,
                sortField=sort_field,
                sortOrder=sort_order,
                appIds=list(app_ids) if app_ids else None,
            )
        if page_no is None:  # every page (iter_contacts)
            return {"plan": self._pages_plan(endpoint, params)}
        data = self._data(endpoint, {**params, "pageNo": page_no}) or {}
        return {
            "total": as_int(data.get("totalRow")),
            "total_pages": as_int(data.get("totalPage")),
            "contacts": list(data.get("resultList") or []),
        }

    def iter_contacts(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every contact of :meth:`list_contacts` (same filters), page by page."""
        filters["page_no"] = None
        return run_plan(self.transport, self.list_contacts(**filters)["plan"])

    def _pages_plan(self, endpoint: str, params: dict[str, Any], key: Any = None) -> Plan:
        """Every row of a paged contact-area endpoint (``pageNo`` from 1 to ``totalPage``)."""
        return paged(
            lambda page_no: Call(
                "GET", f"{CONTACT_PATH}/{endpoint}", params=clean_params({**params, "pageNo": page_no})
            ),
            result_page,
            key=key,
        )

    def get_contact_details(
        self, customer_id: str | None = None, *, name: str | None = None, value: str | None = None
    ) -> dict[str, Any]:
        """fieldName -> value (look-up by ``customerId`` or by a primary-key field and value)."""
        data = self._data("contactCustomerDetails", self._lookup(customer_id, name, value)) or {}
        return {row.get("fieldName"): row.get("value") for row in data.get("resultList") or []}

    def get_contact_labels(
        self, customer_id: str | None = None, *, name: str | None = None, value: str | None = None
    ) -> dict[str, Any]:
        """``{"customerLabelList": [{name, sn}], "fansLabelList": [...]}``"""
        return self._data("contactLabelList", self._lookup(customer_id, name, value)) or {}

    def get_grade_scores(
        self, customer_id: str | None = None, *, name: str | None = None, value: str | None = None
    ) -> list[dict[str, Any]]:
        """``[{gradeRule, rank, score}]`` with ``score`` as an int (Dmartech sends strings)."""
        data = self._data("contactGradeScoreList", self._lookup(customer_id, name, value)) or {}
        return [{**row, "score": as_int(row.get("score"), None)} for row in data.get("resultList") or []]

    def get_unsubscribe_status(
        self, customer_id: str | None = None, *, name: str | None = None, value: str | None = None
    ) -> dict[str, bool]:
        """``{"global", "email", "mobile"}``: True when subscribed (Dmartech's 0 means subscribed)."""
        data = self._data("contactUnsubscribeStatus", self._lookup(customer_id, name, value)) or {}
        return {key: as_int(data.get(f"{key}Status"), 0) == 0 for key in ("global", "email", "mobile")}

    def iter_labels(
        self, *, group_sn: str | None = None, keywords: str | None = None
    ) -> Iterator[dict[str, Any]]:
        params = {"pageSize": self.list_page_size, "groupSn": group_sn, "keywords": keywords}
        return run_plan(self.transport, self._pages_plan("labelPageList", params))

    # ---- events ---------------------------------------------------------------------------
    def contact_events_plan(
        self,
        customer_id: str,
        since: datetime,
        until: datetime,
        *,
        include_types: list[str] | None = None,
        exclude_types: list[str] | None = None,
        page_size: int = EVENTS_MAX_PAGE_SIZE,
    ) -> Plan:
        """One contact's events with ``since <= occurred_at < until``, each once.

        The days are asked with ``fromDate``/``toDate`` in the tenant's zone, one day wider on
        each side (Dmartech does not say whether those days are included), and the exact window
        is cut here. Events arriving while the pages are read shift the pages (newest first),
        so an event can be listed twice; identical events (same names, attributes and second)
        are several events: :func:`~.dmartech_wire.contact_event_pages` tells them apart."""
        page_size = min(int(page_size), EVENTS_MAX_PAGE_SIZE)
        tz = self.tz
        first_day = (since.astimezone(tz).date() - timedelta(days=1)).isoformat()
        last_day = ((until - timedelta(microseconds=1)).astimezone(tz).date() + timedelta(days=1)).isoformat()
        wanted = EventFilter(since, until, include_types, exclude_types)

        def read(items: list[Any]) -> list[ContactEvent]:
            return list(
                self.read_events(items, lambda item: normalise_event(item[0], customer_id, tz, item[1]))
            )

        params = {"customerId": customer_id, "pageSize": page_size, "fromDate": first_day, "toDate": last_day}
        pages = contact_event_pages(
            lambda page_no: Call(
                "GET", f"{CONTACT_PATH}/contactEvents", params={**params, "pageNo": page_no}
            ),
            read,
        )
        return map_plan(pages, lambda event: [event] if wanted(event) else [])

    def _customers_plan(
        self, label_sn: str | None, search_field: str | None, search_value: str | None
    ) -> Plan:
        params: dict[str, Any] = {"pageSize": self.list_page_size}
        if label_sn:
            endpoint, params["sn"] = "contactByLabelPageList", label_sn
        else:
            endpoint = "contactPageList"
            params["customerType"] = 4
            if search_field:
                body = yield Call("GET", f"{CONTACT_PATH}/contactFieldDetails")
                fields = list(((body or {}).get("data") or {}).get("resultList") or [])
                params.update(
                    searchField=self._pick_search_sn(search_field, fields), searchValue=search_value
                )
        rows = self._pages_plan(
            endpoint, params, key=customer_id_of
        )  # a contact listed twice (pages shifting) is read once
        return (yield from map_plan(rows, lambda row: [customer_id_of(row)] if customer_id_of(row) else []))

    def event_plan(
        self,
        query: EventQuery,
        *,
        page_size: int = EVENTS_MAX_PAGE_SIZE,
        label_sn: str | None = None,
        search_field: str | None = None,
        search_value: str | None = None,
    ) -> Plan:
        """Events of ``contact_ids``, or of every contact of a label / a search / the tenant
        (Dmartech lists events per contact only: one contact list, then each contact's events)."""
        since, until = utc(query.since), utc(query.until)
        if until <= since:
            return

        def events_of(customer_id: Any) -> Plan:
            return self.contact_events_plan(
                str(customer_id),
                since,
                until,
                include_types=query.include_types,
                exclude_types=query.exclude_types,
                page_size=page_size,
            )

        if query.contact_ids:
            for customer_id in query.contact_ids:
                yield from events_of(customer_id)
        else:  # the contacts as they are listed, each one's events in turn
            yield from map_plan(self._customers_plan(label_sn, search_field, search_value), events_of)

    def iter_events(self, since: datetime, until: datetime, **filters: Any) -> Iterator[ContactEvent]:
        """Blocking: up to ``max_active_requests`` contacts' events fetched in parallel (the
        transport's rate limiter keeps the total under ``rate_limit_per_second``), yielded in
        contact order."""
        query, filters = self.event_query(since, until, filters)
        workers = int(self.extras.max_active_requests)
        contact_ids = query.contact_ids
        filters.update(include_types=query.include_types, exclude_types=query.exclude_types)
        label_sn = filters.pop("label_sn", None)
        search_field, search_value = filters.pop("search_field", None), filters.pop("search_value", None)
        since, until = utc(since), utc(until)
        if until <= since:
            return
        customers = (
            iter(contact_ids)
            if contact_ids
            else run_plan(self.transport, self._customers_plan(label_sn, search_field, search_value))
        )

        def fetch(customer_id: Any) -> list[ContactEvent]:
            return list(
                run_plan(self.transport, self.contact_events_plan(str(customer_id), since, until, **filters))
            )

        if workers == 1:
            for customer_id in customers:
                yield from fetch(customer_id)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dmartech-events") as pool:
            pending: deque = deque()
            for customer_id in customers:
                pending.append(pool.submit(fetch, customer_id))
                if len(pending) >= workers * 2:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
