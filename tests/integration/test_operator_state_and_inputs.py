"""State keyed by its owner, validation of the whole input before the first change, counts
across the whole input, and input errors that name the file, line and limit (against the
Mautic emulator over real HTTP: exact requests, exact state, exact rejects)."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import ContactsConfigError, RejectedRowsError
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator


def context(run_id: str = "scheduled__2026-11-24", task_id: str = "pts", map_index: int = -1, **extra):
    ti = SimpleNamespace(dag_id="dag", run_id=run_id, task_id=task_id, map_index=map_index, try_number=1)
    return {"ti": ti, "task_instance": ti, **extra}


def read_ndjson(path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def writes(sandbox) -> list[dict]:
    return [r for r in sandbox.requests("mautic") if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]


# ---- 1. the points ledger belongs to one task instance -------------------------------------
def test_a_fixed_ledger_path_applies_again_on_the_next_run(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    emu.state.group_scores.clear()
    emu.state.group_scores[(1, 1)] = 10
    kwargs: dict[str, Any] = dict(
        task_id="pts",
        conn_id="mautic_default",
        ledger_path=str(tmp_path / "ledgers"),
        rows=[{"contact": 1, "group": 1, "op": "plus", "value": 5}],
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    day1 = AdjustPointGroupsOperator(**kwargs).execute(context("scheduled__2026-11-24"))
    day2 = AdjustPointGroupsOperator(**kwargs).execute(context("scheduled__2026-11-25"))
    assert (day1["applied"], day2["applied"], day2["already_applied"]) == (1, 1, 0)
    assert emu.state.group_scores[(1, 1)] == 20
    # another task, and another map index of the same task, have ledgers of their own too
    AdjustPointGroupsOperator(**kwargs).execute(context("scheduled__2026-11-25", task_id="other"))
    AdjustPointGroupsOperator(**kwargs).execute(context("scheduled__2026-11-25", map_index=3))
    assert emu.state.group_scores[(1, 1)] == 30
    # a retry of day 2's task instance is still recognised as a retry
    retry = AdjustPointGroupsOperator(**kwargs).execute(context("scheduled__2026-11-25"))
    assert (retry["applied"], retry["already_applied"]) == (0, 1)
    assert emu.state.group_scores[(1, 1)] == 30
    assert sorted(
        p.relative_to(tmp_path / "ledgers").as_posix() for p in (tmp_path / "ledgers").rglob("*.ndjson")
    ) == [
        "dag/scheduled__2026-11-24/pts.ndjson",
        "dag/scheduled__2026-11-25/other.ndjson",
        "dag/scheduled__2026-11-25/pts.3.ndjson",
        "dag/scheduled__2026-11-25/pts.ndjson",
    ]


def test_ledger_records_of_another_owner_are_never_consulted(sandbox, tmp_path):
    """A ledger file copied from another task instance (same path) says "applied", but it is
    not this task instance's: the adjustment is applied."""
    emu = sandbox.emulator("mautic")
    emu.state.group_scores.clear()
    emu.state.group_scores[(1, 1)] = 10
    rows = [{"contact": 1, "group": 1, "op": "plus", "value": 5}]
    kwargs: dict[str, Any] = dict(
        task_id="pts",
        conn_id="mautic_default",
        ledger_path=str(tmp_path / "ledgers"),
        rows=rows,
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    AdjustPointGroupsOperator(**kwargs).execute(context("run_a"))
    a = tmp_path / "ledgers" / "dag" / "run_a" / "pts.ndjson"
    b = tmp_path / "ledgers" / "dag" / "run_b" / "pts.ndjson"
    b.parent.mkdir(parents=True)
    b.write_text(a.read_text())
    summary = AdjustPointGroupsOperator(**kwargs).execute(context("run_b"))
    assert (summary["applied"], summary["already_applied"]) == (1, 0)
    assert emu.state.group_scores[(1, 1)] == 20
    assert {r["owner"]["run_id"] for r in read_ndjson(b)} == {"run_a", "run_b"}


def test_an_old_single_file_ledger_is_refused(sandbox, tmp_path):
    old = tmp_path / "points-ledger.ndjson"
    old.write_text('{"chunk": 1, "fp": "x", "targets": [], "applied": true}\n')
    op = AdjustPointGroupsOperator(
        task_id="pts",
        conn_id="mautic_default",
        ledger_path=str(old),
        rows=[{"contact": 1, "group": 1, "op": "plus", "value": 5}],
    )
    with pytest.raises(ContactsConfigError, match="ledger_path .* is a file; give a folder"):
        op.execute(context())
    assert writes(sandbox) == []


# ---- 2. every row validated before the first change ----------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("bad", ["--5", "+-3", "²", "1e3", " ", "5.5", float("nan"), float("inf"), True])
def test_a_bad_value_in_a_later_row_is_a_rejected_row(sandbox, tmp_path, bad):
    emu = sandbox.emulator("mautic")
    emu.state.group_scores.clear()
    rows = [{"contact": 1 + i % 5, "group": 1, "op": "plus", "value": 1} for i in range(250)]
    rows.insert(240, {"contact": 1, "group": 1, "op": "plus", "value": bad})
    path = tmp_path / "r.ndjson"
    op = AdjustPointGroupsOperator(
        task_id="pts",
        conn_id="mautic_default",
        rows=rows,
        chunk_size=200,
        max_rejected=1,
        rejects_path=str(path),
        ledger_path=str(tmp_path / "ledgers"),
    )
    summary = op.execute(context())
    assert (summary["applied"], summary["rejected"]) == (250, 1)
    assert [(r["index"], r["reason"]) for r in read_ndjson(path)] == [
        (240, f"value {bad!r} is not an integer; scores are whole numbers")
    ]
    assert {cid: emu.state.group_scores[(cid, 1)] for cid in range(1, 6)} == {cid: 50 for cid in range(1, 6)}


def test_rejected_rows_over_the_threshold_fail_before_any_change(sandbox, tmp_path):
    rows = [{"contact": 1, "group": 1, "op": "plus", "value": 1}] * 300 + [
        {"contact": 1, "group": 1, "op": "plus", "value": "--5"}
    ]
    path = tmp_path / "r.ndjson"
    op = AdjustPointGroupsOperator(
        task_id="pts",
        conn_id="mautic_default",
        rows=rows,
        rejects_path=str(path),
        ledger_path=str(tmp_path / "ledgers"),
    )
    with pytest.raises(RejectedRowsError, match="1 of 301 rows were rejected before anything was sent"):
        op.execute(context())
    assert writes(sandbox) == []
    assert [r["index"] for r in read_ndjson(path)] == [300]


def test_unknown_contacts_and_groups_count_before_any_change(sandbox, tmp_path):
    rows = [
        {"contact": 1, "group": 1, "op": "plus", "value": 1},
        {"contact": "ghost@example.com", "group": 1, "op": "plus", "value": 1},
        {"contact": 1, "group": "No such group", "op": "plus", "value": 1},
    ]
    op = AdjustPointGroupsOperator(
        task_id="pts",
        conn_id="mautic_default",
        rows=rows,
        max_rejected=1,
        rejects_path=str(tmp_path / "r.ndjson"),
        ledger_path=str(tmp_path / "ledgers"),
    )
    with pytest.raises(RejectedRowsError, match="2 of 3 rows were rejected before anything was sent"):
        op.execute(context())
    assert writes(sandbox) == []


def test_a_source_that_breaks_late_changes_nothing(sandbox, tmp_path):
    """A JSON array that is not closed, read after 300 good adjustments: the task fails with
    the input error and no score moved."""
    good = ",".join(json.dumps({"contact": 1, "group": 1, "op": "plus", "value": 1}) for _ in range(300))
    (tmp_path / "rows.json").write_text(f'[{good}, {{"contact": 1')
    op = AdjustPointGroupsOperator(
        task_id="pts",
        conn_id="mautic_default",
        source_path=str(tmp_path / "rows.json"),
        rejects_path=str(tmp_path / "r.ndjson"),
        ledger_path=str(tmp_path / "ledgers"),
    )
    with pytest.raises(ContactsConfigError, match="not valid JSON|not closed"):
        op.execute(context())
    assert writes(sandbox) == []


# ---- 3. do-not-contact counts per unique contact over the whole input ----------------------
def test_dnc_duplicates_far_apart_are_counted_once_per_contact(sandbox, tmp_path):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    ids = [emu.state.upsert({"email": f"far{i}@example.com"})[0]["id"] for i in range(200)]
    # 1,200 rows naming 200 contacts, by id and by email, repeats 200 rows apart
    rows = [ids[i % 200] if i % 2 else f"far{i % 200}@example.com" for i in range(1200)]
    op = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        rows=rows,
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    summary = op.execute(context())
    assert (summary["updated"], summary["duplicates"], summary["not_found"], summary["rejected"]) == (
        200,
        1000,
        0,
        0,
    )
    assert len([r for r in sandbox.requests("mautic") if r["path"].endswith("/contacts/batch/edit")]) == 1
    # the default reason, manual, is Mautic's DoNotContact::MANUAL (3)
    assert [[d["reason"] for d in emu.contacts[cid]["dnc"] if d["channel"] == "email"] for cid in ids] == [
        [3]
    ] * 200


def test_dnc_spilled_to_disk_gives_the_same_counts(sandbox, tmp_path):
    sandbox.reset(empty=True)
    emu = sandbox.emulator("mautic")
    ids = [emu.state.upsert({"email": f"sp{i}@example.com"})[0]["id"] for i in range(50)]
    rows = [f"sp{i % 50}@example.com" if i % 3 else ids[i % 50] for i in range(400)] + [
        "ghost@example.com"
    ] * 3
    op = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        rows=rows,
        memory_rows=7,
        max_rejected=1,
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    summary = op.execute(context())
    assert (summary["updated"], summary["duplicates"], summary["not_found"], summary["rejected"]) == (
        50,
        352,
        1,
        1,
    )
    assert [(r["index"], r["reason"]) for r in read_ndjson(tmp_path / "r.ndjson")] == [
        (402, "contact not found")
    ]


# ---- 4/5. values that cannot be sent are rejected per row ----------------------------------
def test_nan_infinity_and_nested_values_are_rejected_per_row(sandbox, tmp_path):
    sandbox.reset(empty=True)
    source = tmp_path / "rows.ndjson"
    source.write_text(
        "\n".join(
            [
                '{"email": "ok1@example.com", "points": 3}',
                '{"email": "nan@example.com", "points": NaN}',
                '{"email": "inf@example.com", "points": Infinity}',
                '{"email": "neginf@example.com", "points": -Infinity}',
                '{"email": "obj@example.com", "city": {"name": "Oslo"}}',
                '{"email": "deep@example.com", "tags": [["a"]]}',
                '{"email": "tags@example.com", "tags": ["vip", "newsletter"]}',
            ]
        )
        + "\n"
    )
    path = tmp_path / "r.ndjson"
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        source_path=str(source),
        max_rejected=5,
        rejects_path=str(path),
    )
    summary = op.execute(context(task_id="up"))
    assert (summary["created"], summary["rejected"]) == (2, 5)
    assert [(r["index"], r["reason"]) for r in read_ndjson(path)] == [
        (
            1,
            "field 'points' is nan, which is not a number a vendor accepts (NaN/Infinity); give a finite number or leave it empty",
        ),
        (
            2,
            "field 'points' is inf, which is not a number a vendor accepts (NaN/Infinity); give a finite number or leave it empty",
        ),
        (
            3,
            "field 'points' is -inf, which is not a number a vendor accepts (NaN/Infinity); give a finite number or leave it empty",
        ),
        (
            4,
            "field 'city' is an object; Mautic takes text, numbers and booleans there: flatten it into its own columns or "
            "join the values into one text (Mautic takes a list of values only, for tags and multiselect fields)",
        ),
        (
            5,
            "field 'tags' is a list; Mautic takes text, numbers and booleans there: flatten it into its own columns or "
            "join the values into one text",
        ),
    ]
    emu = sandbox.emulator("mautic")
    assert sorted(c["values"]["email"] for c in emu.contacts.values()) == [
        "ok1@example.com",
        "tags@example.com",
    ]
    assert all("{" not in str(v) for c in emu.contacts.values() for v in c["values"].values())


