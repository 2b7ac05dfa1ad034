"""The one place where this provider does HTTP.

Every hook builds a :class:`Transport` (blocking, ``requests``) or an :class:`AsyncTransport`
(``httpx``, for triggers). Both share one retry policy, one client-side rate limiter, one mapping
of failures to :mod:`airflow_provider_contacts.exceptions` and one rule for what is logged:

* retries use capped exponential backoff with jitter on 429, 502/503/504 (500 when a vendor
  marks it retryable), connection errors and read timeouts; ``Retry-After`` (seconds or an
  HTTP date) and ``X-RateLimit-Reset`` (epoch seconds) are honoured; attempts and total time
  are bounded; other 4xx are never retried;
* a request marked ``idempotent=False`` (points plus/minus...) is retried only when the failure
  proves the vendor never processed it (429, or no connection could be made), so a retry never
  applies a change twice;
* logs name the method, the path (never the query string) and the status: no bodies, no
  personal data, no credentials; the query string is also cut from the lines urllib3, httpx and
  httpcore log themselves. Derived secrets (tokens, signatures, Basic headers) are registered with
  Airflow's secrets masker through :func:`register_secret`;
* credentials go only to the connection's own origin (scheme, host, port): the HTTP clients'
  own redirect handling is off, and the transport follows a redirect itself only to that
  origin (or its https upgrade); a redirect elsewhere, from https to http, of a write that
  would become a GET, or past :data:`MAX_REDIRECTS` hops raises
  :class:`~airflow_provider_contacts.exceptions.RedirectRefusedError` without sending anything.
"""

from __future__ import annotations

import base64
import email.utils
import ipaddress
import logging
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol
from urllib.parse import urljoin, urlsplit

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConfigError,
    ContactsConnectionError,
    ContactsHTTPError,
    ContactsTimeoutError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RedirectRefusedError,
    ServerError,
)

if TYPE_CHECKING:
    import httpx
    import requests

log = logging.getLogger(__name__)

USER_AGENT = "airflow-provider-contacts"


# --------------------------------------------------------------------------------------------
# secrets
# --------------------------------------------------------------------------------------------
def register_secret(value: str | None) -> None:
    """Register a derived secret (token, signature, auth header) with Airflow's masker."""
    if not value:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - Airflow < 3.1 is not supported anyway
        return
    mask_secret(value)


def basic_auth_header(username: str, password: str) -> str:
    """``Basic base64(username:password)``, registered with the masker before it is returned."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    register_secret(token)
    header = f"Basic {token}"
    register_secret(header)
    return header


#: loggers of the HTTP clients that write URLs: urllib3 at DEBUG
#: (``"GET /api/contacts?search=... HTTP/1.1" 200``), httpx at INFO (``HTTP Request: GET <url>``),
#: httpcore at DEBUG (response headers, e.g. a redirect's ``Location``)
CLIENT_LOGGERS = ("urllib3.connectionpool", "httpx", "httpcore.http11", "httpcore.http2")

_QUERY_IN_TEXT = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")


def _without_query(value: Any) -> Any:
    # httpx passes an ``httpx.URL``, urllib3 a str; numbers (status codes) stay as they are
    if isinstance(value, str) or type(value).__name__ == "URL":
        text = str(value)
        if "?" in text:
            return text.split("?", 1)[0]
    return value


class _StripQueryFilter(logging.Filter):
    """Queries carry personal data (``search=email:...``, contact ids, filters): keep only the
    path of every URL these loggers write. Neither client logs bodies."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_without_query(a) for a in record.args)
        elif not record.args and isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _QUERY_IN_TEXT.sub(r"\1", record.msg)
        return True


def _install_log_filters() -> None:
    for name in CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _StripQueryFilter) for f in logger.filters):
            logger.addFilter(_StripQueryFilter())


