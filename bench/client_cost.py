"""The client's own cost, measured in one run (the sandbox in its own process, so its CPU is not
counted):

* CPU seconds per 1,000 rows **in the task process** (``time.process_time()``: every thread of
  this process) for the UpsertContactsOperator reading an NDJSON file, next to a bare client
  posting the same 200-row batches with one ``requests.Session``. Target: operator <= 1.3 x bare.
  The wall-clock ratio is printed too.
* Latency hiding: with ``request_overhead_ms`` = 50 (the emulator sleeps 50 ms per request
  without blocking its event loop, as a PHP-FPM pool serves requests in parallel) the operator
  with ``max_active_requests=4`` against the sequential bare client, same batches. Target >= 3x.
  The emulator's own work per request is serial (one process), so this part uses batches of
  ``--latency-batch`` rows (default 20) to keep that work well under the 50 ms it hides; the
  printed emulator time per request shows what is left.

    .venv/bin/python bench/client_cost.py [--rows 20000] [--latency-rows 4000] [--latency-batch 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import SandboxProcess, task_context  # noqa: E402


def write_rows(n: int, folder: str, name: str) -> tuple[list[dict], str]:
    rows = [
        {"email": f"{name}{i}@example.com", "firstname": f"F{i}", "lastname": "Bench", "city": f"C{i % 50}"}
        for i in range(n)
    ]
    path = os.path.join(folder, f"{name}.ndjson")
    with open(path, "w") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    return rows, path


def timed(run: Callable[[], Any]) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) spent in ``run``."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


def run_operator(sandbox: SandboxProcess, source: str, folder: str, **kwargs: Any) -> tuple[float, float]:
    from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

    op = UpsertContactsOperator(
        task_id="bench",
        conn_id="mautic_default",
        source_path=source,
        rejects_path=os.path.join(folder, "rejects.ndjson"),
        **kwargs,
    )
    summary: dict = {}
    cost = timed(lambda: summary.update(op.execute(task_context("operator"))))
    assert summary["rejected"] == 0, summary
    return cost


def run_bare(sandbox: SandboxProcess, rows: list[dict], size: int) -> tuple[float, float]:
    base = sandbox.base_url("mautic")
    batches = [rows[i : i + size] for i in range(0, len(rows), size)]
    session = requests.Session()
    session.auth = ("sandbox", "sandbox-password")

    def send() -> None:
        for batch in batches:
            session.post(f"{base}/api/contacts/batch/new", json=batch, timeout=120).raise_for_status()

    return timed(send)


def fresh(sandbox: SandboxProcess, **settings: Any) -> None:
    sandbox.reset()
    sandbox.settings("mautic", batch_max_limit=200, **settings)


def cpu_part(sandbox: SandboxProcess, rows: list[dict], source: str, folder: str) -> dict:
    fresh(sandbox)
    op_cpu, op_wall = run_operator(sandbox, source, folder)
    fresh(sandbox)
    bare_cpu, bare_wall = run_bare(sandbox, rows, 200)
    per_k = 1000 / len(rows)
    return {
        "rows": len(rows),
        "operator_cpu_s_per_1000_rows": round(op_cpu * per_k, 4),
        "bare_cpu_s_per_1000_rows": round(bare_cpu * per_k, 4),
        "cpu_operator_vs_bare": round(op_cpu / bare_cpu, 2),
        "wall_operator_vs_bare": round(op_wall / bare_wall, 2),
    }


def latency_part(sandbox: SandboxProcess, rows: list[dict], source: str, folder: str, size: int) -> dict:
    fresh(sandbox, request_overhead_ms=0)
    _, bare_no_overhead = run_bare(sandbox, rows, size)  # the emulator's own work, no sleep
    fresh(sandbox, request_overhead_ms=50)
    _, bare_wall = run_bare(sandbox, rows, size)
    fresh(sandbox, request_overhead_ms=50)
    _, op_wall = run_operator(sandbox, source, folder, batch_size=size, max_active_requests=4)
    requests_sent = -(-len(rows) // size)
    return {
        "rows": len(rows),
        "batch_size": size,
        "requests": requests_sent,
        "emulator_ms_per_request_without_overhead": round(1000 * bare_no_overhead / requests_sent, 1),
        "bare_sequential_rows_per_s": round(len(rows) / bare_wall),
        "operator_4_in_flight_rows_per_s": round(len(rows) / op_wall),
        "latency_hiding_ratio": round(bare_wall / op_wall, 2),
    }


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--latency-rows", type=int, default=4_000)
    parser.add_argument("--latency-batch", type=int, default=20)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="contacts-cost-")
    rows, source = write_rows(args.rows, folder, "cost")
    lat_rows, lat_source = write_rows(args.latency_rows, folder, "latency")
    with SandboxProcess() as sandbox:
        run_operator(sandbox, lat_source, folder)  # warm imports and the connection look-up
        cpu = cpu_part(sandbox, rows, source, folder)
        latency = latency_part(sandbox, lat_rows, lat_source, folder, args.latency_batch)
    print(f"client CPU in the task process, {cpu['rows']} rows into the bare Mautic emulator")
    print(f"  operator             {cpu['operator_cpu_s_per_1000_rows']:.4f} CPU s / 1000 rows")
    print(f"  bare client          {cpu['bare_cpu_s_per_1000_rows']:.4f} CPU s / 1000 rows")
    print(
        f"  operator / bare      {cpu['cpu_operator_vs_bare']:.2f}  (target <= 1.3); wall {cpu['wall_operator_vs_bare']:.2f}"
    )
    print(
        f"latency hiding, {latency['rows']} rows in batches of {latency['batch_size']}, 50 ms per request "
        f"(the emulator's own work {latency['emulator_ms_per_request_without_overhead']} ms per request)"
    )
    print(f"  bare client, sequential        {latency['bare_sequential_rows_per_s']:6d} rows/s")
    print(f"  operator, max_active_requests=4 {latency['operator_4_in_flight_rows_per_s']:5d} rows/s")
    print(f"  operator / bare                {latency['latency_hiding_ratio']:6.2f}  (target >= 3)")
    result = {"cpu": cpu, "latency": latency}
    print("RESULT " + json.dumps(result))
    return result


if __name__ == "__main__":
    main()
