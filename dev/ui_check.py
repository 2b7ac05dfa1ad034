"""Check the connection forms and Test Connection in a real Airflow API server (not run by CI).

Starts the sandbox, an Airflow home under .demo/ui_home (SQLite, test_connection Enabled,
SimpleAuthManager with everyone admin), adds one connection per vendor pointing at the
sandbox plus one with a wrong secret, starts ``airflow api-server``, then:

1. reads the UI's form metadata (``/ui/connections/hook_meta``): our four connection types
   with their fields, relabelled standard fields and secret fields; no field but a secret is
   pre-filled with ``***``, and the API shows a Which50 connection's header name but masks
   its key;
2. presses "Test" for each connection through the same endpoint the UI button calls
   (``POST /api/v2/connections/test``) and prints the message the user would see;
3. if Chromium is installed (Debian package ``chromium``), screenshots the connection list and
   the add-connection form under .demo/screenshots/ (kept out of git).

Usage: .venv/bin/python dev/ui_check.py
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / ".demo" / "ui_home"
SHOTS = ROOT / ".demo" / "screenshots"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, timeout: float = 30) -> tuple[int, Any]:
    """(status, the JSON answer; the text of an error answer)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def wait(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"nothing answered at {url}")


class Browser:
    """A few Chrome DevTools Protocol calls over the websockets package Airflow already ships."""

    def __init__(self, chromium: str) -> None:
        port = free_port()
        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={HOME / 'chromium'}",
                "--window-size=1400,1000",
                f"--remote-debugging-port={port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                pages = json.loads(
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2).read()
                )
                page = next(p for p in pages if p.get("type") == "page")
                break
            except (OSError, StopIteration):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        from websockets.sync.client import connect

        self.ws = connect(page["webSocketDebuggerUrl"], max_size=50_000_000).__enter__()
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def shot(self, name: str) -> None:
        import base64

        data = self.call("Page.captureScreenshot", format="png")["data"]
        (SHOTS / f"{name}.png").write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=20)


# click the n-th button of the table row whose first cell is conn_id
_ROW_BUTTON = """(() => {{
  const row = [...document.querySelectorAll('tr')].find(r => r.innerText.split('\\n')[0].trim() === '{conn_id}'
      || r.innerText.includes('{conn_id}\\t') || r.querySelector('td:nth-child(2)')?.innerText.trim() === '{conn_id}');
  if (!row) return 'no row';
  const buttons = row.querySelectorAll('button');
  if (buttons.length <= {n}) return 'no button';
  buttons[{n}].click();
  return 'clicked';
}})()"""


def browse(chromium: str, base: str) -> list[str]:
    taken = []
    browser = Browser(chromium)
    try:
        browser.call("Page.enable")
        browser.call("Page.navigate", url=f"{base}/connections")
        time.sleep(5)
        browser.shot("connections")
        taken.append("connections")
        for conn_id in ("mautic_default", "mautic_wrong_password"):
            print(f"  browser: Test on {conn_id}:", browser.js(_ROW_BUTTON.format(conn_id=conn_id, n=0)))
            time.sleep(3)
            name = f"test_{conn_id}"
            browser.shot(name)
            taken.append(name)
            text = browser.js("document.body.innerText")
            for line in (text or "").splitlines():
                if "Connected to" in line or "Bad credentials" in line:
                    print(f"    toast: {line.strip()}")
        for conn_id in ("mautic_default", "dmartech_default", "engagelab_default", "which50_default"):
            browser.call("Page.navigate", url=f"{base}/connections")
            time.sleep(4)
            print(f"  browser: edit form of {conn_id}:", browser.js(_ROW_BUTTON.format(conn_id=conn_id, n=1)))
            time.sleep(3)
            name = f"form_{conn_id}"
            browser.shot(name)
            taken.append(name)
    finally:
        browser.close()
    return taken


