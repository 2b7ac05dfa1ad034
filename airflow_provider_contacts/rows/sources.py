"""Input rows, one at a time, from exactly one source: inline rows (a list, an XCom, a JSON
string), a file (NDJSON, CSV, JSON array, or a rejects file to replay; local or any
ObjectStoragePath URI) or SQL on any DB-API connection. Nothing is held whole in memory. Rows that cannot even be parsed come out
as :class:`BadRow` (the operator rejects them with the reason); a CSV or SQL source first yields
its :class:`Header`."""

from __future__ import annotations

import csv
import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.rows.db_providers import hook_failure
from airflow_provider_contacts.rows.json_read import iter_json_array, loads
from airflow_provider_contacts.rows.rejects import is_whole_rejects_record, rejects_record_problem
from airflow_provider_contacts.rows.source_files import (
    COMPRESSED_SUFFIXES,
    encoding_label,
    file_options,
    open_source,
)
from airflow_provider_contacts.rows.strict_json import restore
from airflow_provider_contacts.rows.values import json_safe

FORMATS = ("ndjson", "csv", "json", "rejects")


@dataclass
class BadRow:
    """An input row that could not even be parsed (reported as rejected, never sent)."""

    reason: str
    raw: Any = None


@dataclass
class Header:
    """The column names a CSV or SQL source declares before its first row (``kind``: ``csv`` or
    ``sql``); not a row. The operator checks them before reading on (``rows/columns.py``)."""

    columns: list[str]
    kind: str


def detect_format(path: str, source_format: str | None) -> str:
    if source_format:
        fmt = source_format.strip().lower()
        if fmt == "jsonl":
            fmt = "ndjson"
        if fmt not in FORMATS:
            raise ContactsConfigError(
                f"source_format {source_format!r} is not one of {', '.join(FORMATS)} (rejects: replay the "
                "rows of a rejects file)"
            )
        return fmt
    lower = path.lower().split("?", 1)[0]
    lower = next((lower[: -len(s)] for s in COMPRESSED_SUFFIXES if lower.endswith(s)), lower)
    for suffix, fmt in ((".ndjson", "ndjson"), (".jsonl", "ndjson"), (".csv", "csv"), (".json", "json")):
        if lower.endswith(suffix):
            return fmt
    raise ContactsConfigError(
        f"source_path {path!r}: cannot tell the format from the name; set source_format to ndjson, csv or json"
    )


def iter_source(source: Any, fetch_size: int = 2000) -> Iterator[Any]:
    """Input rows, one at a time, from exactly one of the ``source``'s attributes (an action
    operator's arguments): ``rows`` (a list, an XCom, or a JSON string of a list),
    ``source_path`` (NDJSON, CSV or JSON array; local or object storage, ``source_format`` when
    the name does not tell), or ``source_sql`` run on ``source_conn_id`` (any DB-API connection,
    with ``source_parameters``, read with ``fetchmany``). Unparseable rows come out as
    :class:`BadRow`. ``source_format="rejects"`` replays a rejects file: the ``row`` of each
    record, in the file's order. A file is read in ``source_encoding`` (default UTF-8), a CSV
    split on ``csv_delimiter`` (default ``,``); a gzip file is read decompressed."""
    rows, source_path, source_sql = source.rows, source.source_path, source.source_sql
    source_format, source_conn_id, source_parameters = (
        source.source_format,
        source.source_conn_id,
        source.source_parameters,
    )
    given = [
        name
        for name, value in (("rows", rows), ("source_path", source_path), ("source_sql", source_sql))
        if value not in (None, "")
    ]
    if len(given) != 1:
        raise ContactsConfigError(
            "give exactly one input: rows (a list or an upstream XCom), source_path (a file) or "
            f"source_sql with source_conn_id; got {', '.join(given) or 'none'}"
        )
    fmt = detect_format(str(source_path), source_format) if source_path else given[0].replace("source_", "")
    delimiter, encoding = file_options(source, fmt)
    if rows not in (None, ""):
        yield from _iter_inline(rows)
    elif source_path:
        yield from _iter_file(str(source_path), fmt, not source_format, delimiter, encoding)
    else:
        if not source_conn_id:
            raise ContactsConfigError("source_sql needs source_conn_id: the Airflow connection to run it on")
        yield from _iter_sql(source_conn_id, str(source_sql), source_parameters, fetch_size)


