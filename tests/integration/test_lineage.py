"""OpenLineage: each operator's datasets (namespace, name) and facets for each source kind
(file, object-storage URI, SQL through the database hook's naming or the parser, inline rows),
after real runs against the emulator; through the OpenLineage provider's own extractor; and the
provider importing and running with the OpenLineage packages absent."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_contacts.exceptions import RejectedRowsError
from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

TI = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="task", map_index=-1, try_number=1)
CONTEXT: Any = {"ti": TI, "task_instance": TI}


def mautic(sandbox) -> str:
    return f"mautic://127.0.0.1:{sandbox.port}/mautic"


def flat(datasets) -> list[tuple[str, str, str, dict]]:
    """(class, namespace, name, {facet: row count | tags | facet class}) of each dataset."""
    out = []
    for d in datasets:
        facets = {
            **(d.facets or {}),
            **(getattr(d, "inputFacets", {}) or {}),
            **(getattr(d, "outputFacets", {}) or {}),
        }
        shown: dict = {}
        for key, facet in facets.items():
            if key in ("inputStatistics", "outputStatistics"):
                shown[key] = (type(facet).__name__, facet.rowCount)
            elif key == "tags":
                shown[key] = {(t.key, t.value, t.source) for t in facet.tags}
            else:
                shown[key] = type(facet).__name__
        out.append((type(d).__name__, d.namespace, d.name, shown))
    return out


def read_stats(n):
    return {"inputStatistics": ("InputStatisticsInputDatasetFacet", n)}


def write_stats(n):
    return {"outputStatistics": ("OutputStatisticsOutputDatasetFacet", n)}


def tags(**pairs: str) -> set[tuple[str, str, str]]:
    """A tags facet as :func:`flat` shows it: (key, value, source) each."""
    return {(key, value, "airflow-provider-contacts") for key, value in pairs.items()}


def warehouse(tmp_path, monkeypatch) -> str:
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table customers (email text, firstname text)")
        conn.executemany(
            "insert into customers values (?, ?)",
            [("w1@example.com", "W1"), ("w2@example.com", "W2"), ("not-an-email", "W3")],
        )
        conn.execute("create table orders (email text, total integer)")
        conn.execute("insert into orders values ('w1@example.com', 10)")
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    return str(db)


def lineage_of(cls, tmp_path, **kwargs):
    """Run ``cls`` on mautic_default (rejects to ``r.ndjson``, one rejection allowed), then ask
    it for its lineage on complete."""
    kwargs = {"rejects_path": str(tmp_path / "r.ndjson"), "max_rejected": 1, **kwargs}
    op = cls(task_id="task", conn_id="mautic_default", **kwargs)
    op.execute(CONTEXT)
    return op.get_openlineage_facets_on_complete(TI)


def written(sandbox, tmp_path, accepted: int, rejected: int, name: str = "contacts", **facets) -> list:
    """An action's outputs: the vendor object with the rows accepted, the rejects file."""
    return [
        ("OutputDataset", mautic(sandbox), name, {**facets, **write_stats(accepted)}),
        ("OutputDataset", "file", str(tmp_path / "r.ndjson"), write_stats(rejected)),
    ]


# ---- upsert: file, object-storage URI, SQL, inline ---------------------------------------
def test_upsert_from_a_file(sandbox, tmp_path):
    source = tmp_path / "in.ndjson"
    source.write_text('{"email": "f1@example.com"}\n{"email": "f2@example.com"}\n{"email": "bad"}\n')
    lineage = lineage_of(UpsertContactsOperator, tmp_path, source_path=str(source))
    assert flat(lineage.inputs) == [("InputDataset", "file", str(source), read_stats(3))]
    assert flat(lineage.outputs) == written(sandbox, tmp_path, accepted=2, rejected=1)
    assert lineage.job_facets == {} and lineage.run_facets == {}


