"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

Connection forms are declarative (``conn-fields`` / ``ui-field-behaviour``) so the UI knows
them without importing a hook. ``package-name`` must equal the canonical distribution name.

The ``minimum`` / ``maximum`` of every numeric field are also what the hooks enforce when they
read the extra (:class:`~airflow_provider_contacts.hooks.extras.ConnExtras`): one table for the
form and for the check.

Extra names must not contain one of Airflow's sensitive words (``auth_header``, ``api_key``,
``token``, ``secret``, ``password``...) unless the value is a secret: Airflow hides such values
in its forms and API (tests/test_connection_forms.py checks every field).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts import __version__

#: the largest id a vendor may hand out that we accept (a signed 64-bit integer)
MAX_ID = 2**63 - 1


def _field(
    label: str,
    type_: str,
    description: str,
    *,
    default: Any = None,
    enum=None,
    secret=False,
    minimum: float | None = None,
    maximum: float | None = None,
):
    schema: dict[str, Any] = {"type": [type_, "null"]}
    if default is not None:
        schema["default"] = default
    if enum:
        schema["enum"] = enum
    if secret:
        schema["format"] = "password"
    if type_ in ("integer", "number"):
        if minimum is None or maximum is None:
            raise ValueError(f"numeric field {label!r} needs a minimum and a maximum")
        schema["minimum"], schema["maximum"] = minimum, maximum
    return {"label": label, "description": description, "schema": schema}


# Transport options every connection type accepts (README: "Connection options").
COMMON_FIELDS = {
    "timeout": _field(
        "Read timeout (s)",
        "number",
        "Seconds to wait for an answer.",
        default=120,
        minimum=0.001,
        maximum=3600,
    ),
    "connect_timeout": _field(
        "Connect timeout (s)",
        "number",
        "Seconds to wait for a connection.",
        default=10,
        minimum=0.001,
        maximum=600,
    ),
    "max_retries": _field(
        "Max retries",
        "integer",
        "Retries on 429/502/503/504, dropped connections and timeouts.",
        default=4,
        minimum=0,
        maximum=50,
    ),
    "retry_backoff_seconds": _field(
        "First retry wait (s)",
        "number",
        "Backoff before the first retry; doubles each time, capped at 30 s.",
        default=0.5,
        minimum=0,
        maximum=300,
    ),
    "retry_max_wait_seconds": _field(
        "Longest retry wait (s)",
        "number",
        "A wait (also one the server asks for) longer than this is not made.",
        default=300,
        minimum=0,
        maximum=86400,
    ),
    "retry_total_seconds": _field(
        "Retry budget (s)",
        "number",
        "Time one call may spend on retries before its error is raised.",
        default=600,
        minimum=0,
        maximum=86400,
    ),
    "rate_limit_per_second": _field(
        "Client rate limit (requests/s)",
        "number",
        "Optional client-side limit; empty or 0 = none.",
        minimum=0,
        maximum=10000,
    ),
    "rate_limit_per_hour": _field(
        "Client rate limit (requests/hour)",
        "integer",
        "Optional client-side limit; empty = none.",
        minimum=1,
        maximum=10_000_000,
    ),
    "verify_ssl": _field("Verify TLS", "boolean", "Verify the server certificate.", default=True),
    "allow_insecure_http": _field(
        "Allow plain http://",
        "boolean",
        "Allow http:// to a non-loopback host (credentials travel unencrypted).",
        default=False,
    ),
}