# --------------------------------------------------------------------------------------------
# policy
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to retry.

    ``backoff_initial * 2**(attempt-1)``, capped at ``backoff_max``, with "equal jitter"
    (half fixed, half random). A wait the vendor asks for (``Retry-After``,
    ``X-RateLimit-Reset``) replaces the backoff. No single wait exceeds ``max_wait`` and the
    whole call never exceeds ``max_total_seconds``: when the next wait would not fit, the last
    error is raised at once (carrying ``retry_after``) so an Airflow task retry can take over.
    """

    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 300.0
    max_total_seconds: float = 600.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    jitter: bool = True

    def backoff(self, attempt: int, rng: random.Random) -> float:
        base = min(self.backoff_max, self.backoff_initial * (2 ** max(0, attempt - 1)))
        if not self.jitter:
            return base
        return base / 2 + rng.uniform(0, base / 2)


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 120.0


class RateLimiter:
    """Client-side sliding-window limit: at most ``per_second`` calls in any second and
    ``per_hour`` in any hour. Thread-safe. :meth:`reserve` books a slot and returns how long
    the caller must wait before sending (the caller sleeps, sync or async).

    The server counts arrivals, and the first request of a burst often arrives late (a new
    connection), so the per-second window is ``1 + jitter_margin`` seconds: without it, a
    client at exactly 20/s regularly gets Dmartech's 40006 and pays a back-off."""

    def __init__(
        self,
        per_second: float | None = None,
        per_hour: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        jitter_margin: float = 0.1,
    ) -> None:
        self._windows: list[tuple[float, int, deque[float]]] = []
        if per_second:
            if per_second >= 1:
                self._windows.append((1.0 + jitter_margin, int(per_second), deque()))
            else:  # e.g. 0.5/s = one call every 2 s
                self._windows.append((1.0 / per_second + jitter_margin, 1, deque()))
        if per_hour:
            self._windows.append((3600.0, int(per_hour), deque()))
        self._clock = clock
        self._lock = threading.Lock()
        self.per_second = per_second
        self.per_hour = per_hour

    def reserve(self) -> float:
        if not self._windows:
            return 0.0
        with self._lock:
            now = self._clock()
            start = now
            for window, limit, times in self._windows:
                while times and times[0] <= now - window:
                    times.popleft()
                if times:
                    start = max(start, times[-1])
                if len(times) >= limit:
                    start = max(start, times[-limit] + window)
            for _window, _limit, times in self._windows:
                times.append(start)
            return max(0.0, start - now)


# --------------------------------------------------------------------------------------------
# response -> exception
# --------------------------------------------------------------------------------------------
class ResponseLike(Protocol):  # requests.Response and httpx.Response both fit
    status_code: int
    headers: Mapping[str, str]

    def json(self) -> Any: ...


ErrorMapper = Callable[[ResponseLike], "ContactsHTTPError | None"]

_STATUS_CLASSES: dict[int, type[ContactsHTTPError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitedError,
}


def error_class_for_status(status: int) -> type[ContactsHTTPError]:
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return ServerError
    return InvalidRequestError


def safe_json(response: ResponseLike) -> Any:
    try:
        return response.json()
    except Exception:
        return None


def extract_vendor_error(body: Any) -> tuple[str | None, str | None]:
    """(vendor code, message) from the common error body shapes of our vendors:
    Mautic ``{"errors":[{"message","code","type"}]}``, Chatwoot/LiveDesk ``{"message"}`` or
    ``{"error"}``, Dmartech ``{"code","message"}``, ASP.NET ``{"Message"}``."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, dict):
            errors = list(errors.values())
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            code = first.get("type") or first.get("code")
            return (str(code) if code not in (None, "") else None, _text(first.get("message")))
        for key in ("message", "error", "Message", "error_description", "errmsg"):
            if isinstance(body.get(key), str):
                code = body.get("code", body.get("errcode"))
                return (str(code) if code not in (None, "") else None, body[key])
    if isinstance(body, str) and body:
        return None, body[:300]
    return None, None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else (None if value is None else str(value))


def default_error_mapper(response: ResponseLike) -> ContactsHTTPError | None:
    """Map a non-2xx/3xx response to an exception from its status and body."""
    status = response.status_code
    if status < 400:
        return None
    code, message = extract_vendor_error(safe_json(response))
    if message is None:
        message = f"HTTP {status} with no error message"
    return error_class_for_status(status)(message, status=status, vendor_code=code)


# --------------------------------------------------------------------------------------------
# waits asked for by the server
# --------------------------------------------------------------------------------------------
def server_requested_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait, from ``Retry-After`` (delta seconds or HTTP date)
    or ``X-RateLimit-Reset`` (epoch seconds; small values are taken as a delta)."""
    now = time.time() if now is None else now
    value = _header(headers, "Retry-After")
    if value is not None:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - now)
    value = _header(headers, "X-RateLimit-Reset") or _header(headers, "RateLimit-Reset")
    if value is not None:
        try:
            reset = float(value.strip())
        except ValueError:
            return None
        if reset > 1e9:  # epoch seconds
            return max(0.0, reset - now)
        return max(0.0, reset)
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    try:
        return headers.get(name)  # requests/httpx headers are case-insensitive
    except AttributeError:
        return None


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------
@dataclass
class TransportStats:
    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, status: int | str) -> None:
        with self._lock:
            self.requests += 1
            key = str(status)
            self.statuses[key] = self.statuses.get(key, 0) + 1

    def retried(self, wait: float) -> None:
        with self._lock:
            self.retries += 1
            self.waited_seconds += wait

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "waited_seconds": round(self.waited_seconds, 3),
            "statuses": dict(self.statuses),
        }


