"""A connection's extra as a typed model: each extra is declared ONCE, as a field of its
connection type's model, and that declaration is at the same time

- how the hooks read it (``hook.extras.batch_limit``: parsed, range-checked, finite, with
  errors that name the connection and the field),
- its connection form field (``conn-fields`` of ``get_provider_info``, and through
  ``_compat`` the WTForms field Airflow 3.1 builds), and
- its row in the README's extras tables (``dev/readme_extras.py``).

Airflow imports ``get_provider_info`` (so this module) while it reads its configuration: nothing
here imports Airflow at module level (the errors are imported where they are raised).

:class:`ConnExtras` is the model every connection type extends: it declares the transport
options every type takes (``timeout``, retries, rate limits, TLS). The vendors' models, which
also declare their connection type (name, hook class, form labels), are in
:mod:`~airflow_provider_contacts.hooks.registry`.

Extra names must not contain one of Airflow's sensitive words (``auth_header``, ``api_key``,
``token``, ``secret``, ``password``...) unless the value is a secret: Airflow hides such values
in its forms and API (tests/unit/test_connection_forms.py checks every field).
"""

from __future__ import annotations

import builtins
import json
from typing import TYPE_CHECKING, Any, ClassVar, overload

from airflow_provider_contacts._args import parse_flag
from airflow_provider_contacts.hooks.fields import (
    Field,
    Flag,
    Integer,
    Number,
    TlsVerify,
    parse_number,
    range_text,
)

if TYPE_CHECKING:
    from airflow_provider_contacts.http.policy import TransportSettings

#: a bound of a numeric extra (None: the one its connection form declares)
Num = float | None


def numeric_extras(conn_type: str) -> dict[str, tuple[str, float, float]]:
    """``{name: ("integer" | "number", minimum, maximum)}`` of the numeric extras of a
    connection type (the transport options alone for a type that has no model)."""
    return {
        name: (f.schema_type, f.minimum, f.maximum)
        for name, f in ConnExtras.model_for(conn_type).fields.items()
        if isinstance(f, Number)
    }


# ---- the model ----------------------------------------------------------------------------------
class ConnectionType:
    """What a model declares about its connection type besides the extras and the form: its
    name and the hook Airflow imports (``hook``: by path under ``airflow_provider_contacts.hooks``,
    so provider info imports no hook)."""

    def __init__(self, conn_type: str, hook_name: str, hook: str) -> None:
        self.conn_type, self.hook_name, self.hook = conn_type, hook_name, hook

    @property
    def hook_class_name(self) -> str:
        return f"airflow_provider_contacts.hooks.{self.hook}"


