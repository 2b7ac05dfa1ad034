"""The field types of the connection extras models (:mod:`.extras`): each one is at the same
time how an extra is read (typed, range-checked, with an error naming the connection and the
field) and its connection form field; and the number rules they share with the hooks.

Nothing here imports Airflow (``get_provider_info`` reaches this module while Airflow reads
its configuration)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_contacts._args import parse_flag

if TYPE_CHECKING:
    from airflow_provider_contacts.hooks.extras import ConnExtras

#: the largest id a vendor may hand out that we accept (a signed 64-bit integer)
MAX_ID = 2**63 - 1


# ---- fields -------------------------------------------------------------------------------------
class Field:
    """One extra: its form field (``label``, ``description``, ``default``) and how it is read.
    ``formerly``: older names still read when the new one is not set; ``doc``: the README's
    wording when it says more than the form's ``description``. (Plain classes, not dataclasses:
    Airflow builds them in every process that reads the provider info.)"""

    schema_type: ClassVar[str] = "string"
    #: the extra's name (the attribute the model declares it as)
    name: str = ""

    def __init__(
        self,
        label: str,
        description: str,
        *,
        default: Any = None,
        secret: bool = False,
        formerly: tuple[str, ...] = (),
        doc: str = "",
    ) -> None:
        self.label, self.description, self.default = label, description, default
        self.secret, self.formerly, self.doc = secret, formerly, doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @property
    def names(self) -> tuple[str, ...]:
        """The name, then the older names still read."""
        return (self.name, *self.formerly)

    def __get__(self, obj: ConnExtras | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        for key in self.names:
            if obj.has(key):
                return self.read(obj, key)
        return self.default

    def read(self, extras: ConnExtras, key: str) -> Any:
        """The value of ``key`` (set) as this field's type; a clear error when it is not one."""
        return extras.str(key)

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [self.schema_type, "null"]}
        if self.default is not None:
            schema["default"] = self.default
        if self.secret:
            schema["format"] = "password"
        return schema

    def conn_field(self) -> dict[str, Any]:
        """This field in ``conn-fields`` (Airflow 3.2+; ``_compat`` builds 3.1's from it)."""
        return {"label": self.label, "description": self.description, "schema": self.schema()}

    def allowed(self) -> str:
        """What a value may be, for the README."""
        return "text (secret)" if self.secret else "text"


class Text(Field):
    """Text, as it is."""


class Choice(Field):
    """One of ``choices`` (read case-insensitively)."""

    def __init__(self, label: str, description: str, *, choices: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(label, description, **kwargs)
        self.choices = choices

    def read(self, extras: ConnExtras, key: str) -> Any:
        return extras.choice(key, self.choices, self.default)

    def schema(self) -> dict[str, Any]:
        return {**super().schema(), "enum": list(self.choices)}

    def allowed(self) -> str:
        return ", ".join(f"`{c}`" for c in self.choices)


class Flag(Field):
    schema_type: ClassVar[str] = "boolean"

    def read(self, extras: ConnExtras, key: str) -> Any:
        return extras.bool(key, self.default)

    def allowed(self) -> str:
        return "true or false"


class TlsVerify(Flag):
    """A flag on the form; the extra may also be the path of a CA bundle."""

    def read(self, extras: ConnExtras, key: str) -> Any:
        value = extras.raw(key)
        if isinstance(value, str) and parse_flag(value) is None:
            return value
        return super().read(extras, key)

    def allowed(self) -> str:
        return "true, false or a CA bundle path"


class Number(Field):
    """A finite number ``within`` ``(minimum, maximum)`` (JSON number or text)."""

    schema_type: ClassVar[str] = "number"

    def __init__(
        self, label: str, description: str, *, within: tuple[float, float] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(label, description, **kwargs)
        if within is None or len(within) != 2:
            raise ValueError(f"numeric field {label!r} needs a minimum and a maximum (within=)")
        self.minimum, self.maximum = within

    @property
    def whole(self) -> bool:
        return self.schema_type == "integer"

    def read(self, extras: ConnExtras, key: str) -> Any:
        return extras.number(key, self.default, whole=self.whole)

    def schema(self) -> dict[str, Any]:
        return {**super().schema(), "minimum": self.minimum, "maximum": self.maximum}

    def allowed(self) -> str:
        kind = "whole number" if self.whole else "number"
        return f"{kind} {_shown_number(self.minimum)}–{_shown_number(self.maximum)}"


class Integer(Number):
    schema_type: ClassVar[str] = "integer"


# ---- numbers ------------------------------------------------------------------------------------
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


def parse_number(value: Any, *, whole: bool, low: float | None, high: float | None) -> int | float | None:
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
