"""The sandbox server itself: admin API, fault injection rules, request log, CLI, fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests


def test_fixture_points_default_connections_at_the_sandbox(sandbox):
    for vendor in ("mautic", "dmartech", "engagelab", "which50"):
        conn = json.loads(os.environ[f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT"])
        assert conn["conn_type"] == vendor
        assert conn["host"].startswith(sandbox.url)
    info = requests.get(f"{sandbox.url}/_sandbox/info").json()
    assert set(info["vendors"]) == {"mautic", "dmartech", "engagelab", "which50", "echo"}
    assert info["vendors"]["mautic"]["base_url"] == f"{sandbox.url}/mautic"


def test_admin_faults_endpoint_sets_validates_and_clears(sandbox):
    url = f"{sandbox.url}/_sandbox/faults"
    r = requests.post(url, json={"sequence": [503, "drop"], "vendors": ["echo"]})
    assert r.status_code == 200 and r.json()["sequence"] == [{"status": 503}, {"drop": "drop"}]
    assert requests.get(f"{sandbox.url}/echo/anything").status_code == 503
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.get(f"{sandbox.url}/echo/anything")
    assert requests.get(f"{sandbox.url}/echo/anything").status_code == 200
    assert requests.post(url, json={"rate_429": 2}).status_code == 400
    assert "unknown fault settings: nope" in requests.post(url, json={"nope": 1}).text
    assert requests.post(url, json={"sequence": ["explode"]}).status_code == 400
    assert requests.delete(url).json()["sequence"] == []
    log = requests.get(f"{sandbox.url}/_sandbox/requests", params={"vendor": "echo"}).json()
    assert [e["status"] or e["fault"] for e in log["requests"]] == [503, "drop", 200]


def test_faults_only_hit_matching_vendors_paths_and_methods(sandbox):
    sandbox.set_faults(rate_5xx=1.0, vendors=["echo"], paths=["/status/"], methods=["POST"])
    assert requests.get(f"{sandbox.url}/echo/anything").status_code == 200
    assert requests.get(f"{sandbox.url}/echo/status/200").status_code == 200
    assert requests.post(f"{sandbox.url}/echo/status/200").status_code == 503
    assert requests.get(f"{sandbox.url}/_sandbox/health").status_code == 200  # admin never faulted


def test_latency_is_added(sandbox):
    sandbox.set_faults(latency_ms=150)
    t0 = time.monotonic()
    requests.get(f"{sandbox.url}/echo/anything")
    assert time.monotonic() - t0 >= 0.15


def test_reset_clears_state_log_and_faults(sandbox):
    sandbox.set_faults(rate_5xx=1.0)
    requests.get(f"{sandbox.url}/echo/anything")
    assert requests.post(f"{sandbox.url}/_sandbox/reset", json={}).json()["status"] == "reset"
    assert sandbox.requests() == []
    assert requests.get(f"{sandbox.url}/echo/anything").status_code == 200


@pytest.mark.slow
def test_cli_serves_prints_urls_and_refuses_remote_hosts(tmp_path):
    refused = subprocess.run(
        [sys.executable, "-m", "airflow_provider_contacts.sandbox", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "not a loopback address" in refused.stderr
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_contacts.sandbox",
            "--port",
            str(port),
            "--seed",
            "3",
            "--fault-rate",
            "0.3",
            "--print-connections",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        while len(lines) < 8:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}/mautic" in text
        assert "export AIRFLOW_CONN_MAUTIC_DEFAULT=" in text
        for _ in range(100):  # until the server answers (a loaded machine may take seconds)
            try:
                faults = requests.get(f"http://127.0.0.1:{port}/_sandbox/faults", timeout=30).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert faults["rate_429"] == pytest.approx(0.1)
        assert faults["rate_drop"] == pytest.approx(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
