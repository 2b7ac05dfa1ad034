"""The rejects file (every rejected row with its reason) and the ``max_rejected`` threshold."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError, RejectedRowsError
from airflow_provider_contacts.rows.outputs import open_text
from airflow_provider_contacts.rows.reasons import RejectTally
from airflow_provider_contacts.rows.strict_json import dumps

#: The fields of a rejects record, in the order they are written.
FIELDS = ("index", "row", "reason", "status", "message", "vendor_code")


def rejects_record_problem(value: Any) -> str | None:
    """Why ``value`` is not a rejects record (an object with ``index``, ``row`` and ``reason``
    and no field but :data:`FIELDS`), or None when it is one. Replay reads its ``row``."""
    if not isinstance(value, dict):
        return f"it is a {type(value).__name__}, not an object"
    missing = [name for name in ("index", "row", "reason") if name not in value]
    if missing:
        return f"it has no {', '.join(repr(m) for m in missing)}"
    others = sorted(set(value) - set(FIELDS))
    if others:
        return f"it has field(s) a rejects record does not have: {', '.join(others)}"
    return None


def is_whole_rejects_record(value: Any) -> bool:
    """True when ``value`` has exactly the fields :class:`RejectsFile` writes."""
    return isinstance(value, dict) and len(value) == len(FIELDS) and set(value) == set(FIELDS)


class RejectsFile:
    """Rejected rows as NDJSON: ``{"index", "row", "reason", "status", "message", "vendor_code"}``,
    strict JSON (NaN, numbers too long and lone surrogates written as ``rows/strict_json.py`` says).
    The file is always created (empty when nothing was rejected) so a downstream task can rely
    on it. It is also a source: ``source_format="rejects"`` replays the ``row`` of each record."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        #: counts per reason category (``write``'s ``category``, else derived from ``reason``) and
        #: the first rejected rows: ``rows/reasons.py``
        self.tally = RejectTally()
        self._handle = open_text(path, "w")

    def write(
        self,
        index: int | None,
        row: Any,
        reason: str,
        *,
        status: int | None = None,
        message: str | None = None,
        vendor_code: str | None = None,
        category: str | None = None,
    ) -> None:
        record = dict(zip(FIELDS, (index, row, reason, status, message, vendor_code), strict=True))
        self._handle.write(dumps(record) + "\n")  # strict JSON, valid UTF-8: rows/strict_json.py
        self.count += 1
        self.tally.add(index, row, reason, status, vendor_code, category)

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()


def parse_max_rejected(value: Any, name: str = "max_rejected", whole: str = "the rows") -> int | float:
    """``max_rejected``: an ``int`` is a count of rows (0 = none may be rejected); a ``float``
    is a fraction of the rows read, from 0.0 to 1.0 (``1.0`` = all of them). A string is read
    the same way (``"5"`` a count, ``"0.5"`` a fraction). ``name`` and ``whole`` word the
    errors for another limit read the same way (``max_removed``: of the state's keys)."""
    hint = (
        "use a count (an int >= 0, e.g. 10) or a fraction (a float from 0.0 to 1.0, e.g. 0.01 or 1.0 for all)"
    )
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if text.lstrip("+").isdigit() and text.isascii() else float(text)
        except ValueError:
            raise ContactsConfigError(f"{name}={text!r} is not a number; {hint}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ContactsConfigError(f"{name}={value!r}: {hint}")
    if isinstance(value, int):
        if value < 0:
            raise ContactsConfigError(f"{name}={value!r} is negative; {hint}")
        return value
    if not (0.0 <= value <= 1.0):  # also refuses NaN
        raise ContactsConfigError(
            f"{name}={value!r}: a float is a fraction of {whole} and must be from 0.0 to 1.0; for a count "
            f"give an int, e.g. {name}=5"
        )
    return value


def allowed_by(limit: int | float, total: int) -> tuple[int, str]:
    """What a limit read by :func:`parse_max_rejected` allows of ``total``: (the count, how to
    show it). A count is itself; a fraction is of ``total``, rounded down (``5.00% of 40 = 2``)."""
    if isinstance(limit, int):
        return limit, str(limit)
    allowed = int(limit * total)
    return allowed, f"{limit:.2%} of {total} = {allowed}"


def check_threshold(
    max_rejected: int | float,
    rejected: int,
    total: int,
    rejects_path: str,
    *,
    before_sending: bool = False,
    valid_rows_sent: bool = False,
) -> None:
    """Raise :class:`RejectedRowsError` when ``rejected`` is over ``max_rejected`` (a count, or a
    fraction of ``total`` rounded down); ``valid_rows_sent``: the message says the valid rows
    were sent all the same (``send_valid_rows``)."""
    allowed, shown = allowed_by(max_rejected, total)
    if rejected > allowed:
        when = " before anything was sent (nothing was changed at the vendor)" if before_sending else ""
        raise RejectedRowsError(
            f"{rejected} of {total} rows were rejected{when}, more than max_rejected ({shown}); the rejected rows "
            f"and their reasons are in {rejects_path}"
            + (
                "; the valid rows WERE sent all the same (send_valid_rows=True; the summary counts them): fix the "
                "rejected rows and replay them (source_format='rejects')"
                if valid_rows_sent
                else ""
            )
        )
