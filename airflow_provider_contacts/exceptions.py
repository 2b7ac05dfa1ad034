"""Exception hierarchy shared by every hook, operator and sensor of this provider.

Errors carry the HTTP status, the vendor's own error code and the vendor's message. They never
carry a request body, a query string or a credential: a message printed in a task log is safe.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException


class ContactsError(AirflowException):
    """Base class of every error raised by ``airflow_provider_contacts``."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        vendor_code: str | int | None = None,
        conn_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.vendor_code = vendor_code
        self.conn_id = conn_id
        self.method = method
        self.path = path
        self.retry_after = retry_after
        #: what to change to fix it (the hook's words: the extra, the credentials to check),
        #: shown after the message
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.conn_id:
            where.append(f"conn_id={self.conn_id!r}")
        if self.method and self.path:
            where.append(f"{self.method} {self.path}")
        if self.status is not None:
            where.append(f"HTTP {self.status}")
        if self.vendor_code not in (None, ""):
            where.append(f"vendor code {self.vendor_code}")
        prefix = f"[{', '.join(where)}] " if where else ""
        if self.hint:
            return f"{prefix}{self.message.rstrip('. ')}. {self.hint}"
        return f"{prefix}{self.message}"

    def __str__(self) -> str:
        # rendered on demand: the HTTP client fills in conn_id, method and path after creation
        return self._render()

    def __reduce__(self):  # keep pickling (used by Airflow when shipping errors) working
        return (
            _rebuild,
            (
                type(self),
                self.message,
                {
                    "status": self.status,
                    "vendor_code": self.vendor_code,
                    "conn_id": self.conn_id,
                    "method": self.method,
                    "path": self.path,
                    "retry_after": self.retry_after,
                    "hint": self.hint,
                },
            ),
        )


def _rebuild(cls, message, kwargs):
    return cls(message, **kwargs)


class ContactsConfigError(ContactsError, ValueError):
    """Bad connection settings, task arguments or sources, detected before the first change is
    sent (most before any request; some after a read, e.g. of the vendor's field list)."""


def connection_not_found(conn_id: str) -> ContactsConfigError:
    """The error for a ``conn_id`` Airflow does not find. Airflow 3.1 also answers "not found"
    for an ``AIRFLOW_CONN_*`` variable it cannot read (e.g. one whose extra is not valid JSON)."""
    import os

    variable = f"AIRFLOW_CONN_{str(conn_id).upper()}"
    if os.environ.get(variable):
        return ContactsConfigError(
            f"conn_id {conn_id!r}: Airflow could not read the variable {variable}; it must be a connection "
            'URI or a JSON object whose "extra" is valid JSON',
            conn_id=conn_id,
        )
    return ContactsConfigError(
        f"conn_id {conn_id!r} is not defined: create it (Admin > Connections, an {variable} "
        "variable or your secrets backend) or pick an existing connection",
        conn_id=conn_id,
    )


class InvalidAdjustment(ContactsConfigError):
    """A point adjustment that cannot be sent (unknown operator, non-integer value, divide by 0)."""


class RejectedRowsError(ContactsError):
    """More rows were rejected than ``max_rejected`` allows (raised once the rejects file holds
    every rejected row with its reason)."""


class UnsupportedActionError(ContactsError):
    """The connection's vendor cannot do the requested action."""


class ContactsHTTPError(ContactsError):
    """Any failure reported by, or on the way to, a vendor API."""

    #: set by a vendor's error mapper to force (True) or forbid (False) a retry; None means
    #: "decide from the HTTP status and the retry policy"
    retry_decision: bool | None = None
    #: True when the request provably never reached the vendor (connection refused...)
    not_sent: bool = False


class AuthenticationError(ContactsHTTPError):
    """Credentials missing, wrong or expired (HTTP 401 or the vendor's equivalent)."""


class PermissionDeniedError(ContactsHTTPError):
    """Credentials are valid but not allowed to do this (HTTP 403 or equivalent)."""


class NotFoundError(ContactsHTTPError):
    """The resource does not exist (HTTP 404)."""


class InvalidRequestError(ContactsHTTPError):
    """The vendor rejected the request as invalid (400, 405, 409, 413, 417, 422...)."""


class RateLimitedError(ContactsHTTPError):
    """The vendor's rate limit was hit and the wait it asked for did not fit the retry budget."""


class ServerError(ContactsHTTPError):
    """The vendor failed (HTTP 5xx or the vendor's "busy" code)."""


class ContactsTimeoutError(ContactsHTTPError):
    """No (complete) answer in time: connect or read timeout."""


class ContactsConnectionError(ContactsHTTPError):
    """The vendor could not be reached, or the connection dropped before a full answer."""


class RedirectRefusedError(ContactsHTTPError):
    """The API answered with a redirect the HTTP client does not follow: to another host, from
    https to plain http, a write that would become a GET, or too many hops. Credentials are only
    ever sent to the connection's own host; the fix is to point the connection at the API's
    real address."""
