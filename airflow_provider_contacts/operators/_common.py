"""What the action operators share: reading input rows (inline, files, object storage, SQL),
collapsing duplicate keys with bounded memory, the rejects file, the rejection threshold,
progress logging, the summary and the Asset event.

Everything here streams: no function holds the whole input, so memory stays flat in the
number of rows (the upsert spool spills to temporary files past ``memory_rows``).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import tempfile
import time
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from airflow.sdk import BaseOperator

from airflow_provider_contacts.exceptions import ContactsConfigError, ContactsError
from airflow_provider_contacts.links import VendorContactLink, publish_link

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

FORMATS = ("ndjson", "csv", "json")


class RejectedRowsError(ContactsError):
    """More rows were rejected than ``max_rejected`` allows (raised after the rejects file is
    written)."""


@dataclass
class BadRow:
    """An input row that could not even be parsed (reported as rejected, never sent)."""

    reason: str
    raw: Any = None


# ---- values -------------------------------------------------------------------------------
def json_safe(value: Any) -> Any:
    """Plain JSON values for rows from SQL drivers and files: datetimes → ISO 8601 UTC,
    dates → ``YYYY-MM-DD``, decimals → int/float, bytes → text."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


# ---- sources ------------------------------------------------------------------------------
def open_text(path: str, mode: str = "r"):
    """A text file from a local path or an Airflow ObjectStoragePath URI (``s3://…``,
    ``file://…``)."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path):
        from airflow.sdk import ObjectStoragePath

        target = ObjectStoragePath(path)
        if "w" in mode or "a" in mode:
            target.parent.mkdir(parents=True, exist_ok=True)
        return target.open(mode, encoding="utf-8", newline="")
    if "w" in mode or "a" in mode:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return open(path, mode, encoding="utf-8", newline="")


def detect_format(path: str, source_format: str | None) -> str:
    if source_format:
        fmt = source_format.strip().lower()
        if fmt == "jsonl":
            fmt = "ndjson"
        if fmt not in FORMATS:
            raise ContactsConfigError(f"source_format {source_format!r} is not one of {', '.join(FORMATS)}")
        return fmt
    lower = path.lower().split("?", 1)[0]
    for suffix, fmt in ((".ndjson", "ndjson"), (".jsonl", "ndjson"), (".csv", "csv"), (".json", "json")):
        if lower.endswith(suffix) or lower.endswith(suffix + ".gz"):
            return fmt
    raise ContactsConfigError(
        f"source_path {path!r}: cannot tell the format from the name; set source_format to ndjson, csv or json"
    )


def iter_source(
    *,
    rows: Any = None,
    source_path: str | None = None,
    source_format: str | None = None,
    source_conn_id: str | None = None,
    source_sql: str | None = None,
    source_parameters: Any = None,
    fetch_size: int = 2000,
) -> Iterator[Any]:
    """Input rows, one at a time, from exactly one of: ``rows`` (a list, an XCom, or a JSON
    string of a list), ``source_path`` (NDJSON, CSV or JSON array; local or object storage),
    or ``source_sql`` run on ``source_conn_id`` (any DB-API connection, read with
    ``fetchmany``). Unparseable rows come out as :class:`BadRow`."""
    given = [name for name, value in (("rows", rows), ("source_path", source_path), ("source_sql", source_sql)) if value not in (None, "")]
    if len(given) != 1:
        raise ContactsConfigError(
            "give exactly one input: rows (a list or an upstream XCom), source_path (a file) or "
            f"source_sql with source_conn_id; got {', '.join(given) or 'none'}"
        )
    if rows not in (None, ""):
        yield from _iter_inline(rows)
    elif source_path:
        yield from _iter_file(str(source_path), detect_format(str(source_path), source_format))
    else:
        if not source_conn_id:
            raise ContactsConfigError("source_sql needs source_conn_id: the Airflow connection to run it on")
        yield from _iter_sql(source_conn_id, str(source_sql), source_parameters, fetch_size)


def _iter_inline(rows: Any) -> Iterator[Any]:
    if isinstance(rows, str):
        try:
            rows = json.loads(rows)
        except ValueError as exc:
            raise ContactsConfigError(f"rows is a string but not a JSON list ({exc.msg}); pass a list of objects") from None
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, (list, tuple)) and not hasattr(rows, "__iter__"):
        raise ContactsConfigError(f"rows must be a list of objects, got {type(rows).__name__}")
    for row in rows:
        yield json_safe(row) if isinstance(row, dict) else row


def _iter_file(path: str, fmt: str) -> Iterator[Any]:
    try:
        handle = open_text(path, "r")
    except (OSError, ValueError) as exc:
        raise ContactsConfigError(f"source_path {path!r} cannot be read: {exc}") from None
    with handle:
        try:
            if fmt == "ndjson":
                yield from _iter_ndjson(handle)
            elif fmt == "csv":
                yield from _iter_csv(handle, path)
            else:
                yield from _iter_json_array(handle, path)
        except UnicodeDecodeError as exc:
            raise ContactsConfigError(f"source_path {path!r} is not UTF-8 text ({exc.reason})") from None


def _iter_ndjson(handle: Any) -> Iterator[Any]:
    for number, line in enumerate(handle, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            yield json.loads(text)
        except ValueError as exc:
            yield BadRow(f"line {number} is not valid JSON ({exc.msg})", text[:500])


def _iter_csv(handle: Any, path: str) -> Iterator[Any]:
    reader = csv.reader(handle)
    try:
        yield from _iter_csv_rows(reader, path)
    except csv.Error as exc:
        limit = csv.field_size_limit()
        if "field larger than field limit" in str(exc):
            raise ContactsConfigError(
                f"source_path {path!r}: line {reader.line_num} has a value longer than the CSV limit of {limit} "
                "characters (Python's csv.field_size_limit); shorten that value or load the file as NDJSON"
            ) from None
        raise ContactsConfigError(f"source_path {path!r}: line {reader.line_num} is not valid CSV ({exc})") from None


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
    for values in reader:
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(names):
            yield BadRow(f"line {reader.line_num} has {len(values)} values for {len(names)} columns", values)
            continue
        yield {name: value for name, value in zip(names, values) if value != ""}


def _iter_json_array(handle: Any, path: str, chunk: int = 1 << 16) -> Iterator[Any]:
    """Stream the elements of a top-level JSON array without loading the file."""
    decoder = json.JSONDecoder()
    buf = ""
    pos = 0
    started = False
    eof = False

    def fill() -> bool:
        nonlocal buf, pos, eof
        data = handle.read(chunk)
        if not data:
            eof = True
            return False
        buf = buf[pos:] + data
        pos = 0
        return True

    while True:
        while pos < len(buf) and buf[pos] in " \t\r\n,":
            if buf[pos] == "," and not started:
                break
            pos += 1
        if pos >= len(buf):
            if eof or not fill():
                if not started:
                    raise ContactsConfigError(
                        f"source_path {path!r} is empty: a .json source must be a JSON array ([] for no rows; "
                        "an empty input can also be an empty .ndjson file)"
                    )
                raise ContactsConfigError(f"source_path {path!r}: the JSON array is not closed")
            continue
        if not started:
            if buf[pos] == "\ufeff":
                pos += 1
                continue
            if buf[pos] != "[":
                raise ContactsConfigError(f"source_path {path!r}: a .json source must be a JSON array of objects")
            started = True
            pos += 1
            continue
        if buf[pos] == "]":
            return
        try:
            value, end = decoder.raw_decode(buf, pos)
        except ValueError as exc:
            if not eof and fill():
                continue
            raise ContactsConfigError(f"source_path {path!r} is not valid JSON ({exc.msg})") from None
        if end >= len(buf) and not eof:  # a number may continue in the next chunk
            if fill():
                continue
        pos = end
        yield value


def _iter_sql(conn_id: str, sql: str, parameters: Any, fetch_size: int) -> Iterator[Any]:
    from airflow.sdk import BaseHook

    try:
        hook = BaseHook.get_connection(conn_id).get_hook()
    except Exception as exc:
        raise ContactsConfigError(f"source_conn_id {conn_id!r} cannot give a database hook: {exc}") from None
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
            raise ContactsConfigError(f"source_sql failed on connection {conn_id!r}: {type(exc).__name__}: {exc}") from None
        if cursor.description is None:
            raise ContactsConfigError("source_sql returned no result set; it must be a SELECT")
        columns = [d[0] for d in cursor.description]
        while True:
            batch = cursor.fetchmany(fetch_size)
            if not batch:
                return
            for values in batch:
                yield {c: json_safe(v) for c, v in zip(columns, values)}
    finally:
        try:
            cursor.close()
        finally:
            conn.close()


def as_list(value: Any, field: str) -> list[str] | None:
    """A list argument given as a list or a comma-separated string (None when empty)."""
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        value = [v for v in (part.strip() for part in value.split(",")) if v]
    if not isinstance(value, (list, tuple, set)):
        raise ContactsConfigError(f"{field} must be a list (or a comma-separated string), got {type(value).__name__}")
    return [str(v) for v in value]


# ---- row values ---------------------------------------------------------------------------
_SCALARS = (str, int, float, bool, type(None))


def non_finite_problem(name: str, value: Any) -> str | None:
    """NaN and infinities (which ``json.loads`` accepts in NDJSON/JSON sources) are not JSON
    numbers: no vendor can take them."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"field {name!r} is {value!r}, which is not a number a vendor accepts (NaN/Infinity); give a finite number or leave it empty"
    if isinstance(value, dict):
        return next((p for k, v in value.items() if (p := non_finite_problem(f"{name}.{k}", v))), None)
    if isinstance(value, (list, tuple)):
        return next((p for v in value if (p := non_finite_problem(name, v))), None)
    return None


