"""Common base of the vendor hooks: lazy connection, its extra (:mod:`.extras`), the HTTP
clients built with the hook's auth object and error mapper, and a ``test_connection`` that
never raises.

Nothing here touches the network or the metadata DB at import or construction: the connection
is fetched on first use, the HTTP session is built on first request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow.sdk import BaseHook

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConfigError,
    ContactsConnectionError,
    ContactsError,
    ContactsTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RedirectRefusedError,
    ServerError,
    connection_not_found,
)
from airflow_provider_contacts.hooks.extras import ConnExtras
from airflow_provider_contacts.hooks.fields import parse_number, range_text
from airflow_provider_contacts.http.auth import Auth
from airflow_provider_contacts.http.client import AsyncTransport, Transport
from airflow_provider_contacts.http.errors import check_base_url, default_error_mapper
from airflow_provider_contacts.http.plan import Plan, arun_plan, run_plan
from airflow_provider_contacts.http.policy import RetryPolicy, TransportSettings
from airflow_provider_contacts.models import COMMON_EVENT_FILTERS, EventQuery

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk import Connection

    from airflow_provider_contacts.exceptions import ContactsHTTPError
    from airflow_provider_contacts.http.errors import ResponseLike
    from airflow_provider_contacts.models import ContactEvent

log = logging.getLogger(__name__)
T = TypeVar("T")


class EventPlanMixin:
    """Gives a hook ``iter_events`` (blocking) and ``aiter_events`` (async) from one
    ``event_plan`` generator. Events yielded are de-duplicated on their ``dedup_key``."""

    def event_plan(self, query: EventQuery) -> Plan:
        """The vendor's requests for ``query``, yielding its events; the vendor's own filters
        are keyword-only arguments."""
        raise NotImplementedError

    def event_query(
        self, since: datetime, until: datetime, filters: dict[str, Any]
    ) -> tuple[EventQuery, dict]:
        """``filters`` checked (a clear error for one this vendor does not have) and split into
        the :class:`EventQuery` and the vendor's own filters."""
        self.check_event_filters(filters)
        common = {name: value for name, value in filters.items() if name in COMMON_EVENT_FILTERS}
        own = {name: value for name, value in filters.items() if name not in COMMON_EVENT_FILTERS}
        return EventQuery(since, until, **common), own

    def iter_events(self, since: datetime, until: datetime, **filters: Any) -> Iterator[ContactEvent]:
        query, own = self.event_query(since, until, filters)
        return run_plan(self.transport, self.event_plan(query, **own))  # type: ignore[attr-defined]

    def aiter_events(
        self, transport: AsyncTransport, since: datetime, until: datetime, **filters: Any
    ) -> AsyncIterator[ContactEvent]:
        query, own = self.event_query(since, until, filters)
        return arun_plan(transport, self.event_plan(query, **own))

    def event_filter_names(self) -> list[str]:
        """The filters this vendor takes besides the window: the common ones, then its own."""
        import inspect

        params = inspect.signature(self.event_plan).parameters
        return [*COMMON_EVENT_FILTERS, *(name for name, p in params.items() if p.kind is p.KEYWORD_ONLY)]

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