def add_connections(env: dict[str, str], conns: dict[str, dict], sandbox_port: int) -> None:
    for conn_id, conn in conns.items():
        subprocess.run([str(BIN / "airflow"), "connections", "delete", conn_id], env=env, capture_output=True)
        payload = dict(conn)
        # Airflow 3.3.2's list-page Test button sends port 0 for a connection without a port and
        # the API then answers 400 (apache/airflow#73298, fixed after 3.3.2): give the port.
        payload["port"] = sandbox_port
        if isinstance(payload.get("extra"), dict):
            payload["extra"] = json.dumps(payload["extra"])
        subprocess.run(
            [str(BIN / "airflow"), "connections", "add", conn_id, "--conn-json", json.dumps(payload)],
            env=env,
            check=True,
            capture_output=True,
        )


def check_forms(base: str) -> bool:
    """The four connection types, their fields and labels; only secrets masked."""
    status, meta = http("GET", f"{base}/ui/connections/hook_meta")
    ours = {
        m["connection_type"]: m
        for m in meta
        if m["connection_type"] in ("mautic", "dmartech", "engagelab", "which50")
    }
    print(f"form metadata: HTTP {status}, our connection types: {sorted(ours)}")
    for conn_type, m in sorted(ours.items()):
        fields = sorted((m.get("extra_fields") or {}).keys())
        secret = sorted(
            k
            for k, f in (m.get("extra_fields") or {}).items()
            if (f.get("schema") or {}).get("format") == "password"
        )
        relabel = m.get("standard_fields") or {}
        labels = {k: v.get("title") for k, v in relabel.items() if isinstance(v, dict) and v.get("title")}
        print(
            f"  {conn_type:<10} {m['hook_name']!r}: extra fields {fields}; secret {secret}; labels {labels}"
        )
    # Airflow hides the value of extras named like a secret ("auth_header", "api_key"...):
    # only the secret fields may be pre-filled or shown as ***
    masked = sorted(
        f"{t}.{k}"
        for t, m in ours.items()
        for k, f in (m.get("extra_fields") or {}).items()
        if f.get("value") == "***"
    )
    print(f"  form fields pre-filled with ***: {masked or 'none'}")
    status, stored = http("GET", f"{base}/api/v2/connections/which50_default")
    shown = json.loads(stored.get("extra") or "{}") if isinstance(stored, dict) else {}
    print(f"  which50_default as the API shows it: HTTP {status}, extra {shown}")
    return (
        len(ours) == 4
        and not masked
        and shown.get("header_name") == "X-Api-Key"
        and shown.get("api_key") == "***"
    )


def check_test_buttons(base: str, conns: dict[str, dict], sandbox_port: int) -> bool:
    ok = True
    for conn_id, conn in conns.items():
        body = {
            "connection_id": conn_id,
            "port": sandbox_port,
            **{k: v for k, v in conn.items() if k != "extra"},
        }
        if "extra" in conn:
            body["extra"] = json.dumps(conn["extra"])
        status, result = http("POST", f"{base}/api/v2/connections/test", body)
        print(f"  Test {conn_id:<22} HTTP {status}: {result}")
        expected = conn_id != "mautic_wrong_password"
        ok &= isinstance(result, dict) and result.get("status") is expected
    return ok


def main() -> int:
    HOME.mkdir(parents=True, exist_ok=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    sandbox_port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
    }
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "airflow_provider_contacts.sandbox", "--port", str(sandbox_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait(f"http://127.0.0.1:{sandbox_port}/_sandbox/health")
        _, info = http("GET", f"http://127.0.0.1:{sandbox_port}/_sandbox/info")
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
        conns = {f"{v}_default": d["connection"] for v, d in info["vendors"].items() if v != "echo"}
        conns["mautic_wrong_password"] = dict(conns["mautic_default"], password="wrong-password")
        add_connections(env, conns, sandbox_port)
        log = open(ROOT / ".demo" / "ui_api_server.log", "w")
        procs.append(
            subprocess.Popen(
                [str(BIN / "airflow"), "api-server", "--port", str(api_port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        base = f"http://127.0.0.1:{api_port}"
        wait(f"{base}/api/v2/monitor/health", 180)
        ok = check_forms(base)
        ok &= check_test_buttons(base, conns, sandbox_port)
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium:
            for name in browse(chromium, base):
                print(f"  screenshot .demo/screenshots/{name}.png")
        else:
            print("  chromium not installed (apt-get install chromium): no screenshots")
        print("UI check:", "PASSED" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
