"""What a row may hold: JSON-safe values from SQL drivers and files, and the values no vendor
can take (NaN/Infinity, types that are not JSON, lists/objects the vendor does not take, text
holding NUL or a lone surrogate, nesting too deep, numbers too long)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from airflow_provider_contacts._time import utc

#: the deepest nesting of lists and objects a row may hold: no vendor takes more than one level
#: (Mautic's API refuses a body nested deeper than 512 levels: PHP's ``json_decode`` default)
MAX_DEPTH = 100
#: the most digits a whole number may have: Python's default limit for reading one from text
#: (``sys.get_int_max_str_digits``); no vendor stores a number near that long
MAX_DIGITS = 4300
_LARGEST = 10**MAX_DIGITS - 1
#: the bits of the largest number of MAX_DIGITS digits (a cheap first test of a number's length)
MAX_BITS = _LARGEST.bit_length()
#: a lone surrogate: a UTF-16 half that is not Unicode text (UTF-8 cannot hold one)
SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class LongNumber:
    """A whole number of a source too long to read (over :data:`MAX_DIGITS` digits), kept as its
    text so that its row is rejected with the reason, and written to the rejects file whole."""

    text: str


def too_long(value: int) -> bool:
    """True when the whole number ``value`` has more than :data:`MAX_DIGITS` digits."""
    return value.bit_length() >= MAX_BITS and abs(value) > _LARGEST


def read_int(text: str) -> int | LongNumber:
    """``parse_int`` for ``json.loads``: an int, or a :class:`LongNumber` past :data:`MAX_DIGITS`."""
    return LongNumber(text) if len(text) - text.startswith("-") > MAX_DIGITS else int(text)


def json_safe(value: Any, _depth: int = 0) -> Any:
    """Plain JSON values for rows from SQL drivers and files: datetimes → ISO 8601 UTC,
    dates → ``YYYY-MM-DD``, decimals → int/float, bytes → text. Past :data:`MAX_DEPTH` levels
    the value is left as it is (its row is rejected for its depth)."""
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if _depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, _depth + 1) for v in value]
    return value


_SCALARS = (str, int, float, bool, type(None))


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
    not JSON, or a list/object the vendor does not take (``hook.structured_value_problem``);
    and, in the same pass, what :func:`unsendable_problem` finds. Never sent as a Python repr."""
    for name, value in row.items():
        kind = type(value)
        if kind is str:  # the common cases first, with the least to check (unstorable_text, inlined)
            if "\x00" in value or (not value.isascii() and SURROGATE.search(value)):
                return _text_problem(name, value)
            continue
        if kind is int:
            if value.bit_length() >= MAX_BITS and too_long(value):
                return _nested_problem(name, value, 1, name)
            continue
        if kind is bool or value is None:
            continue
        if kind is not list or not _plain_texts(value):  # a list of plain texts (tags): no NaN, no depth
            problem = _nested_problem(name, value, 1, name) or non_finite_problem(name, value)
            if problem:
                return problem
        if isinstance(value, (dict, list, tuple)):
            problem = hook.structured_value_problem(str(name), value)
            if problem:
                return problem
        elif not isinstance(value, _SCALARS):
            return f"field {name!r} is a {type(value).__name__}, not a text, number, boolean or null value"
    return _names_problem(row)


def unsendable_problem(row: Any) -> str | None:
    """Why ``row`` (an input row: an object, or a contact id or email) holds something no vendor
    can store, naming the field: a NUL character or a lone surrogate in a name or a text (at any
    depth), lists/objects nested deeper than :data:`MAX_DEPTH`, a number over :data:`MAX_DIGITS`
    digits. None when it holds none (the common case is one pass over the top-level values)."""
    if type(row) is not dict:
        return _nested_problem(None, row, 0, None)
    for name, value in row.items():
        kind = type(value)
        if kind is str:  # unstorable_text, inlined: once per value
            if "\x00" in value or (not value.isascii() and SURROGATE.search(value)):
                return _text_problem(name, value)
        elif kind is int:
            if value.bit_length() >= MAX_BITS and too_long(value):
                return _nested_problem(name, value, 1, name)
        elif kind is list and _plain_texts(value):
            continue  # a list of texts without NUL or surrogates (tags...): nothing to name
        elif kind is not float and kind is not bool and value is not None:
            problem = _nested_problem(name, value, 1, name)
            if problem:
                return problem
    return _names_problem(row)


