"""The house rules that keep the code readable: no function over 60 lines anywhere in the
repository's Python, no module over 450 lines outside the sandbox (the emulators)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("airflow_provider_contacts", "example_dags", "tests", "dev", "bench")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 450


def python_files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def test_no_function_is_over_60_lines():
    long = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert python_files() and not long, "\n".join(long)


def test_no_module_outside_the_sandbox_is_over_450_lines():
    long = [
        f"{path.relative_to(ROOT)} ({lines} lines)"
        for path in python_files()
        if "sandbox" not in path.relative_to(ROOT).parts
        and (lines := path.read_text(encoding="utf-8").count("\n")) > MAX_MODULE_LINES
    ]
    assert not long, "\n".join(long)
