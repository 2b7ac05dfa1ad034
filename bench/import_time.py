"""What importing each provider module costs on top of ``import airflow.sdk`` (issue 15).

Every Airflow task, DAG-file parse and triggerer already pays ``import airflow.sdk``; the
provider's modules must add < 50 ms to it, and must not pull in an HTTP client (``requests`` is
imported only when a sync client is built).

Each repetition starts a fresh interpreter that imports ``airflow.sdk`` alone (the baseline,
timed), then forks once per provider module: every child starts from exactly the state
``import airflow.sdk`` left, imports one module, and reports its wall and CPU time and the heavy
top-level packages it added. A module therefore pays for everything it imports, even what
another provider module would share. Medians over the repetitions; a module whose median CPU
cost is >= 50 ms is flagged. Bytecode is compiled once by a discarded warm-up run, as
pip does at install time (CPU time, because on a shared machine wall time mostly measures
the neighbours; both are printed).

    .venv/bin/python bench/import_time.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "airflow_provider_contacts"
SKIPPED = ("sandbox", "testing")
HEAVY: tuple[str, ...] = ("requests", "urllib3", "httpx", "fastapi", "starlette", "uvicorn", "msgspec")
HEAVY += ("cryptography", "pendulum", "pydantic", "sqlalchemy", "pandas")
LIMIT_MS = 50.0


def provider_modules() -> list[str]:
    """Every module of the package but the sandbox and the testing helpers, found on disk (no
    import, so the probe starts clean)."""
    base = os.path.join(ROOT, PACKAGE)
    found = []
    for folder, dirs, files in os.walk(base):
        rel = os.path.relpath(folder, base)
        parts = [] if rel == "." else rel.split(os.sep)
        if parts and parts[0] in SKIPPED:
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("__"))
        for name in sorted(files):
            if not name.endswith(".py") or (not parts and name[:-3] in SKIPPED):
                continue
            stem = name[:-3]
            dotted = [PACKAGE, *parts] + ([] if stem == "__init__" else [stem])
            found.append(".".join(dotted))
    return sorted(set(found))


def _import_in_child(module: str) -> dict:
    """Fork; the child imports ``module`` and sends back its cost and the heavy packages added."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            before = {m.split(".")[0] for m in sys.modules}
            wall, cpu = time.perf_counter(), time.process_time()
            __import__(module)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            added = sorted({m.split(".")[0] for m in sys.modules} - before)
            out = {"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "heavy": [m for m in added if m in HEAVY]}
        except BaseException as err:  # report, never hang the parent
            out = {"error": repr(err)}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def probe(modules: list[str]) -> None:
    """One repetition, in a fresh interpreter; prints one JSON line."""
    wall, cpu = time.perf_counter(), time.process_time()
    import airflow.sdk  # noqa: F401

    sdk: dict[str, Any] = {
        "wall_ms": (time.perf_counter() - wall) * 1000,
        "cpu_ms": (time.process_time() - cpu) * 1000,
    }
    sdk["heavy"] = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
    results = {module: _import_in_child(module) for module in modules}
    print(json.dumps({"sdk": sdk, "modules": results}))


def run_probe(modules: list[str], pycache: str) -> dict:
    # Bytecode as an installed wheel has it (pip compiles it at install time): written once to
    # a private cache by the warm-up run, read by the measured ones. Without it every import
    # would measure the compiler (this environment may set PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    out = subprocess.run(
        [sys.executable, __file__, "--probe", *modules],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def summarise(runs: list[dict], modules: list[str]) -> dict:
    def med(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    sdk_wall = med([r["sdk"]["wall_ms"] for r in runs])
    sdk_cpu = med([r["sdk"]["cpu_ms"] for r in runs])
    rows = []
    for module in modules:
        samples = [r["modules"][module] for r in runs]
        errors = [s["error"] for s in samples if "error" in s]
        if errors:
            rows.append({"module": module, "error": errors[0]})
            continue
        cpu = med([s["cpu_ms"] for s in samples])
        wall = med([s["wall_ms"] for s in samples])
        rows.append(
            {
                "module": module,
                "added_cpu_ms": cpu,
                "added_wall_ms": wall,
                "spread_cpu_ms": round(
                    max(s["cpu_ms"] for s in samples) - min(s["cpu_ms"] for s in samples), 1
                ),
                "ratio": round((sdk_cpu + cpu) / sdk_cpu, 3),
                "heavy": samples[0]["heavy"],
                "over_limit": cpu >= LIMIT_MS,
            }
        )
    return {
        "repeat": len(runs),
        "sdk_cpu_ms": sdk_cpu,
        "sdk_wall_ms": sdk_wall,
        "sdk_heavy": runs[0]["sdk"]["heavy"],
        "modules": rows,
        "worst_module": max((r for r in rows if "error" not in r), key=lambda r: r["added_cpu_ms"])["module"],
        "max_added_cpu_ms": max(r.get("added_cpu_ms", 0.0) for r in rows),
        "over_limit": [r["module"] for r in rows if r.get("over_limit") or "error" in r],
    }


def report(result: dict) -> None:
    print(
        f"import airflow.sdk alone: {result['sdk_cpu_ms']:.0f} ms CPU, {result['sdk_wall_ms']:.0f} ms wall "
        f"(median of {result['repeat']}; already loads {', '.join(result['sdk_heavy']) or 'none of them'})"
    )
    print(f"{'module':55s} {'+CPU ms':>8s} {'+wall ms':>9s} {'ratio':>6s}  heavy packages it adds")
    for row in result["modules"]:
        name = row["module"].removeprefix(PACKAGE + ".") if row["module"] != PACKAGE else PACKAGE
        if "error" in row:
            print(f"{name:55s} ERROR {row['error']}")
            continue
        flag = "  <-- >= 50 ms" if row["over_limit"] else ""
        print(
            f"{name:55s} {row['added_cpu_ms']:8.1f} {row['added_wall_ms']:9.1f} {row['ratio']:6.3f}  "
            f"{','.join(row['heavy']) or '-'}{flag}"
        )
    print(
        f"worst: {result['worst_module']} +{result['max_added_cpu_ms']:.1f} ms CPU "
        f"(target < {LIMIT_MS:.0f} ms); over the limit: {result['over_limit'] or 'none'}"
    )


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--probe", nargs="*")
    args = parser.parse_args()
    if args.probe is not None:
        probe(args.probe)
        return {}
    modules = provider_modules()
    with tempfile.TemporaryDirectory(prefix="contacts-pycache-") as pycache:
        run_probe(modules, pycache)  # warm-up: writes the bytecode
        runs = [run_probe(modules, pycache) for _ in range(args.repeat)]
    result = summarise(runs, modules)
    report(result)
    print("RESULT " + json.dumps({k: v for k, v in result.items() if k != "modules"}))
    return result


if __name__ == "__main__":
    main()