def test_upsert_from_a_file_uri(sandbox, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("email\nu1@example.com\n")
    lineage = lineage_of(
        UpsertContactsOperator,
        tmp_path,
        source_path=f"file://{source}",
        rejects_path=f"file://{tmp_path}/r.ndjson",
    )
    assert flat(lineage.inputs) == [("InputDataset", "file", str(source), read_stats(1))]
    assert flat(lineage.outputs) == written(sandbox, tmp_path, accepted=1, rejected=0)


def test_upsert_from_sql_named_by_the_parser(sandbox, tmp_path, monkeypatch):
    """SQLite's hook has no OpenLineage database info: the tables come from parsing the query,
    under sqlite://<database file>; the one table read carries the rows read."""
    db = warehouse(tmp_path, monkeypatch)
    sql = "select email, firstname from customers"
    lineage = lineage_of(UpsertContactsOperator, tmp_path, source_conn_id="warehouse", source_sql=sql)
    assert flat(lineage.inputs) == [("InputDataset", f"sqlite://{db}", "customers", read_stats(3))]
    assert flat(lineage.outputs) == written(sandbox, tmp_path, accepted=2, rejected=1)
    assert list(lineage.job_facets) == ["sql"] and lineage.job_facets["sql"].query == sql


def test_sql_named_by_the_database_hook(sandbox, tmp_path, monkeypatch):
    """A hook with OpenLineage database info (as Postgres, Snowflake, ... have) names the tables
    through common-sql's helper: its namespace, database and default schema. Two tables read:
    the rows read are not one table's, so no input statistics."""
    from airflow.providers.openlineage.sqlparser import DatabaseInfo
    from airflow.providers.sqlite.hooks.sqlite import SqliteHook

    warehouse(tmp_path, monkeypatch)
    info = DatabaseInfo(scheme="warehouse", authority="db.example:5432", database="analytics")
    monkeypatch.setattr(SqliteHook, "get_openlineage_database_info", lambda self, conn: info, raising=False)
    monkeypatch.setattr(SqliteHook, "get_openlineage_default_schema", lambda self: "sales", raising=False)
    sql = "select c.email from customers c join orders o on o.email = c.email"
    lineage = lineage_of(
        DoNotContactOperator, tmp_path, action="add", source_conn_id="warehouse", source_sql=sql
    )
    assert flat(lineage.inputs) == [
        ("InputDataset", "warehouse://db.example:5432", "analytics.sales.customers", {}),
        ("InputDataset", "warehouse://db.example:5432", "analytics.sales.orders", {}),
    ]
    assert lineage.job_facets["sql"].query == sql


def test_inline_rows_have_no_input_dataset(sandbox, tmp_path):
    lineage = lineage_of(UpsertContactsOperator, tmp_path, rows=[{"email": "i@example.com"}])
    assert lineage.inputs == [] and flat(lineage.outputs) == written(
        sandbox, tmp_path, accepted=1, rejected=0
    )


# ---- do not contact, point groups, activity ----------------------------------------------
def test_do_not_contact_is_told_by_tags_on_the_contacts(sandbox, tmp_path):
    source = tmp_path / "ids.ndjson"
    source.write_text('1\n2\n"ghost@example.com"\n')
    lineage = lineage_of(
        DoNotContactOperator, tmp_path, action="remove", channel="sms", source_path=str(source)
    )
    assert flat(lineage.inputs) == [("InputDataset", "file", str(source), read_stats(3))]
    expected = written(
        sandbox, tmp_path, accepted=2, rejected=1, tags=tags(do_not_contact="remove", channel="sms")
    )
    assert flat(lineage.outputs) == expected


def test_point_groups_from_sql(sandbox, tmp_path, monkeypatch):
    db = tmp_path / "points.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table adjustments (contact integer, grp integer, op text, value integer)")
        conn.executemany(
            "insert into adjustments values (?, ?, ?, ?)", [(1, 1, "plus", 1), (2, 1, "plus", 2)]
        )
    monkeypatch.setenv("AIRFLOW_CONN_POINTS_DB", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    sql = 'select contact, grp as "group", op, value from adjustments'
    lineage = lineage_of(
        AdjustPointGroupsOperator,
        tmp_path,
        source_conn_id="points_db",
        source_sql=sql,
        ledger_path=str(tmp_path / "l"),
    )
    assert flat(lineage.inputs) == [("InputDataset", f"sqlite://{db}", "adjustments", read_stats(2))]
    assert flat(lineage.outputs) == written(sandbox, tmp_path, accepted=2, rejected=0, name="point_groups")


def test_audience_membership_writes_the_segment(sandbox, tmp_path):
    """The output is the one segment changed, named by id, with the action and its name as tags;
    the row count is the contacts whose membership is now as asked (added or already)."""
    emu = sandbox.emulator("mautic")
    member = sorted(cid for cid, c in emu.contacts.items() if 1 in c["segments"])[0]
    other = sorted(cid for cid, c in emu.contacts.items() if 1 not in c["segments"])[0]
    source = tmp_path / "audience.csv"
    source.write_text(f"id\n{member}\n{other}\n424242\n")
    lineage = lineage_of(
        SetAudienceMembershipOperator, tmp_path, audience="Newsletter", action="add", source_path=str(source)
    )
    assert flat(lineage.inputs) == [("InputDataset", "file", str(source), read_stats(3))]
    segment = tags(membership="add", audience_name="Newsletter")
    assert flat(lineage.outputs) == written(
        sandbox, tmp_path, accepted=2, rejected=1, name="segments/1", tags=segment
    )


def test_activity_reads_the_vendor_and_writes_the_file(sandbox, tmp_path):
    out = tmp_path / "events.ndjson"
    op = FetchContactActivityOperator(
        task_id="act", conn_id="mautic_default", since="2000-01-01", until="2100-01-01", output_path=str(out)
    )
    events = op.execute(CONTEXT)["events"]
    assert events > 0
    lineage = op.get_openlineage_facets_on_complete(TI)
    assert flat(lineage.inputs) == [("InputDataset", mautic(sandbox), "activity", read_stats(events))]
    assert flat(lineage.outputs) == [("OutputDataset", "file", str(out), write_stats(events))]


# ---- replay: the rejects file links the two runs -----------------------------------------
def test_a_replay_reads_the_dataset_the_first_run_wrote(sandbox, tmp_path):
    first = lineage_of(UpsertContactsOperator, tmp_path, rows=[{"email": "ok@example.com"}, {"email": "bad"}])
    rejects = tmp_path / "r.ndjson"
    replay = lineage_of(
        UpsertContactsOperator,
        tmp_path / "again",
        source_path=str(rejects),
        source_format="rejects",
        rejects_path=str(tmp_path / "again.ndjson"),
    )
    assert flat(first.outputs)[1] == ("OutputDataset", "file", str(rejects), write_stats(1))
    replayed = {"tags": tags(replay="rejects"), **read_stats(1)}
    assert flat(replay.inputs) == [("InputDataset", "file", str(rejects), replayed)]


# ---- through the OpenLineage provider's extractor ------------------------------------------
def test_the_provider_extractor_uses_the_operator_method_on_success_and_failure(sandbox, tmp_path):
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    dagrun = SimpleNamespace(run_id="manual__1", dag_id="dag")
    rows = [{"email": "x1@example.com"}, {"email": "owner@example.com", "owner": 99}]
    op = UpsertContactsOperator(
        task_id="up", conn_id="mautic_default", rows=rows, rejects_path=str(tmp_path / "r.ndjson")
    )
    with pytest.raises(RejectedRowsError):  # one row accepted, one refused by Mautic: over max_rejected=0
        op.execute(CONTEXT)
    failed = ExtractorManager().extract_metadata(dagrun, op, TaskInstanceState.FAILED, TI)
    assert flat(failed.outputs) == written(sandbox, tmp_path, accepted=1, rejected=1)
    op.max_rejected = 1
    op.execute(CONTEXT)
    done = ExtractorManager().extract_metadata(dagrun, op, TaskInstanceState.SUCCESS, TI)
    assert flat(done.outputs) == written(sandbox, tmp_path, accepted=1, rejected=1)


def test_a_task_failing_before_it_sends_tells_the_rejects_file_and_nothing_accepted(sandbox, tmp_path):
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    source = tmp_path / "in.ndjson"
    source.write_text('{"email": "ok@example.com"}\n{"email": "not-an-email"}\n{"firstname": "NoKey"}\n')
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        source_path=str(source),
        rejects_path=str(tmp_path / "r.ndjson"),
        send_valid_rows=False,
    )
    with pytest.raises(RejectedRowsError):  # two rows rejected locally, max_rejected=0: nothing is sent
        op.execute(CONTEXT)
    assert not [r for r in sandbox.requests("mautic") if "batch" in r["path"]]
    failed = ExtractorManager().extract_metadata(
        SimpleNamespace(run_id="manual__1", dag_id="dag"), op, TaskInstanceState.FAILED, TI
    )
    assert flat(failed.inputs) == [("InputDataset", "file", str(source), read_stats(3))]
    assert flat(failed.outputs) == written(sandbox, tmp_path, accepted=0, rejected=2)


