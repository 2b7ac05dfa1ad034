"""OpenLineage facets of the operators (``get_openlineage_facets_on_complete``), in one place.

Inputs: the source's dataset (a file: ``file`` + its path, or ``<scheme>://<bucket>`` + its key;
SQL: the tables the query reads, named by common-sql's OpenLineage helpers when the database
hook gives them, else parsed from the query under ``<conn_type>://<host>``), with the rows read
as an input-statistics facet. Inline rows have no dataset. Outputs: the vendor object the
operator changed (``<conn_type>://<host>[/path]`` + e.g. ``contacts``) with the rows the vendor
accepted as an output-statistics facet, and the rejects file with the rows rejected.

Every import of ``openlineage`` or ``airflow.providers.openlineage`` is inside a function: the
provider imports and runs without them (the facets are then None and nothing is emitted)."""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)
PRODUCER_TAG = "airflow-provider-contacts"
#: a dataset as the operators describe it: (namespace, name, row count or None, tags)
DatasetSpec = tuple[str, str, "int | None", dict[str, str]]


def vendor_namespace(conn_id: str, hook_params: dict[str, Any] | None) -> str | None:
    """``<conn_type>://<host[:port]>[/path]`` of the connection's API (no credentials); None when
    the connection cannot be read (a task that failed on an unknown conn_id, a connection of
    another type or without a host): lineage is then told without the vendor's dataset, never
    an error of its own."""
    from airflow_provider_contacts.hooks import get_hook

    try:
        hook = get_hook(conn_id, **(hook_params or {}))
        base_url = hook.base_url
    except Exception as err:  # lineage never fails; the rest of it is still told
        log.warning("OpenLineage: no dataset for the vendor of conn_id %r: %s", conn_id, err)
        return None
    parts = urlsplit(base_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{hook.conn_type}://{host}{parts.path.rstrip('/')}"


def file_dataset(path: str) -> tuple[str, str]:
    """(namespace, name) of a file, as OpenLineage names them: a local path is ``file`` and the
    absolute path; an object-storage URI is ``<scheme>://<bucket>`` and the key (an Airflow
    connection id written as ``scheme://conn_id@bucket/...`` is left out)."""
    parts = urlsplit(str(path))
    if parts.scheme in ("", "file") or len(parts.scheme) == 1:  # "C:/..." is a local path too
        local = parts.path if parts.scheme == "file" else str(path)
        return "file", os.path.abspath(local)
    bucket = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{bucket}", parts.path.lstrip("/")


def action_lineage(operator: Any) -> Any:
    """An action operator's lineage: its source (file or SQL) read, its ``lineage_output()`` at
    the vendor written with the rows it accepted, and its rejects file."""
    from airflow_provider_contacts.rows.sources import is_replay

    summary = getattr(operator, "last_summary", None) or {}
    rows_read = getattr(operator, "rows_read", None)
    read: list[DatasetSpec] = []
    if operator.source_path:
        tags = {"replay": "rejects"} if is_replay(operator) else {}
        read.append((*file_dataset(operator.source_path), rows_read, tags))
    counted = summary and operator.lineage_accepted
    accepted = sum(int(summary.get(k) or 0) for k in operator.lineage_accepted) if counted else None
    name, tags = operator.lineage_output()
    written: list[DatasetSpec] = [(*vendor, accepted, tags) for vendor in vendor_dataset(operator, name)]
    if summary.get("rejects_path"):
        written.append((*file_dataset(summary["rejects_path"]), summary.get("rejected"), {}))
    return operator_lineage(operator, read=read, written=written)


def activity_lineage(operator: Any) -> Any:
    """FetchContactActivityOperator's lineage: the vendor's activity read, the NDJSON written."""
    summary = getattr(operator, "last_summary", None) or {}
    events = summary.get("events")
    written: list[DatasetSpec] = []
    if summary.get("output_path"):
        written.append((*file_dataset(summary["output_path"]), events, {}))
    read: list[DatasetSpec] = [(*vendor, events, {}) for vendor in vendor_dataset(operator, "activity")]
    return operator_lineage(operator, read=read, written=written)


def vendor_dataset(operator: Any, name: str) -> list[tuple[str, str]]:
    """The vendor object ``name`` as (namespace, name); none when the connection is unknown."""
    namespace = vendor_namespace(operator.conn_id, operator.hook_params)
    return [] if namespace is None else [(namespace, name)]


def operator_lineage(
    operator: Any,
    *,
    read: list[DatasetSpec],
    written: list[DatasetSpec],
) -> Any:
    """The ``OperatorLineage`` of ``read`` and ``written``: each an iterable of
    ``(namespace, name, row_count, tags)`` (``row_count`` None: no statistics facet; ``tags``
    a dict shown as a tags facet), plus the datasets and job facets of a SQL source. None when
    the OpenLineage provider is not installed."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import InputDataset, OutputDataset
        from openlineage.client.facet_v2 import (
            input_statistics_input_dataset as input_stats,
        )
        from openlineage.client.facet_v2 import (
            output_statistics_output_dataset as output_stats,
        )
    except ImportError:
        return None
    inputs = [_dataset(InputDataset, input_stats.InputStatisticsInputDatasetFacet, spec) for spec in read]
    outputs = [
        _dataset(OutputDataset, output_stats.OutputStatisticsOutputDatasetFacet, spec) for spec in written
    ]
    job_facets: dict[str, Any] = {}
    sql = getattr(operator, "source_sql", None)
    if sql and getattr(operator, "source_conn_id", None) and not getattr(operator, "source_path", None):
        try:
            sql_inputs, job_facets = sql_source(
                operator.source_conn_id, str(sql), getattr(operator, "rows_read", None)
            )
        except Exception as err:  # lineage never fails the task; the vendor side is still told
            log.warning(
                "OpenLineage: the datasets of source_sql on %s are unknown: %s", operator.source_conn_id, err
            )
        else:
            inputs = sql_inputs + inputs
    return OperatorLineage(inputs=inputs, outputs=outputs, job_facets=job_facets)


def _dataset(cls: Any, statistics: Any, spec: DatasetSpec) -> Any:
    """An input or output dataset (``cls``) with its tags and its ``statistics`` facet."""
    namespace, name, count, tags = spec
    side = "input" if cls.__name__.startswith("Input") else "output"
    facets = {} if count is None else {f"{side}Statistics": statistics(rowCount=count)}
    return cls(namespace=namespace, name=name, facets=_tags(tags), **{f"{side}Facets": facets})


def _tags(tags: dict[str, str] | None) -> dict[str, Any]:
    if not tags:
        return {}
    try:
        from openlineage.client.facet_v2 import tags_dataset
    except ImportError:  # an openlineage-python without the tags facet
        return {}
    fields = [
        tags_dataset.TagsDatasetFacetFields(key=k, value=v, source=PRODUCER_TAG) for k, v in tags.items()
    ]
    return {"tags": tags_dataset.TagsDatasetFacet(tags=fields)}


def sql_source(conn_id: str, sql: str, rows_read: int | None) -> tuple[list[Any], dict[str, Any]]:
    """The tables ``sql`` reads on ``conn_id`` as input datasets (the rows read on the table
    when it is the only one) and the ``sql`` job facet. The database hook's own OpenLineage
    naming (common-sql's ``get_openlineage_database_info``) when it has one; otherwise the
    parsed table names under ``<conn_type>://<host[:port]>``. No table is read for this (a hook
    may ask the database for its default schema)."""
    from airflow.sdk import BaseHook
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import input_statistics_input_dataset as input_stats
    from openlineage.client.facet_v2 import sql_job

    conn = BaseHook.get_connection(conn_id)
    hook = conn.get_hook()
    datasets = _datasets_from_hook(hook, sql, conn_id) or _datasets_from_parser(conn, sql)
    stats = (
        {"inputStatistics": input_stats.InputStatisticsInputDatasetFacet(rowCount=rows_read)}
        if rows_read is not None and len(datasets) == 1
        else {}
    )
    inputs = [
        InputDataset(namespace=d.namespace, name=d.name, facets=d.facets or {}, inputFacets=dict(stats))
        for d in sorted(datasets, key=lambda d: (d.namespace, d.name))
    ]
    return inputs, {"sql": sql_job.SQLJobFacet(query=sql)}


def _datasets_from_hook(hook: Any, sql: str, conn_id: str) -> list[Any]:
    """Datasets named by the hook's OpenLineage database info (Postgres, Snowflake, ...)."""
    try:
        from airflow.providers.openlineage.sqlparser import get_openlineage_facets_with_sql

        lineage = get_openlineage_facets_with_sql(
            hook=hook, sql=sql, conn_id=conn_id, database=None, use_connection=False
        )
    except Exception as err:  # an older provider, or a hook without OpenLineage support
        log.debug("OpenLineage SQL helper not usable for %s: %s", conn_id, err)
        return []
    return list(lineage.inputs) if lineage is not None else []


def _datasets_from_parser(conn: Any, sql: str) -> list[Any]:
    """The tables of ``sql`` parsed with OpenLineage's SQL parser, under the connection's
    ``<conn_type>://<host[:port]>`` (for SQLite, the database file's path)."""
    from airflow.providers.openlineage.sqlparser import SQLParser
    from openlineage.client.event_v2 import Dataset

    conn_type = str(conn.conn_type or "generic")
    dialect = conn_type if conn_type in ("sqlite", "mysql", "postgres", "mssql", "snowflake") else "generic"
    try:
        meta = SQLParser(dialect=dialect).parse(SQLParser.split_sql_string(sql))
    except Exception as err:
        log.debug("OpenLineage could not parse source_sql: %s", err)
        return []
    authority = f"{conn.host or ''}{f':{conn.port}' if conn.port else ''}"
    namespace = f"{conn_type}://{authority}"
    return [
        Dataset(namespace=namespace, name=table.qualified_name) for table in (meta.in_tables if meta else [])
    ]
