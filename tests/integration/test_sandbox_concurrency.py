"""The Mautic emulator serves requests at the same time, as a server with several PHP workers
does, and ``UpsertContactsOperator(max_active_requests=4)`` really keeps four batches in flight.

No timing: the emulator's ``overlap_gate`` setting holds each ``/api`` request until that many
are inside its per-request-cost section at once (then the gate stays open until the next reset),
and its state's ``max_in_flight`` gives the exact number seen together. A server that handled one
request at a time, or a client that sent one at a time, would show 1 (after the gate's 10 s)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from airflow_provider_contacts.operators.upsert import UpsertContactsOperator
from tests.integration.mautic_raw import api
from tests.integration.operator_support import context, vendor_calls

ROWS = [{"email": f"c{i}@example.com", "firstname": f"F{i}"} for i in range(1000)]


def state(sandbox) -> dict[str, Any]:
    """The emulator's state as the admin API answers it."""
    r = requests.get(f"{sandbox.url}/_sandbox/state/mautic", timeout=30)
    assert r.status_code == 200
    return r.json()


def upsert(sandbox, tmp_path, settings: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """ROWS upserted into an empty Mautic with these emulator settings, in batches of 200."""
    sandbox.reset(empty=True)
    sandbox.emulator("mautic").settings.update(settings)
    op = UpsertContactsOperator(
        task_id="up",
        conn_id="mautic_default",
        rows=[dict(row) for row in ROWS],
        batch_size=200,
        rejects_path=str(tmp_path / "rejects.ndjson"),
        **kwargs,
    )
    return op.execute(context(tmp_path))


def test_four_gets_from_four_threads_are_in_the_emulator_together(sandbox):
    r = requests.patch(f"{sandbox.url}/_sandbox/settings/mautic", json={"overlap_gate": 4}, timeout=30)
    assert r.status_code == 200 and r.json()["overlap_gate"] == 4
    base = sandbox.base_url("mautic")

    def get(_: int) -> int:
        return api("GET", base, "contacts", params={"limit": 1}, timeout=30).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(get, range(4))) == [200] * 4
    assert (state(sandbox)["max_in_flight"], state(sandbox)["in_flight"]) == (4, 0)
    assert len(vendor_calls(sandbox, "/api/contacts")) == 4
    # a reset clears the figures and the setting
    sandbox.reset()
    after = state(sandbox)
    assert (after["max_in_flight"], after["in_flight"], after["settings"]["overlap_gate"]) == (0, 0, 0)


def test_upsert_with_four_active_requests_keeps_four_batches_in_flight(sandbox, tmp_path):
    # the first four batches open the gate together; the fifth goes out only once one of them
    # has been answered, so it never finds more than three others in the emulator
    summary = upsert(sandbox, tmp_path, {"overlap_gate": 4}, max_active_requests=4)
    assert (summary["created"], summary["batches"], summary["requests"], summary["rejected"]) == (
        1000,
        5,
        6,
        0,
    )
    calls = sandbox.requests("mautic")
    assert [(r["method"], r["path"].rsplit("/api/", 1)[1]) for r in calls] == [("GET", "fields/contact")] + [
        ("POST", "contacts/batch/new")
    ] * 5
    assert (state(sandbox)["max_in_flight"], state(sandbox)["in_flight"]) == (4, 0)


def test_the_default_upsert_has_one_request_in_flight(sandbox, tmp_path):
    # a per-request cost gives a concurrent client the room to overlap; the default one does not
    summary = upsert(sandbox, tmp_path, {"request_overhead_ms": 5})
    assert (summary["created"], summary["batches"], summary["requests"]) == (1000, 5, 6)  # + the fields read
    assert len(vendor_calls(sandbox, "contacts/batch/new")) == 5
    assert (state(sandbox)["max_in_flight"], state(sandbox)["in_flight"]) == (1, 0)