# --------------------------------------------------------------------------------------------
# the retry loop shared by the sync and async clients
# --------------------------------------------------------------------------------------------
class _Attempts:
    def __init__(self, transport: _BaseTransport, method: str, path: str, idempotent: bool) -> None:
        self.t = transport
        self.method = method
        self.path = path
        self.idempotent = idempotent
        self.attempt = 0
        self.started = transport.clock()

    def next_wait(self, err: ContactsHTTPError, headers: Mapping[str, str] | None) -> float:
        """Seconds to wait before the next attempt; raises ``err`` when we must stop."""
        policy = self.t.policy
        err.conn_id, err.method, err.path = self.t.conn_id, self.method, self.path
        if not self._may_retry(err):
            raise err
        requested = server_requested_wait(headers, self.t.wall_clock()) if headers else None
        if requested is not None:
            err.retry_after = requested
        if self.attempt >= policy.max_attempts:
            log.warning(
                "%s: %s %s failed after %d attempts: %s",
                self.t.conn_id, self.method, self.path, self.attempt, err.message,
            )
            raise err
        wait = requested if requested is not None else policy.backoff(self.attempt, self.t.rng)
        elapsed = self.t.clock() - self.started
        if wait > policy.max_wait or elapsed + wait > policy.max_total_seconds:
            log.warning(
                "%s: %s %s: the next wait (%.1f s) does not fit the retry budget; giving up",
                self.t.conn_id, self.method, self.path, wait,
            )
            raise err
        self.t.stats.retried(wait)
        log.info(
            "%s: %s %s -> %s; retry %d of %d in %.2f s",
            self.t.conn_id, self.method, self.path,
            err.status if err.status is not None else type(err).__name__,
            self.attempt, policy.max_attempts - 1, wait,
        )
        return wait

    def _may_retry(self, err: ContactsHTTPError) -> bool:
        retryable = getattr(err, "retry_decision", None)
        if retryable is None:
            if isinstance(err, (ContactsConnectionError, ContactsTimeoutError)):
                retryable = True
            else:
                retryable = err.status in self.t.policy.retry_statuses
        if not retryable:
            return False
        if self.idempotent:
            return True
        # Non-idempotent: only when the vendor provably did not process the request.
        return isinstance(err, RateLimitedError) or getattr(err, "not_sent", False)


