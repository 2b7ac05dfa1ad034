"""The sandbox's fault injection alone: rates are seeded and proportional."""

from __future__ import annotations

from airflow_provider_contacts.sandbox.faults import FaultConfig, FaultInjector


def test_fault_rates_are_seeded_and_proportional():
    def run(seed):
        injector = FaultInjector(FaultConfig(rate_429=0.1, rate_5xx=0.1, rate_drop=0.1), seed=seed)
        return [injector.decide("echo", "GET", "/x") for _ in range(3000)]

    first = run(7)
    assert first == run(7)
    statuses = [a.get("status") or a.get("drop") for a in first if a]
    for kind in (429, 503, "drop"):
        assert 240 <= statuses.count(kind) <= 360
