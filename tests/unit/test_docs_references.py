"""Every vendor fact the code cites is in the repository: a ``docs/vendors/<page>.md <section>``
reference, and a bare ``§x.y`` mark in a Mautic module, name a heading that exists; no code
points at documents outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = [
    p
    for folder in ("airflow_provider_contacts", "tests", "bench", "dev", "example_dags")
    for p in (ROOT / folder).rglob("*.py")
]
#: a heading ``### 3.4 ...`` / ``### A.5 ...``, or a numbered item ``- **11.1** ...``
HEADING = re.compile(r"^(?:#+\s+|- \*\*)(§?[0-9A-Z]+(?:\.[0-9]+)*)[.\s*]", re.M)


def sections(page: str) -> set[str]:
    text = (ROOT / "docs" / "vendors" / page).read_text(encoding="utf-8")
    found = {m.group(1).lstrip("§") for m in HEADING.finditer(text)}
    return found | {s.split(".")[0] for s in found}


def test_cited_sections_exist():
    cited = re.compile(
        r"docs/vendors/(\w+\.md)((?:\s+(?:§?[0-9]+(?:\.[0-9]+)*|[A-D](?:\.[0-9]+)?)(?:\s+and|,)?)*)"
    )
    missing = []
    for path in CODE:
        text = path.read_text(encoding="utf-8")
        for match in cited.finditer(text):
            page = match.group(1)
            assert (ROOT / "docs" / "vendors" / page).is_file(), f"{path.name}: {page}"
            for section in re.findall(r"§?([0-9]+(?:\.[0-9]+)*|[A-D](?:\.[0-9]+)?)", match.group(2)):
                if section not in sections(page):
                    missing.append(f"{path.relative_to(ROOT)}: {page} {section}")
        if path.name.startswith(("mautic", "test_mautic_emulator")):  # bare marks: docs/vendors/mautic.md
            for section in re.findall(r"§([0-9]+(?:\.[0-9]+)*)", text):
                if section not in sections("mautic.md"):
                    missing.append(f"{path.relative_to(ROOT)}: mautic.md §{section}")
    assert missing == []


def test_no_code_points_outside_the_repository():
    outside = re.compile(r"research/|shared[/]research|vendor-docs/|DESIGN\.md|research §")
    assert [
        str(p.relative_to(ROOT))
        for p in CODE
        if p.name != "test_docs_references.py" and outside.search(p.read_text(encoding="utf-8"))
    ] == []
