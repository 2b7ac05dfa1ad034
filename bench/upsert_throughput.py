"""Upsert throughput into the Mautic emulator, three ways, measured in one run:

* the UpsertContactsOperator reading an NDJSON file (the real path: read, validate, collapse
  duplicates, batch, send, parse per-row outcomes, write rejects);
* a bare client posting the same pre-built 200-row batches with one requests.Session;
* the naive loop, one ``POST /contacts/new`` per contact, on a sample, scaled.

Run twice: on the bare emulator (its per-contact Python work dominates, so batching gains
little) and with ``request_overhead_ms`` = 50, a per-request cost standing for Mautic's kernel
boot and its bcrypt check of Basic credentials on every call (docs/vendors/mautic.md §1.2; an assumption,
real servers are often slower). Prints rows/s and the ratios the project targets: operator >= 0.8 x bare, >= 50 x naive, and
exactly ceil(N/200) batch requests. The sandbox runs in its own process.

    .venv/bin/python bench/upsert_throughput.py [--rows 100000] [--naive-sample 2000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import SandboxProcess, task_context  # noqa: E402


def main() -> list[dict]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    parser.add_argument(
        "--overheads-ms",
        type=float,
        nargs="+",
        default=[0, 50],
        help="per-request server cost to emulate (0 = the bare emulator)",
    )
    args = parser.parse_args()
    n = args.rows
    rows = [
        {"email": f"bench{i}@example.com", "firstname": f"F{i}", "lastname": "Bench", "city": f"C{i % 50}"}
        for i in range(n)
    ]
    tmp = tempfile.mkdtemp(prefix="contacts-bench-")
    source = os.path.join(tmp, "rows.ndjson")
    with open(source, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")

    results = []
    with SandboxProcess() as sandbox:
        for overhead in args.overheads_ms:
            results.append(measure(sandbox, rows, source, tmp, args.naive_sample, overhead))
    for result in results:
        print(
            f"upsert {n} rows into the Mautic emulator, request_overhead_ms={result['request_overhead_ms']}"
        )
        print(f"  batch requests        {result['batch_requests']} (ceil(N/200) = {math.ceil(n / 200)})")
        print(f"  operator              {result['operator_rows_per_s']:9d} rows/s")
        print(f"  bare client           {result['bare_client_rows_per_s']:9d} rows/s")
        print(f"  naive loop (sample {args.naive_sample}) {result['naive_rows_per_s']:5d} rows/s")
        print(f"  operator / bare       {result['operator_vs_bare']:9.2f}  (target >= 0.8)")
        print(f"  operator / naive      {result['operator_vs_naive']:9.1f}  (target >= 50)")
        print("RESULT " + json.dumps(result))
    return results


def measure(
    sandbox: SandboxProcess, rows: list[dict], source: str, tmp: str, naive_sample: int, overhead: float
) -> dict:
    from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

    n = len(rows)
    # 1. the operator
    sandbox.reset()
    sandbox.settings("mautic", batch_max_limit=200, request_overhead_ms=overhead)
    op = UpsertContactsOperator(
        task_id="bench",
        conn_id="mautic_default",
        source_path=source,
        rejects_path=os.path.join(tmp, "rejects.ndjson"),
    )
    t0 = time.perf_counter()
    summary = op.execute(task_context("operator"))
    t_op = time.perf_counter() - t0
    batch_requests = sandbox.request_count("mautic", "batch/new")
    assert summary["created"] == n, summary

    # 2. a bare client posting the same pre-built batches (it reads each answer's body but
    # does not look at it)
    sandbox.reset()
    sandbox.settings("mautic", batch_max_limit=200, request_overhead_ms=overhead)
    base = sandbox.base_url("mautic")
    batches = [rows[i : i + 200] for i in range(0, n, 200)]
    session = requests.Session()
    session.auth = ("sandbox", "sandbox-password")
    t0 = time.perf_counter()
    for batch in batches:
        session.post(f"{base}/api/contacts/batch/new", json=batch, timeout=120).raise_for_status()
    t_bare = time.perf_counter() - t0

    # 3. the naive loop on a sample
    sandbox.reset()
    sandbox.settings("mautic", request_overhead_ms=overhead)
    sample = rows[:naive_sample]
    t0 = time.perf_counter()
    for row in sample:
        session.post(f"{base}/api/contacts/new", json=row, timeout=120).raise_for_status()
    t_naive = time.perf_counter() - t0
    op_rate, bare_rate, naive_rate = n / t_op, n / t_bare, len(sample) / t_naive
    return {
        "rows": n,
        "request_overhead_ms": overhead,
        "batch_requests": batch_requests,
        "operator_rows_per_s": round(op_rate),
        "bare_client_rows_per_s": round(bare_rate),
        "naive_rows_per_s": round(naive_rate),
        "operator_vs_bare": round(op_rate / bare_rate, 2),
        "operator_vs_naive": round(op_rate / naive_rate, 1),
    }


if __name__ == "__main__":
    main()