class built_once:
    """Like ``functools.cached_property``, but built once even when several threads ask at the
    same time (Python 3.12 dropped ``cached_property``'s lock): the operators' worker threads
    share one client, one auth object (one OAuth token) and one set of statistics."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func, self.name, self.__doc__ = func, func.__name__, func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        values = obj.__dict__
        if self.name not in values:
            with values.setdefault("_built_once_lock", threading.RLock()):
                if self.name not in values:
                    values[self.name] = self.func(obj)
        return values[self.name]


class ContactsHook(BaseHook):
    """Base of every vendor hook. Subclasses set :attr:`extras_model` (which gives them
    ``conn_type``, ``hook_name`` and ``default_conn_name``) and implement :meth:`build_auth` and
    :meth:`probe` (and their capabilities)."""

    conn_name_attr = "conn_id"
    #: the connection type's extras model (:mod:`.registry`): its declaration and its extras
    extras_model: ClassVar[type[ConnExtras]] = ConnExtras
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

        connection = cls.extras_model.connection
        if connection is not None and "extras_model" in vars(cls):
            cls.conn_type, cls.hook_name = connection.conn_type, connection.hook_name
            cls.default_conn_name = f"{connection.conn_type}_default"

        add_legacy_connection_form(cls)  # the connection form on Airflow 3.1

    def __init__(self, conn_id: str | None = None, *, transport_options: dict[str, Any] | None = None):
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name
        #: test seams: ``sleep``, ``clock``, ``wall_clock``, ``rng``, ``policy`` for the clients
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
        self.__dict__.pop("auth", None)

    def _check_conn_type(self, conn: Connection) -> None:
        conn_type = (conn.conn_type or "").replace("-", "_")
        if conn_type and conn_type != self.conn_type:
            raise ContactsConfigError(
                f"connection type is {conn.conn_type!r} but {type(self).__name__} needs "
                f"{self.conn_type!r}; pick the right conn_id or fix the connection type",
                conn_id=self.conn_id,
            )

    @built_once
    def extras(self) -> ConnExtras:
        """The connection's extra, every numeric field checked (the transport is built from
        it, so a bad number fails before the first request, whichever setting it is)."""
        conn = self.connection
        extras = self.extras_model(self.conn_id, self.conn_type, conn.extra)
        extras.check_numbers()
        return extras

    #: events the vendor listed that could not be read (skipped, but counted and logged)
    unreadable_events: int = 0
    #: the first skips are logged one by one, then every ``SKIPS_LOGGED``-th with the count
    SKIPS_LOGGED = 20

    def read_events(
        self, raws: Iterable[Any], normalise: Callable[[Any], ContactEvent]
    ) -> Iterator[ContactEvent]:
        """``normalise(raw)`` for each raw event; one it cannot read (``ValueError`` saying why)
        is skipped, counted in :attr:`unreadable_events` and logged: never dropped silently."""
        for raw in raws:
            try:
                yield normalise(raw)
            except ValueError as exc:
                self.skip_unreadable_event(str(exc))

    def skip_unreadable_event(self, problem: str) -> None:
        """Count and log an event that cannot be read (the log stays short when there are many)."""
        self.unreadable_events += 1
        n = self.unreadable_events
        if n <= self.SKIPS_LOGGED or n % (self.SKIPS_LOGGED * 50) == 0:
            log.warning(
                "%s (%s): skipped an event that cannot be read (%d so far): %s",
                self.hook_name,
                self.conn_id,
                n,
                problem,
            )

    def require(self, value: T | None, field: str, hint: str) -> T:
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
                f"{name}={value!r} must be {range_text(True, low, high)}", conn_id=self.conn_id
            )
        return int(number)

    @built_once
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

    @built_once
    def auth(self) -> Auth:
        """The connection's credentials as an auth object, built once: the blocking and the
        async clients of this hook share it (and so a cached token)."""
        return self.build_auth()

    def _transport_kwargs(self) -> dict[str, Any]:
        settings = self.transport_settings()
        options = dict(self.transport_options)
        clock = options.get("clock")
        # the URL is checked before the credentials are read: a plain-http host is the first
        # thing to fix
        check_base_url(self.base_url, allow_insecure_http=settings.allow_insecure_http, conn_id=self.conn_id)
        return {
            "conn_id": self.conn_id,
            "headers": self.static_headers(),
            "auth": self.auth,
            "timeouts": settings.timeouts,
            "policy": settings.policy,
            "verify": settings.verify,
            "allow_insecure_http": settings.allow_insecure_http,
            "error_mapper": self.error_mapper,
            "hint": self.error_hint,
            "rate_limiter": settings.rate_limiter(**({"clock": clock} if clock else {})),
            **options,
        }

    @built_once
    def transport(self) -> Transport:
        """The hook's blocking client (one pooled session, built on first use)."""
        return Transport(self.base_url, **self._transport_kwargs())

    def make_async_transport(self) -> AsyncTransport:
        """A fresh async client, complete (same auth object and error mapper as the blocking
        one); call inside the trigger's event loop after :meth:`use_connection` (no blocking
        call is made here)."""
        kwargs = self._transport_kwargs()
        kwargs.pop("sleep", None)  # a blocking sleep is no use in the event loop
        return AsyncTransport(self.base_url, **kwargs)

    def prepare_for_async(self) -> None:
        """Called in a worker thread before a trigger uses this hook: load now what the async
        path would otherwise load on the triggerer's event loop (modules, time zone files)."""

    def close(self) -> None:
        transport = self.__dict__.get("transport")
        if transport is not None:
            transport.close()

    @property
    def stats(self) -> dict[str, Any]:
        transport = self.__dict__.get("transport")
        return transport.stats.as_dict() if transport is not None else {"requests": 0, "retries": 0}

    # vendor specifics ---------------------------------------------------------------------
    #: maps a response to an exception (None when it is a success); handed to the clients
    # staticmethod, not a Callable: mypy binds a Callable class attribute to the instance
    error_mapper: ClassVar[staticmethod[[ResponseLike], ContactsHTTPError | None]] = staticmethod(
        default_error_mapper
    )

    def static_headers(self) -> dict[str, str]:
        return {}

    def build_auth(self) -> Auth:
        """The auth object of this connection (no credentials by default); a missing or bad
        credential is a :class:`ContactsConfigError` here, before any request."""
        return Auth()

    def contacts_url(self, contact_id: str | None = None) -> str | None:
        """The vendor's web page of a contact (or of the contact list); None when unknown."""
        return None

    def structured_value_problem(self, field: str, value: Any) -> str | None:
        """Why a list or object given as the value of ``field`` cannot be sent to this vendor
        (None when the vendor documents how it takes it). By default it cannot."""
        kind = "an object" if isinstance(value, dict) else "a list"
        return (
            f"field {field!r} is {kind}; {self.hook_name} takes text, numbers and booleans there: flatten it "
            "into its own columns or join the values into one text"
        )

    def probe(self) -> str:
        """One cheap authenticated call; returns a short success message."""
        raise NotImplementedError

    def explain(self, err: ContactsError) -> str:
        """A test-connection message for ``err``; vendors add their own cases."""
        message = explain_error(err, self.base_url if "base_url" in self.__dict__ else None)
        hint = self.error_hint(err)
        return f"{message.rstrip('. ')}. {hint}" if hint else message

    # ---- what to fix: the same words in a task's error and in Test Connection ----------------
    def error_hint(self, err: ContactsError) -> str | None:
        """What to fix for ``err``, added to the error a task raises (the clients call it, and
        Test Connection says the same): for a 401 the credentials to check, for a 429 that
        outlasted the retries the connection's rate-limit extra."""
        if isinstance(err, AuthenticationError):
            return self.auth_hint(err)
        if isinstance(err, RateLimitedError):
            return self.rate_hint(err)
        return None

    def auth_hint(self, err: ContactsError) -> str:
        """What to check when the vendor refuses the credentials; vendors name theirs."""
        return (
            f"Check the credentials of connection {self.conn_id!r} (Admin > Connections; its Test "
            "Connection button checks them)"
        )

    def rate_hint(self, err: ContactsError) -> str:
        """What to change when the vendor's rate limit outlasted the retries; vendors name their
        limit and the extra that matches it."""
        return (
            f"{self.hook_name}'s rate limit outlasted the retries: set rate_limit_per_second or "
            f"rate_limit_per_hour in the extra of connection {self.conn_id!r} to the vendor's limit, "
            "so requests wait their turn instead of being refused"
        )

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