def field_values_problem(row: dict[str, Any], hook: Any) -> str | None:
    """The first value of ``row`` that cannot be sent as it is: NaN/Infinity, a type that is
    not JSON, or a list/object the vendor does not take (``hook.structured_value_problem``).
    Never sent as a Python repr."""
    for name, value in row.items():
        problem = non_finite_problem(name, value)
        if problem:
            return problem
        if isinstance(value, (dict, list, tuple)):
            problem = hook.structured_value_problem(str(name), value)
            if problem:
                return problem
        elif not isinstance(value, _SCALARS):
            return f"field {name!r} is a {type(value).__name__}, not a text, number, boolean or null value"
    return None


# ---- spooling -----------------------------------------------------------------------------
class RowSpool:
    """Items in input order with bounded memory: the first ``memory_rows`` in a list, the rest
    appended to a temporary NDJSON file. Iterate as often as needed; ``close()`` removes the
    file. Items must be JSON values (rows are checked before they are spooled)."""

    def __init__(self, memory_rows: int = 20_000, tmp_dir: str | None = None) -> None:
        self.memory_rows = memory_rows
        self.tmp_dir = tmp_dir
        self.count = 0
        self._items: list[Any] = []
        self._file: Any = None

    def add(self, item: Any) -> None:
        self.count += 1
        if len(self._items) < self.memory_rows:
            self._items.append(item)
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8", prefix="contacts-rows-", dir=self.tmp_dir)
        self._file.write(json.dumps(item, separators=(",", ":")) + "\n")

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Any]:
        yield from self._items
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            for line in self._file:
                yield json.loads(line)
            self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._items = []


