"""AdjustPointGroupsOperator: point-group adjustments that a task retry never applies twice.

How exactly-once works (validate everything, then read-then-set with a ledger):

0. The whole input is read and checked first (spooled to disk, so memory stays flat): bad
   rows, unknown groups and unknown contacts are rejected with their reason, and
   ``max_rejected`` is applied, before the first change is sent.
1. Adjustments are then taken in chunks (input order). For each one, the current score is read
   (or, when the same contact and group came earlier in the chunk, the score planned for it)
   and the target score computed locally: ``plus``/``minus``/``times``/``set`` exactly,
   ``divide`` **rounded toward zero** (7 / 2 → 3, −7 / 2 → −3).
2. The chunk's targets are written to the ledger *before* anything is sent.
3. Each target is sent as ``set`` (idempotent: the transport may repeat it after a lost
   answer), then the chunk is marked applied in the ledger.

A retried task reads the ledger: applied chunks are skipped, planned chunks re-send the same
``set`` targets (never re-reading a score it already changed). The ledger belongs to the task
instance (DAG, run, task, map index), whatever ``ledger_path`` says: Airflow 3.3's
``task_state_store`` when present, else a file of its own below the folder ``ledger_path``
(local, or object storage shared by your workers). A new run, another task or another map
index never reads it, so it is never mistaken for a retry.

The trade-off: between the read and the set, a change made by someone else (a Mautic campaign
adjusting the same group) is overwritten. Native ``plus``/``minus`` would not do that, but a
lost answer would leave it unknown whether it was applied.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts._args import positive_int
from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    ContactsError,
    InvalidAdjustment,
    NotFoundError,
)
from airflow_provider_contacts.operators.base import ContactsActionOperator, transport_summary
from airflow_provider_contacts.operators.report import Progress
from airflow_provider_contacts.rows.ledger import FileLedger, Ledger, StateStoreLedger
from airflow_provider_contacts.rows.outputs import storage_base, task_instance_key
from airflow_provider_contacts.rows.refs import contact_ref
from airflow_provider_contacts.rows.spool import RowSpool, chunked
from airflow_provider_contacts.rules import check_adjustment, compute_score

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


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


class AdjustPointGroupsOperator(ContactsActionOperator):
    """Apply point-group adjustments ``{contact, group, op, value}``: contact by id or email,
    group by id or name, ``op`` one of plus/minus/times/divide/set, ``value`` an integer.

    Invalid adjustments (unknown op, non-integer, divide by zero, unknown group or contact) are
    rejected with their reason before anything is sent. A source without one of the four columns
    is one error; any other column is unknown (``unknown_columns``, ``columns``: see
    :class:`~.base.ContactsActionOperator`). Each valid one is applied exactly
    once, across task retries too (see the module docstring: read-then-set with a ledger).
    """

    template_fields = (*ContactsActionOperator.template_fields, "ledger_path", "event_name", "action_name")
    lineage_object = "point_groups"
    lineage_accepted = ("applied",)
    #: adjustments are not idempotent: a corrected re-run of the whole input would apply the
    #: valid rows again, so by default a task over ``max_rejected`` sends nothing
    send_valid_rows_default = False
    row_columns = ("contact", "group", "op", "value")
    key_columns = (("contact",), ("group",), ("op",), ("value",))
    key_purpose = "each adjustment needs contact, group, op and value"

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
        self.ledger_path = ledger_path
        self.chunk_size = positive_int(chunk_size, "chunk_size")
        self.event_name = event_name
        self.action_name = action_name

    def open_ledger(self, context: Context) -> Ledger:
        owner = task_instance_key(context)
        if self.ledger_path:
            return FileLedger(str(self.ledger_path), owner)
        store = context.get("task_state_store")
        if store is not None:
            return StateStoreLedger(store)
        return FileLedger(f"{storage_base()}/points-ledgers", owner)

    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        hook = self.get_hook("point_groups", "adjust point groups")
        rejects = self.open_rejects(context)
        ledger = self.open_ledger(context)
        self.log.info("Adjustments ledger: %s", ledger.where)
        stats = {"applied": 0, "already_applied": 0, "resent_after_retry": 0}
        checked = resolved = None
        try:
            checked = self.spool_checked_rows(rejects, read_adjustment)
            resolved = self._resolve_all(hook, checked, rejects)
            self.check_before_sending(rejects)
            progress = Progress(f"point groups on {self.conn_id}", total=len(resolved), unit="adjustments")
            for chunk_no, chunk in enumerate(progress.over(chunked(resolved, self.chunk_size)), start=1):
                self._apply_chunk(hook, ledger, chunk_no, chunk, rejects, stats)
        except BaseException:
            self.failed(rejects, stats)
            raise
        finally:
            for spool in (checked, resolved):
                if spool is not None:
                    spool.close()
        total = self.rows_read
        summary = {
            "conn_id": self.conn_id,
            "rows_read": total,
            **stats,
            "ledger": ledger.where,
            **transport_summary(hook, started),
        }
        return self.finish(context, summary, rejects, total, hook)

    def _resolve_all(self, hook: Any, checked: RowSpool, rejects: Any) -> RowSpool:
        """Every checked adjustment with its contact id and group id, ``[index, row, adj, cid,
        gid]``, before anything is changed; unknown contacts and groups are rejected."""
        groups = hook.list_point_groups()
        group_ids = {str(g["id"]) for g in groups}
        resolved = RowSpool()
        for chunk in chunked(checked, 200):
            for item in self._resolve(hook, chunk, groups, group_ids, rejects):
                resolved.add(item)
        return resolved

    def _apply_chunk(
        self, hook: Any, ledger: Ledger, chunk_no: int, valid: list, rejects: Any, stats: dict[str, int]
    ) -> None:
        """Plan the chunk's targets in the ledger (read-then-set), then send them as ``set``."""
        fp = hashlib.sha256(
            json.dumps(
                [[i, a["contact"], a["group"], a["op"], a["value"]] for i, _, a, _, _ in valid], default=str
            ).encode()
        ).hexdigest()[:16]
        record = ledger.get(chunk_no)
        if record is not None and record.get("fp") != fp:
            raise ContactsConfigError(
                f"the adjustments of chunk {chunk_no} differ from the previous try of this task (ledger "
                f"{ledger.where}); the input changed. Remove the ledger to apply the new input as new adjustments."
            )
        rows = {index: row for index, row, _, _, _ in valid}
        if record is None:
            record = {"fp": fp, **self._plan(hook, valid), "applied": False}
            ledger.put(chunk_no, record)
        elif not record.get("applied"):
            stats["resent_after_retry"] += len(record["targets"])
        for index, message in record.get("not_found", []):
            rejects.write(index, rows.get(index), "contact not found", status=404, message=message)
        if record.get("applied"):
            stats["already_applied"] += len(record["targets"])
            return
        for _index, cid, gid, target in record["targets"]:
            hook.adjust_group_score(
                cid, gid, "set", target, event_name=self.event_name, action_name=self.action_name
            )
            stats["applied"] += 1
            self.note_contact(cid)
        ledger.put(chunk_no, {**record, "applied": True})

    @staticmethod
    def _plan(hook: Any, valid: list) -> dict[str, list]:
        """Targets ``[index, contact_id, group_id, score]`` from the current scores (a pair seen
        earlier in the chunk continues from its planned score); ids that do not exist."""
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
        return {"targets": targets, "not_found": gone}

    def _resolve(
        self, hook: Any, pending: list, groups: list[dict[str, Any]], group_ids: set[str], rejects: Any
    ) -> list:
        """[(index, row, adjustment, contact_id, group_id)] for adjustments whose contact and
        group exist; the others are rejected."""
        emails = set()
        refs = []
        for _index, _row, adj in pending:
            cid, email, problem = contact_ref(adj["contact"])
            refs.append((cid, email, problem))
            if email:
                emails.add(email)
        found = hook.find_contact_ids_by_email(emails) if emails else {}
        valid = []
        for (index, row, adj), (cid, email, problem) in zip(pending, refs, strict=True):
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
            valid.append([index, row, adj, cid, gid])
        return valid
