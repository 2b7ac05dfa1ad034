"""Peak RSS of the two streaming paths, each measured in a fresh process:

* upserting N contacts from an NDJSON file (UpsertContactsOperator);
* exporting N activity events to NDJSON (FetchContactActivityOperator).

Run at 100,000 and 1,000,000 to show memory does not grow with N (target < 150 MB). The
sandbox runs in its own process and forgets upserted contacts (``retain_contacts=False``)
so the 1M run does not need gigabytes there; the client does the same work either way.

    .venv/bin/python bench/memory.py [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import SandboxProcess, peak_rss_mb, task_context  # noqa: E402


def child(kind: str, n: int, path: str) -> None:
    """Runs in its own process; prints one JSON line."""
    import airflow.sdk  # noqa: F401  (the baseline: any Airflow task process has this)

    baseline = peak_rss_mb()
    t0 = time.perf_counter()
    if kind == "upsert":
        from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

        op = UpsertContactsOperator(
            task_id="mem",
            conn_id="mautic_default",
            source_path=path,
            rejects_path=path + ".rejects",
            max_active_requests=2,
        )
        summary = op.execute(task_context("upsert"))
        done = summary["created"] + summary["updated"]
    else:
        from datetime import datetime, timedelta, timezone

        from airflow_provider_contacts.operators.activity import FetchContactActivityOperator

        now = datetime.now(timezone.utc)
        fetch = FetchContactActivityOperator(
            task_id="mem",
            conn_id="mautic_default",
            output_path=path,
            since=(now - timedelta(days=2)).isoformat(),
            until=(now + timedelta(minutes=1)).isoformat(),
            page_size=1000,
        )
        done = fetch.execute(task_context("activity"))["events"]
    print(
        json.dumps(
            {
                "kind": kind,
                "n": n,
                "done": done,
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "rss_after_imports_mb": round(baseline, 1),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    )


def run_child(kind: str, n: int, path: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--n", str(n), "--path", path],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1]
    return json.loads(line)


def main() -> list[dict]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child")
    parser.add_argument("--n", type=int)
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n, args.path)
        return []
    tmp = tempfile.mkdtemp(prefix="contacts-mem-")
    results = []
    with SandboxProcess() as sandbox:
        for n in args.sizes:
            source = os.path.join(tmp, f"rows{n}.ndjson")
            with open(source, "w") as handle:
                for i in range(n):
                    handle.write(
                        json.dumps({"email": f"m{i}@example.com", "firstname": f"F{i}", "city": "Lyon"})
                        + "\n"
                    )
            sandbox.reset()
            sandbox.settings("mautic", retain_contacts=False)
            results.append(run_child("upsert", n, source))
            os.remove(source)
            sandbox.reset()
            requests.post(
                f"{sandbox.url}/_sandbox/generate/mautic", json={"contacts": 100}, timeout=600
            ).raise_for_status()
            requests.post(
                f"{sandbox.url}/_sandbox/generate/mautic", json={"events": n, "days": 1}, timeout=3600
            ).raise_for_status()
            out = os.path.join(tmp, f"events{n}.ndjson")
            results.append(run_child("activity", n, out))
            os.remove(out)
    for r in results:
        print(
            f"{r['kind']:8s} N={r['n']:>9,d}  done={r['done']:>9,d}  peak RSS {r['peak_rss_mb']:6.1f} MB "
            f"(Airflow SDK imported: {r['rss_after_imports_mb']:.1f} MB)  {r['seconds']} s"
        )
    for kind in ("upsert", "activity"):
        runs = [r for r in results if r["kind"] == kind]
        if len(runs) >= 2:
            print(
                f"{kind}: peak RSS at N={runs[-1]['n']:,} / N={runs[0]['n']:,} = {runs[-1]['peak_rss_mb'] / runs[0]['peak_rss_mb']:.2f} (target < 150 MB, flat)"
            )
    print("RESULT " + json.dumps(results))
    return results


if __name__ == "__main__":
    main()
