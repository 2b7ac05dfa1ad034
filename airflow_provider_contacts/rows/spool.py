"""Spools with bounded memory: :class:`RowSpool` keeps checked rows in input order (the whole
input is read before anything is sent), :class:`KeyedSpool` collapses rows with the same key
(last one wins), both spilling to temporary files past ``memory_rows``; and :func:`chunked`."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)


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
            self._file = tempfile.TemporaryFile(
                "w+", encoding="utf-8", prefix="contacts-rows-", dir=self.tmp_dir
            )
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
            open(os.path.join(self._dir.name, f"b{i:03d}.ndjson"), "w", encoding="utf-8")
            for i in range(self.bucket_count)
        ]
        rows, self._rows = self._rows, None
        assert rows is not None
        for key, (index, row) in rows.items():
            self._write(index, key, row)
        log.info(
            "more than %d distinct keys: collapsing duplicates through %d temporary files",
            self.memory_rows,
            self.bucket_count,
        )

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
    def expected(self) -> int:
        """The rows iteration will yield: exact while in memory; once spilled, the rows added (an
        upper bound: duplicates are collapsed bucket by bucket as they are read)."""
        return len(self._rows) if self._rows is not None else self.added

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


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