#: Test Connection's wording per error class, first match wins ({where}: " at <base URL>")
EXPLANATIONS: tuple[tuple[type[ContactsError], str], ...] = (
    (ContactsConfigError, "Connection settings: {message}"),
    # the message names host:port and the cause (refused, DNS, TLS certificate, timeout)
    (ContactsTimeoutError, "Unreachable: {message}"),
    (ContactsConnectionError, "Unreachable: {message}"),
    (AuthenticationError, "Bad credentials: the API refused them (HTTP {status}): {message}"),
    (
        PermissionDeniedError,
        "No permission: the credentials are valid but not allowed (HTTP {status}): {message}",
    ),
    (NotFoundError, "Not found: check the host and path prefix{where} (HTTP 404): {message}"),
    (RateLimitedError, "Rate limited: the API asks to slow down (HTTP {status}): {message}"),
    (ServerError, "Vendor error: the API failed (HTTP {status}): {message}"),
    (RedirectRefusedError, "Redirect refused (HTTP {status}): {message}"),
)


def explain_error(err: ContactsError, base_url: str | None = None) -> str:
    template = next((text for cls, text in EXPLANATIONS if isinstance(err, cls)), "Failed: {message}")
    return template.format(
        where=f" at {base_url}" if base_url else "", status=err.status, message=err.message
    )
