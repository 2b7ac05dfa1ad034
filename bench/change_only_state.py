"""The change-only sync: the cost of its state, and the requests a re-sync saves.

1. **State at N keys** (each N in a fresh process): a first sync records N fingerprints
   (every row "accepted"), then a re-sync with 1 % of the rows changed compares N rows with
   the state and records the changed ones; both store the state file. Prints CPU seconds of
   each pass, microseconds per key, peak RSS of the process (next to the RSS after importing
   the Airflow SDK) and the state file's size. Rows are generated on the fly, so the memory
   figure is the state's (and SQLite's page cache), not the input's.
2. **Requests of a re-sync** (``--rows``, default 100,000): UpsertContactsOperator with
   ``only_changed=True`` into the Mautic emulator (its own process), then the same rows with
   1 % changed: the second run must send exactly ⌈changed / 200⌉ batch requests.

    .venv/bin/python bench/change_only_state.py [--sizes 100000 1000000] [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import SandboxProcess, peak_rss_mb, task_context  # noqa: E402


def rows(n: int, changed_every: int = 0):
    for i in range(n):
        first = "Changed" if changed_every and i % changed_every == 0 else f"F{i}"
        yield i, {"email": f"m{i}@example.com", "firstname": first, "lastname": "L", "city": "Lyon"}


def one_pass(state, n: int, changed_every: int) -> tuple[float, int]:
    """What the operator does with the state in one run; returns (CPU seconds, rows sent)."""
    started = time.process_time()
    for _, row in rows(n, changed_every):
        state.see(row["email"])
    sent = 0
    for index, _ in state.changed(rows(n, changed_every), "email"):
        state.settle(index, accepted=True)
        sent += 1
    state.commit()
    return time.process_time() - started, sent


def child(n: int, folder: str) -> None:
    import airflow.sdk  # noqa: F401  (the baseline: any Airflow task process has this)

    from airflow_provider_contacts.rows.sync_state import SyncState, state_identity

    baseline = peak_rss_mb()
    location = os.path.join(folder, f"state{n}.sqlite")
    identity = state_identity("mautic_default", "bench", "email", "bench")
    results = {"n": n, "rss_after_imports_mb": round(baseline, 1)}
    for name, every in (("first", 0), ("resync", 100)):
        state = SyncState(location, identity)
        cpu, sent = one_pass(state, n, every)
        state.close()
        results[f"{name}_cpu_s"] = round(cpu, 2)
        results[f"{name}_sent"] = sent
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    results["state_mb"] = round(os.path.getsize(location) / 1e6, 1)
    print(json.dumps(results))


def run_child(n: int, folder: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n), "--folder", folder],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1])


def resync_requests(n: int, folder: str) -> dict:
    """Two operator runs against the emulator; the second with 1 % changed."""
    from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

    os.environ["AIRFLOW__CONTACTS__STORAGE_BASE"] = folder
    out: dict = {"rows": n}
    with SandboxProcess() as sandbox:
        sandbox.reset()
        sandbox.settings("mautic", retain_contacts=False)
        for name, every in (("first", 0), ("resync", 100)):
            source = [row for _, row in rows(n, every)]
            before = sandbox.request_count("mautic", "/contacts/batch/new")
            op = UpsertContactsOperator(
                task_id="bench", conn_id="mautic_default", rows=source, only_changed=True
            )
            summary = op.execute(task_context("change_only"))
            out[f"{name}_batches"] = sandbox.request_count("mautic", "/contacts/batch/new") - before
            out[f"{name}_sent"] = summary["sent"]
            out[f"{name}_seconds"] = summary["seconds"]
    out["expected_resync_batches"] = math.ceil(out["resync_sent"] / 200)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", type=int)
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder)
        return 0
    folder = tempfile.mkdtemp(prefix="contacts-change-only-")
    states = [run_child(n, folder) for n in args.sizes]
    for r in states:
        print(
            f"state N={r['n']:>9,d}: first sync {r['first_cpu_s']:6.2f} s CPU ({1e6 * r['first_cpu_s'] / r['n']:.1f} µs/key), "
            f"re-sync 1 % changed {r['resync_cpu_s']:6.2f} s CPU ({1e6 * r['resync_cpu_s'] / r['n']:.1f} µs/key, "
            f"{r['resync_sent']:,} sent), peak RSS {r['peak_rss_mb']:.1f} MB "
            f"(Airflow SDK imported: {r['rss_after_imports_mb']:.1f} MB), state file {r['state_mb']} MB"
        )
    if len(states) >= 2:
        print(
            f"peak RSS at N={states[-1]['n']:,} / N={states[0]['n']:,} = {states[-1]['peak_rss_mb'] / states[0]['peak_rss_mb']:.2f}"
        )
    status = 0
    if args.rows:
        r = resync_requests(args.rows, folder)
        ok = r["resync_batches"] == r["expected_resync_batches"]
        status = 0 if ok else 1
        print(
            f"operator, {r['rows']:,} rows: first run {r['first_batches']} batch requests ({r['first_seconds']} s), "
            f"re-sync with 1 % changed: {r['resync_sent']:,} rows sent in {r['resync_batches']} batch requests "
            f"(⌈{r['resync_sent']}/200⌉ = {r['expected_resync_batches']}{'' if ok else ' — MISMATCH'}), {r['resync_seconds']} s"
        )
    print("RESULT " + json.dumps({"states": states}))
    return status


if __name__ == "__main__":
    sys.exit(main())