def _names_problem(row: dict) -> str | None:
    """A field name of ``row`` holding NUL or a lone surrogate (all names checked at once)."""
    try:
        names = "".join(row)  # a row read from a file has text names only
    except TypeError:
        names = "".join(str(name) for name in row)
    if unstorable_text(names):
        return next(_text_problem(n, n, is_name=True) for n in map(str, row) if unstorable_text(n))
    return None


def _plain_texts(values: list) -> bool:
    """True when ``values`` are texts holding no NUL or surrogate (one join: the fast path)."""
    try:
        joined = "".join(values)
    except TypeError:
        return False
    return not unstorable_text(joined)


def unstorable_text(text: str) -> bool:
    """True when ``text`` holds what no vendor can store (a NUL, a lone surrogate)."""
    return "\x00" in text or (not text.isascii() and SURROGATE.search(text) is not None)


def _nested_problem(name: Any, value: Any, depth: int, top: Any) -> str | None:
    """:func:`unsendable_problem` for one value at ``depth`` (``name``: its path, e.g. ``a.b[2]``;
    ``top``: the field of the row it is in)."""
    if isinstance(value, str):
        return _text_problem(name, value) if unstorable_text(value) else None
    where = "the row" if name is None else f"field {str(name)!r}"
    if isinstance(value, LongNumber) or (
        isinstance(value, int) and not isinstance(value, bool) and too_long(value)
    ):
        digits = (
            len(value.text.lstrip("-")) if isinstance(value, LongNumber) else Decimal(value).adjusted() + 1
        )
        return (
            f"{where} is a number of {digits} digits; no vendor stores a number that long (at most "
            f"{MAX_DIGITS} digits are read): give it as text (in quotes) if it is an identifier"
        )
    if not isinstance(value, (dict, list, tuple)):
        return None
    if depth > MAX_DEPTH:
        where = "the row" if top is None else f"field {str(top)!r}"
        return (
            f"{where} nests lists/objects more than {MAX_DEPTH} levels deep; no vendor takes that: flatten it"
        )
    is_dict = isinstance(value, dict)
    items: Any = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if is_dict and isinstance(key, str) and unstorable_text(key):
            return _text_problem(key, key, is_name=True)
        if type(item) is str and item.isascii() and "\x00" not in item:
            continue  # the common case (a list of tags), no path to build
        path = (
            (key if is_dict else f"[{key}]")
            if name is None
            else f"{name}.{key}"
            if is_dict
            else f"{name}[{key}]"
        )
        problem = _nested_problem(path, item, depth + 1, path if top is None else top)
        if problem:
            return problem
    return None


def _text_problem(name: Any, text: str, is_name: bool = False) -> str:
    """The reason for a text holding NUL or a lone surrogate (the value itself is not shown)."""
    where = (
        f"the field name {text[:80]!r}" if is_name else "the row" if name is None else f"field {str(name)!r}"
    )
    if "\x00" in text:
        return f"{where} holds a NUL character (U+0000), which vendors cannot store in text: remove it from the source"
    found = SURROGATE.search(text)
    code = f"U+{ord(found.group()):04X}" if found else "U+D800"
    return (
        f"{where} holds a lone surrogate ({code}), which is not Unicode text and no vendor can store (Mautic "
        "refuses the whole batch): fix the text where it is produced (often a broken \\u escape or encoding)"
    )