def test_a_task_failing_midway_tells_what_the_vendor_accepted_before(sandbox, tmp_path, monkeypatch, caplog):
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    from airflow_provider_contacts.exceptions import ServerError
    from airflow_provider_contacts.hooks.mautic.hook import MauticHook

    sandbox.reset(empty=True)
    real, calls = MauticHook.upsert_batch, {"n": 0}

    def third_batch_fails(self, batch, key="email"):
        calls["n"] += 1
        if calls["n"] == 3:
            raise ServerError("HTTP 500 from Mautic")
        return real(self, batch, key)

    monkeypatch.setattr(MauticHook, "upsert_batch", third_batch_fails)
    rows = [{"email": f"m{i}@example.com"} for i in range(1000)] + [{"email": "broken"}]
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=rows,
        max_rejected=1,
        rejects_path=str(tmp_path / "r.ndjson"),
    )
    with pytest.raises(ServerError):
        op.execute(CONTEXT)
    assert len(sandbox.emulator("mautic").contacts) == 400
    failed = ExtractorManager().extract_metadata(
        SimpleNamespace(run_id="manual__1", dag_id="dag"), op, TaskInstanceState.FAILED, TI
    )
    assert flat(failed.outputs) == written(sandbox, tmp_path, accepted=400, rejected=1)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Failed after changing")]
    assert said == [
        'Failed after changing the vendor: {"created": 400, "unchanged": 0, "updated": 0} (of 1001 rows '
        f"read); 1 rows rejected so far, in {tmp_path / 'r.ndjson'}"
    ]


