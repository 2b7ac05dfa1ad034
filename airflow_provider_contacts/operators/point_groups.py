"""AdjustPointGroupsOperator: point-group adjustments that a task retry never applies twice.

How exactly-once works (read-then-set with a ledger):

1. Adjustments are taken in chunks (input order). For each one, the current score is read
   (or, when the same contact and group came earlier in the chunk, the score planned for it)
   and the target score computed locally: ``plus``/``minus``/``times``/``set`` exactly,
   ``divide`` **rounded toward zero** (7 / 2 → 3, −7 / 2 → −3).
2. The chunk's targets are written to the ledger *before* anything is sent.
3. Each target is sent as ``set`` (idempotent: the transport may repeat it after a lost
   answer), then the chunk is marked applied in the ledger.

A retried task reads the ledger: applied chunks are skipped, planned chunks re-send the same
``set`` targets (never re-reading a score it already changed). The ledger is keyed by the task
instance (DAG, run, task, map index): Airflow 3.3's ``task_state_store`` when present, else a
file at ``ledger_path`` (local, or object storage shared by your workers).

The trade-off: between the read and the set, a change made by someone else (a Mautic campaign
adjusting the same group) is overwritten. Native ``plus``/``minus`` would not do that, but a
lost answer would leave it unknown whether it was applied.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.capabilities import check_adjustment, compute_score
from airflow_provider_contacts.exceptions import ContactsConfigError, ContactsError, InvalidAdjustment, NotFoundError
from airflow_provider_contacts.operators._common import (
    chunked,
    ContactsActionOperator,
    Progress,
    default_output_path,
    open_text,
    transport_summary,
)
from airflow_provider_contacts.operators.do_not_contact import contact_ref

if TYPE_CHECKING:
    from airflow.sdk import Context

def read_adjustment(row: Any) -> tuple[dict[str, Any] | None, str | None]:
    """(normalised adjustment, problem). Checks everything knowable without the network."""
    if not isinstance(row, dict):
        return None, f"row is not an object (got {type(row).__name__}); give contact, group, op and value"
    missing = [f for f in ("contact", "group", "op", "value") if row.get(f) in (None, "")]
    if missing:
        return None, f"missing field(s) {', '.join(missing)}"
    try:
        op, value = check_adjustment(row["op"], row["value"])
    except InvalidAdjustment as exc:
        return None, exc.message
    return {"contact": row["contact"], "group": row["group"], "op": op, "value": value}, None


# ---- ledgers --------------------------------------------------------------------------------
class Ledger:
    """Per-chunk records ``{"fp", "targets": [[index, contact_id, group_id, target]], "applied"}``."""

    where = "?"

    def get(self, chunk: int) -> dict[str, Any] | None:
        raise NotImplementedError

    def put(self, chunk: int, record: dict[str, Any]) -> None:
        raise NotImplementedError


class StateStoreLedger(Ledger):
    """Airflow ≥ 3.3: ``context["task_state_store"]`` (kept across tries of the task)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.where = "the task state store"

    def get(self, chunk: int) -> dict[str, Any] | None:
        value = self.store.get(f"contacts_points_chunk_{chunk}")
        return value if isinstance(value, dict) else None

    def put(self, chunk: int, record: dict[str, Any]) -> None:
        self.store.set(f"contacts_points_chunk_{chunk}", record)


