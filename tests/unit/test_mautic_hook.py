"""MauticHook's reading of a batch answer, without a server (the hook against the emulator is in
tests/integration/test_mautic_hook.py)."""

from __future__ import annotations

from airflow_provider_contacts.hooks.mautic.wire import parse_batch


def test_parse_batch_accepts_lists_and_objects_keyed_by_index():
    as_object = parse_batch(
        {
            "contacts": {"0": {"id": 5}, "2": {"id": 6}},
            "statusCodes": [201, 400, 200],
            "errors": {"1": {"code": 400, "message": "email: x is invalid.", "type": None}},
        },
        3,
    )
    as_list = parse_batch(
        {
            "contacts": [{"id": 5}],
            "statusCodes": {"0": 200, "1": 404},
            "errors": [None, {"code": 404, "message": "Item was not found.", "type": "api"}],
        },
        2,
    )
    assert [(i.status, i.ok, i.contact and i.contact["id"], i.message) for i in as_object] == [
        (201, True, 5, None),
        (400, False, None, "email: x is invalid."),
        (200, True, 6, None),
    ]
    assert [(i.status, i.ok, i.error_type) for i in as_list] == [(200, True, None), (404, False, "api")]
