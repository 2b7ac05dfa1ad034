"""What the vendor (or the operator) knows of a source's columns (a
:class:`~airflow_provider_contacts.models.KnownColumns`): a column it does not know is one
configuration error naming every such column with the closest known name, or, with
``unknown_columns="ignore"``, dropped from the rows sent, counted and named once in the log."""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.models import KnownColumns

log = logging.getLogger(__name__)

UNKNOWN_CHOICES = ("error", "ignore")
#: columns named in a message or a summary count (all of them are in the log)
SHOWN = 20
#: unknown columns given a "did you mean" (difflib is slow past that)
SUGGESTED = 200


def parse_unknown(value: object) -> str:
    """``unknown_columns``: ``"error"`` (the default) or ``"ignore"``."""
    choice = str(value or "").strip().lower() if isinstance(value, str) or value is None else None
    if choice not in UNKNOWN_CHOICES:
        raise ContactsConfigError(
            f"unknown_columns={value!r}: use 'error' (the default: a column the vendor does not know fails "
            "the task before any change) or 'ignore' (such columns are dropped from every row sent, counted "
            "in the summary and named once in the log)"
        )
    return choice


def normalise(name: str) -> str:
    """A name compared ignoring case, ``_``, ``-`` and spaces (``First_Name`` -> ``firstname``)."""
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


class Suggester:
    """The closest of ``candidates`` to a name: the same once normalised, else a close spelling."""

    def __init__(self, candidates: Iterable[str]) -> None:
        self.by_norm: dict[str, str] = {}
        for name in candidates:
            self.by_norm.setdefault(normalise(name), name)
        self.norms = list(self.by_norm)

    def __call__(self, name: str) -> str | None:
        norm = normalise(name)
        found = self.by_norm.get(norm)
        if found is not None:
            return found
        match = difflib.get_close_matches(norm, self.norms, n=1, cutoff=0.75)
        return self.by_norm[match[0]] if match else None


def closest(name: str, candidates: Iterable[str]) -> str | None:
    return Suggester(c for c in candidates if c != name)(name)


def names_text(names: list[str], limit: int = 30) -> str:
    """``'a', 'b'`` (at most ``limit`` names, then how many more)."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def classify(columns: Iterable[str], known: KnownColumns) -> tuple[list[str], list[str]]:
    """(unknown columns, columns the vendor keeps as ``known.others``). A column that only
    differs from a known name by case, ``_``, ``-`` or spaces is unknown even where the vendor
    keeps other columns (``Email`` is a mistake for ``email``, not a custom attribute)."""
    names = {n.lower() for n in known.names} if known.fold_case else known.names
    near = {normalise(n) for n in known.names}
    unknown, others = [], []
    for column in columns:
        if (column.lower() if known.fold_case else column) in names and column not in known.ignored:
            continue
        if known.others and column not in known.ignored and normalise(column) not in near:
            others.append(column)
        else:
            unknown.append(column)
    return unknown, others


def top(counts: dict[str, int], columns: list[str]) -> dict[str, int]:
    """Rows per column for at most :data:`SHOWN` of ``columns`` (those in the most rows)."""
    ranked = sorted(columns, key=lambda c: (-counts.get(c, 0), c))[:SHOWN]
    return {c: counts.get(c, 0) for c in ranked}


def check_known(
    counts: dict[str, int],
    known: KnownColumns,
    choice: str,
    source: str,
    keep: set[str],
    origins: dict[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """Check the columns (``counts``: rows per column) against ``known`` before the first change.
    Returns (columns to drop from every row sent, columns kept as ``known.others``); an unknown
    column is a :class:`ContactsConfigError` unless ``choice`` is ``"ignore"`` (a column of
    ``keep``, the key, never is dropped). ``origins``: the source column a ``columns`` mapping
    renamed into a column, named in the message."""
    origins = origins or {}
    unknown, others = classify(counts, known)
    if others:
        log.info(
            "%d column(s) of %s are not %s and are kept as %s: %s",
            len(others),
            source,
            known.where,
            known.others,
            ", ".join(f"{c} ({counts.get(c, 0)} rows)" for c in others),
        )
    if not unknown:
        return [], others
    suggest = Suggester(known.names)
    hints = {c: suggest(c) for c in unknown[:SUGGESTED] if c not in known.ignored}
    kept = [c for c in unknown if c in keep]
    if choice == "ignore" and not kept:
        log.warning(
            "unknown_columns='ignore': dropping %d column(s) of %s that are not %s from every row sent: %s",
            len(unknown),
            source,
            known.where,
            ", ".join(f"{c} ({counts.get(c, 0)} rows)" for c in unknown),
        )
        return unknown, others
    if len(unknown) > SHOWN:
        log.error(
            "The %d column(s) of %s that are not %s: %s",
            len(unknown),
            source,
            known.where,
            ", ".join(_described(c, known, hints, origins) for c in unknown),
        )
    raise ContactsConfigError(_unknown_message(unknown, kept, known, source, hints, set(counts), origins))


def _described(
    column: str, known: KnownColumns, hints: dict[str, str | None], origins: dict[str, str]
) -> str:
    notes = [f"mapped from {origins[column]!r}"] if column in origins else []
    note, hint = known.ignored.get(column), hints.get(column)
    if note or hint:
        notes.append(note or f"did you mean {hint!r}?")
    return f"{column!r} ({'; '.join(notes)})" if notes else repr(column)


def _unknown_message(
    unknown: list[str],
    kept: list[str],
    known: KnownColumns,
    source: str,
    hints: dict[str, str | None],
    columns: set[str],
    origins: dict[str, str],
) -> str:
    named = ", ".join(_described(c, known, hints, origins) for c in unknown[:SHOWN])
    more = (
        f" and {len(unknown) - SHOWN:,} more (each one is named in the task log)"
        if len(unknown) > SHOWN
        else ""
    )
    targets = [h for h in hints.values() if h]
    mapping = {
        origins.get(c, c): h
        for c, h in hints.items()
        if h and targets.count(h) == 1 and h not in columns and c in unknown
    }
    fix = (
        f"map them with columns={json.dumps(dict(list(mapping.items())[:SHOWN]))}"
        if mapping
        else 'rename them with columns={"<column>": "<field>"}'
    )
    if kept:
        return (
            f"the key column {names_text(kept)} of {source} is not {known.where}: {named}. The key is sent with "
            f"every row, so it cannot be dropped: {fix}, or choose another key. Nothing was sent."
        )
    return (
        f"{len(unknown):,} column(s) of {source} are not {known.where}, so their values would not reach "
        f"the vendor: {named}{more}. To fix: {fix} (a column mapped to None is dropped), or pass "
        "unknown_columns='ignore' to drop every unknown column from the rows sent (counted in the "
        "summary). Nothing was sent."
    )
