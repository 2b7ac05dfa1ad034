"""What the HTTP layer lets reach the logs: derived secrets are registered with Airflow's
masker, and the HTTP clients' own loggers lose the query string of every URL they write
(queries carry personal data: ``search=email:...``, contact ids, filters). Neither client logs
bodies."""

from __future__ import annotations

import logging
import re
from typing import Any


def register_secret(value: str | None) -> None:
    """Register a derived secret (token, signature, auth header) with Airflow's masker."""
    if not value:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - Airflow < 3.1 is not supported anyway
        return
    mask_secret(value)


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


class StripQueryFilter(logging.Filter):
    """Keep only the path of every URL a record of these loggers carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_without_query(a) for a in record.args)
        elif not record.args and isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _QUERY_IN_TEXT.sub(r"\1", record.msg)
        return True


def install_log_filters() -> None:
    """Put :class:`StripQueryFilter` on the clients' loggers (once each)."""
    for name in CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, StripQueryFilter) for f in logger.filters):
            logger.addFilter(StripQueryFilter())
