"""Failures as exceptions, and where credentials may go.

* a response that is not 2xx/3xx becomes one of :mod:`airflow_provider_contacts.exceptions`
  from its status and the vendor's error body (:func:`default_error_mapper`; a hook hands the
  client its own mapper when its vendor needs more);
* an exception of ``requests`` or ``httpx`` becomes a timeout or connection error that says
  whether the request provably never reached the vendor (``not_sent``);
* credentials go only to the connection's own origin (scheme, host, port): the HTTP clients'
  own redirect handling is off, and the client follows a redirect itself only to that origin
  (or its https upgrade); a redirect elsewhere, from https to http, of a write that would
  become a GET, or past :data:`MAX_REDIRECTS` hops raises
  :class:`~airflow_provider_contacts.exceptions.RedirectRefusedError` without sending anything;
  plain ``http://`` is refused for any host but loopback unless the connection allows it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

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
    ServerError,
)


class ResponseLike(Protocol):  # requests.Response and httpx.Response both fit
    status_code: int
    headers: Mapping[str, str]

    @property
    def content(self) -> bytes: ...

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


# ---- client exceptions ----------------------------------------------------------------------
#: kind of client failure -> (exception, message, whether the request provably never left)
_FAILURES: dict[str, tuple[type[ContactsHTTPError], str, bool]] = {
    "connect_timeout": (ContactsTimeoutError, "connect timeout ({name})", True),
    "unreachable": (ContactsConnectionError, "could not connect", True),
    "read_timeout": (ContactsTimeoutError, "read timeout: no answer in time ({name})", False),
    "dropped": (ContactsConnectionError, "connection dropped before a full answer ({name})", False),
    "failed": (ContactsConnectionError, "request failed ({name})", False),
}


def _failure(kind: str, exc: Exception) -> ContactsHTTPError:
    cls, message, not_sent = _FAILURES[kind]
    err = cls(message.format(name=type(exc).__name__))
    if not_sent:
        err.not_sent = True
    return err


def _kind(exc: Exception, table: tuple[tuple[Any, str], ...], default: str) -> str:
    return next((kind for classes, kind in table if isinstance(exc, classes)), default)


def map_requests_exception(exc: Exception) -> ContactsHTTPError:
    """A ``requests`` exception as a :class:`ContactsHTTPError`."""
    from requests import exceptions as rx

    kind = _kind(
        exc,
        (
            (rx.ConnectTimeout, "connect_timeout"),
            (rx.Timeout, "read_timeout"),
            ((rx.ConnectionError, rx.ChunkedEncodingError, rx.ContentDecodingError), "dropped"),
        ),
        "failed",
    )
    if isinstance(exc, rx.ConnectionError) and kind == "dropped" and _is_connect_failure(exc):
        kind = "unreachable"
    return _failure(kind, exc)


def map_httpx_exception(exc: Exception) -> ContactsHTTPError:
    """An ``httpx`` exception as a :class:`ContactsHTTPError`."""
    import httpx

    kind = _kind(
        exc,
        (
            (httpx.ConnectTimeout, "connect_timeout"),
            (httpx.ConnectError, "unreachable"),
            (httpx.TimeoutException, "read_timeout"),
        ),
        "dropped",
    )
    return _failure(kind, exc)


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


# ---- redirects: credentials stay on the connection's origin --------------------------------
#: statuses with a ``Location`` the client may follow (itself: the HTTP clients' own following
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


def shown(url: str) -> str:
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
        return f"{shown(target_url)} is not an http(s) URL"
    if base is not None and base[0] == "https" and target[0] == "http":
        return (
            f"it leads from https to plain http ({shown(target_url)}), where credentials "
            "would travel unencrypted"
        )
    if target == base:
        return None
    if (
        base is not None
        and base[:2] == ("http", target[1])
        and base[2] == 80
        and target[0] == "https"
        and target[2] == 443
    ):
        return None
    return f"{shown(target_url)} is another host than the connection's ({shown(base_url)})"


def write_redirect_refusal(method: str, status: int) -> str | None:
    """Why a redirect of ``method`` with ``status`` must not be followed even on our origin."""
    if method not in ("GET", "HEAD") and status in (301, 302, 303):
        return (
            "following it would turn the write into a GET and drop its body (what HTTP "
            "clients do for 301/302/303), so the write may not have been applied"
        )
    return None


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool, conn_id: str | None) -> str:
    """``base_url`` without its trailing slash, or a clear error: not http(s), or plain http
    to a host other than loopback without ``allow_insecure_http``."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ContactsConfigError(
            f"base URL {base_url!r} is not an http(s) URL; set the connection's host to "
            "e.g. https://mautic.example.com",
            conn_id=conn_id,
        )
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise ContactsConfigError(
            f"refusing plain http:// to non-loopback host {parts.hostname!r}: credentials "
            "would travel unencrypted. Use https://, or set "
            '"allow_insecure_http": true in the connection extra if you accept the risk',
            conn_id=conn_id,
        )
    return base_url.rstrip("/")
