"""The columns of a source, checked before the first change.

* ``columns`` (an operator argument): ``{source column: vendor field}`` applied to every row as
  it is read, before any check; a column mapped to ``None`` is dropped (and counted).
* :class:`ColumnGate` applies it, counts the rows of each column with flat memory (rows are
  counted per distinct set of columns), and refuses with ONE error a source that lacks the key
  column(s) — on a CSV or SQL header at once, on other sources when no row has them (union of
  the columns seen) — and a mapping key no row has (a typo in the mapping).
* What the vendor (or the operator) knows of the columns: :mod:`.known_columns`.
"""

from __future__ import annotations

import ast
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.models import KnownColumns
from airflow_provider_contacts.rows.known_columns import check_known, closest, names_text, top
from airflow_provider_contacts.rows.sources import BadRow, Header, is_replay
from airflow_provider_contacts.rows.strict_json import dumps, restore
from airflow_provider_contacts.rows.values import unstorable_text

#: distinct column sets remembered before they are folded into per-column counts
SIGNATURES = 1024
#: separators a CSV header holding one of them was probably written with
SEPARATORS = (";", "\t", "|")


def parse_mapping(value: Any) -> dict[str, str | None]:
    """``columns``: a dict ``{source column: vendor field or None}`` (a string is read too: a
    rendered template, as JSON or as the Python dict Jinja prints). Refused: not a dict, a name
    that is not a text, two source columns mapped to one field."""
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = _literal(value)
        if isinstance(value, str):
            raise ContactsConfigError(
                f"columns={value[:200]!r} is a string but not a JSON object; give a dict "
                '{"source column": "vendor field"}, e.g. {"first_name": "firstname"} (None drops a column)'
            ) from None
    if not isinstance(value, dict):
        raise ContactsConfigError(
            f"columns must be a dict {{source column: vendor field}}, e.g. {{'first_name': 'firstname'}}; "
            f"got {type(value).__name__}"
        )
    bad = [
        f"{k!r}: {t!r}"
        for k, t in value.items()
        if not isinstance(k, str) or not k or (t is not None and (not isinstance(t, str) or not t))
    ]
    if bad:
        raise ContactsConfigError(
            f"columns has entries that are not 'source column': 'vendor field' (or None to drop the "
            f"column): {', '.join(bad[:10])}"
        )
    sources: dict[str, list[str]] = {}
    for name, target in value.items():
        if target is not None:
            sources.setdefault(target, []).append(name)
    twice = {t: names for t, names in sources.items() if len(names) > 1}
    if twice:
        shown = "; ".join(f"{' and '.join(map(repr, n))} to {t!r}" for t, n in twice.items())
        raise ContactsConfigError(
            f"columns maps two source columns to one field ({shown}): a row would have two values for it; "
            "map one of them to another field, or to None to drop it"
        )
    return dict(value)


def _literal(text: str) -> Any:
    """A Python literal (``{'a': 'b', 'c': None}``, as a rendered ``{{ params.columns }}``
    prints), or ``text`` itself when it is not one."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def describe_source(source: Any) -> str:
    """The source of an action operator's arguments, for messages."""
    if is_replay(source):
        return f"the rejects file {source.source_path!r} (replayed)"
    if source.source_path:
        return f"source_path {source.source_path!r}"
    if source.source_sql:
        return f"the result of source_sql on {source.source_conn_id!r}"
    return "the rows"