# --------------------------------------------------------------------------------------------
# redirects: credentials stay on the connection's origin
# --------------------------------------------------------------------------------------------
#: statuses with a ``Location`` the transport may follow (itself: the clients' own following
#: is off, because they re-send custom auth headers such as ``X-Api-Key`` to any host)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: redirects followed for one request at most
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None] | None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _shown(url: str) -> str:
    """``scheme://host:port/path`` of a URL: no user info, no query string (personal data)."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def redirect_refusal(base_url: str, target_url: str) -> str | None:
    """Why a request to ``target_url`` must not carry the credentials of a connection whose
    base URL is ``base_url``; None when it may. Only the connection's origin (scheme, host and
    port) qualifies, plus the upgrade from http to https of the same host on the default ports;
    https never goes down to plain http."""
    base, target = _origin(base_url), _origin(target_url)
    if target is None or target[0] not in ("http", "https") or not target[1]:
        return f"{_shown(target_url)} is not an http(s) URL"
    if base is not None and base[0] == "https" and target[0] == "http":
        return (f"it leads from https to plain http ({_shown(target_url)}), where credentials "
                "would travel unencrypted")
    if target == base:
        return None
    if (base is not None and base[:2] == ("http", target[1]) and base[2] == 80
            and target[0] == "https" and target[2] == 443):
        return None
    return f"{_shown(target_url)} is another host than the connection's ({_shown(base_url)})"


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _BaseTransport:
    def __init__(
        self,
        base_url: str,
        *,
        conn_id: str = "?",
        headers: Mapping[str, str] | None = None,
        auth: Callable[[], Mapping[str, str]] | None = None,
        timeouts: Timeouts = Timeouts(),
        policy: RetryPolicy = RetryPolicy(),
        rate_limiter: RateLimiter | None = None,
        verify: bool | str = True,
        allow_insecure_http: bool = False,
        error_mapper: ErrorMapper = default_error_mapper,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        reauth: Callable[[ContactsHTTPError], Any] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ContactsConfigError(
                f"base URL {base_url!r} is not an http(s) URL; set the connection's host to "
                "e.g. https://mautic.example.com",
                conn_id=conn_id,
            )
        if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
            raise ContactsConfigError(
                f"refusing plain http:// to non-loopback host {parts.hostname!r}: credentials "
                "would travel unencrypted. Use https://, or set "
                '"allow_insecure_http": true in the connection extra if you accept the risk',
                conn_id=conn_id,
            )
        self.base_url = base_url.rstrip("/")
        self.conn_id = conn_id
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self.auth = auth
        self.timeouts = timeouts
        self.policy = policy
        self.rate_limiter = rate_limiter
        self.verify = verify
        self.error_mapper = error_mapper
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()
        #: called with an AuthenticationError (HTTP 401); returns True (or an awaitable of
        #: True in the async client) when fresh credentials are ready, e.g. an OAuth token
        #: fetched again. The request is then repeated once, whatever its idempotency: a 401
        #: means the server did not process it.
        self.reauth = reauth
        self.stats = TransportStats()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            reason = redirect_refusal(self.base_url, path)
            if reason is not None:
                raise ContactsConfigError(
                    f"refusing to send a request to {_shown(path)}: not the connection's host ({reason})",
                    conn_id=self.conn_id,
                )
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _redirect(self, method: str, url: str, response: ResponseLike, hops: int, path: str) -> str | None:
        """The URL to request next when ``response`` is a redirect the transport may follow;
        None when it is not a redirect. Raises :class:`RedirectRefusedError` (nothing is sent)
        for any other redirect."""
        status = response.status_code
        location = _header(response.headers, "Location") if status in REDIRECT_STATUSES else None
        if not location:
            return None
        target = urljoin(url, location.strip())
        reason = redirect_refusal(self.base_url, target)
        if reason is None and hops >= MAX_REDIRECTS:
            reason = f"more than {MAX_REDIRECTS} redirects"
        if reason is None and method not in ("GET", "HEAD") and status in (301, 302, 303):
            reason = ("following it would turn the write into a GET and drop its body (what HTTP "
                      "clients do for 301/302/303), so the write may not have been applied")
        if reason is not None:
            raise RedirectRefusedError(
                f"the API redirected to {_shown(target)}; not followed: {reason}. Credentials are "
                f"only sent to the connection's host ({_shown(self.base_url)}): if the API moved, "
                "set the connection's host to its new address",
                status=status, conn_id=self.conn_id, method=method, path=path,
            )
        log.info("%s: %s %s -> %s; following the redirect to %s",
                 self.conn_id, method, path, status, urlsplit(target).path)
        return target

    def _headers(self, extra: Mapping[str, str] | None, authenticate: bool = True) -> dict[str, str]:
        merged = dict(self.headers)
        if self.auth is not None and authenticate:
            merged.update(self.auth())
        if extra:
            merged.update(extra)
        return merged

    async def _aheaders(self, extra: Mapping[str, str] | None, authenticate: bool = True) -> dict[str, str]:
        """Like ``_headers`` but ``auth`` may be a coroutine function (async token fetch)."""
        merged = dict(self.headers)
        if self.auth is not None and authenticate:
            auth = self.auth()
            if hasattr(auth, "__await__"):
                auth = await auth
            merged.update(auth)
        if extra:
            merged.update(extra)
        return merged

    def _map(self, response: ResponseLike) -> ContactsHTTPError | None:
        return self.error_mapper(response)

    def _may_reauth(self, err: ContactsHTTPError, authenticate: bool, done: bool) -> bool:
        return (
            authenticate and not done and self.reauth is not None and isinstance(err, AuthenticationError)
        )


class Transport(_BaseTransport):
    """Blocking client on one pooled ``requests.Session``."""

    def __init__(self, base_url: str, *, sleep: Callable[[float], None] = time.sleep, **kw: Any):
        super().__init__(base_url, **kw)
        self.sleep = sleep
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests
            from requests.adapters import HTTPAdapter

            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.verify = self.verify
            session.trust_env = True
            _install_log_filters()
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        error_mapper: ErrorMapper | None = None,
        authenticate: bool = True,
    ) -> requests.Response:
        """Send one logical request (several attempts if needed); return the 2xx/3xx response
        or raise a :class:`~airflow_provider_contacts.exceptions.ContactsHTTPError`."""
        import requests

        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        attempts = _Attempts(self, method, _path_only(path), idempotent)
        mapper = error_mapper or self._map
        url = self.url(path)
        reauthed = False
        hops = 0
        while True:
            attempts.attempt += 1
            if self.rate_limiter is not None:
                wait = self.rate_limiter.reserve()
                if wait > 0:
                    self.sleep(wait)
            t0 = self.clock()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=self._headers(headers, authenticate),
                    timeout=(self.timeouts.connect, self.timeouts.read),
                    allow_redirects=False,
                    # per request: a session-level setting loses to REQUESTS_CA_BUNDLE /
                    # CURL_CA_BUNDLE in the environment, which would ignore "verify_ssl"
                    verify=self.verify,
                )
            except requests.RequestException as exc:
                self.stats.count("error")
                err = _map_requests_exception(exc)
                self.sleep(attempts.next_wait(err, None))
                continue
            self.stats.count(response.status_code)
            log.debug(
                "%s: %s %s -> %s in %.0f ms",
                self.conn_id, method, attempts.path, response.status_code,
                (self.clock() - t0) * 1000,
            )
            target = self._redirect(method, url, response, hops, attempts.path)
            if target is not None:
                response.close()
                url, params, hops = target, None, hops + 1  # the Location carries its own query
                attempts.attempt -= 1
                continue
            err = mapper(response)
            if err is None:
                return response
            if self._may_reauth(err, authenticate, reauthed) and self.reauth(err):
                reauthed = True
                attempts.attempt -= 1
                log.info("%s: %s %s -> 401; credentials renewed, repeating once", self.conn_id, method, attempts.path)
                continue
            self.sleep(attempts.next_wait(err, response.headers))

    # small conveniences -------------------------------------------------------------------
    def get_json(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw).json()


def _path_only(path: str) -> str:
    return urlsplit(path).path or path.split("?", 1)[0]


def _map_requests_exception(exc: Exception) -> ContactsHTTPError:
    import requests

    name = type(exc).__name__
    if isinstance(exc, requests.ConnectTimeout):
        err: ContactsHTTPError = ContactsTimeoutError(f"connect timeout ({name})")
        err.not_sent = True  # type: ignore[attr-defined]
        return err
    if isinstance(exc, requests.Timeout):
        return ContactsTimeoutError(f"read timeout: no answer in time ({name})")
    if isinstance(exc, requests.ConnectionError):
        not_sent = _is_connect_failure(exc)
        err = ContactsConnectionError(
            "could not connect" if not_sent else f"connection dropped before a full answer ({name})"
        )
        err.not_sent = not_sent  # type: ignore[attr-defined]
        return err
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return ContactsConnectionError(f"connection dropped before a full answer ({name})")
    return ContactsConnectionError(f"request failed ({name})")


def _is_connect_failure(exc: Exception) -> bool:
    """True when no TCP connection was made (refused, DNS), so nothing reached the server."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (NewConnectionError, NameResolutionError, ConnectionRefusedError)):
            return True
        reason = getattr(cur, "reason", None)
        if isinstance(reason, BaseException):
            cur = reason
            continue
        args = getattr(cur, "args", ())
        nxt = next((a for a in args if isinstance(a, BaseException)), None)
        cur = nxt or cur.__cause__ or cur.__context__
    return False


