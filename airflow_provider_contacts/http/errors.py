"""Failures as exceptions, and where credentials may go.

* a response that is not 2xx/3xx becomes one of :mod:`airflow_provider_contacts.exceptions`
  from its status and the vendor's error body (:func:`default_error_mapper`; a hook hands the
  client its own mapper when its vendor needs more);
* an exception of ``requests`` or ``httpx`` becomes a timeout or connection error that names the
  server's ``host:port`` and the cause (connection refused, DNS name not found, TLS certificate
  not trusted, connect or read timeout) and says whether the request provably never reached
  the vendor (``not_sent``);
* credentials go only to the connection's own origin (scheme, host, port): the HTTP clients'
  own redirect handling is off, and the client follows a redirect itself only to that origin
  (or its https upgrade); a redirect elsewhere, from https to http, of a write that would
  become a GET, or past :data:`MAX_REDIRECTS` hops raises
  :class:`~airflow_provider_contacts.exceptions.RedirectRefusedError` without sending anything;
  plain ``http://`` is refused for any host but loopback unless the connection allows it.
"""

from __future__ import annotations

import ipaddress
import socket
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
#: what went wrong on the way -> (exception, message, whether the request provably never left).
#: ``{at}`` is the server's ``host:port``, ``{detail}`` the cause's own words
_FAILURES: dict[str, tuple[type[ContactsHTTPError], str, bool]] = {
    "refused": (
        ContactsConnectionError,
        "could not connect to {at}: connection refused (nothing listens there: check the connection's "
        "host and port, and that the service is running)",
        True,
    ),
    "dns": (
        ContactsConnectionError,
        "could not connect to {at}: DNS name {host!r} not found ({detail}): check the connection's host",
        True,
    ),
    "dns_failed": (
        ContactsConnectionError,
        "could not connect to {at}: DNS lookup of {host!r} failed ({detail}): check the connection's host "
        "and this machine's DNS",
        True,
    ),
    "certificate": (
        ContactsConnectionError,
        "TLS certificate of {at} not trusted ({detail}): if the server uses a private CA, set verify_ssl "
        "in the connection's extra to the path of its CA bundle (false turns the check off)",
        True,
    ),
    "tls": (
        ContactsConnectionError,
        "TLS error with {at} ({detail}): is it an https port? check the connection's scheme, host and port",
        False,
    ),
    "connect_timeout": (
        ContactsTimeoutError,
        "could not connect to {at}: connect timeout ({seconds}): a firewall or a wrong host or port? On a "
        "slow network raise connect_timeout in the connection's extra",
        True,
    ),
    "unreachable": (ContactsConnectionError, "could not connect to {at}: {detail}", True),
    "read_timeout": (
        ContactsTimeoutError,
        "read timeout: no answer from {at} in time ({seconds}); if the API is slow, raise timeout in "
        "the connection's extra",
        False,
    ),
    "dropped": (ContactsConnectionError, "connection to {at} dropped before a full answer ({detail})", False),
    "failed": (ContactsConnectionError, "request to {at} failed ({detail})", False),
}


def _failure(kind: str, exc: BaseException, url: str, seconds: float | None) -> ContactsHTTPError:
    cls, message, not_sent = _FAILURES[kind]
    host, at = _host_port(url)
    detail = _detail(kind, exc)
    err = cls(
        message.format(
            at=at, host=host, detail=detail, seconds=f"{seconds:g} s" if seconds is not None else detail
        )
    )
    if not_sent:
        err.not_sent = True
    if kind == "certificate":  # the same certificate next time: an Airflow retry will not help either
        err.retry_decision = False
    return err


