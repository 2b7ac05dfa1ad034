"""Mautic's ``search`` parameter of list endpoints, parsed and matched as Mautic does.

``CoreBundle/Helper/SearchStringHelper.php`` splits the string into filters (``command:value``
with an optional ``!`` for "not" and ``+`` for "strict", quoted phrases, parenthesised groups,
``or``/``and``); ``CoreBundle/Entity/CommonRepository.php`` turns them into SQL:

* all the filters of one level are joined with ONE operator, the type of the *second* filter
  (``addAdvancedSearchWhereClause``): ``a or b c`` is ``a OR b OR c``;
* a command the repository does not list in ``getSearchCommands`` is searched as the plain word
  ``command:value``, strictly (``parseSearchFilters``);
* a plain word matches ``LIKE %word%`` on the entity's ``name`` (or ``title``) column
  (``addCatchAllWhereClause``); a strict one ``LIKE word``; MySQL compares case-insensitively;
* ``ids:1,2,3`` is ``id IN (intval(1), ...)`` (``getIdsExpr``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SearchFilter:
    command: str = ""
    string: str = ""
    not_: bool = False
    strict: bool = False
    type: str = "and"
    children: list[SearchFilter] = field(default_factory=list)


def parse_search(text: str) -> list[SearchFilter]:
    """``SearchStringHelper::parseSearchString`` (tags stripped, trimmed). The emulation covers
    words, ``command:value``, ``!``/``+`` prefixes, quoted phrases, ``(...)`` groups and
    ``or``/``and``; Mautic's parser misreads some unusual mixes (e.g. a group followed by more
    words), which are not reproduced."""
    return _parse(re.sub(r"<[^>]*>", "", str(text or "")).strip(), "")


def _tokens(text: str) -> list[str]:
    tokens, current, i = [], "", 0
    while i < len(text):
        char = text[i]
        if char in ('"', "("):
            closing = '"' if char == '"' else ")"
            depth, j = 1, i + 1
            while j < len(text) and depth:
                if text[j] == closing:
                    depth -= 1
                elif text[j] == char and char == "(":
                    depth += 1
                j += 1
            current += text[i:j]
            i = j
            continue
        if char == " ":
            if current:
                tokens.append(current)
            current = ""
        else:
            current += char
        i += 1
    if current:
        tokens.append(current)
    return tokens


def _parse(text: str, override: str) -> list[SearchFilter]:
    filters: list[SearchFilter] = []
    pending = "and"
    for token in _tokens(text):
        if token.lower() in ("or", "and"):
            pending = token.lower()
            continue
        f = SearchFilter(command=override, type=pending)
        pending = "and"
        rest = token
        head = re.match(r'^(!?)([^:"(]+):(.*)$', rest, re.S)
        if head and head.group(3):
            f.not_ = bool(head.group(1))
            f.command = head.group(2).strip()
            rest = head.group(3)
        elif head:
            continue  # "command:" with nothing after it is dropped
        if rest[:2] in ('!"', "!("):
            f.not_, rest = True, rest[1:]
        if rest.startswith("(") and rest.endswith(")") and len(rest) > 1:
            inner = rest[1:-1]
            if any(c in inner for c in " ()"):
                f.children = _parse(inner, f.command)
                filters.append(f)
                continue
            rest = inner
        elif rest.startswith('"') and rest.endswith('"') and len(rest) > 1:
            rest = rest[1:-1]
        string = rest.strip().lower()
        if string in ("", "or", "and"):
            continue
        strict_pos, not_pos = string.find("+"), string.find("!")
        if strict_pos in (0, 1) or not_pos in (0, 1):
            if strict_pos != -1 and not_pos != -1:
                f.strict, f.not_, string = True, True, string[2:]
            elif strict_pos == 0 and not_pos == -1:
                f.strict, f.not_, string = True, False, string[1:]
            elif strict_pos == -1 and not_pos == 0:
                f.strict, f.not_, string = False, True, string[1:]
        f.string = string
        filters.append(f)
    return filters


def like(pattern: str, value: Any) -> bool:
    """SQL ``LIKE`` with MySQL's case-insensitive collation."""
    if value is None:
        return False
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern.lower())
    return re.fullmatch(regex, str(value).lower(), re.S) is not None


def ids_of(string: str) -> set[int]:
    """``getIdsExpr``: ``array_map('intval', explode(',', ...))``."""
    out = set()
    for part in string.split(","):
        match = re.match(r"\s*([+-]?\d+)", part)
        out.add(int(match.group(1)) if match else 0)
    return out


#: (filter, record) -> bool for a supported command
Matcher = Callable[[SearchFilter, Any], bool]


def match_search(
    filters: list[SearchFilter],
    record: Any,
    *,
    catch_all: Callable[[Any], list[Any]],
    commands: dict[str, Matcher],
) -> bool:
    """True when ``record`` passes the parsed search. ``catch_all(record)`` gives the values a
    plain word is matched against; ``commands`` the supported commands (lower-case)."""
    if not filters:
        return True
    kind = filters[1].type if len(filters) > 1 else filters[0].type
    results = (_match_one(f, record, catch_all, commands) for f in filters)
    return any(results) if kind == "or" else all(results)


def _match_one(
    f: SearchFilter, record: Any, catch_all: Callable[[Any], list[Any]], commands: dict[str, Matcher]
) -> bool:
    if f.children:
        hit = match_search(f.children, record, catch_all=catch_all, commands=commands)
        return not hit if f.not_ else hit
    string, strict, not_ = f.string, f.strict, f.not_
    if f.command:
        # isSupportedSearchCommand: "ids" is a command, "is:published" a command with its value
        matcher = commands.get(f.command.lower()) or commands.get(f"{f.command}:{f.string}".lower())
        if matcher is not None:
            hit = matcher(f, record)
            return not hit if f.not_ else hit
        string, strict, not_ = f"{f.command}:{f.string}", True, False
    pattern = string if strict or "%" in string else f"%{string}%"
    hit = any(like(pattern, value) for value in catch_all(record))
    return not hit if not_ else hit


def ids_command(f: SearchFilter, record: Any) -> bool:
    return int(record["id"]) in ids_of(f.string)
