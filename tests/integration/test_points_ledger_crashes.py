"""A worker killed at each point of the points ledger's protocol (plan appended, ``set`` sent,
"applied" appended): the retry of the task instance finishes by itself, each adjustment
applied exactly once, with exact request counts and the ledger left whole. A damaged line that
is not the last one is an error before any request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from airflow_provider_contacts.rows import ledger as ledger_module
from airflow_provider_contacts.rows.ledger import FileLedger
from tests.integration.operator_support import context

# contacts 1..4, group 1: chunk 1 = contacts 1 and 2, chunk 2 = contacts 3 and 4
ROWS = [{"contact": c, "group": 1, "op": "plus", "value": 5} for c in (1, 2, 3, 4)]
START = {(1, 1): 10, (2, 1): 20, (3, 1): 30, (4, 1): 40}
DONE = {(1, 1): 15, (2, 1): 25, (3, 1): 35, (4, 1): 45}
REAL_PUT = FileLedger.put


def task(tmp_path) -> AdjustPointGroupsOperator:
    return AdjustPointGroupsOperator(
        task_id="pts",
        conn_id="mautic_default",
        rows=ROWS,
        chunk_size=2,
        ledger_path=str(tmp_path / "ledgers"),
        rejects_path=str(tmp_path / "r.ndjson"),
    )


def ledger_file(tmp_path):
    return tmp_path / "ledgers" / "dag" / "manual__1" / "task.ndjson"  # the task context of operator_support


def score_calls(sandbox) -> tuple[int, int]:
    """(score reads, score sets) of one contact, group 1 (not the group listing)."""
    calls = [
        r for r in sandbox.requests("mautic") if "/contacts/" in r["path"] and "/points/groups/" in r["path"]
    ]
    return (
        len([r for r in calls if r["method"] == "GET"]),
        len([r for r in calls if r["method"] == "POST" and "/set/" in r["path"]]),
    )


@pytest.fixture
def scores(sandbox):
    emu = sandbox.emulator("mautic")
    emu.state.group_scores.clear()
    emu.state.group_scores.update(START)
    sandbox.clear_requests()
    return emu.state.group_scores


def kill_at(monkeypatch, *, chunk: int, applied: bool, torn: bool) -> None:
    """The worker dies while (``torn``) or just before appending chunk ``chunk``'s plan
    (``applied=False``) or its "applied" mark (``applied=True``)."""
    real = FileLedger.put

    def put(self: FileLedger, number: int, record: dict[str, Any]) -> None:
        if number == chunk and bool(record.get("applied")) == applied:
            if torn:
                line = json.dumps({"owner": self.owner, "chunk": number, **record})
                with open(self.path.removeprefix("file://"), "a", encoding="utf-8") as handle:
                    handle.write(line[: len(line) // 2])  # cut short: no newline
            raise SystemExit("worker killed")
        real(self, number, record)

    monkeypatch.setattr(FileLedger, "put", put)


def lines(tmp_path) -> list[dict]:
    text = ledger_file(tmp_path).read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(
    ("applied", "torn", "first_try", "retry", "resent"),
    [
        # killed after chunk 2's two sets, before its "applied" mark: the retry re-sends the recorded sets
        (True, False, (4, 4), (0, 2), 2),
        # killed while appending chunk 2's plan: nothing of chunk 2 was sent; the retry plans it anew
        (False, True, (4, 2), (2, 2), 0),
        # killed while appending chunk 2's "applied" mark: the retry re-sends the recorded sets
        (True, True, (4, 4), (0, 2), 2),
    ],
    ids=["after-the-sets-before-the-append", "during-the-plan-append", "during-the-applied-append"],
)
def test_the_retry_finishes_exactly_once_by_itself(
    sandbox, scores, tmp_path, monkeypatch, applied, torn, first_try, retry, resent
):
    kill_at(monkeypatch, chunk=2, applied=applied, torn=torn)
    with pytest.raises(SystemExit):
        task(tmp_path).execute(context(tmp_path))
    assert score_calls(sandbox) == first_try  # (reads, sets) of the killed try
    assert scores == (DONE if applied else {**DONE, (3, 1): 30, (4, 1): 40})
    monkeypatch.undo()

    sandbox.clear_requests()
    summary = task(tmp_path).execute(context(tmp_path))  # the task's retry
    assert scores == DONE
    assert score_calls(sandbox) == retry
    assert (summary["already_applied"], summary["applied"], summary["resent_after_retry"]) == (2, 2, resent)
    records = lines(tmp_path)  # whole lines only: the torn one was cut off before appending
    assert [(r["chunk"], r["applied"]) for r in records][-2:] == [(2, False), (2, True)]

    sandbox.clear_requests()  # once more: nothing is sent
    summary = task(tmp_path).execute(context(tmp_path))
    assert scores == DONE and score_calls(sandbox) == (0, 0) and summary["already_applied"] == 4


def test_a_torn_last_line_on_object_storage_is_left_out(sandbox, scores, tmp_path, monkeypatch):
    """The object-storage way (every put rewrites the whole file through ObjectStoragePath; the
    ``file://`` filesystem here): the torn line is left out when read, and the next put writes
    the records whole."""
    real_read = FileLedger._read

    def as_object_storage(self: FileLedger) -> None:
        self.local = False
        real_read(self)

    ledger_path = f"file://{tmp_path}/ledgers"
    kill_at(monkeypatch, chunk=2, applied=False, torn=True)
    monkeypatch.setattr(FileLedger, "_read", as_object_storage)
    op = task(tmp_path)
    op.ledger_path = ledger_path
    with pytest.raises(SystemExit):
        op.execute(context(tmp_path))
    monkeypatch.setattr(FileLedger, "put", REAL_PUT)
    op = task(tmp_path)
    op.ledger_path = ledger_path
    sandbox.clear_requests()
    op.execute(context(tmp_path))
    assert scores == DONE and score_calls(sandbox) == (2, 2)
    assert [(r["chunk"], r["applied"]) for r in lines(tmp_path)] == [(1, True), (2, True)]


def test_a_damaged_line_before_the_last_is_an_error_before_any_request(
    sandbox, scores, tmp_path, monkeypatch
):
    kill_at(monkeypatch, chunk=2, applied=True, torn=False)
    with pytest.raises(SystemExit):
        task(tmp_path).execute(context(tmp_path))
    monkeypatch.undo()
    path = ledger_file(tmp_path)
    first, *rest = path.read_text().splitlines(keepends=True)
    path.write_text(first[: len(first) // 2] + "\n" + "".join(rest))
    sandbox.clear_requests()
    with pytest.raises(ContactsConfigError) as err:
        task(tmp_path).execute(context(tmp_path))
    assert f"ledger {str(path)!r} line 1 is not a ledger record" in str(err.value)
    assert "not the last line" in str(err.value) and "Compare the scores in the vendor" in str(err.value)
    assert sandbox.requests("mautic") == []


def test_a_torn_line_is_cut_before_the_next_append(tmp_path):
    owner = {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": -1}
    ledger = FileLedger(str(tmp_path), owner)
    ledger.put(1, {"fp": "a", "targets": [], "applied": True})
    with open(ledger.path, "a", encoding="utf-8") as handle:
        handle.write('{"owner": {"dag_id"')
    again = FileLedger(str(tmp_path), owner)
    assert list(again.records) == [1]
    again.put(2, {"fp": "b", "targets": [], "applied": False})
    assert [json.loads(line)["chunk"] for line in open(ledger.path, encoding="utf-8")] == [1, 2]
    assert ledger_module.FileLedger(str(tmp_path), owner).get(2) == {
        "owner": owner,
        "chunk": 2,
        "fp": "b",
        "targets": [],
        "applied": False,
    }
