"""Pieces shared by the Mautic emulator's modules: its error answer and PHP-like helpers (a §
mark is a section of ``docs/vendors/mautic.md``)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

UTC = timezone.utc

#: §2.3 / §4.2 messages (en_US)
NOT_FOUND = "Item was not found."
ACCESS = "You do not have access to the requested area/action."
BATCH_LIMIT = "A max of {n} entities are supported at a time."
GENERIC_500 = (
    "Looks like I encountered an error (error #500). If I do it again, please report me to the "
    "system administrator!"
)


class MauticFault(Exception):
    """An error answer: ``{"errors":[{"code","message","details","type"}]}`` with HTTP ``code``."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        details: Any = None,
        type_: str | None = None,
        with_details: bool = True,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = [] if details is None else details
        self.type = type_
        self.with_details = with_details

    def item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.with_details:
            item["details"] = self.details
        item["type"] = self.type
        return item


def crash() -> MauticFault:
    """An uncaught PHP error under /api (§2.3): generic message, no ``details``."""
    return MauticFault(500, GENERIC_500, with_details=False)


def iso(value: datetime | None) -> str | None:
    """JMS date format 'c' in UTC: ``2024-02-29T12:17:52+00:00``."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def php_is_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        return re.fullmatch(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*", value) is not None
    return False


def php_empty(value: Any) -> bool:
    return value in (None, False, 0, 0.0, "", "0", [], {})


def php_int(value: Any) -> int:
    """PHP ``(int)`` of a scalar (leading digits, else 0)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    match = re.match(r"\s*([+-]?\d+)", str(value))
    return int(match.group(1)) if match else 0


def mysql_datetime(text: Any) -> datetime:
    """``new \\DateTime($text)`` formatted ``Y-m-d H:i:s`` and read back as UTC: an explicit
    offset in the string is dropped (wall time compared as UTC, §7). Invalid → 500."""
    dt = datetime
    if not isinstance(text, str) or not text.strip():
        raise crash()
    value = text.strip().replace("T", " ")
    value = re.sub(r"(Z|[+-]\d{2}:?\d{2})$", "", value).strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return dt.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise crash()


def keyed(items: dict[int, Any]) -> Any:
    """How PHP/JMS serialise an array keyed by request index: a JSON list when the keys are
    exactly 0..n-1, an object otherwise (§4.2)."""
    keys = sorted(items)
    if keys == list(range(len(keys))):
        return [items[k] for k in keys]
    return {str(k): items[k] for k in keys}


def ordered(items: dict[Any, Any]) -> Any:
    """``json_encode`` of a PHP array: processing order kept; a list only when the keys are
    0..n-1 in that order, else an object."""
    keys = list(items)
    if keys == list(range(len(keys))):
        return [items[k] for k in keys]
    return {str(k): v for k, v in items.items()}


def php_datetime(value: Any) -> datetime | None:
    """``new \\DateTime($value)`` for the formats the emulator reads (see
    :func:`~.mautic_fields.strtotime`), in UTC; None when PHP would throw."""
    from airflow_provider_contacts.sandbox.vendors.mautic_fields import strtotime

    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    moment = strtotime(value)
    return None if moment is None else moment.replace(microsecond=0)


def php_query(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Parse ``a[b][]=1&a[c]=2`` like PHP does into nested dicts (lists for ``[]``)."""
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = re.match(r"^([^\[]+)((?:\[[^\]]*\])*)$", raw_key)
        if not match:
            out[raw_key] = value
            continue
        keys = [match.group(1)] + re.findall(r"\[([^\]]*)\]", match.group(2))
        node: Any = out
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            if isinstance(node, list):
                if key == "":
                    if last:
                        node.append(value)
                        break
                    node.append({})
                    node = node[-1]
                    continue
                node = {str(j): v for j, v in enumerate(node)}  # mixed keys: not expected
            if last:
                if key == "":
                    node.setdefault("", []).append(value)
                else:
                    node[key] = value
                break
            nxt_empty = keys[i + 1] == ""
            if key not in node or not isinstance(node[key], (dict, list)):
                node[key] = [] if nxt_empty else {}
            node = node[key]
    return out


#: header names as Mautic's stack (Symfony behind Apache/nginx) writes them
_HEADER_NAMES = {
    name.lower().encode("latin-1"): name.encode("latin-1")
    for name in (
        "Content-Type",
        "Content-Length",
        "Location",
        "Mautic-Version",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Cache-Control",
        "Expires",
        "Last-Modified",
        "Pragma",
        "Content-Encoding",
        "Connection",
        "Set-Cookie",
    )
}


def canonical_headers(response: Any) -> Any:
    """Mautic's header names (``Content-Type``, not ``content-type``) for a Starlette response,
    which lowercases them. Clients must not depend on the case, ours included."""
    response.raw_headers = [(_HEADER_NAMES.get(k, k), v) for k, v in response.raw_headers]
    return response


#: PHP's ``json_decode`` default depth: more nested arrays/objects than this is an error
JSON_DEPTH = 512
#: a ``\u`` escape of a UTF-16 surrogate (a pair is valid; one alone is PHP's JSON_ERROR_UTF16)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyRefused(Exception):
    """A JSON request body FOSRestBundle's body listener refuses (§2.3)."""


def php_json_body(raw: bytes) -> Any:
    """A JSON request body as Mautic reads it (FOSRestBundle's ``BodyListener``:
    ``json_decode($content, true)``, then anything but an array is a ``BadRequestHttpException``):
    raises :class:`BodyRefused` for invalid UTF-8, invalid JSON (NaN too), more than
    :data:`JSON_DEPTH` levels, an unpaired surrogate escape, or a value that is not an array or
    object. Nothing of a refused body is kept."""

    def refuse(_: str) -> Any:
        raise ValueError("not JSON")

    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=refuse)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BodyRefused from None
    if not isinstance(body, (dict, list)):
        raise BodyRefused
    if raw.count(b"[") + raw.count(b"{") > JSON_DEPTH or _SURROGATE_ESCAPE.search(raw):
        _check_decoded(body)
    return body


def _check_decoded(body: Any) -> None:
    """Depth and lone surrogates of a decoded body, without recursion."""
    stack = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > JSON_DEPTH:
            raise BodyRefused
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and _SURROGATE.search(key):
                raise BodyRefused
            if isinstance(item, str) and _SURROGATE.search(item):
                raise BodyRefused
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