class ColumnGate:
    """One task's view of its source's columns: ``rows()`` maps and counts them, ``finish()``
    checks the key columns and the mapping once the whole input is read. ``required``: groups of
    columns, one of each must be there (``purpose`` says why, for the message)."""

    def __init__(
        self,
        mapping: dict[str, str | None],
        required: tuple[tuple[str, ...], ...],
        purpose: str,
        source: str,
        *,
        replay: bool = False,
    ) -> None:
        self.mapping = mapping
        self.required = required
        self.purpose = purpose
        self.source = source
        self.replay = replay
        self.header: list[str] | None = None
        #: a row (or the header) had one column of every required group (or a row that is not an object)
        self.satisfied = not required
        self.dict_rows = 0
        self.raw_counts: dict[str, int] = {}
        self._sigs: dict[tuple[str, ...], list[Any]] = {}
        #: columns taken out of every row sent (``unknown_columns="ignore"``)
        self.dropped: frozenset[str] = frozenset()
        self._report: dict[str, Any] = {}

    # ---- reading ------------------------------------------------------------------------------
    def rows(self, items: Iterable[Any]) -> Iterator[Any]:
        """``items`` with the mapping applied to each object; a :class:`Header` is checked and
        taken out."""
        sigs = self._sigs
        for item in items:
            if type(item) is dict:
                sig = tuple(item)
                entry = sigs.get(sig)
                if entry is None:
                    entry = self._new(sig)
                entry[0] += 1
                if entry[1]:
                    item = _rename(item, entry[1])
            elif isinstance(item, Header):
                self._header(item)
                continue
            elif not isinstance(item, BadRow):
                self.satisfied = True  # an id or an email given as the row itself names its contact
            yield item

    def _new(self, sig: tuple[str, ...]) -> list[Any]:
        """A set of columns seen for the first time (or since the last fold)."""
        if len(self._sigs) >= SIGNATURES:
            self._fold()
        for name in sig:
            self.raw_counts.setdefault(name, 0)
        plan = self._plan(sig) if self.mapping else None
        if not self.satisfied:
            mapped = {t for n in sig if (t := plan.get(n, n) if plan else n) is not None}
            self.satisfied = not self._missing(mapped)
        entry = [0, plan]
        self._sigs[sig] = entry
        return entry

    def _plan(self, sig: Iterable[str]) -> dict[str, str | None] | None:
        """The renames of a set of columns; a target the source also has is refused."""
        names = list(sig)
        plan = {n: self.mapping[n] for n in names if n in self.mapping}
        present = set(names)
        for name, target in plan.items():
            if target is not None and target in present and target not in self.mapping:
                raise ContactsConfigError(
                    f"columns maps {name!r} to {target!r}, but {self.source} also has a column {target!r}: a "
                    f"row would have two values for it. Map {target!r} to another field or to None, or "
                    f"remove {name!r} from columns"
                )
        return plan or None

    def _fold(self) -> None:
        for sig, (count, _) in self._sigs.items():
            self.dict_rows += count
            for name in sig:
                self.raw_counts[name] += count
        self._sigs.clear()

    def _header(self, header: Header) -> None:
        """A CSV or SQL header: the mapping and the key columns checked before any row."""
        raw = list(header.columns)
        plan = self._plan(raw) if self.mapping else None
        for name in raw:
            self.raw_counts.setdefault(name, 0)
        self.header = [t for n in raw if (t := plan.get(n, n) if plan else n) is not None]
        self._check_mapping()
        missing = self._missing(set(self.header))
        if missing:
            raise ContactsConfigError(self._missing_message(missing, raw, header.kind))
        self.satisfied = True

    # ---- after the whole input ------------------------------------------------------------------
    def finish(self, held: HeldRejects) -> None:
        """The whole input is read: a mapping key no row has, or no row with the key columns, is
        one error (the rejects held back are dropped then)."""
        self._fold()
        if self.header is not None:
            return
        try:
            self._check_mapping()
            if not self.satisfied and self.dict_rows:
                missing = self._missing(set(self.counts()))
                raise ContactsConfigError(self._missing_message(missing, list(self.raw_counts), None))
        except ContactsConfigError:
            held.discard()
            raise

    def check_known(self, known: Callable[[], KnownColumns], choice: str) -> None:
        """The columns (the header's and every row's) against what the vendor or the operator
        knows (``known()``, not asked when there is no column at all): an unknown column is an
        error, or with ``choice="ignore"`` is in :attr:`dropped` (the operator takes it out of
        every row it sends)."""
        counts = self.counts()
        for name in self.header or ():
            counts.setdefault(name, 0)
        # a name no vendor can store (a NUL, a lone surrogate) already rejected each row holding it
        counts = {name: n for name, n in counts.items() if not unstorable_text(name)}
        if not counts:
            return
        keep = {c for group in self.required for c in group}
        origins = {t: n for n, t in self.mapping.items() if t is not None and n in self.raw_counts}
        dropped, others = check_known(counts, known(), choice, self.source, keep, origins)
        self.dropped = frozenset(dropped)
        self._report = {
            "unknown_columns_dropped": top(counts, dropped),
            "custom_attribute_columns": top(counts, others),
        }
        if dropped:
            self._report["unknown_column_count"] = len(dropped)

    def summary(self) -> dict[str, Any]:
        """The counts for the task's summary (only those that are not empty; small: at most
        :data:`~.known_columns.SHOWN` columns each)."""
        raw = self.raw_counts
        mapped = [n for n, t in self.mapping.items() if t is not None and raw.get(n)]
        dropped = [n for n, t in self.mapping.items() if t is None and raw.get(n)]
        out = {"columns_mapped": top(raw, mapped), "columns_dropped": top(raw, dropped), **self._report}
        return {k: v for k, v in out.items() if v}

    def counts(self) -> dict[str, int]:
        """Rows per column after the mapping (0: a header column no row has a value in)."""
        self._fold()
        out: dict[str, int] = {}
        for name, count in self.raw_counts.items():
            target = self.mapping.get(name, name)
            if target is not None:
                out[target] = out.get(target, 0) + count
        return out

    def _missing(self, columns: set[str]) -> list[tuple[str, ...]]:
        return [group for group in self.required if not any(c in columns for c in group)]

    def _check_mapping(self) -> None:
        """A ``columns`` key that no row has is a typo, unless the rows already have its target
        (a replayed rejects file holds rows as they were after the mapping; there a column
        mapped to None need not be there either)."""
        seen = self.raw_counts
        typos = [
            name
            for name, target in self.mapping.items()
            if name not in seen and not (target in seen if target is not None else self.replay)
        ]
        if typos:
            hints = "".join(
                f" ({t!r}: did you mean {c!r}?)" for t in typos[:10] if (c := closest(t, list(seen)))
            )
            raise ContactsConfigError(
                f"columns names {names_text(typos)}: no such column in {self.source}{hints}; its columns: "
                f"{names_text(list(seen)) or 'none'}. Fix the names in columns. Nothing was sent."
            )

    def _missing_message(self, missing: list[tuple[str, ...]], raw: list[str], kind: str | None) -> str:
        wanted = "; ".join(" or ".join(repr(c) for c in group) for group in missing)
        after = " after the columns mapping" if self.mapping else ""
        hints = []
        for group in missing:
            near = closest(group[0], [c for c in raw if c not in self.mapping])
            if near:
                hints.append(f'did you mean {near!r}? map it with columns={{"{near}": "{group[0]}"}}')
        sep = next((s for s in SEPARATORS if kind == "csv" and any(s in c for c in raw)), None)
        if sep:
            hints.append(f"the header looks separated by {sep!r}, not by commas: set csv_delimiter={sep!r}")
        hint = f" ({'; '.join(hints)})" if hints else ""
        return (
            f"there is no column {wanted} in {self.source}{after} ({self.purpose}); its columns: "
            f"{names_text(raw) or 'none'}{hint}. Nothing was sent."
        )