# ---- without OpenLineage ------------------------------------------------------------------
# As if the OpenLineage packages were not installed: their modules cannot be imported and their
# distributions (so the OpenLineage provider's entry point) are not found.
BLOCK = """
import importlib.abc, importlib.metadata, sys

def hidden(name):
    return name.split(".")[0] == "openlineage" or name.startswith("airflow.providers.openlineage")

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if hidden(name):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())

def hide_distributions(module):
    discover = module.Distribution.discover.__func__
    def filtered(cls, **kwargs):
        for dist in discover(cls, **kwargs):
            name = (dist.metadata["Name"] or "").lower()
            if not (name.startswith("openlineage") or name == "apache-airflow-providers-openlineage"):
                yield dist
    module.Distribution.discover = classmethod(filtered)

hide_distributions(importlib.metadata)
try:
    import importlib_metadata  # what Airflow reads entry points with before Python 3.12
    hide_distributions(importlib_metadata)
except ImportError:
    pass
"""

RUN = """
import json, sys
from types import SimpleNamespace
import airflow.sdk  # what Airflow itself loads (its provider discovery reads each get_provider_info)
before = set(sys.modules)
from airflow_provider_contacts.get_provider_info import get_provider_info
from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator
from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
loaded_on_import = sorted(m for m in set(sys.modules) - before if "openlineage" in m)
get_provider_info()
ti = SimpleNamespace(dag_id="dag", run_id="manual__1", task_id="up", map_index=-1, try_number=1)
op = UpsertContactsOperator(task_id="up", conn_id="mautic_default", rows=[{"email": EMAIL}], rejects_path=REJECTS)
summary = op.execute({"ti": ti, "task_instance": ti})
print(json.dumps({"loaded_on_import": loaded_on_import, "created": summary["created"],
                  "lineage": repr(op.get_openlineage_facets_on_complete(ti))}))
"""


def run_python(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_provider_imports_and_runs_without_openlineage(sandbox, tmp_path):
    emu = sandbox.emulator("mautic")
    code = BLOCK + RUN.replace("EMAIL", '"absent@example.com"').replace("REJECTS", repr(str(tmp_path / "r1")))
    out = run_python(textwrap.dedent(code))
    assert out == {"loaded_on_import": [], "created": 1, "lineage": "None"}
    assert emu.contact_by_email("absent@example.com") is not None
    # installed, it is still not imported by the provider until a lineage is asked for
    code = RUN.replace("EMAIL", '"present@example.com"').replace("REJECTS", repr(str(tmp_path / "r2")))
    out = run_python(textwrap.dedent(code))
    assert (
        out["loaded_on_import"] == []
        and out["created"] == 1
        and out["lineage"].startswith("OperatorLineage(")
    )


# ---- a task that failed on an unknown connection ---------------------------------------------
def test_lineage_of_a_task_that_failed_on_an_unknown_connection_is_told_without_the_vendor(sandbox, tmp_path):
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    from airflow_provider_contacts.exceptions import ContactsConfigError

    source = tmp_path / "in.ndjson"
    source.write_text('{"email": "ok@example.com"}\n')
    upsert = UpsertContactsOperator(
        task_id="up", conn_id="no_such_conn", source_path=str(source), rejects_path=str(tmp_path / "r.ndjson")
    )
    activity = FetchContactActivityOperator(
        task_id="act",
        conn_id="no_such_conn",
        since="2026-11-01",
        until="2026-11-02",
        output_path=str(tmp_path / "e"),
    )
    dagrun = SimpleNamespace(run_id="manual__1", dag_id="dag")
    for op in (upsert, activity):
        with pytest.raises(ContactsConfigError, match="conn_id 'no_such_conn' is not defined"):
            op.execute(CONTEXT)
        on_complete = op.get_openlineage_facets_on_complete(TI)  # no error of its own
        on_failure = ExtractorManager().extract_metadata(dagrun, op, TaskInstanceState.FAILED, TI)
        for lineage in (on_complete, on_failure):
            assert flat(lineage.outputs) == []  # no vendor dataset: the connection is unknown
    assert flat(upsert.get_openlineage_facets_on_complete(TI).inputs) == [
        ("InputDataset", "file", str(source), {})
    ]
    assert flat(activity.get_openlineage_facets_on_complete(TI).inputs) == []
    assert sandbox.requests("mautic") == []
