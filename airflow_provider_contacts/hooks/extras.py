"""A connection's extra, typed: every value checked against the range its connection form
declares, with errors that name the connection and the field, and the transport options every
connection type takes (``timeout``, retries, rate limits, TLS)."""

from __future__ import annotations

import builtins
import json
import math
from functools import cache
from typing import Any, Literal, overload

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.http.policy import RetryPolicy, Timeouts, TransportSettings

#: a bound of a numeric extra (None: the one its connection form declares)
Num = float | None


@cache
def numeric_extras(conn_type: str) -> dict[str, tuple[str, float, float]]:
    """``{name: ("integer" | "number", minimum, maximum)}`` of the numeric extras of a
    connection type, from its form (``get_provider_info``); the transport options alone for a
    type that has no form."""
    from airflow_provider_contacts.get_provider_info import COMMON_FIELDS, CONNECTION_TYPES

    fields = next(
        (c["conn-fields"] for c in CONNECTION_TYPES if c["connection-type"] == conn_type), COMMON_FIELDS
    )
    table = {}
    for name, field in fields.items():
        schema = field["schema"]
        kind = next((t for t in schema["type"] if t in ("integer", "number")), None)
        if kind is not None:
            table[name] = (kind, schema["minimum"], schema["maximum"])
    return table


def _shown_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def range_text(whole: bool, low: float | None, high: float | None) -> str:
    kind = "a whole number" if whole else "a number"
    if low is not None and high is not None:
        return f"{kind} from {_shown_number(low)} to {_shown_number(high)}"
    if low is not None:
        return f"{kind} >= {_shown_number(low)}"
    if high is not None:
        return f"{kind} <= {_shown_number(high)}"
    return kind


@overload
def parse_number(value: Any, *, whole: Literal[True], low: Num, high: Num) -> int | None: ...
@overload
def parse_number(value: Any, *, whole: bool, low: Num, high: Num) -> int | float | None: ...
def parse_number(value: Any, *, whole: bool, low: Num, high: Num) -> int | float | None:
    """``value`` (a JSON number or a string) as an int (``whole``) or a finite float within
    ``[low, high]``; None when it is not one. NaN, infinities and booleans are never numbers."""
    if isinstance(value, bool):
        return None
    number: int | float
    try:
        if whole:
            if isinstance(value, float):
                if not value.is_integer():
                    return None
                number = int(value)
            else:
                number = int(str(value).strip())
        else:
            number = float(str(value).strip())
    except (ValueError, OverflowError):
        return None
    if not whole and not math.isfinite(number):
        return None
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return number


