"""Write the README's connection extras tables from the extras models (hooks/registry.py), the
one place an extra is declared. ``python dev/readme_extras.py`` rewrites the part of README.md
between the two markers; ``--check`` only says whether it is up to date (a test runs that)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from airflow_provider_contacts.hooks.extras import ConnExtras
from airflow_provider_contacts.hooks.fields import Field
from airflow_provider_contacts.hooks.registry import MODELS

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- extras tables: written by dev/readme_extras.py from hooks/registry.py; edit the models -->"
END = "<!-- end of extras tables -->"


def _default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`" if isinstance(value, str) else str(value)


def table(fields: dict[str, Field]) -> list[str]:
    rows = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for name, field in fields.items():
        meaning = (field.doc or field.description).replace("|", "\\|")
        rows.append(f"| `{name}` | {_default(field.default)} | {field.allowed()} | {meaning} |")
    return rows


def tables() -> str:
    """The generated part: the options of every type, then each type's own (and overridden) extras."""
    lines = [BEGIN, "Every connection type takes these:", "", *table(ConnExtras.fields)]
    for model in MODELS:
        assert model.connection is not None
        own = {name: f for name, f in model.fields.items() if ConnExtras.fields.get(name) is not f}
        lines += ["", f"`{model.connection.conn_type}` ({model.connection.hook_name}):", "", *table(own)]
    return "\n".join([*lines, END])


def updated(text: str) -> str:
    """``text`` (README.md) with the part between the markers written anew."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + tables() + text[end:]


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    if "--check" in argv:
        if updated(text) != text:
            print("README.md's extras tables are stale: run python dev/readme_extras.py")
            return 1
        return 0
    README.write_text(updated(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