# ---- duplicate keys -----------------------------------------------------------------------
class KeyedSpool:
    """Collapse rows with the same key, last one wins, with bounded memory: up to
    ``memory_rows`` distinct keys are kept in a dict; past that, rows are spilled to
    ``buckets`` temporary NDJSON files partitioned by a hash of the key and collapsed one
    bucket at a time. Iteration yields ``(index, row)`` with unique keys: in input order while
    in memory, in input order within each bucket after a spill."""

    def __init__(self, memory_rows: int = 50_000, buckets: int = 128, tmp_dir: str | None = None) -> None:
        self.memory_rows = memory_rows
        self.bucket_count = buckets
        self.tmp_dir = tmp_dir
        self.added = 0
        self.unique = 0
        self._rows: dict[str, tuple[int, Any]] | None = {}
        self._dir: tempfile.TemporaryDirectory | None = None
        self._files: list[Any] = []

    @property
    def spilled(self) -> bool:
        return self._rows is None

    def add(self, index: int, key: str, row: Any) -> None:
        self.added += 1
        if self._rows is not None:
            self._rows[key] = (index, row)
            if len(self._rows) > self.memory_rows:
                self._spill()
            return
        self._write(index, key, row)

    def _spill(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="contacts-spool-", dir=self.tmp_dir)
        self._files = [
            open(os.path.join(self._dir.name, f"b{i:03d}.ndjson"), "w", encoding="utf-8") for i in range(self.bucket_count)
        ]
        rows, self._rows = self._rows, None
        assert rows is not None
        for key, (index, row) in rows.items():
            self._write(index, key, row)
        log.info("more than %d distinct keys: collapsing duplicates through %d temporary files", self.memory_rows, self.bucket_count)

    def _write(self, index: int, key: str, row: Any) -> None:
        bucket = zlib.crc32(key.encode("utf-8")) % self.bucket_count
        self._files[bucket].write(json.dumps([index, key, row], separators=(",", ":"), default=str) + "\n")

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        if self._rows is not None:
            ordered = sorted(self._rows.values(), key=lambda item: item[0])
            self.unique = len(ordered)
            yield from ordered
            return
        for handle in self._files:
            handle.close()
        try:
            for i in range(self.bucket_count):
                path = os.path.join(self._dir.name, f"b{i:03d}.ndjson")  # type: ignore[union-attr]
                latest: dict[str, tuple[int, Any]] = {}
                with open(path, encoding="utf-8") as handle:
                    for line in handle:
                        index, key, row = json.loads(line)
                        current = latest.get(key)
                        if current is None or index > current[0]:
                            latest[key] = (index, row)
                os.remove(path)
                ordered = sorted(latest.values(), key=lambda item: item[0])
                self.unique += len(ordered)
                yield from ordered
        finally:
            self.close()

    @property
    def duplicates(self) -> int:
        return self.added - self.unique

    def close(self) -> None:
        for handle in self._files:
            if not handle.closed:
                handle.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