def test_nested_values_are_rejected_for_which50_and_allowed_as_livedesk_attributes(sandbox, tmp_path):
    rows: list[dict[str, Any]] = [{"email": "w1@example.com", "firstname": ["A", "B"]}]
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="which50_default",
        rows=rows,
        max_rejected=1,
        rejects_path=str(tmp_path / "w.ndjson"),
    )
    assert op.execute(context(task_id="up"))["rejected"] == 1
    assert [r for r in sandbox.requests("which50") if r["method"] == "POST"] == []
    assert read_ndjson(tmp_path / "w.ndjson")[0]["reason"].startswith(
        "field 'firstname' is a list; Which50 takes"
    )
    rows = [
        {"email": "e1@example.com", "name": "E1", "custom_attributes": {"plan": "gold"}},
        {"email": "e2@example.com", "name": "E2", "tier": {"a": 1}},
    ]
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="engagelab_default",
        rows=rows,
        max_rejected=1,
        rejects_path=str(tmp_path / "e.ndjson"),
    )
    summary = op.execute(context(task_id="up"))
    assert (summary["created"], summary["rejected"]) == (1, 1)
    assert read_ndjson(tmp_path / "e.ndjson")[0]["reason"].startswith(
        "field 'tier' is an object; EngageLab LiveDesk takes objects only as custom_attributes"
    )


