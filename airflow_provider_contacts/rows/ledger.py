"""The adjustments ledger of ONE task instance (its tries share it; another run, task or map
index never reads it): the task state store (Airflow >= 3.3) or a file per task instance below
a folder (local or object storage)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.rows.outputs import open_binary, open_text, task_instance_part

log = logging.getLogger(__name__)


class Ledger:
    """Per-chunk records ``{"fp", "targets": [[index, contact_id, group_id, target]], "applied"}``
    of ONE task instance (its retries share them; another run, task or map index never sees them)."""

    where = "?"

    def get(self, chunk: int) -> dict[str, Any] | None:
        raise NotImplementedError

    def put(self, chunk: int, record: dict[str, Any]) -> None:
        raise NotImplementedError


class StateStoreLedger(Ledger):
    """Airflow >= 3.3: ``context["task_state_store"]``, which Airflow scopes to the task instance
    (DAG run, task, map index) and keeps across its tries."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.where = "the task state store"

    def get(self, chunk: int) -> dict[str, Any] | None:
        value = self.store.get(f"contacts_points_chunk_{chunk}")
        return value if isinstance(value, dict) else None

    def put(self, chunk: int, record: dict[str, Any]) -> None:
        self.store.set(f"contacts_points_chunk_{chunk}", record)


class FileLedger(Ledger):
    """A file per task instance under the folder ``base`` (local, or any ObjectStoragePath URI):
    ``<base>/<dag_id>/<run_id>/<task_id>[.<map_index>].ndjson``. Each record also names its
    owner, and records of any other owner are never consulted. Local files are appended and
    fsync'ed; object-storage files are rewritten."""

    def __init__(self, base: str, owner: dict[str, Any]) -> None:
        self.owner = owner
        base = base.rstrip("/")
        _refuse_file_base(base)
        self.path = f"{base}/{task_instance_part(owner)}.ndjson"
        self.where = self.path
        self.records: dict[int, dict[str, Any]] = {}
        self.local = "://" not in base or base.startswith("file://")
        self._read()

    def get(self, chunk: int) -> dict[str, Any] | None:
        return self.records.get(chunk)

    def _read(self) -> None:
        """The records of this task instance. A last line without its newline is an append a
        crash cut short (each record is one write of the line and its newline, then fsync): it
        is left out and cut off the file. Nothing was sent after it, and a chunk whose plan or
        "applied" mark it was is finished by re-sending its recorded ``set`` targets (or planned
        anew), so the retry applies each adjustment exactly once. A bad line before the last is
        damage, not a crash: an error."""
        try:
            with open_binary(self.path) as handle:
                data = handle.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ContactsConfigError(f"ledger {self.path!r} cannot be read ({exc}); {_DAMAGED}") from None
        complete, newline, torn = data.rpartition(b"\n")
        foreign = 0
        for number, line in enumerate(complete.split(b"\n") if newline else [], start=1):
            try:
                item = json.loads(line) if line.strip() else None
                if item is not None and item.get("owner") != self.owner:
                    foreign += 1
                elif item is not None:
                    self.records[int(item["chunk"])] = item
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ContactsConfigError(
                    f"ledger {self.path!r} line {number} is not a ledger record ({exc}), and it is not the last line "
                    f"(a crash only cuts the last one short); {_DAMAGED}"
                ) from None
        if foreign:
            log.warning("ledger %s: ignoring %d record(s) of another task instance", self.path, foreign)
        if torn:
            self._cut_torn_line(len(complete) + len(newline), len(torn))

    def _cut_torn_line(self, keep: int, torn: int) -> None:
        log.warning(
            "ledger %s: its last line (%d bytes, no newline) is an append a crash cut short; it is left out, "
            "and the chunk it was written for is finished by this try (recorded targets re-sent as set, never added "
            "again)",
            self.path,
            torn,
        )
        if self.local:  # the next append starts on a line of its own
            os.truncate(self.path.removeprefix("file://"), keep)
        # on object storage every put rewrites the whole file from the records read

    def put(self, chunk: int, record: dict[str, Any]) -> None:
        self.records[chunk] = {"owner": self.owner, "chunk": chunk, **record}
        if self.local:
            with open_text(self.path, "a") as handle:
                handle.write(json.dumps(self.records[chunk]) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        else:
            with open_text(self.path, "w") as handle:
                for item in self.records.values():
                    handle.write(json.dumps(item) + "\n")


_DAMAGED = (
    "the ledger is damaged, so which adjustments this task already applied is unknown. Compare the scores in "
    "the vendor with the input, then remove the ledger only to apply every adjustment of this task again"
)


def _refuse_file_base(base: str) -> None:
    """``ledger_path`` is a folder; an existing file there is a ledger of the old layout, which
    names no task instance and so can never be trusted."""
    if "://" in base and not base.startswith("file://"):
        from airflow.sdk import ObjectStoragePath

        is_file = ObjectStoragePath(base).is_file()
    else:
        is_file = os.path.isfile(base.removeprefix("file://"))
    if is_file:
        raise ContactsConfigError(
            f"ledger_path {base!r} is a file; give a folder (local or object storage): each task instance keeps its "
            "own ledger below it, <ledger_path>/<dag_id>/<run_id>/<task_id>[.<map_index>].ndjson"
        )
