"""What the action operators tell the user in the task log: progress (rows done of the total,
the share, the time left), the summary (a short line per count, then the JSON) and the first
rejected rows with their reasons (secrets masked)."""

from __future__ import annotations

import json
import logging
import reprlib
import time
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_contacts.rows.strict_json import dumps
from airflow_provider_contacts.rows.values import MAX_DEPTH

log = logging.getLogger(__name__)

#: the longest a logged row (its JSON) or reason gets, in characters
ROW_CHARS = 200
REASON_CHARS = 160


def duration(seconds: float) -> str:
    """``4 s``, ``2 min 5 s``, ``1 h 20 min``: a duration for people."""
    whole = max(round(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return f"{minutes} min {secs} s" if secs and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(round(whole / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


class Progress:
    """Logs progress at most every ``every`` seconds: with a ``total`` (known once the input is
    read, before the first change) ``12,000 of 20,000 rows, 60 %, ~4 s left``, then the batches
    and the rate; never row contents. :meth:`finish` logs the last line, unless the last timed
    line said the same: no line is logged twice."""

    def __init__(
        self,
        what: str,
        every: float = 10.0,
        clock: Any = time.monotonic,
        total: int | None = None,
        unit: str = "rows",
    ) -> None:
        self.what = what
        self.every = every
        self.clock = clock
        self.total = total
        self.unit = unit
        self.started = clock()
        self._last = self.started
        self._logged: tuple[int, int, int | None] = (0, 0, total)  # nothing done: nothing to report

    def tick(self, done: int, batches: int, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last < self.every:
            return
        self._last = now
        if self._logged == (done, batches, self.total):
            return
        self._logged = (done, batches, self.total)
        log.info("%s: %s", self.what, self.line(done, batches, now - self.started))

    def over(self, batches: Iterable[list[Any]]) -> Iterator[list[Any]]:
        """``batches`` one by one; each counts as done (its rows, and one batch) once the next is
        asked for, and the last line is logged when they are all done."""
        done = count = 0
        for batch in batches:
            yield batch
            done, count = done + len(batch), count + 1
            self.tick(done, count)
        self.finish(done, count)

    def finish(self, done: int, batches: int) -> None:
        """The last line, once everything there was to do is done: ``done`` is then the total
        (which was an upper bound when duplicates were still to be collapsed)."""
        if self.total is not None:
            self.total = done
        self.tick(done, batches, force=True)

    def line(self, done: int, batches: int, elapsed: float) -> str:
        """``12,000 of 20,000 rows, 60 %, ~4 s left (3 batches, 1,500 rows/s)``."""
        rate = done / max(elapsed, 1e-9)
        after = [f"{batches:,} batch{'' if batches == 1 else 'es'}"] if batches else []
        after.append(f"{rate:,.0f} {self.unit}/s")
        total = self.total
        if not total:
            return f"{done:,} {self.unit} ({', '.join(after)})"
        head = f"{done:,} of {total:,} {self.unit}, {done * 100 // total} %"
        if done >= total:
            head += f", done in {duration(elapsed)}"
        elif done:
            head += f", ~{duration(elapsed * (total - done) / done)} left"
        return f"{head} ({', '.join(after)})"


def _count(name: str, value: Any) -> bool:
    """A number the summary counts or measures (not a flag, not a code such as ``reason_code``)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not name.endswith("_code")


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """A short line per count of ``summary`` (``created: 12``), the rejections with their
    reasons (``rejected: 2 (missing key field: 2)``)."""
    lines = []
    for name, value in summary.items():
        if not _count(name, value):
            continue
        text = f"{value:,}" if isinstance(value, int) else f"{value:g}"
        if name == "rejected" and value and summary.get("rejected_by_reason"):
            text += " (" + ", ".join(f"{k}: {v:,}" for k, v in summary["rejected_by_reason"].items()) + ")"
        lines.append(f"{name}: {text}")
    return lines


def log_summary(logger: Any, summary: dict[str, Any]) -> None:
    """The summary in the log: a short line per count, then the whole summary as JSON."""
    logger.info("Summary:")
    for line in summary_lines(summary):
        logger.info("  %s", line)
    logger.info("Summary (JSON): %s", json.dumps(summary, sort_keys=True, default=str))


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists/objects nest more than ``limit`` levels in ``value`` (walked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _readable(value: Any, limit: int) -> str:
    """``value`` as one line of at most ``limit`` characters (JSON for a row; text that a log
    cannot encode, such as a lone surrogate, escaped), with every secret Airflow's masker knows
    replaced by ``***``: in the row (values under a sensitive field name too) and in its text
    (a secret deeper than the masker walks), before it is cut, so no part of one is left at the
    cut."""
    from airflow_provider_contacts._compat import redact_secrets

    if _nested_deeper_than(value, MAX_DEPTH):  # the outer levels only
        value = reprlib.repr(value)
    value = redact_secrets(value)
    try:  # strict JSON: NaN, numbers too long for str(), lone surrogates written as a replay reads them
        text = value if isinstance(value, str) else dumps(value)
    except ValueError:  # a circular structure (rows read from files and SQL never are)
        text = reprlib.repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = str(redact_secrets(" ".join(text.splitlines())))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rejected_row_lines(sample: list[tuple[int | None, Any, str]]) -> list[str]:
    """``index 3: <reason>; row {...}`` per rejected row, each bounded in length, secrets masked."""
    return [
        f"index {index}: {_readable(reason, REASON_CHARS)}; row {_readable(row, ROW_CHARS)}"
        for index, row, reason in sample
    ]


def log_rejected_rows(logger: Any, rejects: Any) -> None:
    """The first rejected rows of ``rejects`` (a ``RejectsFile``) with their reasons, when any."""
    if not rejects.count:
        return
    sample = rejects.tally.sample
    logger.warning(
        "%d row(s) rejected, all in %s; the first %d with their reasons:",
        rejects.count,
        rejects.path,
        len(sample),
    )
    for line in rejected_row_lines(sample):
        logger.warning("  %s", line)
