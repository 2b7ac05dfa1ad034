"""`make test-matrix`: the test suite on each supported Airflow release and Python.

Each combination gets its own virtualenv under ``.matrix/`` (git-ignored), built with uv and
reused while pyproject.toml, the Airflow version and the pins below are unchanged; the provider
is installed editable, so code changes need no rebuild. Logs go to ``.matrix/logs/``. Prints a
table and exits non-zero when a suite that ran did not pass. A Python this machine lacks is
reported as "not run", never counted as passed.

    python dev/test_matrix.py                      # the full matrix (MATRIX below)
    python dev/test_matrix.py --only 3.1.8/3.10 3.2.2/3.13 --jobs 2
    python dev/test_matrix.py --list               # the combinations and the interpreters found

Interpreters: ``MATRIX_PYTHON_3_10=/path/to/python`` (one variable per version) wins, else
``python3.X`` on PATH, else the newest pyenv build of 3.X.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".matrix"

#: Airflow release -> (Pythons it supports (its Requires-Python), extra pins for the test venv)
AIRFLOW: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # Airflow 3.1.8 sets an attribute on cryptography's MultiFernet (models/crypto.py), which
    # cryptography >= 51 implements in Rust without one: with a Fernet key (unit-test mode has
    # one) every connection fails to load and reads as "not defined". 3.2 wraps it.
    "3.1.8": (("3.10", "3.11", "3.12", "3.13"), ("cryptography<51",)),
    # Airflow 3.2.2 does not cap two of its dependencies, and newer releases of both break it
    # (not this provider): fastapi >= 0.156.1 fails to build its execution API
    # (PydanticUserError on TITerminalStatePayload), and svcs >= 26.2 removes the services
    # registry when dag.test()'s in-process API lets its start-up context go. Airflow's own
    # constraints file pins older releases of both.
    "3.2.2": (("3.10", "3.11", "3.12", "3.13", "3.14"), ("fastapi<0.156.1", "svcs<26.2")),
    "3.3.2": (("3.10", "3.11", "3.12", "3.13", "3.14"), ()),
}


def default_matrix() -> list[tuple[str, str]]:
    """Per Airflow release: its oldest and newest Python, and the newest one installed here
    when that is not the newest it supports."""
    combos = []
    for airflow, (pythons, _pins) in AIRFLOW.items():
        wanted = [pythons[0], pythons[-1]]
        installed = [p for p in pythons if find_python(p)]
        if pythons[-1] not in installed and installed and installed[-1] not in wanted:
            wanted.append(installed[-1])
        combos += [(airflow, p) for p in wanted]
    return combos


def _runs(path: str, version: str) -> bool:
    try:
        out = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def find_python(version: str) -> str | None:
    explicit = os.environ.get("MATRIX_PYTHON_" + version.replace(".", "_"))
    if explicit:
        return explicit if _runs(explicit, version) else None
    on_path = shutil.which(f"python{version}")
    if on_path and _runs(on_path, version):  # a pyenv shim of an inactive version does not run
        return on_path
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    builds = sorted(
        pyenv_root.glob(f"versions/{version}.*/bin/python{version}"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)],
    )
    for candidate in reversed(builds):
        if _runs(str(candidate), version):
            return str(candidate)
    return None


def build_venv(uv: str, airflow: str, python: str, interpreter: str, log) -> Path:
    pins = AIRFLOW[airflow][1]
    venv = WORK / f"airflow-{airflow}-py{python}"
    stamp_text = "\n".join([airflow, interpreter, *pins, (ROOT / "pyproject.toml").read_text()])
    stamp = hashlib.sha256(stamp_text.encode()).hexdigest()
    stamp_file = venv / ".matrix-stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    for cmd in (
        [uv, "venv", "--quiet", "--python", interpreter, str(venv)],
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            f"apache-airflow=={airflow}",
            *pins,
            "-e",
            f"{ROOT}[test]",
        ],
    ):
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    stamp_file.write_text(stamp)
    return venv


_SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|error|errors|skipped).*) in [\d.]+s")


def run_one(uv: str, airflow: str, python: str, pytest_args: list[str]) -> dict:
    started = time.monotonic()
    result = {"airflow": airflow, "python": python, "ok": None, "tests": "", "seconds": 0.0}
    interpreter = find_python(python)
    if interpreter is None:
        result["outcome"] = f"not run: no Python {python} on this machine"
        return result
    (WORK / "logs").mkdir(parents=True, exist_ok=True)
    log_path = WORK / "logs" / f"airflow-{airflow}-py{python}.log"
    with open(log_path, "w") as log:
        try:
            venv = build_venv(uv, airflow, python, interpreter, log)
        except subprocess.CalledProcessError:
            result.update(ok=False, outcome=f"venv build failed (see {log_path.relative_to(ROOT)})")
            return result
        env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        env.pop("AIRFLOW_HOME", None)
        code = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        ).returncode
    summary = [
        m.group(1)
        for line in log_path.read_text(errors="replace").splitlines()
        if (m := _SUMMARY.match(line.strip()))
    ]
    version = subprocess.run(
        [interpreter, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    result.update(
        python=version or python,
        ok=code == 0,
        tests=summary[-1] if summary else "no summary line",
        outcome="passed" if code == 0 else f"FAILED (exit {code}, see {log_path.relative_to(ROOT)})",
        seconds=time.monotonic() - started,
    )
    return result


def print_table(results: list[dict]) -> None:
    rows = [("Airflow", "Python", "result", "tests", "time")]
    rows += [
        (
            r["airflow"],
            r["python"],
            r["outcome"],
            r["tests"],
            f"{int(r['seconds']) // 60}m{int(r['seconds']) % 60:02d}s" if r["seconds"] else "",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="+", metavar="AIRFLOW/PYTHON", help="e.g. 3.1.8/3.10 (default: the full matrix)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="combinations run at once (default 1)")
    parser.add_argument("--uv", default=shutil.which("uv") or str(Path(sys.executable).parent / "uv"))
    parser.add_argument(
        "--list", action="store_true", help="print the combinations and interpreters, run nothing"
    )
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args()
    combos = [tuple(c.split("/", 1)) for c in args.only] if args.only else default_matrix()
    unknown = [c for c in combos if len(c) != 2 or c[0] not in AIRFLOW or c[1] not in AIRFLOW[c[0]][0]]
    if unknown:
        parser.error(f"not a supported combination: {unknown}; Airflow releases and Pythons: {AIRFLOW}")
    if args.list:
        for airflow, python in combos:
            print(f"Airflow {airflow}  Python {python}: {find_python(python) or 'not on this machine'}")
        return 0
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda c: run_one(args.uv, c[0], c[1], args.pytest_args), combos))
    print_table(results)
    failed = [r for r in results if r["ok"] is False]
    ran = [r for r in results if r["ok"] is not None]
    print(
        f"\n{len(ran) - len(failed)} of {len(ran)} suites passed ({len(results) - len(ran)} not run) "
        f"in {time.monotonic() - started:.0f} s"
    )
    return 1 if failed or not ran else 0


if __name__ == "__main__":
    sys.exit(main())
