"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

Connection forms are declarative (``conn-fields`` / ``ui-field-behaviour``) so the UI knows
them without importing a hook: they are generated from the connection types' extras models
(:mod:`~airflow_provider_contacts.hooks.registry`), which the hooks also read the extras with,
so the ``minimum`` / ``maximum`` a form shows are the ones the hooks enforce.
``package-name`` must equal the canonical distribution name.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts import __version__
from airflow_provider_contacts.hooks.extras import ConnExtras
from airflow_provider_contacts.hooks.registry import connection_types

#: the transport options every connection type accepts (README: "Connection options")
COMMON_FIELDS = ConnExtras.conn_fields()
#: ``connection-types``: one per extras model, with its form
CONNECTION_TYPES: list[dict[str, Any]] = connection_types()


#: integration name, its documentation, its hook module under ``airflow_provider_contacts.hooks``
INTEGRATIONS = (
    ("Mautic", "https://developer.mautic.org/", "mautic"),
    ("Dmartech", "https://www.dmartech.cn/", "dmartech"),
    ("EngageLab LiveDesk", "https://www.engagelab.com/docs/livedesk/rest-api/rest-api-overview", "engagelab"),
    ("Which50", "https://app.which50.com/Which50API/documentation", "which50"),
)

#: the ``[contacts]`` section of Airflow's configuration
CONFIG: dict[str, Any] = {
    "contacts": {
        "description": "Settings of the contacts provider (Mautic, Dmartech, EngageLab LiveDesk, Which50).",
        "options": {
            "storage_base": {
                "description": (
                    "Where the provider's operators write the files one task hands to the next "
                    "(activity NDJSON, rejects files, the points ledger when the task state store is "
                    "not available): a local folder, or an ObjectStoragePath URI such as "
                    "s3://bucket/airflow-contacts. Leave empty for a temporary folder on the worker, "
                    "which is only right when every task runs on the same machine."
                ),
                "version_added": "0.2.0",
                "type": "string",
                "example": "s3://my-bucket/airflow-contacts",
                "default": "",
            },
        },
    },
}


def _modules(integration: str, *modules: str) -> list[dict[str, Any]]:
    return [{"integration-name": integration, "python-modules": list(modules)}]


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-contacts",
        "name": "Contacts (Mautic, Dmartech, EngageLab LiveDesk, Which50)",
        "description": "Hooks, operators, sensors and triggers for contact and marketing platforms.",
        "versions": [__version__],
        "connection-types": CONNECTION_TYPES,
        "integrations": [
            {"integration-name": name, "external-doc-url": url, "tags": ["service"]}
            for name, url, _module in INTEGRATIONS
        ],
        "hooks": [
            _modules(name, f"airflow_provider_contacts.hooks.{module}")[0]
            for name, _url, module in INTEGRATIONS
        ],
        "operators": _modules(
            "Mautic",
            "airflow_provider_contacts.operators.upsert",
            "airflow_provider_contacts.operators.do_not_contact",
            "airflow_provider_contacts.operators.point_groups",
            "airflow_provider_contacts.operators.activity",
            "airflow_provider_contacts.operators.audience",
        ),
        "sensors": _modules("Mautic", "airflow_provider_contacts.sensors.contact_events"),
        "triggers": _modules("Mautic", "airflow_provider_contacts.triggers.contact_events"),
        "extra-links": ["airflow_provider_contacts.links.VendorContactLink"],
        "config": CONFIG,
    }
