"""The adjustments ledger of ONE task instance (its tries share it; another run, task or map
index never reads it): the task state store (Airflow >= 3.3) or a file per task instance below
a folder (local or object storage)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.rows.outputs import open_text, task_instance_part

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
        foreign = 0
        try:
            with open_text(self.path, "r") as handle:
                for line in handle:
                    if line.strip():
                        item = json.loads(line)
                        if item.get("owner") != owner:
                            foreign += 1
                            continue
                        self.records[int(item["chunk"])] = item
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ContactsConfigError(
                f"ledger {self.path!r} cannot be read ({exc}); fix or remove it"
            ) from None
        if foreign:
            log.warning("ledger %s: ignoring %d record(s) of another task instance", self.path, foreign)

    def get(self, chunk: int) -> dict[str, Any] | None:
        return self.records.get(chunk)

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