# ---- 6/7. source files ---------------------------------------------------------------------
def test_a_csv_value_over_the_limit_names_file_line_and_limit(sandbox, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(
        "email,notes\na@example.com,short\nb@example.com," + "x" * (csv.field_size_limit() + 1) + "\n"
    )
    op = UpsertContactsOperator(
        task_id="up", conn_id="mautic_default", source_path=str(path), rejects_path=str(tmp_path / "r.ndjson")
    )
    with pytest.raises(ContactsConfigError) as err:
        op.execute(context(task_id="up"))
    assert (
        f"source_path {str(path)!r}: line 3 has a value longer than the CSV limit of {csv.field_size_limit()}"
        in str(err.value)
    )
    assert sandbox.requests("mautic") == []


def test_empty_sources(sandbox, tmp_path):
    for name, message in (
        ("empty.csv", "is empty: a CSV source needs a header line"),
        ("empty.json", "is empty: a .json source must be a JSON array"),
    ):
        (tmp_path / name).write_text("")
        op = UpsertContactsOperator(task_id="up", conn_id="mautic_default", source_path=str(tmp_path / name))
        with pytest.raises(ContactsConfigError, match=message):
            op.execute(context(task_id="up"))
    (tmp_path / "empty.ndjson").write_text("")
    (tmp_path / "none.json").write_text("[]")
    for name in ("empty.ndjson", "none.json"):
        op = UpsertContactsOperator(
            task_id="up",
            conn_id="mautic_default",
            source_path=str(tmp_path / name),
            rejects_path=str(tmp_path / "r.ndjson"),
        )
        summary = op.execute(context(task_id="up"))
        assert (summary["rows_read"], summary["created"], summary["requests"]) == (0, 0, 0)
    assert sandbox.requests("mautic") == []


def test_max_rejected_one_point_zero_allows_every_row(sandbox, tmp_path):
    op = DoNotContactOperator(
        task_id="dnc",
        conn_id="mautic_default",
        action="add",
        max_rejected=1.0,
        rows=["nobody1@example.com", "nobody2@example.com", "nobody3@example.com"],
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    assert op.execute(context(task_id="dnc"))["rejected"] == 3


# ---- files handed between tasks go under [contacts] storage_base ---------------------------
def test_outputs_rejects_and_ledgers_go_under_storage_base(sandbox, tmp_path, monkeypatch):
    from airflow_provider_contacts.operators.activity import FetchContactActivityOperator

    monkeypatch.setenv("AIRFLOW__CONTACTS__STORAGE_BASE", f"file://{tmp_path}/shared/")
    up = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=[{"email": "sb@example.com"}, {"email": "x"}],
        max_rejected=1,
    ).execute(context(task_id="up"))
    assert up["rejects_path"] == f"file://{tmp_path}/shared/dag/scheduled__2026-11-24/up/rejects.ndjson"
    assert [
        r["row"] for r in read_ndjson(tmp_path / "shared/dag/scheduled__2026-11-24/up/rejects.ndjson")
    ] == [{"email": "x"}]
    act = FetchContactActivityOperator(task_id="act", conn_id="mautic_default").execute(
        context(
            task_id="act",
            map_index=2,
            data_interval_start="2026-11-01T00:00:00Z",
            data_interval_end="2026-11-02T00:00:00Z",
        )
    )
    assert act["output_path"] == f"file://{tmp_path}/shared/dag/scheduled__2026-11-24/act.2/activity.ndjson"
    pts = AdjustPointGroupsOperator(
        task_id="pts", conn_id="mautic_default", rows=[{"contact": 1, "group": 1, "op": "plus", "value": 1}]
    ).execute(context())
    assert pts["ledger"] == f"file://{tmp_path}/shared/points-ledgers/dag/scheduled__2026-11-24/pts.ndjson"


def test_a_worker_local_default_warns_when_the_executor_is_not_local(sandbox, tmp_path, monkeypatch, caplog):
    from airflow_provider_contacts.rows import outputs

    monkeypatch.delenv("AIRFLOW__CONTACTS__STORAGE_BASE", raising=False)
    monkeypatch.setattr(outputs, "_warned", False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    with caplog.at_level("WARNING", logger=outputs.__name__):
        outputs.storage_base()
    assert caplog.records == []
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with caplog.at_level("WARNING", logger=outputs.__name__):
        base = outputs.storage_base()
        outputs.storage_base()
    assert base.endswith("airflow-contacts")
    assert [r.getMessage() for r in caplog.records if "storage_base is not set" in r.getMessage()] and len(
        caplog.records
    ) == 1
    assert "CeleryExecutor" in caplog.records[0].getMessage()
