"""Arguments shared by operators and sensors."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError


def as_list(value: Any, field: str) -> list[str] | None:
    """A list argument given as a list or a comma-separated string (None when empty)."""
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        value = [v for v in (part.strip() for part in value.split(",")) if v]
    if not isinstance(value, (list, tuple, set)):
        raise ContactsConfigError(
            f"{field} must be a list (or a comma-separated string), got {type(value).__name__}"
        )
    return [str(v) for v in value]


def positive_int(value: Any, field: str, *, optional: bool = False) -> Any:
    """``value`` when it is a whole number >= 1 (or None when ``optional``), else the provider's
    config error naming ``field``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ContactsConfigError(f"{field}={value!r}: use a whole number >= 1")
    return value


def as_bool(value: Any, field: str) -> bool:
    """A flag given as a bool or, rendered from a template (e.g. ``"{{ params.full_sync }}"``), as
    the text ``True``/``False`` (also ``true``/``false``, ``1``/``0``, ``yes``/``no``)."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ContactsConfigError(f"{field}={value!r}: use True or False")


def is_template(value: Any) -> bool:
    """True when ``value`` still holds a Jinja template (``{{ ... }}``, a dict or list searched as
    its JSON text): such an argument is checked once rendered, not when the task is built."""
    return "{{" in (value if isinstance(value, str) else json.dumps(value, default=str))