# ---- rejects, threshold, progress ---------------------------------------------------------
class RejectsFile:
    """Rejected rows as NDJSON: ``{"index", "row", "reason", "status", "message", "vendor_code"}``.
    The file is always created (empty when nothing was rejected) so a downstream task can rely
    on it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        self._handle = open_text(path, "w")

    def write(self, index: int | None, row: Any, reason: str, *, status: int | None = None,
              message: str | None = None, vendor_code: str | None = None) -> None:
        record = {"index": index, "row": row, "reason": reason, "status": status, "message": message,
                  "vendor_code": vendor_code}
        self._handle.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()


def parse_max_rejected(value: Any) -> int | float:
    """``max_rejected``: an ``int`` is a count of rows (0 = none may be rejected); a ``float``
    is a fraction of the rows read, from 0.0 to 1.0 (``1.0`` = all of them). A string is read
    the same way (``"5"`` a count, ``"0.5"`` a fraction)."""
    hint = "use a count (an int >= 0, e.g. 10) or a fraction (a float from 0.0 to 1.0, e.g. 0.01 or 1.0 for all)"
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if text.lstrip("+").isdigit() and text.isascii() else float(text)
        except ValueError:
            raise ContactsConfigError(f"max_rejected={text!r} is not a number; {hint}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ContactsConfigError(f"max_rejected={value!r}: {hint}")
    if isinstance(value, int):
        if value < 0:
            raise ContactsConfigError(f"max_rejected={value!r} is negative; {hint}")
        return value
    if not (0.0 <= value <= 1.0):  # also refuses NaN
        raise ContactsConfigError(
            f"max_rejected={value!r}: a float is a fraction of the rows and must be from 0.0 to 1.0; for a count "
            "of rows give an int, e.g. max_rejected=5"
        )
    return value


def check_threshold(max_rejected: int | float, rejected: int, total: int, rejects_path: str, *,
                    before_sending: bool = False) -> None:
    """Raise :class:`RejectedRowsError` when ``rejected`` is over ``max_rejected`` (a count, or a
    fraction of ``total`` rounded down)."""
    allowed = max_rejected if isinstance(max_rejected, int) else int(max_rejected * total)
    if rejected > allowed:
        shown = f"{max_rejected:.2%} of {total} = {allowed}" if isinstance(max_rejected, float) else str(allowed)
        when = " before anything was sent (nothing was changed at the vendor)" if before_sending else ""
        raise RejectedRowsError(
            f"{rejected} of {total} rows were rejected{when}, more than max_rejected ({shown}); the rejected rows "
            f"and their reasons are in {rejects_path}"
        )


class Progress:
    """Logs progress at most every ``every`` seconds: counts and rate, never row contents."""

    def __init__(self, what: str, every: float = 10.0, clock: Any = time.monotonic) -> None:
        self.what = what
        self.every = every
        self.clock = clock
        self.started = clock()
        self._last = self.started

    def elapsed(self) -> float:
        return self.clock() - self.started

    def tick(self, done: int, batches: int, total_batches: int | None = None, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last < self.every:
            return
        self._last = now
        rate = done / max(now - self.started, 1e-9)
        of = f"/{total_batches}" if total_batches else ""
        log.info("%s: %d batches%s done, %d rows, %.0f rows/s", self.what, batches, of, done, rate)


# ---- the base operator --------------------------------------------------------------------
def _safe(part: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", str(part))[:120] or "_"


def task_instance_key(context: Context) -> dict[str, Any]:
    """What owns the state a task keeps (ledgers...): its DAG, run, task and map index. Retries
    of the task instance share it; another run or task never does."""
    ti = context.get("ti") or context.get("task_instance")
    key = {name: getattr(ti, name, None) for name in ("dag_id", "run_id", "task_id")}
    missing = [name for name, value in key.items() if not value]
    if missing:
        raise ContactsConfigError(
            f"the task context has no {', '.join(missing)}: state such as the adjustments ledger is kept per task "
            "instance (dag_id, run_id, task_id, map_index) and cannot be keyed without it"
        )
    map_index = getattr(ti, "map_index", -1)
    key["map_index"] = map_index if isinstance(map_index, int) else -1
    return key


def task_instance_part(key: dict[str, Any]) -> str:
    """``<dag>/<run>/<task>[.<map_index>]``: a path part unique to one task instance."""
    task = _safe(key["task_id"]) + (f".{key['map_index']}" if key["map_index"] >= 0 else "")
    return "/".join((_safe(key["dag_id"]), _safe(key["run_id"]), task))


def default_output_path(context: Context, name: str) -> str:
    """``<tmp>/airflow-contacts/<dag>/<run>/<task>[.<map_index>]/<name>`` (the same path on
    every try of the task, so a retry overwrites its own file)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or "dag"
    run_id = getattr(ti, "run_id", None) or "run"
    task_id = getattr(ti, "task_id", None) or "task"
    map_index = getattr(ti, "map_index", -1)
    task_part = _safe(task_id) + (f".{map_index}" if isinstance(map_index, int) and map_index >= 0 else "")
    return os.path.join(tempfile.gettempdir(), "airflow-contacts", _safe(dag_id), _safe(run_id), task_part, name)