def _rename(row: dict[str, Any], plan: dict[str, str | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name in plan:
            target = plan[name]
            if target is None:
                continue
            name = target
        out[name] = value
    return out


class HeldRejects:
    """The rejects file, written through this while no row has shown the key columns yet: when
    no row does, the source is refused with one error and what was held is dropped, so a file
    without its key column is one error, not a reject per row. Flat memory: past ``memory``
    records they wait in a temporary file."""

    def __init__(self, rejects: Any, gate: ColumnGate, memory: int = 10_000) -> None:
        self.rejects = rejects
        self.gate = gate
        self.memory = memory
        self._held: list[list[Any]] = []
        self._file: Any = None

    def write(self, index: int | None, row: Any, reason: str, **extra: Any) -> None:
        if self.gate.satisfied:
            if self._held or self._file is not None:
                self.flush()
            self.rejects.write(index, row, reason, **extra)
        elif len(self._held) < self.memory:
            self._held.append([index, row, reason, extra])
        else:
            if self._file is None:
                self._file = tempfile.TemporaryFile("w+", encoding="utf-8", prefix="contacts-held-")
            self._file.write(dumps([index, row, reason, extra]) + "\n")  # what the rejects file can hold

    def flush(self) -> None:
        """Write what is held, in input order."""
        held, self._held = self._held, []
        for index, row, reason, extra in held:
            self.rejects.write(index, row, reason, **extra)
        if self._file is not None:
            handle, self._file = self._file, None
            with handle:
                handle.seek(0)
                for line in handle:
                    index, row, reason, extra = restore(json.loads(line))
                    self.rejects.write(index, row, reason, **extra)

    def discard(self) -> None:
        self._held = []
        if self._file is not None:
            self._file.close()
            self._file = None
