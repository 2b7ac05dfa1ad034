"""What a row may hold: JSON-safe values from SQL drivers and files, and the values no vendor
can take (NaN/Infinity, types that are not JSON, lists/objects the vendor does not take)."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from airflow_provider_contacts._time import utc


def json_safe(value: Any) -> Any:
    """Plain JSON values for rows from SQL drivers and files: datetimes → ISO 8601 UTC,
    dates → ``YYYY-MM-DD``, decimals → int/float, bytes → text."""
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


_SCALARS = (str, int, float, bool, type(None))
#: exact types whose values are always sendable (a float may be NaN; a subclass is checked fully)
_PLAIN = frozenset({str, int, bool, type(None)})


def non_finite_problem(name: str, value: Any) -> str | None:
    """NaN and infinities (which ``json.loads`` accepts in NDJSON/JSON sources) are not JSON
    numbers: no vendor can take them."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"field {name!r} is {value!r}, which is not a number a vendor accepts (NaN/Infinity); give a finite number or leave it empty"
    if isinstance(value, dict):
        return next((p for k, v in value.items() if (p := non_finite_problem(f"{name}.{k}", v))), None)
    if isinstance(value, (list, tuple)):
        return next((p for v in value if (p := non_finite_problem(name, v))), None)
    return None


def field_values_problem(row: dict[str, Any], hook: Any) -> str | None:
    """The first value of ``row`` that cannot be sent as it is: NaN/Infinity, a type that is
    not JSON, or a list/object the vendor does not take (``hook.structured_value_problem``).
    Never sent as a Python repr."""
    for name, value in row.items():
        if type(value) in _PLAIN:  # the common case, nothing to check
            continue
        problem = non_finite_problem(name, value)
        if problem:
            return problem
        if isinstance(value, (dict, list, tuple)):
            problem = hook.structured_value_problem(str(name), value)
            if problem:
                return problem
        elif not isinstance(value, _SCALARS):
            return f"field {name!r} is a {type(value).__name__}, not a text, number, boolean or null value"
    return None