def _host_port(url: str) -> tuple[str, str]:
    """(host, ``host:port``) of ``url`` (the scheme's default port when it names none)."""
    origin = _origin(url) if url else None
    if origin is None or not origin[1]:
        return "?", "the API"
    _, host, port = origin
    shown_host = f"[{host}]" if ":" in host else host
    return host, f"{shown_host}:{port}" if port else shown_host


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (``reason``, exception arguments, ``__cause__``, ``__context__``),
    nearest first: the HTTP clients wrap the socket's or the TLS layer's error several times."""
    seen: set[int] = set()
    found: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        found.append(cur)
        nested = [getattr(cur, "reason", None), *getattr(cur, "args", ()), cur.__cause__, cur.__context__]
        todo.extend(n for n in nested if isinstance(n, BaseException))
    return found


#: getaddrinfo's "no such name" answers (EAI_NONAME, EAI_NODATA); others (EAI_AGAIN...) are a lookup
#: that failed
_NAME_NOT_FOUND = {getattr(socket, n) for n in ("EAI_NONAME", "EAI_NODATA") if hasattr(socket, n)}


def _cause_kind(causes: list[BaseException]) -> str | None:
    """What failed, from the errors under the client's own: refused, DNS, TLS (None: unknown).
    A TLS connection closed mid-answer (an EOF) is a dropped connection, not a TLS problem."""
    import ssl

    for kind, classes in (
        ("certificate", ssl.SSLCertVerificationError),
        ("tls", ssl.SSLError),
        ("dns", socket.gaierror),
        ("refused", ConnectionRefusedError),
    ):
        match = next((c for c in causes if isinstance(c, classes)), None)
        if isinstance(match, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)):
            continue
        if match is not None:
            if kind == "dns" and getattr(match, "errno", None) not in _NAME_NOT_FOUND:
                return "dns_failed"
            return kind
    return None


def _detail(kind: str, exc: BaseException) -> str:
    """The cause in its own words: the innermost error's text, without the clients' wrapping."""
    causes = _causes(exc)
    if kind == "certificate":
        import ssl

        cert = next(c for c in causes if isinstance(c, ssl.SSLCertVerificationError))
        return str(getattr(cert, "verify_message", "") or cert.reason or cert)
    innermost = next((c for c in reversed(causes) if isinstance(c, OSError) and str(c)), None)
    if kind == "tls":
        import ssl

        tls = next(c for c in causes if isinstance(c, ssl.SSLError))
        return str(tls.reason or tls.strerror or tls).replace("_", " ").lower()
    if innermost is not None and kind in ("dns", "dns_failed", "unreachable", "dropped"):
        return getattr(innermost, "strerror", None) or str(innermost)
    return type(exc).__name__


def map_requests_exception(exc: Exception, url: str = "", timeouts: Any = None) -> ContactsHTTPError:
    """A ``requests`` exception as a :class:`ContactsHTTPError` naming ``url``'s host and port
    and the cause; ``timeouts``: the client's (connect, read) seconds, for the message."""
    from requests import exceptions as rx
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    causes = _causes(exc)
    kind = _kind(
        exc,
        (
            (rx.ConnectTimeout, "connect_timeout"),
            (rx.Timeout, "read_timeout"),
            ((rx.ConnectionError, rx.ChunkedEncodingError, rx.ContentDecodingError), "dropped"),
        ),
        "failed",
    )
    if kind in ("dropped", "failed"):
        kind = _cause_kind(causes) or kind
        if kind == "dropped" and any(
            isinstance(c, (NewConnectionError, NameResolutionError)) for c in causes
        ):
            kind = "unreachable"  # no TCP connection was made: nothing reached the server
    return _failure(kind, exc, url, _seconds(kind, timeouts))


def map_httpx_exception(exc: Exception, url: str = "", timeouts: Any = None) -> ContactsHTTPError:
    """An ``httpx`` exception as a :class:`ContactsHTTPError` (as :func:`map_requests_exception`)."""
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
    if kind in ("unreachable", "dropped"):
        cause = _cause_kind(_causes(exc))
        # a TLS error other than the certificate's may come after the request left
        if cause is not None and (kind == "unreachable" or cause == "tls"):
            kind = cause
    return _failure(kind, exc, url, _seconds(kind, timeouts))


def _kind(exc: Exception, table: tuple[tuple[Any, str], ...], default: str) -> str:
    return next((kind for classes, kind in table if isinstance(exc, classes)), default)


def _seconds(kind: str, timeouts: Any) -> float | None:
    if timeouts is None:
        return None
    return {"connect_timeout": timeouts.connect, "read_timeout": timeouts.read}.get(kind)


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