class FileLedger(Ledger):
    """An NDJSON file (local: appended and fsync'ed; object storage: rewritten)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.where = path
        self.records: dict[int, dict[str, Any]] = {}
        self.local = "://" not in path or path.startswith("file://")
        try:
            with open_text(path, "r") as handle:
                for line in handle:
                    if line.strip():
                        item = json.loads(line)
                        self.records[int(item["chunk"])] = item
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            raise ContactsConfigError(f"ledger {path!r} cannot be read ({exc}); fix or remove it") from None

    def get(self, chunk: int) -> dict[str, Any] | None:
        return self.records.get(chunk)

    def put(self, chunk: int, record: dict[str, Any]) -> None:
        import os

        self.records[chunk] = {"chunk": chunk, **record}
        if self.local:
            with open_text(self.path, "a") as handle:
                handle.write(json.dumps(self.records[chunk]) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        else:
            with open_text(self.path, "w") as handle:
                for item in self.records.values():
                    handle.write(json.dumps(item) + "\n")


class AdjustPointGroupsOperator(ContactsActionOperator):
    """Apply point-group adjustments ``{contact, group, op, value}``: contact by id or email,
    group by id or name, ``op`` one of plus/minus/times/divide/set, ``value`` an integer.

    Invalid adjustments (unknown op, non-integer, divide by zero, unknown group or contact) are
    rejected with their reason before anything is sent. Each valid one is applied exactly
    once, across task retries too (see the module docstring: read-then-set with a ledger).
    """

    template_fields = (*ContactsActionOperator.template_fields, "ledger_path", "event_name", "action_name")

    def __init__(
        self,
        *,
        ledger_path: str | None = None,
        chunk_size: int = 200,
        event_name: str | None = None,
        action_name: str | None = "Airflow",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ContactsConfigError(f"chunk_size={chunk_size!r}: use a whole number >= 1")
        self.ledger_path = ledger_path
        self.chunk_size = chunk_size
        self.event_name = event_name
        self.action_name = action_name

    def open_ledger(self, context: Context) -> Ledger:
        if self.ledger_path:
            return FileLedger(str(self.ledger_path))
        store = context.get("task_state_store")
        if store is not None:
            return StateStoreLedger(store)
        return FileLedger(default_output_path(context, "points-ledger.ndjson"))

    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        hook = self.get_hook("point_groups", "adjust point groups")
        rejects = self.open_rejects(context)
        ledger = self.open_ledger(context)
        self.log.info("Adjustments ledger: %s", ledger.where)
        groups = hook.list_point_groups()
        group_ids = {str(g["id"]) for g in groups}
        stats = {"applied": 0, "already_applied": 0, "resent_after_retry": 0}
        chunk_no = 0
        progress = Progress(f"point groups on {self.conn_id}")
        pending: list[tuple[int, Any, dict[str, Any]]] = []

        def flush() -> None:
            nonlocal chunk_no
            chunk_no += 1
            valid = self._resolve(hook, pending, groups, group_ids, rejects)
            fp = hashlib.sha256(json.dumps([[i, a["contact"], a["group"], a["op"], a["value"]] for i, _, a, _, _ in valid],
                                           default=str).encode()).hexdigest()[:16]
            record = ledger.get(chunk_no)
            if record is not None and record.get("fp") != fp:
                raise ContactsConfigError(
                    f"the adjustments of chunk {chunk_no} differ from the previous try of this task (ledger "
                    f"{ledger.where}); the input changed. Remove the ledger to apply the new input as new adjustments."
                )
            rows = {index: row for index, row, _, _, _ in valid}
            if record is None:
                planned: dict[tuple[str, str], int] = {}
                targets, gone = [], []
                for index, _, adj, cid, gid in valid:
                    current = planned.get((cid, gid))
                    if current is None:
                        try:
                            current = hook.get_group_score(cid, gid)
                        except NotFoundError as exc:  # the contact id does not exist
                            gone.append([index, exc.message])
                            continue
                    target = compute_score(current, adj["op"], adj["value"])
                    planned[(cid, gid)] = target
                    targets.append([index, cid, gid, target])
                record = {"fp": fp, "targets": targets, "not_found": gone, "applied": False}
                ledger.put(chunk_no, record)
            elif not record.get("applied"):
                stats["resent_after_retry"] += len(record["targets"])
            for index, message in record.get("not_found", []):
                rejects.write(index, rows.get(index), "contact not found", status=404, message=message)
            if record.get("applied"):
                stats["already_applied"] += len(record["targets"])
                pending.clear()
                return
            for index, cid, gid, target in record["targets"]:
                hook.adjust_group_score(cid, gid, "set", target, event_name=self.event_name, action_name=self.action_name)
                stats["applied"] += 1
                self.note_contact(cid)
            ledger.put(chunk_no, {**record, "applied": True})
            pending.clear()
            progress.tick(self.rows_read, chunk_no)

        try:
            for chunk in chunked(self.checked_rows(rejects, read_adjustment), self.chunk_size):
                pending[:] = chunk
                flush()
        except BaseException:
            rejects.close()
            raise
        total = self.rows_read
        summary = {"conn_id": self.conn_id, "rows_read": total, **stats, "ledger": ledger.where,
                   **transport_summary(hook, started)}
        return self.finish(context, summary, rejects, total, hook)

    def _resolve(self, hook: Any, pending: list, groups: list[dict[str, Any]], group_ids: set[str], rejects: Any) -> list:
        """[(index, row, adjustment, contact_id, group_id)] for adjustments whose contact and
        group exist; the others are rejected."""
        emails = set()
        refs = []
        for index, row, adj in pending:
            cid, email, problem = contact_ref(adj["contact"])
            refs.append((cid, email, problem))
            if email:
                emails.add(email)
        found = hook.find_contact_ids_by_email(emails) if emails else {}
        valid = []
        for (index, row, adj), (cid, email, problem) in zip(pending, refs):
            if problem:
                rejects.write(index, row, f"contact: {problem}")
                continue
            cid = cid or found.get(email or "")
            if cid is None:
                rejects.write(index, row, "contact not found", message=f"no contact with email {email}")
                continue
            try:
                gid = hook.resolve_point_group(adj["group"], groups)
            except ContactsError as exc:
                rejects.write(index, row, "unknown group", message=exc.message)
                continue
            if gid not in group_ids:
                rejects.write(index, row, "unknown group", message=f"point group id {gid} does not exist")
                continue
            valid.append((index, row, adj, cid, gid))
        return valid
