"""Where files go: text files on a local path or any ObjectStoragePath URI, the task
instance's own key and path part, and the default output paths under ``[contacts]
storage_base``."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.exceptions import ContactsConfigError

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

#: a URI's scheme (``s3://``, ``file://``...): such a path is an Airflow ObjectStoragePath's
URI_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def open_text(path: str, mode: str = "r"):
    """A text file from a local path or an Airflow ObjectStoragePath URI (``s3://…``,
    ``file://…``)."""
    if URI_SCHEME.match(path):
        from airflow.sdk import ObjectStoragePath

        target = ObjectStoragePath(path)
        if "w" in mode or "a" in mode:
            target.parent.mkdir(parents=True, exist_ok=True)
        return target.open(mode, encoding="utf-8", newline="")
    if "w" in mode or "a" in mode:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return open(path, mode, encoding="utf-8", newline="")


def open_binary(path: str):
    """A file to read as bytes, from a local path or an Airflow ObjectStoragePath URI."""
    if URI_SCHEME.match(path):
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(path).open("rb")
    return open(path, "rb")


def _safe(part: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", str(part))[:120] or "_"


def task_instance_key(context: Context) -> dict[str, Any]:
    """What owns the state a task keeps (ledgers...): its DAG, run, task and map index. Retries
    of the task instance share it; another run or task never does."""
    ti = context.get("ti") or context.get("task_instance")
    key = {name: getattr(ti, name, None) for name in ("dag_id", "run_id", "task_id")}
    missing = [name for name, value in key.items() if not value]
    if missing:
        raise ContactsConfigError(
            f"the task context has no {', '.join(missing)}: state such as the adjustments ledger is kept per task "
            "instance (dag_id, run_id, task_id, map_index) and cannot be keyed without it"
        )
    map_index = getattr(ti, "map_index", -1)
    key["map_index"] = map_index if isinstance(map_index, int) else -1
    return key


def task_instance_part(key: dict[str, Any]) -> str:
    """``<dag>/<run>/<task>[.<map_index>]``: a path part unique to one task instance."""
    task = _safe(key["task_id"]) + (f".{key['map_index']}" if key["map_index"] >= 0 else "")
    return "/".join((_safe(key["dag_id"]), _safe(key["run_id"]), task))


#: executors that run every task on the machine that runs the DAG (a local default is shared)
LOCAL_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})
_warned = False


def storage_base() -> str:
    """Where files handed between tasks go: ``[contacts] storage_base`` (an ObjectStoragePath
    URI such as ``s3://bucket/airflow-contacts``, or a local folder), else
    ``<tmp>/airflow-contacts`` on the worker, with a warning when the executor may run the
    next task on another machine."""
    from airflow_provider_contacts._compat import airflow_conf

    conf = airflow_conf()
    base = (conf.get("contacts", "storage_base", fallback="") or "").strip()
    if base:
        return base.rstrip("/")
    executors = {
        part.strip().split(".")[-1] for part in (conf.get("core", "executor", fallback="") or "").split(",")
    }
    global _warned
    if not _warned and executors - LOCAL_EXECUTORS - {""}:
        _warned = True
        log.warning(
            "[contacts] storage_base is not set, so output and rejects files go to %s on this worker; with %s the "
            "next task may run on another machine and not find them. Set [contacts] storage_base (or "
            "AIRFLOW__CONTACTS__STORAGE_BASE) to shared storage such as s3://bucket/airflow-contacts.",
            os.path.join(tempfile.gettempdir(), "airflow-contacts"),
            ", ".join(sorted(executors)),
        )
    return os.path.join(tempfile.gettempdir(), "airflow-contacts")


def output_path(context: Context, name: str) -> str:
    """``<storage_base>/<dag>/<run>/<task>[.<map_index>]/<name>``: the same path on every try of
    the task (a retry overwrites its own file), another path for any other task instance.
    Use it for files one task hands to the next."""
    ti = context.get("ti") or context.get("task_instance")
    key = {
        "dag_id": getattr(ti, "dag_id", None) or "dag",
        "run_id": getattr(ti, "run_id", None) or "run",
        "task_id": getattr(ti, "task_id", None) or "task",
    }
    map_index = getattr(ti, "map_index", -1)
    key["map_index"] = map_index if isinstance(map_index, int) else -1
    return f"{storage_base()}/{task_instance_part(key)}/{name}"