def open_hook(conn_id: str, hook_params: dict[str, Any] | None, capability: str, action: str) -> Any:
    """The connection's hook, built with ``hook_params`` (vendor options such as EngageLab's
    ``inbox_id`` or Which50's ``contact_list_id``), checked for ``capability``."""
    from airflow_provider_contacts.hooks import get_hook, require_capability

    if hook_params is not None and not isinstance(hook_params, dict):
        raise ContactsConfigError(f"hook_params must be a dict of hook options, got {type(hook_params).__name__}")
    try:
        hook = get_hook(conn_id, **(hook_params or {}))
    except TypeError as err:
        raise ContactsConfigError(f"hook_params {sorted(hook_params or {})} do not fit this connection's hook: {err}",
                                  conn_id=conn_id) from None
    return require_capability(hook, capability, action)


class ContactsActionOperator(BaseOperator):
    """Base of the action operators: input sources, the rejects file and threshold, the
    summary returned to XCom and attached to the outlets' Asset events."""

    template_fields: tuple[str, ...] = (
        "conn_id", "rows", "source_path", "source_format", "source_conn_id", "source_sql",
        "source_parameters", "rejects_path", "hook_params",
    )
    template_fields_renderers = {"source_sql": "sql", "rows": "json"}
    ui_color = "#e8f4ea"
    operator_extra_links = (VendorContactLink(),)

    def __init__(
        self,
        *,
        conn_id: str,
        rows: Any = None,
        source_path: str | None = None,
        source_format: str | None = None,
        source_conn_id: str | None = None,
        source_sql: str | None = None,
        source_parameters: Any = None,
        rejects_path: str | None = None,
        max_rejected: int | float = 0,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.hook_params = hook_params
        self.rows = rows
        self.source_path = source_path
        self.source_format = source_format
        self.source_conn_id = source_conn_id
        self.source_sql = source_sql
        self.source_parameters = source_parameters
        self.rejects_path = rejects_path
        self.max_rejected = parse_max_rejected(max_rejected)

    def iter_input(self) -> Iterator[Any]:
        return iter_source(
            rows=self.rows, source_path=self.source_path, source_format=self.source_format,
            source_conn_id=self.source_conn_id, source_sql=self.source_sql,
            source_parameters=self.source_parameters,
        )

    def checked_rows(self, rejects: RejectsFile, check: Any) -> Iterator[tuple[int, Any, Any]]:
        """``(index, row, checked)`` for the input rows that ``check(row) -> (checked, problem)``
        accepts; unparseable rows and rows with a problem go to the rejects file. Counts
        ``self.rows_read``."""
        self.rows_read = 0
        for index, row in enumerate(self.iter_input()):
            self.rows_read += 1
            if isinstance(row, BadRow):
                rejects.write(index, row.raw, row.reason)
                continue
            checked, problem = check(row)
            if problem:
                rejects.write(index, row, problem)
                continue
            yield index, row, checked

    def spool_checked_rows(self, rejects: RejectsFile, check: Any) -> RowSpool:
        """Read and check the WHOLE input before anything is sent: the rows ``check`` accepts
        are spooled as ``[index, row, checked]`` (flat memory), the others are in the rejects
        file. Then ``max_rejected`` is applied to what is already rejected, so a bad input fails
        before the first change."""
        spool = RowSpool()
        try:
            for index, row, checked in self.checked_rows(rejects, check):
                spool.add([index, row, checked])
        except BaseException:
            spool.close()
            raise
        return spool

    def check_before_sending(self, rejects: RejectsFile) -> None:
        """Fail before the first change when the rows already rejected locally are more than
        ``max_rejected`` allows (the rejects file is complete for them)."""
        try:
            check_threshold(self.max_rejected, rejects.count, self.rows_read, rejects.path, before_sending=True)
        except RejectedRowsError:
            rejects.close()
            raise

    def open_rejects(self, context: Context) -> RejectsFile:
        path = self.rejects_path or default_output_path(context, "rejects.ndjson")
        rejects = RejectsFile(str(path))
        self.log.info("Rejected rows (if any) go to %s", path)
        return rejects

    def get_hook(self, capability: str, action: str) -> Any:
        return open_hook(self.conn_id, self.hook_params, capability, action)

    def note_contact(self, contact_id: Any) -> None:
        """Remember a contact the task changed (two are enough to know it was not just one)."""
        touched = self.__dict__.setdefault("_touched", [])
        if contact_id is not None and len(touched) < 2 and str(contact_id) not in touched:
            touched.append(str(contact_id))

    def finish(self, context: Context, summary: dict[str, Any], rejects: RejectsFile, total: int,
               hook: Any = None) -> dict[str, Any]:
        """Close the rejects file, publish the summary and the vendor link, then apply ``max_rejected``."""
        touched = self.__dict__.get("_touched") or []
        if hook is not None and touched:
            publish_link(context, hook.contacts_url(touched[0] if len(touched) == 1 else None))
        rejects.close()
        summary["rejected"] = rejects.count
        summary["rejects_path"] = rejects.path
        self.log.info("Summary: %s", json.dumps(summary, sort_keys=True, default=str))
        self.attach_to_outlets(context, summary)
        check_threshold(self.max_rejected, rejects.count, total, rejects.path)
        return summary

    def attach_to_outlets(self, context: Context, summary: dict[str, Any]) -> None:
        attach_to_outlets(self, context, summary)


def attach_to_outlets(operator: BaseOperator, context: Context, summary: dict[str, Any]) -> None:
    """Put the summary's scalar values in the extra of each outlet Asset's event."""
    outlets = getattr(operator, "outlets", None) or []
    events = context.get("outlet_events")
    if not outlets or events is None:
        return
    from airflow.sdk import Asset

    scalars = {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool)) or v is None}
    for outlet in outlets:
        if isinstance(outlet, Asset):
            events[outlet].extra.update(scalars)


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def transport_summary(hook: Any, started: float) -> dict[str, Any]:
    stats = hook.stats
    seconds = round(time.monotonic() - started, 3)
    return {"requests": stats.get("requests", 0), "retries": stats.get("retries", 0), "seconds": seconds}
