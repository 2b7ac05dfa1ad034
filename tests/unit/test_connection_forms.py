"""Airflow's connection forms and API mask exactly the secret extras of the four connection
types (Airflow hides the value of any extra whose name contains a sensitive word such as
``auth_header``, so a setting that is not secret must not be named so)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_contacts.get_provider_info import CONNECTION_TYPES


def _extras() -> list[tuple[str, str, bool]]:
    return [
        (c["connection-type"], name, field["schema"].get("format") == "password")
        for c in CONNECTION_TYPES
        for name, field in c["conn-fields"].items()
    ]


@pytest.mark.parametrize("conn_type, name, secret", _extras(), ids=[f"{t}.{n}" for t, n, _ in _extras()])
def test_airflow_masks_exactly_the_secret_extras(conn_type, name, secret):
    from airflow._shared.secrets_masker import DEFAULT_SENSITIVE_FIELDS
    from airflow._shared.secrets_masker import should_hide_value_for_key as api_server_rule
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key as task_rule

    assert api_server_rule("password") and task_rule("password")  # the rule is switched on here
    for key in (name, f"extra__{conn_type}__{name}"):
        assert api_server_rule(key) is secret, key
        assert task_rule(key) is secret, key
        # the same with the built-in list alone, whatever [core] sensitive_var_conn_names adds
        normalised = key.lower().replace("-", "_")
        assert any(word in normalised for word in DEFAULT_SENSITIVE_FIELDS) is secret, key


def test_the_connection_form_prefills_no_mask_and_the_api_masks_only_secrets(hook_meta):
    from airflow.api_fastapi.core_api.datamodels.connections import ConnectionResponse

    metas = hook_meta
    assert metas["which50"].extra_fields["header_name"]["value"] == "X-Api-Key"
    for conn_type, name, _secret in _extras():
        field = metas[conn_type].extra_fields[name]
        assert field["value"] != "***", (conn_type, name)
    for conf in CONNECTION_TYPES:
        extra = {name: f"value-of-{name}" for name in conf["conn-fields"]}
        response = ConnectionResponse.model_validate(
            {
                "conn_id": "c",
                "conn_type": conf["connection-type"],
                "description": None,
                "host": None,
                "login": None,
                "schema": None,
                "port": None,
                "password": None,
                "extra": json.dumps(extra),
                "team_name": None,
            }
        )
        assert response.extra is not None
        shown = json.loads(response.extra)
        for name, field in conf["conn-fields"].items():
            expected = "***" if field["schema"].get("format") == "password" else f"value-of-{name}"
            assert shown[name] == expected, (conf["connection-type"], name)
