"""The connection extras models (hooks/registry.py) are the one declaration of the connection
types: the provider info, the forms, the hooks' attributes, the parsing and the README tables
all come from them."""

from __future__ import annotations

import json
import subprocess
import sys

from airflow_provider_contacts.hooks.registry import CONN_TYPES


def test_provider_info_imports_neither_airflow_nor_a_hook():
    # Airflow imports get_provider_info while it reads its own configuration
    code = "import sys, json, airflow_provider_contacts.get_provider_info as g; g.get_provider_info(); "
    code += "print(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(run.stdout.splitlines()[-1])
    assert [m for m in loaded if m == "airflow" or m.startswith("airflow.")] == []
    hooks = tuple(f"airflow_provider_contacts.hooks.{m}" for m in ("base", *CONN_TYPES))
    assert [m for m in loaded if m.startswith(hooks)] == []
