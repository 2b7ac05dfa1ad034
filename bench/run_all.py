"""Every benchmark, with the sizes the project reports (see README "Performance").

make bench            # or: .venv/bin/python bench/run_all.py [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    quick = "--quick" in sys.argv
    runs = [
        [
            "upsert_throughput.py",
            "--rows",
            "20000" if quick else "100000",
            "--naive-sample",
            "300" if quick else "2000",
        ],
        [
            "client_cost.py",
            "--rows",
            "10000" if quick else "20000",
            "--rounds",
            "3" if quick else "5",
            "--latency-rows",
            "2000" if quick else "4000",
        ],
        ["import_time.py", "--repeat", "3" if quick else "5"],
        ["memory.py", "--sizes", *(["20000", "100000"] if quick else ["100000", "1000000"])],
        [
            "change_only_state.py",
            "--sizes",
            *(["20000", "100000"] if quick else ["100000", "1000000"]),
            "--rows",
            "20000" if quick else "100000",
        ],
    ]
    status = 0
    for script, *args in runs:
        print(f"\n=== {script} {' '.join(args)}", flush=True)
        status |= subprocess.call([sys.executable, os.path.join(HERE, script), *args])
    return status


if __name__ == "__main__":
    sys.exit(main())
