"""Where a contact-events watcher keeps its state (watermark, recent keys, the batch being handed
over), keyed by what the watcher watches."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any


def default_state_key(
    conn_id: str,
    include_types: list[str] | None,
    exclude_types: list[str] | None,
    contact_ids: list[str] | None,
) -> str:
    """The watermark's key names what the watcher watches: two watchers of one connection with
    other filters, sharing a ``state_path`` file, never read each other's watermark. (Without
    filters the key is the one of 0.1.0, so existing state is kept.)"""
    watched = {
        "include_types": sorted(include_types or []),
        "exclude_types": sorted(exclude_types or []),
        "contact_ids": sorted(str(c) for c in contact_ids or []),
    }
    if not any(watched.values()):
        return f"contact_events_watermark:{conn_id}"
    digest = hashlib.sha256(json.dumps(watched, sort_keys=True).encode()).hexdigest()[:12]
    return f"contact_events_watermark:{conn_id}:{digest}"


class WatcherState:
    """The state of one watcher under ``key``: in the watched asset's asset state store
    (Airflow >= 3.3, injected by the triggerer), else in the JSON file ``path`` (local or any
    ObjectStoragePath URI; read and written in a worker thread), else in memory."""

    def __init__(self, key: str, path: str | None, store: Any = None) -> None:
        self.key, self.path, self.store = key, path, store
        self._memory: dict[str, Any] | None = None

    async def load(self) -> dict[str, Any] | None:
        if self.store is not None:
            value = await self.store.aget(self.key, None)
            return value if isinstance(value, dict) else None
        if self.path:
            return await asyncio.to_thread(self._read_file)
        return self._memory

    async def save(self, state: dict[str, Any]) -> None:
        if self.store is not None:
            await self.store.aset(self.key, state)
        elif self.path:
            await asyncio.to_thread(self._write_file, state)
        else:
            self._memory = json.loads(json.dumps(state))

    def where(self) -> str:
        if self.store is not None:
            return f"the asset state store (key {self.key!r})"
        if self.path:
            return f"the file {self.path}"
        return "memory only (a triggerer restart replays from start_from; set state_path on Airflow < 3.3)"

    def _file(self) -> Any:
        from airflow.sdk import ObjectStoragePath

        if self.path is None:
            raise RuntimeError("no state_path: the watcher state is kept in memory only")
        return ObjectStoragePath(self.path)

    def _read_file(self) -> dict[str, Any] | None:
        path = self._file()
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return data.get(self.key) if isinstance(data, dict) else None

    def _write_file(self, state: dict[str, Any]) -> None:
        path = self._file()
        data = json.loads(path.read_text()) if path.exists() else {}
        data[self.key] = state
        tmp = path.parent / f".{path.name}.tmp"
        tmp.write_text(json.dumps(data, sort_keys=True))
        tmp.rename(path)
