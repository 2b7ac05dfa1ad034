"""Big warehouse → Mautic sync on many workers: one mapped upsert task per shard.

``plan_shards`` counts the rows and splits the table into key ranges of ``rows_per_shard``
rows (more per shard when that would exceed ``[core] max_map_length``), so each email lives in
exactly one shard and duplicates still collapse. On Celery or Kubernetes executors the shards
run in parallel (``max_active_tis_per_dagrun`` bounds the load on Mautic). ``total`` sums the
shard summaries and applies the rejected-rows threshold (5 %) to the whole sync, not to each
shard (a small shard with one bad row must not fail the run). Rows without an email go to
the first shard, to be rejected visibly.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

KEY = "lower(trim(email))"
COLUMNS = "email, firstname, lastname, company, country"

with DAG(
    dag_id="example_mautic_big_sync",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={"rows_per_shard": Param(250, type="integer", minimum=1, description="Rows per mapped task")},
    tags=["contacts", "example", "mautic"],
    doc_md=__doc__,
):

    @task
    def plan_shards(params=None) -> list[str]:
        import math

        from airflow.sdk import BaseHook

        try:
            from airflow.sdk import conf as airflow_conf
        except ImportError:  # Airflow 3.1
            from airflow.configuration import conf as airflow_conf  # type: ignore[assignment]  # 3.1: same getint()

        db = BaseHook.get_connection("sqlite_default").get_hook()
        total = db.get_first(
            f"select count(distinct {KEY}) from crm_contacts where coalesce(trim(email), '') <> ''"
        )[0]
        max_map = airflow_conf.getint("core", "max_map_length", fallback=1024)
        per_shard = max(int(params["rows_per_shard"]), math.ceil(total / max_map) if total else 1)
        keys = (
            f"select distinct {KEY} as k from crm_contacts where coalesce(trim(email), '') <> '' order by k"
        )
        # one boundary query per shard: the database sorts, the task holds only the boundaries
        bounds = [
            db.get_first(f"select k from ({keys}) as keys limit 1 offset {i * per_shard}")[0]
            for i in range(math.ceil(total / per_shard))
        ]
        queries = []
        for i, low in enumerate(bounds):
            high = bounds[i + 1] if i + 1 < len(bounds) else None
            where = f"{KEY} >= '{low.replace(chr(39), chr(39) * 2)}'"
            if high is not None:
                where += f" and {KEY} < '{high.replace(chr(39), chr(39) * 2)}'"
            if i == 0:
                where = f"({where}) or coalesce(trim(email), '') = ''"
            queries.append(f"select {COLUMNS} from crm_contacts where {where} order by updated_at, id")
        return queries or [f"select {COLUMNS} from crm_contacts"]

    shards = UpsertContactsOperator.partial(
        task_id="upsert_shard",
        conn_id="mautic_default",
        source_conn_id="sqlite_default",
        key="email",
        max_rejected=1.0,  # the threshold is applied to the whole sync in `total`
        max_active_tis_per_dagrun=4,
    ).expand(source_sql=plan_shards())

    @task
    def total(summaries, max_rejected: float = 0.05) -> dict:
        from airflow_provider_contacts.exceptions import RejectedRowsError

        summaries = list(summaries)
        out = {
            k: sum(s[k] for s in summaries)
            for k in ("rows_read", "created", "updated", "unchanged", "rejected")
        }
        out["shards"] = len(summaries)
        out["rejects_paths"] = [s["rejects_path"] for s in summaries if s["rejected"]]
        if out["rejected"] > max_rejected * out["rows_read"]:
            raise RejectedRowsError(
                f"{out['rejected']} of {out['rows_read']} rows were rejected, more than {max_rejected:.0%}; "
                f"see {', '.join(out['rejects_paths'])}"
            )
        return out

    total(shards.output)