class ConnExtras:
    """Typed access to a connection's extra, with errors that name the connection and field.

    Reads both ``key`` and the UI-prefixed ``extra__<conn_type>__key`` spelling. A numeric
    field is checked against the range its connection form declares (:func:`numeric_extras`)
    and must be finite; :meth:`check_numbers` checks every numeric field at once, which the
    hooks do before their first request.
    """

    def __init__(self, conn_id: str, conn_type: str, raw: str | dict | None) -> None:
        self.conn_id = conn_id
        self.conn_type = conn_type
        if raw in (None, ""):
            data: Any = {}
        elif isinstance(raw, dict):
            data = raw
        else:
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ContactsConfigError(
                    f"the connection's extra is not valid JSON ({exc.msg} at position {exc.pos}); "
                    'fix the "extra" field, e.g. {"auth_type": "basic"}',
                    conn_id=conn_id,
                ) from None
        if not isinstance(data, dict):
            raise ContactsConfigError(
                'the connection\'s extra must be a JSON object such as {"timeout": 60}',
                conn_id=conn_id,
            )
        self.data = data

    def _raw(self, key: str) -> Any:
        for name in (key, f"extra__{self.conn_type}__{key}"):
            value = self.data.get(name)
            if value not in (None, ""):
                return value
        return None

    def has(self, key: str) -> bool:
        return self._raw(key) is not None

    # below, the methods named after builtins hide them in annotations: hence ``builtins.str`` etc.
    @overload
    def str(self, key: builtins.str, default: builtins.str) -> builtins.str: ...
    @overload
    def str(self, key: builtins.str, default: None = None) -> builtins.str | None: ...
    def str(self, key: builtins.str, default: builtins.str | None = None) -> builtins.str | None:
        value = self._raw(key)
        return default if value is None else str(value)

    def choice(
        self, key: builtins.str, choices: tuple[builtins.str, ...], default: builtins.str
    ) -> builtins.str:
        value = self.str(key, default)
        assert value is not None
        value = value.strip().lower()
        if value not in choices:
            self._bad(key, value, f"one of {', '.join(choices)}")
        return value

    def bool(self, key: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        self._bad(key, value, "true or false")
        raise AssertionError  # unreachable

    def bounds(self, key: builtins.str, minimum: Num = None, maximum: Num = None) -> tuple[Any, Any]:
        """The allowed range of ``key``: the arguments where given, else its form's."""
        _kind, low, high = numeric_extras(self.conn_type).get(key, (None, None, None))
        return (low if minimum is None else minimum), (high if maximum is None else maximum)

    def _number(
        self, key: builtins.str, default: Any, whole: builtins.bool, minimum: Any, maximum: Any
    ) -> Any:
        value = self._raw(key)
        if value is None:
            return default
        low, high = self.bounds(key, minimum, maximum)
        number = parse_number(value, whole=whole, low=low, high=high)
        if number is None:
            self._bad(key, value, range_text(whole, low, high))
        return number

    def int(
        self,
        key: builtins.str,
        default: builtins.int | None = None,
        *,
        minimum: Num = None,
        maximum: Num = None,
    ) -> builtins.int | None:
        return self._number(key, default, True, minimum, maximum)

    @overload  # a default given, a number comes back
    def float(self, key: builtins.str, default: builtins.float) -> builtins.float: ...
    @overload
    def float(self, key: builtins.str, default: None = None) -> builtins.float | None: ...
    def float(self, key: builtins.str, default: builtins.float | None = None) -> builtins.float | None:
        """``key`` as a number within the range its connection form declares."""
        return self._number(key, default, False, None, None)

    def check_numbers(self) -> None:
        """Check every numeric field of this connection type that is set (range, finiteness)."""
        for key, (kind, _low, _high) in numeric_extras(self.conn_type).items():
            self._number(key, None, kind == "integer", None, None)

    def _bad(self, key: builtins.str, value: Any, expected: builtins.str) -> None:
        shown = value if not isinstance(value, str) or len(value) < 60 else value[:57] + "..."
        raise ContactsConfigError(
            f'extra field "{key}" is {shown!r}; it must be {expected}', conn_id=self.conn_id
        )

    def transport_settings(self, defaults: TransportSettings) -> TransportSettings:
        """Options common to every vendor (documented in the README)."""
        verify: bool | str = defaults.verify
        raw_verify = self._raw("verify_ssl")
        if raw_verify is not None:
            if isinstance(raw_verify, str) and raw_verify.strip().lower() not in (
                "true",
                "false",
                "1",
                "0",
                "yes",
                "no",
                "on",
                "off",
            ):
                verify = raw_verify  # a CA bundle path
            else:
                verify = self.bool("verify_ssl", True)
        max_retries = self.int("max_retries", None)
        policy = defaults.policy
        policy_changes: dict[str, Any] = {}
        if max_retries is not None:
            policy_changes["max_attempts"] = max_retries + 1
        for key, attr in (
            ("retry_backoff_seconds", "backoff_initial"),
            ("retry_max_wait_seconds", "max_wait"),
            ("retry_total_seconds", "max_total_seconds"),
        ):
            value = self.float(key)
            if value is not None:
                policy_changes[attr] = value
        if policy_changes:
            policy = RetryPolicy(**{**policy.__dict__, **policy_changes})
        return TransportSettings(
            timeouts=Timeouts(
                connect=self.float("connect_timeout", defaults.timeouts.connect),
                read=self.float("timeout", defaults.timeouts.read),
            ),
            policy=policy,
            rate_per_second=self.float("rate_limit_per_second", defaults.rate_per_second),
            rate_per_hour=self.int("rate_limit_per_hour", defaults.rate_per_hour),
            verify=verify,
            allow_insecure_http=self.bool("allow_insecure_http", defaults.allow_insecure_http),
        )
