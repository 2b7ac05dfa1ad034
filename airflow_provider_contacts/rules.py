"""Business rules shared by hooks and operators: point operations and the provider's rounding,
whole numbers, and do-not-contact reasons."""

from __future__ import annotations

import math
import re
from typing import Any

#: point-group operators, and the rounding rule of this provider for ``divide``
POINT_OPERATORS = ("plus", "minus", "times", "divide", "set")
DNC_REASONS = {"unsubscribed": 1, "bounced": 2, "manual": 3}


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


def whole_number(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (an int, an integral finite float, or a
    string of ASCII digits with one optional sign), else None. ``"--5"``, ``"+-3"``, ``"²"``,
    ``"1e3"``, ``True``, NaN and infinities are not whole numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def compute_score(current: int, op: str, value: int) -> int:
    """The score after ``op value``. Division rounds toward zero (7 / 2 = 3, -7 / 2 = -3);
    dividing by 0 is a ValueError (a :class:`ContactsConfigError`)."""
    from airflow_provider_contacts.exceptions import ContactsConfigError

    if op == "plus":
        return current + value
    if op == "minus":
        return current - value
    if op == "times":
        return current * value
    if op == "divide":
        if value == 0:
            raise ContactsConfigError("cannot divide a score by 0")
        quotient = abs(current) // abs(value)
        return quotient if (current >= 0) == (value > 0) else -quotient
    if op == "set":
        return value
    raise ContactsConfigError(f"op {op!r} is not one of {', '.join(POINT_OPERATORS)}")


def check_adjustment(op: Any, value: Any, operators: tuple[str, ...] = POINT_OPERATORS) -> tuple[str, int]:
    """(op, integer value) of a point adjustment, or :class:`InvalidAdjustment` naming the
    problem: an unknown op, a value that is not a whole number, a division by zero."""
    from airflow_provider_contacts.exceptions import InvalidAdjustment

    name = str(op or "").strip().lower()
    if name not in operators:
        raise InvalidAdjustment(f"op {op!r} is not allowed; use one of {', '.join(operators)}")
    number = whole_number(value)
    if number is None:
        raise InvalidAdjustment(f"value {value!r} is not an integer; scores are whole numbers")
    if name == "divide" and number == 0:
        raise InvalidAdjustment("divide by zero: value 0 with op divide")
    return name, number


def dnc_reason_name(code: int) -> str:
    """The name of a do-not-contact reason code (``1`` → ``unsubscribed``); a code without a
    name is written as its number (``"7"``)."""
    return next((name for name, number in DNC_REASONS.items() if number == code), str(code))


def parse_dnc_reason(reason: Any) -> int:
    """``unsubscribed`` / ``bounced`` / ``manual`` or a whole number > 0."""
    from airflow_provider_contacts.exceptions import ContactsConfigError

    if isinstance(reason, bool) or reason is None:
        raise ContactsConfigError(f"reason={reason!r}: use unsubscribed, bounced, manual or a number > 0")
    number = whole_number(reason)
    if number is not None:
        if number <= 0:
            raise ContactsConfigError(
                f"reason={reason!r}: must be > 0 (1 unsubscribed, 2 bounced, 3 manual); to make a "
                "contact contactable again use action='remove'"
            )
        return number
    if isinstance(reason, str) and reason.strip().lower() in DNC_REASONS:
        return DNC_REASONS[reason.strip().lower()]
    raise ContactsConfigError(
        f"reason={reason!r} is not a do-not-contact reason; use unsubscribed, bounced or manual (or 1-3)"
    )
