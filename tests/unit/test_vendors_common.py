"""What every vendor shares, without a server: the capability table, and an event that cannot
be read is counted and logged."""

from __future__ import annotations

from airflow_provider_contacts.hooks import types_supporting


def test_capability_table():
    assert types_supporting("upsert") == ["engagelab", "mautic", "which50"]
    assert types_supporting("activity") == ["dmartech", "engagelab", "mautic", "which50"]
    assert types_supporting("point_groups") == ["mautic"]
    assert types_supporting("do_not_contact") == ["mautic"]
    assert types_supporting("list_contacts") == ["dmartech", "engagelab", "mautic"]


def test_an_event_that_cannot_be_read_is_counted_and_logged_for_every_vendor(caplog):
    """What each vendor's normaliser cannot read is skipped, counted and logged, never dropped
    silently (the activity operator reports the count as ``unreadable_events``)."""
    from zoneinfo import ZoneInfo

    from airflow_provider_contacts.hooks.dmartech import DmartechHook
    from airflow_provider_contacts.hooks.dmartech_wire import normalise_event as dmartech_event
    from airflow_provider_contacts.hooks.mautic.hook import MauticHook
    from airflow_provider_contacts.hooks.mautic.wire import normalise_event as mautic_event

    mautic = MauticHook("mautic_default")
    raws = [
        {"event": "page.hit", "eventId": "1", "timestamp": "2026-11-20T09:00:00+00:00", "contactId": 7},
        {"event": "page.hit", "eventId": "2"},
        {"event": "page.hit", "eventId": "3", "timestamp": "soon"},
    ]
    with caplog.at_level("WARNING"):
        read = list(mautic.read_events(raws, mautic_event))
    assert [e.event_id for e in read] == ["1"] and mautic.unreadable_events == 2
    assert any("page.hit:3: timestamp 'soon' is not a date-time" in r.getMessage() for r in caplog.records)

    dmartech = DmartechHook("dmartech_default")
    tz = ZoneInfo("Asia/Shanghai")
    raws = [
        {
            "eventName": "email_open",
            "attributes": [{"attributeName": "event_date", "attributeValue": "2026-11-20 17:00:00"}],
        },
        {"attributes": []},
        {
            "eventName": "email_open",
            "attributes": [{"attributeName": "event_date", "attributeValue": "yesterday"}],
        },
    ]
    read = list(dmartech.read_events(raws, lambda raw: dmartech_event(raw, "c1", tz)))
    assert [e.occurred_at.hour for e in read] == [9] and dmartech.unreadable_events == 2