def _iter_inline(rows: Any) -> Iterator[Any]:
    if isinstance(rows, str):
        try:
            rows = loads(rows)
        except json.JSONDecodeError as exc:
            raise ContactsConfigError(
                f"rows is a string but not a JSON list ({exc.msg}); pass a list of objects"
            ) from None
        except RecursionError:
            raise ContactsConfigError(
                "rows is a JSON string nested too deep for Python to read; no vendor takes nested values: "
                "flatten them"
            ) from None
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, (list, tuple)) and not hasattr(rows, "__iter__"):
        raise ContactsConfigError(f"rows must be a list of objects, got {type(rows).__name__}")
    for row in rows:
        yield json_safe(row) if isinstance(row, dict) else row


def is_replay(source: Any) -> bool:
    """True when ``source`` (an action operator's arguments) replays a rejects file."""
    return bool(source.source_path) and str(source.source_format or "").strip().lower() == "rejects"


def _iter_file(
    path: str, fmt: str, guessed: bool = False, delimiter: str = ",", encoding: str = "utf-8"
) -> Iterator[Any]:
    try:
        handle = open_source(path, encoding)
    except ContactsConfigError:
        raise
    except (OSError, ValueError) as exc:
        raise ContactsConfigError(f"source_path {path!r} cannot be read: {exc}") from None
    with handle:
        try:
            if fmt == "ndjson":
                yield from _iter_ndjson(handle, path, refuse_rejects=guessed)
            elif fmt == "rejects":
                yield from _iter_rejects(handle, path)
            elif fmt == "csv":
                yield from _iter_csv(handle, path, delimiter)
            else:
                yield from iter_json_array(handle, path)
        except UnicodeDecodeError as exc:
            raise ContactsConfigError(
                f"source_path {path!r} is not {encoding_label(encoding)} text ({exc.reason}); set source_encoding "
                "to the file's encoding (e.g. 'latin-1' or 'cp1252')"
            ) from None
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ContactsConfigError(
                f"source_path {path!r}: its gzip data is damaged or cut short ({exc}); compress the file again"
            ) from None


