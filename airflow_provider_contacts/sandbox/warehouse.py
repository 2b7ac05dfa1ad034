"""A small SQLite "warehouse" for the example DAGs, the demo and the tests.

Table ``crm_contacts(id, email, firstname, lastname, company, country, updated_at, which50_id)``
with ``contacts`` rows, among them the kinds of rows real warehouses hold: an invalid email, an
empty email and a duplicate email (the later row must win). ``which50_id`` holds the Which50
EncContactId of the first contacts, as a warehouse that stores vendor ids would. ``country``
holds country names ("Ireland"): Mautic's country field is a list of names and refuses ISO codes.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

COLUMNS = ("email", "firstname", "lastname", "company", "country", "updated_at", "which50_id")
FIRST = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jana", "Kofi", "Lea"]
LAST = ["Silva", "Novak", "Okafor", "Berg", "Rossi", "Haddad", "Kim", "Moreau", "Tanaka", "Weber"]
#: rows the warehouse holds that a sync must reject, with the reason the operator gives
BAD_ROWS = [("not-an-email", "invalid email"), ("", "missing key")]


def create_demo_warehouse(
    path: str | Path, *, contacts: int = 500, seed: int = 7, which50_ids: list[str] | None = None
) -> dict[str, Any]:
    """(Re)create the table at ``path``; returns what a full sync must end with."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    rows: list[tuple[Any, ...]] = []
    for i in range(contacts):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        updated = now - timedelta(minutes=rng.randint(5, 6 * 24 * 60))
        w50 = which50_ids[i] if which50_ids and i < len(which50_ids) else None
        rows.append(
            (
                f"{first}.{last}.{i}@example.com".lower(),
                first,
                last,
                f"Co {i % 17}",
                rng.choice(["Ireland", "Germany", "Singapore"]),
                updated.strftime("%Y-%m-%d %H:%M:%S"),
                w50,
            )
        )
    duplicate = rows[3]
    rows.append(
        (
            duplicate[0].upper(),
            "Renamed",
            duplicate[2],
            duplicate[3],
            duplicate[4],
            now.strftime("%Y-%m-%d %H:%M:%S"),
            None,
        )
    )  # same contact, later row: it wins
    for email, _reason in BAD_ROWS:
        rows.append((email, "Bad", "Row", None, None, now.strftime("%Y-%m-%d %H:%M:%S"), None))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute("drop table if exists crm_contacts")
        con.execute(
            "create table crm_contacts (id integer primary key, email text, firstname text, lastname text, "
            "company text, country text, updated_at text, which50_id text)"
        )
        con.executemany(f"insert into crm_contacts ({', '.join(COLUMNS)}) values (?, ?, ?, ?, ?, ?, ?)", rows)
        con.commit()
    finally:
        con.close()
    return {
        "rows": len(rows),
        "valid_contacts": contacts,
        "rejected": len(BAD_ROWS),
        "duplicates": 1,
        "renamed_email": duplicate[0],
        "sample_emails": [r[0] for r in rows[:3]],
    }


def sqlite_connection(path: str | Path) -> dict[str, Any]:
    """The ``sqlite_default`` connection (JSON form) for the warehouse at ``path``."""
    return {"conn_type": "sqlite", "host": str(path)}


def change_contacts(path: str | Path, count: int, *, firstname: str = "Changed") -> list[str]:
    """Change the first name of the first ``count`` contacts whose email is on one row only (and
    their ``updated_at``), as a day in the CRM would; returns their emails."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    con = sqlite3.connect(path)
    try:
        ids_emails = con.execute(
            "select id, email from crm_contacts where email like '%@%' and lower(email) in "
            "(select lower(email) from crm_contacts group by lower(email) having count(*) = 1) order by id limit ?",
            (count,),
        ).fetchall()
        con.executemany(
            "update crm_contacts set firstname = ?, updated_at = ? where id = ?",
            [(f"{firstname} {i}", now, row_id) for i, (row_id, _) in enumerate(ids_emails)],
        )
        con.commit()
    finally:
        con.close()
    return [email for _, email in ids_emails]
