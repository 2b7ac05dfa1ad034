"""Mautic's wire formats, as plain Python: dates, batch answers, timeline events, list queries
and the small value checks the endpoints share.

* dates are sent as UTC ``Y-m-d H:i:s`` (the one format Mautic reads without shifting) and read
  as ISO 8601 with an offset or ``Y-m-d H:i:s`` in UTC;
* batch endpoints answer 201/200 whatever happened to the items: per-item ``statusCodes`` and
  ``errors`` keyed by request index, as a JSON list or an object;
* a batch answer echoes every field of every contact (over 1 MB for 200 contacts): it is
  decoded with msgspec keeping only what the hook reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from airflow_provider_contacts._time import parse_iso, utc
from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.models import ContactEvent


@dataclass
class BatchItem:
    """One item of a batch answer: ``status`` from ``statusCodes``, the contact when it
    succeeded, the error item when it failed."""

    index: int
    status: int
    contact: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str | None:
        return None if self.error is None else str(self.error.get("message") or "")

    @property
    def error_type(self) -> str | None:
        if self.error is None:
            return None
        return str(self.error.get("type") or self.error.get("code") or "") or None


@dataclass
class ContactPage:
    total: int
    contacts: list[dict[str, Any]] = field(default_factory=list)


def mautic_datetime(value: datetime | str) -> str:
    """UTC ``Y-m-d H:i:s``, the only date format Mautic reads without shifting."""
    if isinstance(value, str):
        return value
    return utc(value).strftime("%Y-%m-%d %H:%M:%S")


def parse_mautic_datetime(text: str) -> datetime:
    """Mautic timestamps: ISO 8601 with offset, or ``Y-m-d H:i:s`` in UTC."""
    return parse_iso(text)


def index_keyed(value: Any) -> dict[int, Any]:
    """A batch answer's ``contacts``/``errors``/``statusCodes``: a JSON list (positions) or an
    object keyed by request index (string or int) → ``{index: value}``."""
    if value is None:
        return {}
    if isinstance(value, list):
        return dict(enumerate(value))
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            try:
                out[int(key)] = item
            except (TypeError, ValueError):
                continue
        return out
    return {}


class _BatchContactId(msgspec.Struct):
    id: Any = None


class _BatchAnswer(msgspec.Struct):
    contacts: dict[str, _BatchContactId | None] | list[_BatchContactId | None] | None = None
    statusCodes: Any = None
    errors: Any = None


def decode_batch_answer(content: bytes) -> Any:
    """Decode a batch answer keeping only what the hook reads (per-index status, errors and
    each contact's id); msgspec skips the rest without building it."""
    try:
        answer = msgspec.json.decode(content, type=_BatchAnswer)
    except msgspec.ValidationError:
        return msgspec.json.decode(content)
    contacts = answer.contacts
    if isinstance(contacts, dict):
        shown: Any = {k: (None if v is None else {"id": v.id}) for k, v in contacts.items()}
    elif isinstance(contacts, list):
        shown = [None if v is None else {"id": v.id} for v in contacts]
    else:
        shown = contacts
    return {"contacts": shown, "statusCodes": answer.statusCodes, "errors": answer.errors}


def parse_batch(body: Any, count: int) -> list[BatchItem]:
    """One :class:`BatchItem` per request index ``0..count-1``."""
    body = body if isinstance(body, dict) else {}
    contacts = index_keyed(body.get("contacts"))
    errors = index_keyed(body.get("errors"))
    codes = index_keyed(body.get("statusCodes"))
    items = []
    for index in range(count):
        error = errors.get(index)
        contact = contacts.get(index)
        status = codes.get(index)
        try:
            status = int(status) if status is not None else None
        except (TypeError, ValueError):
            status = None
        if status is None:  # no statusCodes (batch delete) or a short list
            status = int(error.get("code") or 400) if isinstance(error, dict) else (200 if contact else 0)
        if error is not None and 200 <= status < 300:
            status = int(error.get("code") or 400) if isinstance(error, dict) else 400
        items.append(
            BatchItem(
                index,
                status,
                contact if isinstance(contact, dict) else None,
                error if isinstance(error, dict) else ({"message": str(error)} if error else None),
            )
        )
    return items


def normalise_event(raw: Any) -> ContactEvent:
    """A timeline event of ``/contacts/activity`` as a :class:`ContactEvent`; ``ValueError``
    saying why when it has no type or no readable time."""
    if not isinstance(raw, dict) or not raw.get("timestamp") or not raw.get("event"):
        raise ValueError(f"a timeline event has no event type or no timestamp: {str(raw)[:120]}")
    try:
        occurred = parse_mautic_datetime(str(raw["timestamp"]))
    except (ValueError, OverflowError):
        raise ValueError(
            f"timeline event {raw.get('event')}:{raw.get('eventId')}: timestamp "
            f"{str(raw['timestamp'])[:40]!r} is not a date-time"
        ) from None
    label = raw.get("eventLabel")
    if isinstance(label, dict):
        label = label.get("label")
    details = found if isinstance(found := raw.get("details"), dict) else {}
    log_info = found if isinstance(found := details.get("log"), dict) else {}
    campaign = log_info.get("campaignName") or log_info.get("campaign_name")
    contact = raw.get("contactId")
    return ContactEvent(
        vendor="mautic",
        event_id=str(raw.get("eventId") or ""),
        event_type=str(raw["event"]),
        contact_id=None if contact in (None, "") else str(contact),
        occurred_at=occurred,
        label=None if label is None else str(label),
        campaign=None if campaign is None else str(campaign),
        raw=raw,
    )


def listed(items: Any) -> list[Any]:
    """Mautic sends a list of entities as an object keyed by id, or as a list."""
    return list(items.values()) if isinstance(items, dict) else list(items or [])


def entities(body: Any, key: str) -> list[Any]:
    """The entities of a list answer under ``key``."""
    return listed(body.get(key) if isinstance(body, dict) else None)


def list_params(
    *, search, start, limit, order_by, order_dir, where, published, minimal, select
) -> dict[str, Any]:
    """The query of ``GET /contacts`` (``where`` clauses, ordering, paging, projection)."""
    params: dict[str, Any] = {"start": int(start), "limit": int(limit)}
    if search:
        params["search"] = search
    if order_by:
        params["orderBy"] = order_by
        params["orderByDir"] = order_dir.upper()
    params.update(where_params(where))
    if published is not None:
        params["published"] = 1 if published else 0  # the code reads "published", not "publishedOnly"
    if minimal:
        params["minimal"] = 1
    if select:
        params["select[]"] = sorted(set(select) | {"id"})
    return params


def where_params(where: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``where[i][col|expr|val]`` query parameters (``CommonRepository::buildWhereClauseFromArray``)."""
    params: dict[str, Any] = {}
    for i, clause in enumerate(where or []):
        for key, value in clause.items():
            if isinstance(value, (list, tuple)):
                params[f"where[{i}][{key}][]"] = [str(v) for v in value]
            else:
                params[f"where[{i}][{key}]"] = str(value)
    return params


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def mautic_id(value: int | str) -> str:
    """A Mautic id (an integer column) as Mautic writes it: ``"015"`` is ``"15"``, as MySQL
    compares it; ASCII digits only, above 0."""
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]+", text) or int(text) == 0:
        raise ContactsConfigError(f"id {value!r} is not a Mautic id (a positive whole number)")
    return str(int(text))


def channel_name(channel: str) -> str:
    text = str(channel or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", text):
        raise ContactsConfigError(f"channel {channel!r} is not valid; use e.g. email or sms")
    return text


def as_int(value: Any, default: int = 0) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def contact_id_of(contact: dict[str, Any] | None) -> str | None:
    if not contact or contact.get("id") in (None, ""):
        return None
    return str(contact["id"])


def field_value(contact: dict[str, Any], alias: str) -> Any:
    fields = contact.get("fields") or {}
    if isinstance(fields, dict):
        flat = fields.get("all")
        if isinstance(flat, dict) and alias in flat:
            return flat[alias]
        for group in fields.values():
            if isinstance(group, dict) and isinstance(group.get(alias), dict):
                return group[alias].get("value")
    return contact.get(alias)


def is_zero(value: Any) -> bool:
    if value.__class__ is str and (not value or value[0].isalpha()):
        return False  # the common case: a text no float() reads as a finite number
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        return int(value) == 0
    if isinstance(value, str):
        try:
            return int(float(value)) == 0
        except (ValueError, OverflowError):  # "inf": not a number Mautic drops
            return False
    return False


def clean(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready values: datetimes as UTC ``Y-m-d H:i:s`` (a copy; ``data`` itself when it
    holds no datetime, the common case)."""
    for value in data.values():
        if isinstance(value, datetime):
            break
    else:
        return data
    return {key: mautic_datetime(v) if isinstance(v, datetime) else v for key, v in data.items()}


def count_zero_values(rows: list[dict[str, Any]], key: str) -> int:
    """How many values of ``rows`` (not their ``key``) are a numeric 0 (:func:`is_zero`)."""
    zeros = 0
    for row in rows:
        for name, value in row.items():
            if value.__class__ is str and (not value or value[0].isalpha()):
                continue  # the common case, as in is_zero, without the call
            if name != key and is_zero(value):
                zeros += 1
    return zeros