CONNECTION_TYPES: list[dict[str, Any]] = [
    {
        "connection-type": "mautic",
        "hook-class-name": "airflow_provider_contacts.hooks.mautic.hook.MauticHook",
        "hook-name": "Mautic",
        "ui-field-behaviour": {
            "hidden-fields": ["schema"],
            "relabeling": {
                "host": "Mautic base URL",
                "login": "Username (Basic auth)",
                "password": "Password (Basic auth)",
            },
            "placeholders": {
                "host": "https://mautic.example.com",
                "login": "API user (Basic auth only)",
                "port": "optional, e.g. 443",
            },
        },
        "conn-fields": {
            "auth_type": _field(
                "Auth type",
                "string",
                "basic = Mautic user + password; oauth2 = client credentials.",
                default="basic",
                enum=["basic", "oauth2"],
            ),
            "client_id": _field("OAuth2 client id", "string", "Public id of the API credential (oauth2)."),
            "client_secret": _field(
                "OAuth2 client secret", "string", "Secret of the API credential (oauth2).", secret=True
            ),
            "batch_limit": _field(
                "Batch limit",
                "integer",
                "Items per batch request (server api_batch_max_limit).",
                default=200,
                minimum=1,
                maximum=10000,
            ),
            **COMMON_FIELDS,
        },
    },
    {
        "connection-type": "dmartech",
        "hook-class-name": "airflow_provider_contacts.hooks.dmartech.DmartechHook",
        "hook-name": "Dmartech Open Platform",
        "ui-field-behaviour": {
            "hidden-fields": ["schema"],
            "relabeling": {"host": "API base URL", "login": "Access key", "password": "Access key secret"},
            "placeholders": {"host": "https://api.dmartech.cn/openapi", "port": "optional, e.g. 443"},
        },
        "conn-fields": {
            "timezone": _field(
                "Tenant time zone",
                "string",
                "IANA zone of the dates in Dmartech payloads (undocumented; presumably China time).",
                default="Asia/Shanghai",
            ),
            "list_page_size": _field(
                "List page size",
                "integer",
                "Contacts per list request (the maximum is undocumented).",
                default=100,
                minimum=1,
                maximum=1000,
            ),
            "max_active_requests": _field(
                "Parallel contacts",
                "integer",
                "Contacts whose events are fetched at once (under the rate limit).",
                default=4,
                minimum=1,
                maximum=32,
            ),
            **COMMON_FIELDS,
            "rate_limit_per_second": _field(
                "Client rate limit (requests/s)",
                "number",
                "Dmartech allows 20 calls per second; 0 = no client limit.",
                default=20,
                minimum=0,
                maximum=10000,
            ),
        },
    },
    {
        "connection-type": "engagelab",
        "hook-class-name": "airflow_provider_contacts.hooks.engagelab.EngageLabHook",
        "hook-name": "EngageLab LiveDesk",
        "ui-field-behaviour": {
            "hidden-fields": ["schema"],
            "relabeling": {"host": "API base URL", "login": "API key", "password": "API secret"},
            "placeholders": {"host": "https://livedesk-api.engagelab.com", "port": "optional, e.g. 443"},
        },
        "conn-fields": {
            "inbox_id": _field(
                "Inbox (channel) id",
                "integer",
                "Channel id used when creating contacts (Project Settings > Channels).",
                minimum=1,
                maximum=MAX_ID,
            ),
            "sort_style": _field(
                "Sort style",
                "string",
                "direction = sort=field&direction=desc (documented); prefix = sort=-field (Chatwoot).",
                default="direction",
                enum=["direction", "prefix"],
            ),
            **COMMON_FIELDS,
        },
    },
    {
        "connection-type": "which50",
        "hook-class-name": "airflow_provider_contacts.hooks.which50.Which50Hook",
        "hook-name": "Which50",
        "ui-field-behaviour": {
            "hidden-fields": ["schema"],
            "relabeling": {
                "host": "API base URL",
                "login": "Username (Basic auth)",
                "password": "Password (Basic auth)",
            },
            "placeholders": {"host": "https://app.which50.com/Which50API", "port": "optional, e.g. 443"},
        },
        "conn-fields": {
            "auth_type": _field(
                "Auth type",
                "string",
                "The vendor does not document its scheme: a header or Basic.",
                default="header",
                enum=["header", "basic"],
            ),
            # not "auth_header_name": Airflow hides (and its form pre-fills as ***) every extra
            # whose name contains a sensitive word such as "auth_header"; only secrets may
            "header_name": _field(
                "Header name",
                "string",
                "Header carrying the API key (auth type header). Formerly auth_header_name.",
                default="X-Api-Key",
            ),
            # not "auth_header_value" (still read): Airflow 3.1 does not count "auth_header" as
            # sensitive, so its API showed that value; every version hides "api_key"
            "api_key": _field(
                "API key (header value)", "string", "The API key. Formerly auth_header_value.", secret=True
            ),
            "contact_list_id": _field(
                "Contact list id",
                "integer",
                "List that upserts write to (hook_params={'contact_list_id': N} overrides).",
                minimum=1,
                maximum=MAX_ID,
            ),
            **COMMON_FIELDS,
        },
    },
]


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-contacts",
        "name": "Contacts (Mautic, Dmartech, EngageLab LiveDesk, Which50)",
        "description": "Hooks, operators, sensors and triggers for contact and marketing platforms.",
        "versions": [__version__],
        "connection-types": CONNECTION_TYPES,
        "integrations": [
            {"integration-name": name, "external-doc-url": url, "tags": ["service"]}
            for name, url in (
                ("Mautic", "https://developer.mautic.org/"),
                ("Dmartech", "https://www.dmartech.cn/"),
                ("EngageLab LiveDesk", "https://www.engagelab.com/docs/livedesk/rest-api/rest-api-overview"),
                ("Which50", "https://app.which50.com/Which50API/documentation"),
            )
        ],
        "hooks": [
            {"integration-name": name, "python-modules": [f"airflow_provider_contacts.hooks.{mod}"]}
            for name, mod in (
                ("Mautic", "mautic"),
                ("Dmartech", "dmartech"),
                ("EngageLab LiveDesk", "engagelab"),
                ("Which50", "which50"),
            )
        ],
        "operators": [
            {
                "integration-name": "Mautic",
                "python-modules": [
                    "airflow_provider_contacts.operators.upsert",
                    "airflow_provider_contacts.operators.do_not_contact",
                    "airflow_provider_contacts.operators.point_groups",
                    "airflow_provider_contacts.operators.activity",
                    "airflow_provider_contacts.operators.audience",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Mautic",
                "python-modules": ["airflow_provider_contacts.sensors.contact_events"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Mautic",
                "python-modules": ["airflow_provider_contacts.triggers.contact_events"],
            }
        ],
        "extra-links": ["airflow_provider_contacts.links.VendorContactLink"],
        "config": {
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
        },
    }
