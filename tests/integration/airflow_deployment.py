"""A real, private Airflow deployment for end-to-end tests: its own AIRFLOW_HOME with a SQLite
database, and ``airflow api-server``, ``scheduler``, ``dag-processor`` and ``triggerer`` as
separate processes (loopback only, free ports), each with its log file. Processes are started
in their own session and stopped by their process group on exit."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Deployment:
    COMPONENTS = ("api-server", "dag-processor", "scheduler", "triggerer")

    def __init__(self, root: Path, dags_folder: Path, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.home = root / "airflow_home"
        self.logs = root / "component-logs"
        self.tmp = root / "tmp"
        for path in (self.home, self.logs, self.tmp):
            path.mkdir(parents=True, exist_ok=True)
        self.db_path = self.home / "airflow.db"
        self.api_port = free_port()
        bin_dir = Path(sys.executable).parent
        self.airflow = str(bin_dir / "airflow")
        # the test process's own Airflow settings (tests/conftest.py) must not leak in
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "2",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
                    [
                        {
                            "name": "e2e",
                            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                            "kwargs": {"path": str(dags_folder), "refresh_interval": 0},
                        }
                    ]
                ),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "8",
                "TMPDIR": str(self.tmp),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra_env or {})
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self._log_files: list[Any] = []

    # lifecycle ------------------------------------------------------------------------------
    def migrate(self) -> float:
        started = time.monotonic()
        proc = subprocess.run(
            [self.airflow, "db", "migrate"], env=self.env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        return time.monotonic() - started

    def start(self, component: str) -> subprocess.Popen:
        args = [self.airflow, component]
        if component == "api-server":
            args += ["--host", "127.0.0.1", "--port", str(self.api_port)]
        log = open(self.logs / f"{component}.log", "a")  # noqa: SIM115 - closed in stop()
        self._log_files.append(log)
        proc = subprocess.Popen(
            args, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[component] = proc
        return proc

    def start_all(self) -> None:
        for component in self.COMPONENTS:
            self.start(component)
        wait_until(self.api_ready, 120, "the API server")

    def api_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health", timeout=2):
                return True
        except OSError:
            return False

    def kill(self, component: str, sig: int = signal.SIGKILL) -> None:
        """Stop one component and every process it started (its process group)."""
        proc = self.procs.pop(component)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        for component in list(self.procs):
            self.kill(component, signal.SIGTERM)
        for log in self._log_files:
            log.close()

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}
        assert not dead, f"components exited: {dead}; logs in {self.logs}"

    def print_log_tails(self, lines: int = 40) -> None:
        """The last lines of each component's log (after a failure, for the test's output)."""
        for component in self.COMPONENTS:
            path = self.logs / f"{component}.log"
            if path.exists():
                tail = "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
                print(f"---- {component} (last lines) ----\n{tail}")

    def log_text(self, component: str) -> str:
        return (self.logs / f"{component}.log").read_text(errors="replace")

    # reading the metadata database ------------------------------------------------------
    def query(self, sql: str, *params: Any) -> list[tuple]:
        if not self.db_path.exists():
            return []
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # a table not created yet, or a busy database
            return []
        finally:
            con.close()

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        rows = self.query("select run_id, state, run_type from dag_run where dag_id=? order by id", dag_id)
        return [{"run_id": r[0], "state": r[1], "run_type": r[2]} for r in rows]

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        rows = self.query(
            "select value from xcom where dag_id=? and run_id=? and task_id=? and key='return_value'",
            dag_id,
            run_id,
            task_id,
        )
        return json.loads(rows[0][0]) if rows else None

    def asset_events(self, asset_name: str) -> list[dict[str, Any]]:
        rows = self.query(
            "select e.extra from asset_event e join asset a on a.id = e.asset_id where a.name=? "
            "order by e.id",
            asset_name,
        )
        return [json.loads(r[0]) if r[0] else {} for r in rows]

    def data_interval(self, dag_id: str, run_id: str) -> tuple[datetime, datetime] | None:
        """(start, end) of a run's data interval, as aware UTC datetimes."""
        rows = self.query(
            "select data_interval_start, data_interval_end from dag_run where dag_id=? and run_id=?",
            dag_id,
            run_id,
        )
        if not rows or rows[0][0] is None:
            return None
        start, end = (datetime.fromisoformat(str(v)).replace(tzinfo=timezone.utc) for v in rows[0])
        return start, end

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        rows = self.query(
            "select task_id, state from task_instance where dag_id=? and run_id=? order by task_id",
            dag_id,
            run_id,
        )
        return {task_id: state for task_id, state in rows}

    def triggers(self) -> list[str]:
        """The classpath of each trigger the triggerer runs now (deferred tasks, watchers)."""
        return [r[0] for r in self.query("select classpath from trigger order by id")]

    def unpause(self, dag_id: str, timeout: float = 120) -> None:
        """Unpause a DAG once the dag-processor has stored it (for a deployment started with
        ``AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True``, so that its first scheduled run
        is not queued before the API server, which the task runner reports to, is up)."""

        def stored() -> list[tuple]:
            self.check_alive()
            return self.query("select dag_id from dag where dag_id=?", dag_id)

        wait_until(stored, timeout, f"the dag-processor to store {dag_id}")
        proc = subprocess.run(
            [self.airflow, "dags", "unpause", dag_id],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def print_timings(timings: dict[str, Any]) -> None:
    """The e2e phases' timings, seconds to one decimal."""
    shown = {k: round(v, 1) if isinstance(v, float) else v for k, v in timings.items()}
    print("e2e timings (s):", json.dumps(shown))


def example_dag_folder(tmp_path: Path, example: Path, original: str, replacement: str, stale: str) -> Path:
    """A private DAG folder holding the example DAG file ``example`` with ``original`` replaced by
    ``replacement`` (shorter intervals for the test); ``stale``: the failure when the example no
    longer holds ``original``."""
    dags = tmp_path / "dags"
    dags.mkdir()
    source = example.read_text()
    assert original in source, stale
    (dags / example.name).write_text(source.replace(original, replacement))
    return dags


@contextmanager
def running_deployment(
    tmp_path: Path, dags: Path, extra_env: dict[str, str]
) -> Iterator[tuple[Deployment, dict[str, Any]]]:
    """A :class:`Deployment` of ``dags``, its database migrated (timed in the timings it yields,
    which the body adds to); on the way out its components are stopped and the timings printed,
    and when the body failed, the components' log tails first."""
    deployment = Deployment(tmp_path, dags, extra_env=extra_env)
    timings: dict[str, Any] = {"db migrate": deployment.migrate()}
    try:
        yield deployment, timings
    except BaseException:
        deployment.print_log_tails()
        raise
    finally:
        deployment.stop()
        print_timings(timings)
