"""EngageLab LiveDesk's wire: its contact list's pages, its times, and rows made into contact
bodies (what the hook sends and reads, as plain Python)."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts._time import parse_iso

PER_PAGE = 15
#: fields a LiveDesk contact has at the top level; any other row field goes to custom_attributes
TOP_LEVEL = ("name", "email", "phone_number", "identifier", "blocked", "avatar_url")
#: the contact's objects of plain values (the only fields that take an object)
ATTRIBUTES = ("custom_attributes", "additional_attributes")


def is_last_page(result: dict[str, Any], page: int) -> bool:
    """Whether ``result`` (page ``page``) is the last page. LiveDesk documents ``meta.count`` as
    "count of results", which may be the total or this page's length: a short or empty page ends
    the list under both readings, and a count larger than the page can only be the total."""
    contacts = result["contacts"]
    if len(contacts) < PER_PAGE:
        return True
    return result["total"] > len(contacts) and page * PER_PAGE >= result["total"]


def read_timestamp(value: Any) -> float | None:
    """Epoch seconds from a LiveDesk time: a number (the document's example) or a string (its
    field table says String): digits, or an ISO 8601 date-time. None when it cannot be read."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return parse_iso(text).timestamp()
        except (ValueError, OverflowError):
            return None
    return None


def attributes_problem(field: str, value: Any) -> str | None:
    """LiveDesk takes ``custom_attributes`` and ``additional_attributes`` as objects of plain
    values; no other field takes a list or an object."""
    if field in ATTRIBUTES and isinstance(value, dict):
        nested = [k for k, v in value.items() if isinstance(v, (dict, list, tuple))]
        if not nested:
            return None
        return f"field {field!r} holds a list or object under {', '.join(map(repr, nested))}; its values must be plain"
    return (
        f"field {field!r} is {'an object' if isinstance(value, dict) else 'a list'}; EngageLab LiveDesk takes "
        "objects only as custom_attributes or additional_attributes: flatten it into its own columns"
    )


def to_contact_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A LiveDesk create/update body from a flat row: known fields at the top level,
    ``custom_attributes``/``additional_attributes`` merged, every other column a custom attribute."""
    fields: dict[str, Any] = {}
    custom: dict[str, Any] = dict(row.get("custom_attributes") or {})
    for name, value in row.items():
        if name in TOP_LEVEL:
            fields[name] = value.strip().lower() if name == "email" and isinstance(value, str) else value
        elif name not in ATTRIBUTES and name != "inbox_id":
            custom[name] = value
    if custom:
        fields["custom_attributes"] = custom
    if row.get("additional_attributes"):
        fields["additional_attributes"] = dict(row["additional_attributes"])
    return fields


def contact_changes(existing: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The part of ``fields`` that differs from the contact (attributes compared key by key)."""
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ATTRIBUTES:
            current = existing.get(name) or {}
            diff = {k: v for k, v in value.items() if current.get(k) != v}
            if diff:
                changes[name] = diff
        elif name == "avatar_url":
            changes[name] = value  # not echoed back (the contact shows a thumbnail)
        elif existing.get(name) != value:
            changes[name] = value
    return changes


def norm_key(key: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    return text.lower() if key == "email" else text


def contact_sid(contact: dict[str, Any] | None) -> str | None:
    return str(contact["id"]) if contact and contact.get("id") is not None else None
