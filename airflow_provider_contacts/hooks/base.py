"""Common base of the vendor hooks: lazy connection, extras parsing, transport construction
and a ``test_connection`` that never raises.

Nothing here touches the network or the metadata DB at import or construction: the connection
is fetched on first use, the HTTP session is built on first request.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, AsyncIterator, ClassVar, Generator, Iterator

from airflow.sdk import BaseHook

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConfigError,
    ContactsConnectionError,
    ContactsError,
    ContactsHTTPError,
    ContactsTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RedirectRefusedError,
    ServerError,
    connection_not_found,
)
from airflow_provider_contacts.transport import (
    AsyncTransport,
    RetryPolicy,
    Timeouts,
    Transport,
    TransportSettings,
)

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk import Connection

    from airflow_provider_contacts.capabilities import ContactEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Call:
    """One HTTP request asked for by a plan (see :class:`EventPlanMixin`)."""

    method: str
    path: str
    params: Any = None
    json: Any = None
    idempotent: bool | None = None


#: A plan is a generator that yields :class:`Call` objects (and receives the decoded JSON body
#: of each answer) or results (e.g. :class:`ContactEvent`) to hand to the caller. Writing the
#: paging logic once as a plan lets the same code run on the blocking transport (operators,
#: sensors) and on the async one (triggers), with no blocking call in the event loop.
Plan = Generator[Any, Any, None]


class EventPlanMixin:
    """Gives a hook ``iter_events`` (blocking) and ``aiter_events`` (async) from one
    ``event_plan`` generator. Events yielded are de-duplicated on their ``dedup_key``."""

    def event_plan(
        self,
        since: datetime,
        until: datetime,
        *,
        include_types: list[str] | None = None,
        exclude_types: list[str] | None = None,
        contact_ids: list[str] | None = None,
    ) -> Plan:
        raise NotImplementedError

    def iter_events(self, since: datetime, until: datetime, **filters: Any) -> Iterator[ContactEvent]:
        self.check_event_filters(filters)
        return run_plan(self.transport, self.event_plan(since, until, **filters))  # type: ignore[attr-defined]

    def aiter_events(self, transport: AsyncTransport, since: datetime, until: datetime, **filters: Any) -> AsyncIterator[ContactEvent]:
        self.check_event_filters(filters)
        return arun_plan(transport, self.event_plan(since, until, **filters))

    def event_filter_names(self) -> list[str]:
        """The filters this vendor's ``event_plan`` takes (besides the window)."""
        import inspect

        params = inspect.signature(self.event_plan).parameters
        return [name for name, p in params.items() if p.kind is p.KEYWORD_ONLY]

    def check_event_filters(self, filters: dict[str, Any]) -> None:
        """A clear error, before any request, for a filter this vendor does not have."""
        allowed = self.event_filter_names()
        unknown = sorted(name for name in filters if name not in allowed)
        if unknown:
            raise ContactsConfigError(
                f"event filter(s) {', '.join(map(repr, unknown))} are not filters of {getattr(self, 'hook_name', 'this vendor')}; "
                f"it takes: {', '.join(allowed)} (give vendor filters in event_filters)",
                conn_id=getattr(self, "conn_id", None),
            )


def run_plan(transport: Transport, plan: Plan) -> Iterator[Any]:
    """Drive a plan on the blocking transport, yielding its results."""
    try:
        item = next(plan)
        while True:
            if isinstance(item, Call):
                response = transport.request(
                    item.method, item.path, params=item.params, json=item.json, idempotent=item.idempotent
                )
                item = plan.send(response.json() if response.content else None)
            else:
                yield item
                item = next(plan)
    except StopIteration:
        return
    finally:
        plan.close()


async def arun_plan(transport: AsyncTransport, plan: Plan) -> AsyncIterator[Any]:
    """Drive a plan on the async transport, yielding its results."""
    try:
        item = next(plan)
        while True:
            if isinstance(item, Call):
                response = await transport.request(
                    item.method, item.path, params=item.params, json=item.json, idempotent=item.idempotent
                )
                item = plan.send(response.json() if response.content else None)
            else:
                yield item
                item = next(plan)
    except StopIteration:
        return
    finally:
        plan.close()


