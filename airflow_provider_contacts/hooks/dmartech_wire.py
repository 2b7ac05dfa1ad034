"""What Dmartech's open platform puts on the wire, read: the answer envelope's ``code`` as the
provider's errors (whatever the HTTP status), a contact event of a day bucket as a
:class:`~airflow_provider_contacts.models.ContactEvent` (with the id Dmartech does not give it),
and the pages of the contact area.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from airflow_provider_contacts._time import utc
from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsHTTPError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)
from airflow_provider_contacts.http.errors import ResponseLike, default_error_mapper, safe_json
from airflow_provider_contacts.http.plan import Call, Page, Plan
from airflow_provider_contacts.models import ContactEvent

#: what a refused signature can mean besides a wrong key (Test Connection and a task's error say it)
AUTH_HINT = (
    "Check the access-key (login) and accessKeySecret (password) in the console's open-platform page, "
    "that this machine's clock is within 5 minutes of real time (the signature carries the time), and "
    "that the caller's IP is whitelisted"
)


#: envelope codes: bad key or signature, no permission, retryable (busy, frequency limit)
AUTH_CODES = {40001, 10002, 401}
PERMISSION_CODES = {40003}
RETRY_CODES = {-1, 40006}


def map_dmartech_error(response: ResponseLike) -> ContactsHTTPError | None:
    """Errors keyed on the envelope's ``code`` whatever the HTTP status."""
    body = safe_json(response)
    if isinstance(body, dict) and "code" in body:
        try:
            code = int(body["code"])
        except (TypeError, ValueError):
            code = None
        if code == 0:
            return None
        message = str(body.get("message") or f"code {code}")
        status = response.status_code
        if code in AUTH_CODES:
            err: ContactsHTTPError = AuthenticationError(message, status=status, vendor_code=code)
        elif code in PERMISSION_CODES:
            err = PermissionDeniedError(message, status=status, vendor_code=code)
        elif code == 40006:
            err = RateLimitedError(message, status=status, vendor_code=code)
        elif code == -1:
            err = ServerError(message, status=status, vendor_code=code)
        else:
            err = InvalidRequestError(message, status=status, vendor_code=code)
        err.retry_decision = code in RETRY_CODES
        return err
    return default_error_mapper(response)


def event_id(customer_id: str, raw: dict[str, Any], attributes: dict[str, Any]) -> str:
    """Dmartech events carry no id: a stable one from the contact, the event's names and its
    attributes (to the second). Events identical in all of these share it; they are told apart
    by their number among them (:func:`contact_event_pages`)."""
    text = "|".join(
        [customer_id, str(raw.get("eventGroupName")), str(raw.get("eventName"))]
        + [f"{k}={attributes[k]}" for k in sorted(attributes)]
    )
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def normalise_event(raw: Any, customer_id: str, tz, bucket_date: str | None = None) -> ContactEvent:
    """A :class:`ContactEvent` from one event of a day bucket: ``attributes`` (a list of
    ``{attributeName, attributeValue, attributeMeaning}``) become a dict; ``event_date`` (local
    time of the tenant) becomes ``occurred_at`` in UTC. ``ValueError`` saying why when the event
    cannot be read."""
    if not isinstance(raw, dict) or not raw.get("eventName"):
        raise ValueError(f"an event of contact {customer_id} has no eventName")
    attributes = {
        str(a.get("attributeName")): a.get("attributeValue")
        for a in raw.get("attributes") or []
        if isinstance(a, dict) and a.get("attributeName")
    }
    local_text = attributes.get("event_date") or raw.get("date") or bucket_date
    if not local_text:
        raise ValueError(f"event {raw['eventName']!r} of contact {customer_id} has no event_date")
    try:
        local = datetime.fromisoformat(str(local_text).strip())
    except ValueError:
        raise ValueError(
            f"event {raw['eventName']!r} of contact {customer_id}: event_date {str(local_text)[:40]!r} "
            "is not a date-time"
        ) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=tz)
    return ContactEvent(
        vendor="dmartech",
        event_id=event_id(customer_id, raw, attributes),
        event_type=str(raw["eventName"]),
        contact_id=customer_id,
        occurred_at=utc(local),
        label=raw.get("eventGroupName"),
        campaign=attributes.get("campaign_name") or attributes.get("campaign"),
        raw={
            "customerId": customer_id,
            "date": raw.get("date"),
            "eventGroupName": raw.get("eventGroupName"),
            "eventName": raw.get("eventName"),
            "attributes": attributes,
        },
    )


def flat_page(body: Any, page_no: int) -> tuple[list[tuple[Any, str | None]], bool]:
    """The events of a contactEvents page as ``(event, its day bucket's date)``, and whether it
    is the last page."""
    buckets = result_page(body, page_no)
    items = [(raw, (b or {}).get("date")) for b in buckets.rows for raw in (b or {}).get("events") or []]
    return items, buckets.last


def _same_page(first: list[Any], again: list[Any]) -> bool:
    as_text = lambda items: [json.dumps(item, sort_keys=True, default=str) for item in items]  # noqa: E731
    return as_text(first) == as_text(again)


def contact_event_pages(
    request: Callable[[int], Call], read: Callable[[list[Any]], list[ContactEvent]]
) -> Plan:
    """A contact's events page by page (``read`` turns a page's items into events), each once,
    with ids stable across pages and polls: the content id (:func:`event_id`) for the first of
    identical events, ``<id>-<n>`` for the n-th.

    The listing is newest first: events arriving while the pages are read push events already
    read onto the next page. An event whose id (its number counted on its own page) was already
    returned is either such a repeat or a real identical event the page boundary split; the
    previous page is then read once more: unchanged, nothing moved and the events are real (they
    take the next numbers); changed, they are repeats and skipped (and from then on in this
    read, without reading again). Identical events on one page are always real."""
    counts: dict[str, int] = {}  # content id -> identical events returned
    moved = False
    previous: list[Any] = []
    page_no = 1
    while True:
        items, last = flat_page((yield request(page_no)), page_no)
        local: dict[str, int] = {}
        numbered = []
        for event in read(items):
            local[event.event_id] = local.get(event.event_id, 0) + 1
            numbered.append((event, local[event.event_id]))
        repeats = any(n <= counts.get(e.event_id, 0) for e, n in numbered)
        real = False
        if repeats and not moved and page_no > 1:
            again, _ = flat_page((yield request(page_no - 1)), page_no - 1)
            real = _same_page(previous, again)
            moved = not real
        for event, n in numbered:
            base, seen = event.event_id, counts.get(event.event_id, 0)
            number = seen + n if real else n
            if number <= seen:
                continue  # read on an earlier page: the pages moved
            counts[base] = number
            yield event if number == 1 else replace(event, event_id=f"{base}-{number}")
        if last:
            return
        previous, page_no = items, page_no + 1


def customer_id_of(row: dict[str, Any]) -> str:
    return str(row.get("customerId") or "")


def result_page(body: Any, page_no: int) -> Page:
    """The rows of a contact-area page; the last page is empty or numbered ``totalPage``."""
    data = ((body or {}).get("data") or {}) if isinstance(body, dict) else {}
    rows = list(data.get("resultList") or [])
    return Page(rows, last=not rows or page_no >= as_int(data.get("totalPage")))


def as_int(value: Any, default: Any = 0) -> Any:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def clean_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v not in (None, "", [])}