def _ndjson_lines(handle: Any) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line; a :class:`BadRow` when not JSON.

    Each line is decoded by msgspec (a third of ``json.loads``' CPU); a line it refuses is read
    again by ``json.loads``, which decides: NaN/Infinity, numbers out of range, whole numbers too
    long and lone surrogates are read (and rejected later by the value checks, with the field's
    name), anything else is a bad row, as is a line nested too deep to read. A UTF-8 BOM at the
    start of the file is skipped."""
    import msgspec

    decode = msgspec.json.Decoder().decode
    for number, line in enumerate(handle, start=1):
        text = line.strip()
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:].lstrip()
        if not text:
            continue
        try:
            try:
                value = decode(text)
            except msgspec.DecodeError:
                value = loads(text)
        except json.JSONDecodeError as exc:
            value = BadRow(f"line {number} is not valid JSON ({exc.msg})", text[:500])
        except RecursionError:
            value = BadRow(
                f"line {number} nests lists/objects too deep to read; no vendor takes that", text[:500]
            )
        yield number, value


def _iter_ndjson(handle: Any, path: str, refuse_rejects: bool = False) -> Iterator[Any]:
    """The rows of an NDJSON file. ``refuse_rejects`` (the format was told by the name): a file
    whose first record has exactly the fields of a rejects record is refused, so a rejects file
    is never sent as rows of records by mistake; the user says which it is."""
    first = refuse_rejects
    for _, value in _ndjson_lines(handle):
        if first and is_whole_rejects_record(value):
            raise ContactsConfigError(
                f"source_path {path!r} looks like a rejects file (its records have index, row, reason, status, "
                "message, vendor_code): set source_format='rejects' to replay the rejected rows, or "
                "source_format='ndjson' to read each record as a row"
            )
        first = False
        yield value


def _iter_rejects(handle: Any, path: str) -> Iterator[Any]:
    """The ``row`` of each record of a rejects file; a record that is not one is refused."""
    for number, value in _ndjson_lines(handle):
        if isinstance(value, BadRow):
            yield value
            continue
        problem = rejects_record_problem(value)
        if problem:
            raise ContactsConfigError(
                f"source_path {path!r} line {number} is not a rejects record ({problem}); source_format='rejects' "
                "reads files the operators write as rejects_path (index, row, reason, ...)"
            )
        yield restore(value["row"])


def _iter_csv(handle: Any, path: str, delimiter: str = ",") -> Iterator[Any]:
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        yield from _iter_csv_rows(reader, path)
    except csv.Error as exc:
        limit = csv.field_size_limit()
        if "field larger than field limit" in str(exc):
            raise ContactsConfigError(
                f"source_path {path!r}: line {reader.line_num} has a value longer than the CSV limit of {limit} "
                "characters (Python's csv.field_size_limit); shorten that value or load the file as NDJSON"
            ) from None
        raise ContactsConfigError(
            f"source_path {path!r}: line {reader.line_num} is not valid CSV ({exc})"
        ) from None


def _iter_csv_rows(reader: Any, path: str) -> Iterator[Any]:
    try:
        header = next(reader)
    except StopIteration:
        raise ContactsConfigError(
            f"source_path {path!r} is empty: a CSV source needs a header line naming the columns "
            "(an empty input is an empty .ndjson file)"
        ) from None
    names = [h.strip().lstrip("\ufeff") for h in header]
    empty = [i + 1 for i, h in enumerate(names) if not h]
    dupes = sorted({h for h in names if h and names.count(h) > 1})
    if empty or dupes:
        problems = []
        if empty:
            problems.append(f"empty column name at position(s) {', '.join(map(str, empty))}")
        if dupes:
            problems.append(f"duplicate column(s) {', '.join(dupes)}")
        raise ContactsConfigError(
            f"source_path {path!r}: the CSV header is not usable ({'; '.join(problems)}); the first line "
            "must name each column once"
        )
    yield Header(names, "csv")
    for values in reader:
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(names):
            yield BadRow(f"line {reader.line_num} has {len(values)} values for {len(names)} columns", values)
            continue
        yield {name: value for name, value in zip(names, values, strict=True) if value != ""}


def _iter_sql(conn_id: str, sql: str, parameters: Any, fetch_size: int) -> Iterator[Any]:
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:
        raise ContactsConfigError(f"source_conn_id {conn_id!r} cannot give a database hook: {exc}") from None
    try:
        hook = conn.get_hook()
    except Exception as exc:  # the provider of its type is not installed, or its driver is missing
        raise ContactsConfigError(hook_failure(conn_id, conn.conn_type, exc)) from None
    if not hasattr(hook, "get_conn"):
        raise ContactsConfigError(f"source_conn_id {conn_id!r} is not a DB-API connection")
    conn = hook.get_conn()
    cursor = conn.cursor()
    try:
        try:
            if parameters is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, parameters)
        except Exception as exc:
            raise ContactsConfigError(
                f"source_sql failed on connection {conn_id!r}: {type(exc).__name__}: {exc}"
            ) from None
        if cursor.description is None:
            raise ContactsConfigError("source_sql returned no result set; it must be a SELECT")
        columns = [d[0] for d in cursor.description]
        yield Header(columns, "sql")
        while True:
            batch = cursor.fetchmany(fetch_size)
            if not batch:
                return
            for values in batch:
                yield {c: json_safe(v) for c, v in zip(columns, values, strict=True)}
    finally:
        try:
            cursor.close()
        finally:
            conn.close()