class AsyncTransport(_BaseTransport):
    """Non-blocking twin on ``httpx.AsyncClient`` for triggers: same policy, same mapping, and
    every wait is an ``asyncio.sleep``. Create and use it inside the running event loop."""

    def __init__(self, base_url: str, *, sleep: Callable[[float], Any] | None = None, **kw: Any):
        super().__init__(base_url, **kw)
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None

    async def _do_sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._sleep is not None:
            result = self._sleep(seconds)
            if hasattr(result, "__await__"):
                await result
            return
        import asyncio

        await asyncio.sleep(seconds)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                verify=self.verify,
                timeout=httpx.Timeout(self.timeouts.read, connect=self.timeouts.connect),
                limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
                follow_redirects=False,
            )
            _install_log_filters()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        error_mapper: ErrorMapper | None = None,
        authenticate: bool = True,
    ) -> httpx.Response:
        import httpx

        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        attempts = _Attempts(self, method, _path_only(path), idempotent)
        mapper = error_mapper or self._map
        url = self.url(path)
        reauthed = False
        hops = 0
        while True:
            attempts.attempt += 1
            if self.rate_limiter is not None:
                await self._do_sleep(self.rate_limiter.reserve())
            try:
                response = await self.client.request(
                    method, url, params=params, json=json, data=data,
                    headers=await self._aheaders(headers, authenticate),
                )
            except httpx.HTTPError as exc:
                self.stats.count("error")
                err = _map_httpx_exception(exc)
                await self._do_sleep(attempts.next_wait(err, None))
                continue
            self.stats.count(response.status_code)
            target = self._redirect(method, url, response, hops, attempts.path)
            if target is not None:
                await response.aclose()
                url, params, hops = target, None, hops + 1  # the Location carries its own query
                attempts.attempt -= 1
                continue
            err = mapper(response)
            if err is None:
                return response
            if self._may_reauth(err, authenticate, reauthed):
                renewed = self.reauth(err)  # type: ignore[misc]
                if hasattr(renewed, "__await__"):
                    renewed = await renewed
                if renewed:
                    reauthed = True
                    attempts.attempt -= 1
                    log.info("%s: %s %s -> 401; credentials renewed, repeating once", self.conn_id, method, attempts.path)
                    continue
            await self._do_sleep(attempts.next_wait(err, response.headers))

    async def get_json(self, path: str, **kw: Any) -> Any:
        return (await self.request("GET", path, **kw)).json()