@cache
def numeric_extras(conn_type: str) -> dict[str, tuple[str, float, float]]:
    """``{name: ("integer" | "number", minimum, maximum)}`` of the numeric extras of a
    connection type, from its form (``get_provider_info``); the transport options alone for a
    type that has no form."""
    from airflow_provider_contacts.get_provider_info import COMMON_FIELDS, CONNECTION_TYPES

    fields = next((c["conn-fields"] for c in CONNECTION_TYPES if c["connection-type"] == conn_type), COMMON_FIELDS)
    table = {}
    for name, field in fields.items():
        schema = field["schema"]
        kind = next((t for t in schema["type"] if t in ("integer", "number")), None)
        if kind is not None:
            table[name] = (kind, schema["minimum"], schema["maximum"])
    return table


def _shown_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _range_text(whole: bool, low: float | None, high: float | None) -> str:
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
            except ValueError as exc:
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

    def str(self, key: str, default: str | None = None) -> str | None:
        value = self._raw(key)
        return default if value is None else str(value)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.str(key, default)
        assert value is not None
        value = value.strip().lower()
        if value not in choices:
            self._bad(key, value, f"one of {', '.join(choices)}")
        return value

    def bool(self, key: str, default: bool = False) -> bool:
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

    def bounds(self, key: str, minimum: float | None = None, maximum: float | None = None) -> tuple[Any, Any]:
        """The allowed range of ``key``: the arguments where given, else its form's."""
        _kind, low, high = numeric_extras(self.conn_type).get(key, (None, None, None))
        return (low if minimum is None else minimum), (high if maximum is None else maximum)

    def _number(self, key: str, default: Any, whole: bool, minimum: Any, maximum: Any) -> Any:
        value = self._raw(key)
        if value is None:
            return default
        low, high = self.bounds(key, minimum, maximum)
        number = parse_number(value, whole=whole, low=low, high=high)
        if number is None:
            self._bad(key, value, _range_text(whole, low, high))
        return number

    def int(self, key: str, default: int | None = None, *, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
        return self._number(key, default, True, minimum, maximum)

    def float(self, key: str, default: float | None = None, *, minimum: float | None = None,
              maximum: float | None = None) -> float | None:
        return self._number(key, default, False, minimum, maximum)

    def check_numbers(self) -> None:
        """Check every numeric field of this connection type that is set (range, finiteness)."""
        for key, (kind, _low, _high) in numeric_extras(self.conn_type).items():
            self._number(key, None, kind == "integer", None, None)

    def _bad(self, key: str, value: Any, expected: str) -> None:
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
                "true", "false", "1", "0", "yes", "no", "on", "off",
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


class ContactsHook(BaseHook):
    """Base of every vendor hook. Subclasses set the class attributes and implement
    :meth:`auth_headers` and :meth:`probe` (and their capabilities)."""

    conn_name_attr = "conn_id"
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    #: base URL used when the connection has no host (None: host is required)
    default_base_url: ClassVar[str | None] = None
    #: transport defaults of this vendor (client-side rate limit, statuses to retry...)
    transport_defaults: ClassVar[TransportSettings] = TransportSettings()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from airflow_provider_contacts._compat import add_legacy_connection_form

        add_legacy_connection_form(cls)  # the connection form on Airflow 3.1

    def __init__(self, conn_id: str | None = None, *, transport_options: dict[str, Any] | None = None):
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name
        #: test seams: ``sleep``, ``clock``, ``wall_clock``, ``rng`` for the transport
        self.transport_options = dict(transport_options or {})
        self._connection: Connection | None = None

    # connection ---------------------------------------------------------------------------
    @property
    def connection(self) -> Connection:
        if self._connection is None:
            from airflow_provider_contacts._compat import AirflowNotFoundException

            try:
                self._connection = self.get_connection(self.conn_id)
            except AirflowNotFoundException:
                raise connection_not_found(self.conn_id) from None
            self._check_conn_type(self._connection)
        return self._connection

    def use_connection(self, conn: Connection) -> None:
        """Use an already fetched connection (triggers fetch it with ``aget_connection``)."""
        self._check_conn_type(conn)
        self._connection = conn
        self.__dict__.pop("extras", None)

    def _check_conn_type(self, conn: Connection) -> None:
        conn_type = (conn.conn_type or "").replace("-", "_")
        if conn_type and conn_type != self.conn_type:
            raise ContactsConfigError(
                f"connection type is {conn.conn_type!r} but {type(self).__name__} needs "
                f"{self.conn_type!r}; pick the right conn_id or fix the connection type",
                conn_id=self.conn_id,
            )

    @cached_property
    def extras(self) -> ConnExtras:
        """The connection's extra, every numeric field checked (the transport is built from
        it, so a bad number fails before the first request, whichever setting it is)."""
        conn = self.connection
        extras = ConnExtras(self.conn_id, self.conn_type, conn.extra)
        extras.check_numbers()
        return extras

    #: events the vendor listed that could not be read (skipped, but counted and logged)
    unreadable_events: int = 0

    def skip_unreadable_event(self, event_id: Any, problem: str) -> None:
        """Count and log an event that cannot be read: it is never dropped silently."""
        self.unreadable_events += 1
        log.warning("%s (%s): skipped event %s, which cannot be read: %s", self.hook_name, self.conn_id,
                    event_id, problem)

    def require(self, value: Any, field: str, hint: str) -> Any:
        if value in (None, ""):
            raise ContactsConfigError(f"{field} is missing: {hint}", conn_id=self.conn_id)
        return value

    def int_setting(self, name: str, *values: Any, required: bool, hint: str) -> int | None:
        """The first of ``values`` (call argument, hook argument...) that is set, else the
        extra ``name``, as a whole number; a clear error when it is missing and ``required``."""
        value = next((v for v in values if v not in (None, "")), None)
        if value is None:
            value = self.extras.int(name, None)
        if value is None:
            if required:
                raise ContactsConfigError(f"{name} is missing: {hint}", conn_id=self.conn_id)
            return None
        low, high = self.extras.bounds(name)
        number = parse_number(value, whole=True, low=low, high=high)
        if number is None:
            raise ContactsConfigError(
                f"{name}={value!r} must be {_range_text(True, low, high)}", conn_id=self.conn_id
            )
        return number

    @cached_property
    def base_url(self) -> str:
        conn = self.connection
        host = (conn.host or "").strip()
        if not host:
            if self.default_base_url:
                return self.default_base_url
            raise ContactsConfigError(
                "host is missing: set the connection's Host to the API base URL, "
                "e.g. https://mautic.example.com",
                conn_id=self.conn_id,
            )
        if "://" not in host:
            scheme = (conn.schema or "https").strip().lower()
            if scheme not in ("http", "https"):
                scheme = "https"
            host = f"{scheme}://{host}"
        if conn.port:
            from urllib.parse import urlsplit, urlunsplit

            parts = urlsplit(host)
            if parts.port is None:
                netloc = f"{parts.hostname}:{conn.port}"
                host = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        return host.rstrip("/")

    # transport ----------------------------------------------------------------------------
    def transport_settings(self) -> TransportSettings:
        return self.extras.transport_settings(self.transport_defaults)

    def _transport_kwargs(self, settings: TransportSettings) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "conn_id": self.conn_id,
            "headers": self.static_headers(),
            "auth": self.auth_headers,
            "timeouts": settings.timeouts,
            "policy": settings.policy,
            "verify": settings.verify,
            "allow_insecure_http": settings.allow_insecure_http,
            "error_mapper": self.map_error,
            "reauth": self.renew_credentials,
        }
        options = dict(self.transport_options)
        clock = options.get("clock")
        kwargs["rate_limiter"] = settings.rate_limiter(**({"clock": clock} if clock else {}))
        kwargs.update(options)
        return kwargs

    @cached_property
    def transport(self) -> Transport:
        """The hook's blocking transport (one pooled session, built on first use)."""
        settings = self.transport_settings()
        return Transport(self.base_url, **self._transport_kwargs(settings))

    def make_async_transport(self) -> AsyncTransport:
        """A fresh async transport; call inside the trigger's event loop after
        :meth:`use_connection` (no blocking call is made here)."""
        settings = self.transport_settings()
        kwargs = self._transport_kwargs(settings)
        kwargs.pop("sleep", None)
        kwargs["sleep"] = self.transport_options.get("async_sleep")
        transport = AsyncTransport(self.base_url, **kwargs)
        # a hook whose auth needs I/O (an OAuth token) provides async variants that make
        # their requests on this same async transport
        aauth = getattr(self, "aauth_headers", None)
        if aauth is not None:
            transport.auth = lambda: aauth(transport)
            transport.reauth = getattr(self, "arenew_credentials", None)
        return transport

    def close(self) -> None:
        transport = self.__dict__.get("transport")
        if transport is not None:
            transport.close()

    @property
    def stats(self) -> dict[str, Any]:
        transport = self.__dict__.get("transport")
        return transport.stats.as_dict() if transport is not None else {"requests": 0, "retries": 0}

    # vendor specifics ---------------------------------------------------------------------
    def static_headers(self) -> dict[str, str]:
        return {}

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate one request (called before every attempt)."""
        return {}

    def renew_credentials(self, err: ContactsHTTPError) -> bool:
        """Called on an HTTP 401: drop cached credentials (e.g. an OAuth token) and return
        True to have the transport repeat the request once with fresh ones."""
        return False

    def map_error(self, response: Any) -> ContactsHTTPError | None:
        from airflow_provider_contacts.transport import default_error_mapper

        return default_error_mapper(response)

    def contacts_url(self, contact_id: str | None = None) -> str | None:
        """The vendor's web page of a contact (or of the contact list); None when unknown."""
        return None

    def structured_value_problem(self, field: str, value: Any) -> str | None:
        """Why a list or object given as the value of ``field`` cannot be sent to this vendor
        (None when the vendor documents how it takes it). By default it cannot."""
        kind = "an object" if isinstance(value, dict) else "a list"
        return (f"field {field!r} is {kind}; {self.hook_name} takes text, numbers and booleans there: flatten it "
                "into its own columns or join the values into one text")

    def probe(self) -> str:
        """One cheap authenticated call; returns a short success message."""
        raise NotImplementedError

    def explain(self, err: ContactsError) -> str:
        """A test-connection message for ``err``; vendors add their own cases."""
        return explain_error(err, self.base_url if "base_url" in self.__dict__ else None)

    def test_connection(self) -> tuple[bool, str]:
        """Never raises. Runs on the API server when Test Connection is enabled."""
        try:
            saved = self.transport_options
            self.transport_options = {**saved, "policy": RetryPolicy(max_attempts=1)}
            try:
                message = self.probe()
            finally:
                self.transport_options = saved
                self.close()
                self.__dict__.pop("transport", None)
            return True, message
        except ContactsError as err:
            return False, self.explain(err)
        except Exception as err:  # never raise from here
            return False, f"Unexpected error: {type(err).__name__}: {err}"


def explain_error(err: ContactsError, base_url: str | None = None) -> str:
    where = f" at {base_url}" if base_url else ""
    if isinstance(err, ContactsConfigError):
        return f"Connection settings: {err.message}"
    if isinstance(err, ContactsTimeoutError):
        return f"Unreachable: the API{where} did not answer in time ({err.message})"
    if isinstance(err, ContactsConnectionError):
        return f"Unreachable: could not connect to the API{where} ({err.message})"
    if isinstance(err, AuthenticationError):
        return f"Bad credentials: the API refused them (HTTP {err.status}): {err.message}"
    if isinstance(err, PermissionDeniedError):
        return f"No permission: the credentials are valid but not allowed (HTTP {err.status}): {err.message}"
    if isinstance(err, NotFoundError):
        return f"Not found: check the host and path prefix{where} (HTTP 404): {err.message}"
    if isinstance(err, RateLimitedError):
        return f"Rate limited: the API asks to slow down (HTTP {err.status}): {err.message}"
    if isinstance(err, ServerError):
        return f"Vendor error: the API failed (HTTP {err.status}): {err.message}"
    if isinstance(err, RedirectRefusedError):
        return f"Redirect refused (HTTP {err.status}): {err.message}"
    return f"Failed: {err.message}"
