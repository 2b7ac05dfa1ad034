"""Mautic's batch delete (``CommonApiController::deleteEntitiesAction``, §4.4) for any entity:
the ids read from the query string as ``BatchIdToEntityHelper`` reads them, the answer
serialised before the deletion, keyed by the request's keys."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from typing import Any

from airflow_provider_contacts.sandbox.vendors.mautic_common import (
    BATCH_LIMIT,
    NOT_FOUND,
    MauticFault,
    ordered,
    php_is_numeric,
)

#: ``mautic.api.call.id_missing`` (en_US)
ID_MISSING = "ID is missing from the payload."
_PHP_INT_KEY = re.compile(r"0|-?[1-9][0-9]*")


def php_key(key: Any) -> Any:
    """A PHP array key: a canonical decimal string (``"0"``, ``"12"``, not ``"012"``) is an int."""
    return int(key) if isinstance(key, str) and _PHP_INT_KEY.fullmatch(key) else key


def _items(array: Any) -> list[tuple[Any, Any]]:
    """(key, value) of a PHP array parsed from a query string (a list or a dict)."""
    if isinstance(array, list):
        return list(enumerate(array))
    return [(php_key(k), v) for k, v in array.items()]


def batch_ids(query: dict[str, Any]) -> tuple[list[tuple[Any, Any]], dict[Any, str]]:
    """``BatchIdToEntityHelper``: the (request key, id) pairs of a batch request and the keys
    whose item has no id. ``ids`` as an array (``ids[]=3&ids[]=4``, ``ids[0]=3&ids[1]=4``, other
    keys kept: ``ids[a]=3``) or as a string (``ids=3,4``, ``ids=3``; a string that is neither is
    no id); without ``ids``, every query parameter's value is an id (``?0=3&1=4``), or, when
    the first is an array, its ``id`` (``?0[id]=3``). No id at all: no errors either (the helper's
    errors are read only when it found ids)."""
    if "ids" in query:
        raw = query["ids"]
        if isinstance(raw, (list, dict)):
            return _items(raw), {}
        text = str(raw)
        if "," in text or php_is_numeric(text):
            return list(enumerate(next(csv.reader([text]), []))), {}
        return [], {}
    items = _items(query)
    if not items or not isinstance(items[0][1], (list, dict)):
        return items, {}
    found: list[tuple[Any, Any]] = []
    errors: dict[Any, str] = {}
    for key, params in items:
        if isinstance(params, dict) and params.get("id") is not None:
            found.append((key, params["id"]))
        else:
            errors[key] = ID_MISSING
    return found, errors if found else {}


def delete_batch(
    query: dict[str, Any],
    *,
    name: str,
    limit: int,
    find: Callable[[str], dict[str, Any] | None],
    serialise: Callable[[dict[str, Any]], dict[str, Any]],
    delete: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """``deleteEntitiesAction``: more top-level query parameters than ``limit`` is the HTTP 500
    of §4.1 (``ids=…`` is one parameter however many ids it holds); unknown ids are left out;
    the records found are serialised under their request keys, then deleted; an id named twice
    is listed twice and the second one, already deleted, is a 404 item error."""
    if len(query) > limit:
        raise MauticFault(500, BATCH_LIMIT.format(n=limit))
    entries, missing = batch_ids(query)
    found: dict[Any, dict[str, Any]] = {}
    for key, raw in entries:
        record = find(str(raw).strip()) if isinstance(raw, (str, int)) else None
        if record is not None:
            found[key] = record
    payload: dict[str, Any] = {name: ordered({key: serialise(r) for key, r in found.items()})}
    errors: dict[Any, dict[str, Any]] = {key: _item_error(message, 400) for key, message in missing.items()}
    deleted: set[int] = set()
    for key, record in found.items():
        if id(record) in deleted:  # Doctrine nulls the id of a removed entity
            errors[key] = _item_error(NOT_FOUND, 404)
            continue
        delete(record)
        deleted.add(id(record))
    if errors:
        payload["errors"] = ordered(errors)
    return payload


def _item_error(message: str, code: int) -> dict[str, Any]:
    return {"message": message, "code": code, "type": "api"}
