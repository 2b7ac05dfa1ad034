"""Mautic activity (the contact timeline, the sensor's event source) and the contact's other
endpoints: owners, fields, segments, sub-resources and UTM tags."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_contacts._time import utc
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks.base import EventPlanMixin
from airflow_provider_contacts.hooks.mautic.base import MauticBase
from airflow_provider_contacts.hooks.mautic.wire import (
    as_int,
    clean,
    entities,
    listed,
    mautic_datetime,
    mautic_id,
    normalise_event,
    snake,
)
from airflow_provider_contacts.http.plan import Call, Page, Plan, paged
from airflow_provider_contacts.models import ContactEvent, EventQuery

#: the keys ``POST /contacts/{id}/utm/add`` reads (``LeadModel::addUTMTags``, ``UtmTag::getFieldSetterList``)
UTM_KEYS = frozenset(
    {
        "utm_campaign",
        "utm_source",
        "utm_medium",
        "utm_content",
        "utm_term",
        "url",
        "referer",
        "query",
        "useragent",
        "user_agent",
        "remotehost",
        "remote_host",
        "lastActive",
    }
)
#: the names of the stored record (as the contact's ``utmtags`` show them) → the key to send
UTM_CAMEL = {
    "utmCampaign": "utm_campaign",
    "utmSource": "utm_source",
    "utmMedium": "utm_medium",
    "utmContent": "utm_content",
    "utmTerm": "utm_term",
    "userAgent": "useragent",
    "remoteHost": "remotehost",
}


class MauticActivity(EventPlanMixin, MauticBase):
    """The activity and other contact endpoints of :class:`~.hook.MauticHook`."""

    def event_plan(self, query: EventQuery, *, page_size: int = 100, search: str | None = None) -> Plan:
        """Events with ``since <= occurred_at < until``: Mautic's date filters are inclusive
        and second-precise, so the window is widened to whole seconds and cut here."""
        since_utc, until_utc = utc(query.since), utc(query.until)
        include_types, exclude_types, contact_ids = (
            query.include_types,
            query.exclude_types,
            query.contact_ids,
        )
        if until_utc <= since_utc:
            return
        date_to = until_utc if until_utc.microsecond == 0 else until_utc + timedelta(seconds=1)
        base: dict[str, Any] = {
            "filters[dateFrom]": mautic_datetime(since_utc),
            "filters[dateTo]": mautic_datetime(date_to),
            "order[0]": "timestamp",
            "order[1]": "ASC",
            "limit": int(page_size),
        }
        if include_types:
            base["filters[includeEvents][]"] = list(include_types)
        if exclude_types:
            base["filters[excludeEvents][]"] = list(exclude_types)
        if search:
            base["filters[search]"] = search
        paths = (
            [f"/api/contacts/{mautic_id(c)}/activity" for c in contact_ids]
            if contact_ids
            else ["/api/contacts/activity"]
        )

        def read(body: Any, page: int) -> Page:
            body = body if isinstance(body, dict) else {}
            events = self.read_events(body.get("events") or [], normalise_event)
            return Page(
                [e for e in events if since_utc <= e.occurred_at < until_utc],
                last=page >= as_int(body.get("maxPages"), 1),
            )

        for path in paths:
            # Duplicates come from offsets shifting while we page (an event inserted into a type
            # already paged pushes its neighbour onto the next page): remembering the keys of the
            # previous page is enough, and memory stays flat.
            yield from paged(
                lambda page, path=path: Call("GET", path, params={**base, "page": page}),
                read,
                key=lambda event: event.dedup_key,
                repeats="adjacent",
            )

    def get_contact_activity(
        self,
        contact_id: int | str,
        since: datetime | None = None,
        until: datetime | None = None,
        **filters: Any,
    ) -> list[ContactEvent]:
        """All of one contact's timeline events in ``[since, until)`` (default: everything)."""
        since = since or datetime(1970, 1, 1, tzinfo=timezone.utc)
        until = until or datetime.now(timezone.utc) + timedelta(seconds=1)
        return list(self.iter_events(since, until, contact_ids=[str(contact_id)], **filters))

    # ---- the rest of the contact endpoints ------------------------------------------------
    def list_owners(self) -> list[dict[str, Any]]:
        return list(self._get("contacts/list/owners") or [])

    def list_fields(self) -> list[dict[str, Any]]:
        body = self._get("contacts/list/fields") or {}
        return listed(body)

    def list_segments(self) -> list[dict[str, Any]]:
        body = self._get("contacts/list/segments") or []
        return listed(body)

    def _sub_list(self, contact_id: int | str, name: str, key: str | None = None) -> list[dict[str, Any]]:
        body = self._get(f"contacts/{mautic_id(contact_id)}/{name}") or {}
        return entities(body, key or name)

    def get_contact_segments(self, contact_id: int | str) -> list[dict[str, Any]]:
        """``GET /contacts/{id}/segments``; Mautic answers them under the key ``lists``."""
        return self._sub_list(contact_id, "segments", "lists")

    def get_contact_campaigns(self, contact_id: int | str) -> list[dict[str, Any]]:
        return self._sub_list(contact_id, "campaigns")

    def get_contact_companies(self, contact_id: int | str) -> list[dict[str, Any]]:
        return self._sub_list(contact_id, "companies")

    def get_contact_notes(self, contact_id: int | str) -> list[dict[str, Any]]:
        return self._sub_list(contact_id, "notes")

    def get_contact_devices(self, contact_id: int | str) -> list[dict[str, Any]]:
        return self._sub_list(contact_id, "devices")

    def add_utm_tags(self, contact_id: int | str, utm: dict[str, Any]) -> dict[str, Any]:
        """``POST /contacts/{id}/utm/add``: records one set of UTM tags; returns the contact.

        Keys, as Mautic reads them (snake_case; ``LeadModel::addUTMTags``): ``utm_source``,
        ``utm_medium``, ``utm_campaign``, ``utm_content``, ``utm_term``, ``url``, ``referer``,
        ``query`` (a dict, or a query string), ``useragent`` (also records the contact's device;
        ``user_agent`` only stores it), ``remotehost`` / ``remote_host``, and ``lastActive`` (a
        datetime or text; it dates the record and sets the contact's last activity). Mautic
        ignores any other key, so a camelCase one (``utmSource``) would be stored as nothing:
        it is refused here, before the request. Not idempotent (adds a record): never retried."""
        unknown = sorted(k for k in utm if k not in UTM_KEYS)
        if unknown:
            hints = [
                f"{k!r} → {UTM_CAMEL.get(k) or snake(k)!r}"
                if (UTM_CAMEL.get(k) or snake(k)) in UTM_KEYS
                else repr(k)
                for k in unknown
            ]
            raise ContactsConfigError(
                f"UTM key(s) {', '.join(hints)} not read by Mautic, which would store nothing for them; "
                f"use {', '.join(sorted(UTM_KEYS))}",
                conn_id=self.conn_id,
            )
        return self._send(
            "POST", f"contacts/{mautic_id(contact_id)}/utm/add", json=clean(utm), idempotent=False
        )["contact"]

    def remove_utm_tag(self, contact_id: int | str, utm_id: int | str) -> dict[str, Any]:
        return self._send(
            "POST", f"contacts/{mautic_id(contact_id)}/utm/{mautic_id(utm_id)}/remove", idempotent=True
        )["contact"]
