"""Why rows were rejected, in a form the user can read at a glance: each reason as a short
category (the summary's ``rejected_by_reason``: counts per category, the top ten and the rest
together) and the first rejected rows, kept for the task log.

A category never holds a row's values: the reasons the provider writes name the value they
refuse (``email 'ann@example' is not a valid address``) and a vendor's message may quote it,
so a category is a fixed name for a known reason, ``rejected by the vendor (HTTP <status>,
<vendor code>)`` for a vendor's refusal, and otherwise the reason's words with every quoted
value, email address and number cut out."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

#: how many categories ``rejected_by_reason`` names (the others are counted in :data:`OTHER`)
TOP_REASONS = 10
#: how many rejected rows the task log shows
SAMPLE_ROWS = 10
#: the category of the rejections past the top ten
OTHER = "other reasons"
#: the reason the operators write for a row the vendor refused (its words are in ``message``)
VENDOR = "rejected by the vendor"
#: distinct categories counted at most (past that, new ones are counted in :data:`OTHER`)
MAX_CATEGORIES = 1000

#: the reasons the provider writes, as (pattern, category); the first match names the category
KNOWN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"^line \d+ is not valid JSON", "invalid JSON"),
        (r"^line \d+ has \d+ values for \d+ columns", "wrong number of CSV values"),
        (r"^row is not an object", "row is not an object"),
        (r"^missing key field", "missing key field"),
        (r"^missing field\(s\)", "missing field"),
        (r"^email .* is not a valid address", "invalid email"),
        (r"^contact not found", "contact not found"),
        (r"^unknown group", "unknown group"),
        (r'^row has no "id"', "no contact id or email"),
        (r"is neither a contact id nor an email$|is not a contact id or email$", "not a contact id or email"),
        (r"^contact id .* is not valid", "invalid contact id"),
        (r"NaN/Infinity", "NaN or Infinity"),
        (r"^field .* is an? \w+, not a text, number", "unsupported value type"),
        (
            r"takes text, numbers and booleans there|takes objects only as|holds a list or object",
            "list or object",
        ),
        (r"^op .* is not allowed", "unknown op"),
        (r"^value .* is not an integer", "not a whole number"),
        (r"^divide by zero", "divide by zero"),
    )
)
_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|\S*@\S*|\d+(?:\.\d+)?")
_SAFE_CODE = re.compile(r"[A-Za-z0-9_.,:-]{1,40}")


def vendor_category(status: int | None = None, vendor_code: Any = None) -> str:
    """``rejected by the vendor (HTTP 422, <code>)``: the status and the vendor's error code
    (when it is a short identifier, not text), never its message."""
    details = [f"HTTP {status}"] if status is not None else []
    code = str(vendor_code) if vendor_code not in (None, "") else ""
    if code and _SAFE_CODE.fullmatch(code) and "@" not in code and code != str(status):
        details.append(code)
    return f"{VENDOR} ({', '.join(details)})" if details else VENDOR


def reason_category(
    reason: Any, status: int | None = None, vendor_code: Any = None, *, from_vendor: bool = False
) -> str:
    """The short category of a rejection ``reason`` (see the module docstring). ``from_vendor``:
    ``reason`` is the vendor's own message, so only a known reason or the vendor category."""
    text = str(reason or "")
    if text.startswith("contact: "):  # a point adjustment's contact reference
        text = text[len("contact: ") :]
    for pattern, name in KNOWN:
        if pattern.search(text):
            return name
    if from_vendor or text == VENDOR:
        return vendor_category(status, vendor_code)
    words = _VALUES.sub("…", text.split(";")[0].split(" (")[0])
    words = " ".join(words.split())[:60].strip()
    return words or "rejected"


class RejectTally:
    """Counts per category and the first :data:`SAMPLE_ROWS` rejections, as rows are rejected."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        #: ``(index, row, reason)`` of the first rejected rows, in the order they were rejected
        self.sample: list[tuple[int | None, Any, str]] = []

    def add(
        self,
        index: int | None,
        row: Any,
        reason: str,
        status: int | None,
        vendor_code: Any,
        category: str | None,
    ) -> None:
        name = category or reason_category(reason, status, vendor_code)
        if name not in self.counts and len(self.counts) >= MAX_CATEGORIES:
            name = OTHER
        self.counts[name] += 1
        if len(self.sample) < SAMPLE_ROWS:
            self.sample.append((index, row, str(reason)))

    def by_reason(self, top: int = TOP_REASONS) -> dict[str, int]:
        """The ``top`` categories with the most rejections (most first), and :data:`OTHER` for the
        rest: the counts add up to the rows rejected."""
        ranked = [(name, count) for name, count in self.counts.most_common() if name != OTHER]
        shown = dict(ranked[:top])
        rest = sum(count for name, count in ranked[top:]) + self.counts.get(OTHER, 0)
        if rest:
            shown[OTHER] = rest
        return shown
