"""Arguments shared by operators and sensors, and the flag words the connection extras read too.

Nothing here imports Airflow at import time (``hooks/fields.py`` reads flags with
:func:`parse_flag` while Airflow reads its configuration); the config error is imported when it
is raised."""

from __future__ import annotations

import json
from typing import Any

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _config_error(message: str) -> Exception:
    from airflow_provider_contacts.exceptions import ContactsConfigError

    return ContactsConfigError(message)


def as_list(value: Any, field: str) -> list[str] | None:
    """A list argument given as a list or a comma-separated string (None when empty)."""
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        value = [v for v in (part.strip() for part in value.split(",")) if v]
    if not isinstance(value, (list, tuple, set)):
        raise _config_error(
            f"{field} must be a list (or a comma-separated string), got {type(value).__name__}"
        )
    return [str(v) for v in value]


def positive_int(value: Any, field: str, *, optional: bool = False) -> Any:
    """``value`` when it is a whole number >= 1 (or None when ``optional``), else the provider's
    config error naming ``field``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _config_error(f"{field}={value!r}: use a whole number >= 1")
    return value


def parse_flag(value: Any) -> bool | None:
    """``value`` (a JSON boolean or a word such as "yes", "Off") as a bool; None when it is not one."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def as_bool(value: Any, field: str) -> bool:
    """A flag given as a bool or, rendered from a template (e.g. ``"{{ params.full_sync }}"``), as
    the text ``True``/``False`` (any word :func:`parse_flag` reads: ``1``/``0``, ``yes``/``no``...)."""
    flag = parse_flag(value) if isinstance(value, (bool, str)) else None
    if flag is None:
        raise _config_error(f"{field}={value!r}: use True or False")
    return flag


def is_template(value: Any) -> bool:
    """True when ``value`` still holds a Jinja template (``{{ ... }}``, a dict or list searched as
    its JSON text): such an argument is checked once rendered, not when the task is built."""
    return "{{" in (value if isinstance(value, str) else json.dumps(value, default=str))
