"""Mautic's failures as exceptions.

Errors are ``{"errors":[{message, code, type}]}``; messages are translated on real servers, so
decisions use the HTTP status and ``type`` only. The token endpoint answers a bad client with
HTTP 400 ``invalid_client`` (bad credentials) or ``unauthorized_client`` (credentials that may
not use the grant). A batch over the server's ``api_batch_max_limit`` is an HTTP 500 "A max of
N entities are supported at a time." with nothing processed.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsHTTPError,
    PermissionDeniedError,
    ServerError,
)
from airflow_provider_contacts.http.errors import (
    ErrorMapper,
    ResponseLike,
    default_error_mapper,
    extract_vendor_error,
    safe_json,
)


class BatchLimitExceeded(ServerError):
    """Mautic refused a batch larger than its ``api_batch_max_limit`` (nothing processed)."""

    retry_decision = False

    def __init__(self, message: str, *, limit: int = 0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.limit = limit


def map_mautic_error(response: ResponseLike) -> ContactsHTTPError | None:
    err = default_error_mapper(response)
    if err is None:
        return None
    if err.status == 400 and err.vendor_code == "invalid_client":
        return AuthenticationError(err.message, status=400, vendor_code="invalid_client")
    if err.status == 400 and err.vendor_code == "unauthorized_client":
        return PermissionDeniedError(err.message, status=400, vendor_code="unauthorized_client")
    return err


def batch_error_mapper(sent: int) -> ErrorMapper:
    """The mapper of a batch of ``sent`` items: a 500 naming a limit below ``sent`` is
    :class:`BatchLimitExceeded` (the caller splits the batch and goes on)."""

    def mapper(response: ResponseLike) -> ContactsHTTPError | None:
        if response.status_code == 500:
            _, message = extract_vendor_error(safe_json(response))
            # "A max of 200 entities are supported at a time." (translated on some servers:
            # the number is what we rely on, and only when it is below what we sent)
            numbers = [int(n) for n in re.findall(r"\d+", message or "") if int(n) != 500]
            if numbers and 0 < numbers[0] < sent:
                return BatchLimitExceeded(message or "batch too large", limit=numbers[0], status=500)
        return map_mautic_error(response)

    return mapper
