"""Contact references in rows: an id or an email (DNC, point groups) and the key of an upsert."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts.rows.sources import BadRow


def contact_ref(row: Any) -> tuple[str | None, str | None, str | None]:
    """(contact id, email, problem) from an id, an email, or an object with ``id`` /
    ``contact_id`` / ``email``. The operators that take references (do-not-contact, audience
    membership, point groups) are Mautic's, whose contact ids are integers: an id is ASCII
    digits above 0, written without leading zeros (``"015"`` and ``15`` are both ``"15"``, one
    contact)."""
    if isinstance(row, BadRow):
        return None, None, row.reason
    value = row
    if isinstance(row, dict):
        for name in ("id", "contact_id", "contactId"):
            if row.get(name) not in (None, ""):
                value = row[name]
                break
        else:
            value = row.get("email")
            if value in (None, ""):
                return None, None, 'row has no "id", "contact_id" or "email"'
    if isinstance(value, bool) or value is None:
        return None, None, f"{value!r} is not a contact id or email"
    if isinstance(value, int):
        return (str(value), None, None) if value > 0 else (None, None, f"contact id {value} is not valid")
    text = str(value).strip()
    if text.isascii() and text.isdigit():  # "015" (a zero-padded export) is contact 15
        number = int(text)
        return (str(number), None, None) if number > 0 else (None, None, f"contact id {text!r} is not valid")
    if "@" in text and " " not in text:
        return None, text.lower(), None
    return None, None, f"{text[:80]!r} is neither a contact id nor an email"


def normalise_key(key: str, value: Any) -> str | None:
    """The identity of a row's key: emails compare case-insensitively (as vendors match them)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    if not text:
        return None
    return text.lower() if key == "email" else text


def email_problem(value: str) -> str | None:
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or "@" in domain or len(value.split()) != 1:
        return f"email {value!r} is not a valid address"
    return None