class ConnExtras:
    """Typed access to a connection's extra, with errors that name the connection and field.

    ``ConnExtras(conn_id, conn_type, raw)`` builds the model of ``conn_type`` (the base model,
    transport options only, for a type that has none). Each field is read as an attribute;
    both ``key`` and the UI-prefixed ``extra__<conn_type>__key`` spelling are read. A numeric
    field is checked against the range it declares and must be finite; :meth:`check_numbers`
    checks every numeric field at once, which the hooks do before their first request.
    """

    #: the connection type this model declares (None: the base model)
    connection: ClassVar[ConnectionType | None] = None
    #: the fields, in form order: a model's own fields, then the inherited ones (overridden in place)
    fields: ClassVar[dict[str, Field]] = {}
    _models: ClassVar[dict[str, type[ConnExtras]]] = {}
    #: the form's standard fields: hidden, relabelled, with placeholders
    hidden_fields: ClassVar[tuple[str, ...]] = ("schema",)
    relabeling: ClassVar[dict[str, str]] = {}
    placeholders: ClassVar[dict[str, str]] = {}

    timeout = Number("Read timeout (s)", "Seconds to wait for an answer.", default=120, within=(0.001, 3600))
    connect_timeout = Number(
        "Connect timeout (s)", "Seconds to wait for a connection.", default=10, within=(0.001, 600)
    )
    max_retries = Integer(
        "Max retries",
        "Retries on 429/502/503/504, dropped connections and timeouts.",
        doc="retries on 429, 502/503/504, dropped connections and timeouts (4xx are never retried)",
        default=4,
        within=(0, 50),
    )
    retry_backoff_seconds = Number(
        "First retry wait (s)",
        "Backoff before the first retry; doubles each time, capped at 30 s.",
        doc="the first backoff (doubling, capped at 30 s, with jitter)",
        default=0.5,
        within=(0, 300),
    )
    retry_max_wait_seconds = Number(
        "Longest retry wait (s)",
        "A wait (also one the server asks for) longer than this is not made.",
        doc="the longest single wait: a wait the server asks for that does not fit raises at once, "
        "so Airflow's task retry takes over",
        default=300,
        within=(0, 86400),
    )
    retry_total_seconds = Number(
        "Retry budget (s)",
        "Time one call may spend on retries before its error is raised.",
        doc="the time one call may spend on retries before its error is raised (same rule)",
        default=600,
        within=(0, 86400),
    )
    rate_limit_per_second = Number(
        "Client rate limit (requests/s)",
        "Optional client-side limit; empty or 0 = none.",
        doc="client-side limit shared by all requests of a hook; empty or 0 = none",
        within=(0, 10000),
    )
    rate_limit_per_hour = Integer(
        "Client rate limit (requests/hour)",
        "Optional client-side limit; empty = none.",
        doc="client-side limit shared by all requests of a hook; empty = none",
        within=(1, 10_000_000),
    )
    verify_ssl = TlsVerify(
        "Verify TLS",
        "Verify the server certificate.",
        default=True,
        doc="TLS verification, or a CA bundle path (it wins over `REQUESTS_CA_BUNDLE` / "
        "`CURL_CA_BUNDLE` in the environment)",
    )
    allow_insecure_http = Flag(
        "Allow plain http://",
        "Allow http:// to a non-loopback host (credentials travel unencrypted).",
        doc="plain `http://` is refused for any host but loopback unless this is true",
        default=False,
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.fields = _collect_fields(cls)
        if cls.connection is not None and "connection" in vars(cls):
            ConnExtras._models[cls.connection.conn_type] = cls

    @staticmethod
    def model_for(conn_type: str) -> type[ConnExtras]:
        return ConnExtras._models.get(conn_type, ConnExtras)

    @classmethod
    def conn_fields(cls) -> dict[str, dict[str, Any]]:
        return {name: f.conn_field() for name, f in cls.fields.items()}

    @classmethod
    def provider_info(cls) -> dict[str, Any]:
        """This model's connection type in ``get_provider_info()["connection-types"]``."""
        assert cls.connection is not None, "the base model declares no connection type"
        return {
            "connection-type": cls.connection.conn_type,
            "hook-class-name": cls.connection.hook_class_name,
            "hook-name": cls.connection.hook_name,
            "ui-field-behaviour": {
                "hidden-fields": list(cls.hidden_fields),
                "relabeling": dict(cls.relabeling),
                "placeholders": dict(cls.placeholders),
            },
            "conn-fields": cls.conn_fields(),
        }

    def __new__(cls, conn_id: str, conn_type: str, raw: str | dict | None = None) -> ConnExtras:
        model = cls.model_for(conn_type) if cls is ConnExtras else cls
        return super().__new__(model)

    def __init__(self, conn_id: str, conn_type: str, raw: str | dict | None = None) -> None:
        self.conn_id = conn_id
        self.conn_type = conn_type
        self.data = _json_object(conn_id, raw)

    def raw(self, key: str) -> Any:
        for name in (key, f"extra__{self.conn_type}__{key}"):
            value = self.data.get(name)
            if value not in (None, ""):
                return value
        return None

    def has(self, key: str) -> bool:
        return self.raw(key) is not None

    # below, the methods named after builtins hide them in annotations: hence ``builtins.str`` etc.
    @overload
    def str(self, key: builtins.str, default: builtins.str) -> builtins.str: ...
    @overload
    def str(self, key: builtins.str, default: None = None) -> builtins.str | None: ...
    def str(self, key: builtins.str, default: builtins.str | None = None) -> builtins.str | None:
        value = self.raw(key)
        return default if value is None else str(value)

    def choice(
        self, key: builtins.str, choices: tuple[builtins.str, ...], default: builtins.str
    ) -> builtins.str:
        value = self.str(key, default).strip().lower()
        if value not in choices:
            self._bad(key, value, f"one of {', '.join(choices)}")
        return value

    def bool(self, key: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self.raw(key)
        if value is None:
            return default
        flag = parse_flag(value)
        if flag is None:
            self._bad(key, value, "true or false")
        return bool(flag)

    def bounds(self, key: builtins.str, minimum: Num = None, maximum: Num = None) -> tuple[Num, Num]:
        """The allowed range of ``key``: the arguments where given, else its field's."""
        declared = self.fields.get(key)
        low, high = (declared.minimum, declared.maximum) if isinstance(declared, Number) else (None, None)
        return (low if minimum is None else minimum), (high if maximum is None else maximum)

    def number(
        self,
        key: builtins.str,
        default: Any = None,
        *,
        whole: builtins.bool,
        minimum: Num = None,
        maximum: Num = None,
    ) -> Any:
        """``key`` as a whole number or a finite float within its range; ``default`` when unset."""
        value = self.raw(key)
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
        return self.number(key, default, whole=True, minimum=minimum, maximum=maximum)

    @overload  # a default given, a number comes back
    def float(self, key: builtins.str, default: builtins.float) -> builtins.float: ...
    @overload
    def float(self, key: builtins.str, default: None = None) -> builtins.float | None: ...
    def float(self, key: builtins.str, default: builtins.float | None = None) -> builtins.float | None:
        """``key`` as a number within the range its field declares."""
        return self.number(key, default, whole=False)

    def check_numbers(self) -> None:
        """Check every numeric field of this connection type that is set (range, finiteness)."""
        for key, declared in self.fields.items():
            if isinstance(declared, Number):
                self.number(key, whole=declared.whole)

    def _bad(self, key: builtins.str, value: Any, expected: builtins.str) -> None:
        from airflow_provider_contacts.exceptions import ContactsConfigError

        shown = value if not isinstance(value, str) or len(value) < 60 else value[:57] + "..."
        raise ContactsConfigError(
            f'extra field "{key}" is {shown!r}; it must be {expected}', conn_id=self.conn_id
        )

    def transport_settings(self, defaults: TransportSettings) -> TransportSettings:
        """Options common to every vendor; where the extra is silent, the hook's ``defaults``."""
        from airflow_provider_contacts.http.policy import RetryPolicy, Timeouts, TransportSettings

        verify = self.verify_ssl if self.has("verify_ssl") else defaults.verify
        policy_changes: dict[str, Any] = {}
        max_retries = self.int("max_retries", None)
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
        policy = defaults.policy
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


def _collect_fields(cls: type) -> dict[str, Field]:
    """A model's own new fields first, then the inherited ones (one it redeclares keeps its place)."""
    inherited: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        inherited.update({n: v for n, v in vars(base).items() if isinstance(v, Field)})
    own = {n: v for n, v in vars(cls).items() if isinstance(v, Field)}
    return {
        **{n: v for n, v in own.items() if n not in inherited},
        **{n: own.get(n, v) for n, v in inherited.items()},
    }


ConnExtras.fields = _collect_fields(ConnExtras)


def _json_object(conn_id: str, raw: str | dict | None) -> dict:
    """The extra as a dict: a clear error when it is not JSON or not an object."""
    from airflow_provider_contacts.exceptions import ContactsConfigError

    if raw in (None, ""):
        return {}
    if isinstance(raw, dict):
        return raw
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
            'the connection\'s extra must be a JSON object such as {"timeout": 60}', conn_id=conn_id
        )
    return data
