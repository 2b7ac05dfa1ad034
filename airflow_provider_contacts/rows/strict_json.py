"""JSON lines every reader takes (``jq``, Spark, ``JSON.parse``): strict JSON in valid UTF-8, for
the rejects file, and the way back for its replay.

A rejected row may hold what strict JSON cannot; it is written so that nothing is lost and a
replay reads the row back as it was (and rejects it again, for the same reason, until it is
fixed), in the shape of MongoDB's Extended JSON:

- NaN, Infinity, -Infinity: ``{"$numberDouble": "NaN"}`` (``"Infinity"``, ``"-Infinity"``);
- a whole number of more than :data:`~airflow_provider_contacts.rows.values.MAX_DIGITS` digits:
  ``{"$numberDecimal": "<its digits>"}``;
- a lone surrogate in a text (UTF-8 cannot hold one): its escape, ``"\\ud800"``, which JSON
  readers read back;
- lists/objects nested deeper than :data:`~airflow_provider_contacts.rows.values.MAX_DEPTH`
  levels in a field of a row: the part below becomes the text ``"<cut: nested deeper than 100
  levels>"`` (only a row rejected for its depth holds one; Python cannot write it whole);
- any other value that is not JSON (a date, a set...): its ``str()``.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from airflow_provider_contacts.rows.values import MAX_DEPTH, SURROGATE, LongNumber, read_int, too_long

NUMBER_DOUBLE = "$numberDouble"
NUMBER_DECIMAL = "$numberDecimal"
_NON_FINITE = ("NaN", "Infinity", "-Infinity")
_DIGITS = re.compile(r"-?[0-9]+")


def dumps(value: Any) -> str:
    """``value`` as one line of strict JSON that encodes to UTF-8 (see the module's rules)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=_default)
    except (ValueError, TypeError, RecursionError):  # NaN, a number too long, a name not text, depth
        text = json.dumps(_strict(value, 0), ensure_ascii=False, allow_nan=False, default=_default)
    if not text.isascii() and SURROGATE.search(text):
        text = SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
    return text


def _default(value: Any) -> Any:
    if isinstance(value, LongNumber):
        return {NUMBER_DECIMAL: value.text}
    return str(value)


def _strict(value: Any, depth: int) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {NUMBER_DOUBLE: "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"}
    if isinstance(value, int) and not isinstance(value, bool):
        return {NUMBER_DECIMAL: format(Decimal(value), "f")} if too_long(value) else value
    if not isinstance(value, (dict, list, tuple)):
        return value
    if depth > MAX_DEPTH + 1:  # a record (0) holds a row (1) whose fields hold values (2...)
        return f"<cut: nested deeper than {MAX_DEPTH} levels>"
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _strict(v, depth + 1) for k, v in value.items()}
    return [_strict(v, depth + 1) for v in value]


def restore(value: Any, depth: int = 0) -> Any:
    """``value`` read from a line :func:`dumps` wrote, with its Extended JSON numbers made
    numbers again (a :class:`LongNumber` for one too long to read)."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == NUMBER_DOUBLE and inner in _NON_FINITE:
                return float(inner)
            if key == NUMBER_DECIMAL and isinstance(inner, str) and _DIGITS.fullmatch(inner):
                return read_int(inner)
        if depth >= MAX_DEPTH:
            return value
        return {k: restore(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list) and depth < MAX_DEPTH:
        return [restore(v, depth + 1) for v in value]
    return value