def _map_httpx_exception(exc: Exception) -> ContactsHTTPError:
    import httpx

    name = type(exc).__name__
    if isinstance(exc, (httpx.ConnectTimeout, httpx.ConnectError)):
        err: ContactsHTTPError = (
            ContactsTimeoutError(f"connect timeout ({name})")
            if isinstance(exc, httpx.ConnectTimeout)
            else ContactsConnectionError("could not connect")
        )
        err.not_sent = True  # type: ignore[attr-defined]
        return err
    if isinstance(exc, httpx.TimeoutException):
        return ContactsTimeoutError(f"read timeout: no answer in time ({name})")
    return ContactsConnectionError(f"connection dropped before a full answer ({name})")


# --------------------------------------------------------------------------------------------
# settings read from a connection's extra
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TransportSettings:
    """Transport options a user can set in any of our connections' extra."""

    timeouts: Timeouts = Timeouts()
    policy: RetryPolicy = RetryPolicy()
    rate_per_second: float | None = None
    rate_per_hour: int | None = None
    verify: bool | str = True
    allow_insecure_http: bool = False

    def with_policy(self, **changes: Any) -> TransportSettings:
        return replace(self, policy=replace(self.policy, **changes))

    def rate_limiter(self, clock: Callable[[], float] = time.monotonic) -> RateLimiter | None:
        if not self.rate_per_second and not self.rate_per_hour:
            return None
        return RateLimiter(self.rate_per_second, self.rate_per_hour, clock=clock)
