"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

Connection forms are declarative (``conn-fields`` / ``ui-field-behaviour``) so the UI knows
them without importing a hook. ``package-name`` must equal the canonical distribution name.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts import __version__


def _field(label: str, type_: str, description: str, *, default: Any = None, enum=None, secret=False):
    schema: dict[str, Any] = {"type": [type_, "null"]}
    if default is not None:
        schema["default"] = default
    if enum:
        schema["enum"] = enum
    if secret:
        schema["format"] = "password"
    return {"label": label, "description": description, "schema": schema}


# Transport options every connection type accepts (README: "Connection options").
_COMMON = {
    "timeout": _field("Read timeout (s)", "number", "Seconds to wait for an answer.", default=120),
    "connect_timeout": _field("Connect timeout (s)", "number", "Seconds to wait for a connection.", default=10),
    "max_retries": _field(
        "Max retries", "integer", "Retries on 429/502/503/504, dropped connections and timeouts.", default=4
    ),
    "rate_limit_per_second": _field(
        "Client rate limit (requests/s)", "number", "Optional client-side limit; empty = none."
    ),
    "rate_limit_per_hour": _field(
        "Client rate limit (requests/hour)", "integer", "Optional client-side limit; empty = none."
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
        "hook-class-name": "airflow_provider_contacts.hooks.mautic.MauticHook",
        "hook-name": "Mautic",
        "ui-field-behaviour": {
            "hidden-fields": ["schema"],
            "relabeling": {"host": "Mautic base URL", "login": "Username (Basic auth)", "password": "Password (Basic auth)"},
            "placeholders": {
                "host": "https://mautic.example.com",
                "login": "API user (Basic auth only)",
                "port": "optional, e.g. 443",
            },
        },
        "conn-fields": {
            "auth_type": _field(
                "Auth type", "string", "basic = Mautic user + password; oauth2 = client credentials.",
                default="basic", enum=["basic", "oauth2"],
            ),
            "client_id": _field("OAuth2 client id", "string", "Public id of the API credential (oauth2)."),
            "client_secret": _field("OAuth2 client secret", "string", "Secret of the API credential (oauth2).", secret=True),
            "batch_limit": _field(
                "Batch limit", "integer", "Items per batch request (server api_batch_max_limit).", default=200
            ),
            **_COMMON,
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
                "Tenant time zone", "string",
                "IANA zone of the dates in Dmartech payloads (undocumented; presumably China time).",
                default="Asia/Shanghai",
            ),
            "list_page_size": _field(
                "List page size", "integer", "Contacts per list request (the maximum is undocumented).", default=100
            ),
            "max_active_requests": _field(
                "Parallel contacts", "integer", "Contacts whose events are fetched at once (under the rate limit).",
                default=4,
            ),
            **_COMMON,
            "rate_limit_per_second": _field(
                "Client rate limit (requests/s)", "number", "Dmartech allows 20 calls per second.", default=20
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
                "Inbox (channel) id", "integer", "Channel id used when creating contacts (Project Settings > Channels)."
            ),
            "sort_style": _field(
                "Sort style", "string", "direction = sort=field&direction=desc (documented); prefix = sort=-field (Chatwoot).",
                default="direction", enum=["direction", "prefix"],
            ),
            **_COMMON,
        },
    },
    {
        "connection-type": "which50",
        "hook-class-name": "airflow_provider_contacts.hooks.which50.Which50Hook",
        "hook-name": "Which50",
        "ui-field-behaviour": {
            "hidden-fields": ["schema"],
            "relabeling": {"host": "API base URL", "login": "Username (Basic auth)", "password": "Password (Basic auth)"},
            "placeholders": {"host": "https://app.which50.com/Which50API", "port": "optional, e.g. 443"},
        },
        "conn-fields": {
            "auth_type": _field(
                "Auth type", "string", "The vendor does not document its scheme: a header or Basic.",
                default="header", enum=["header", "basic"],
            ),
            # not "auth_header_name": Airflow hides (and its form pre-fills as ***) every extra
            # whose name contains a sensitive word such as "auth_header"; only secrets may
            "header_name": _field(
                "Header name", "string", "Header carrying the API key (auth type header). Formerly auth_header_name.",
                default="X-Api-Key",
            ),
            "auth_header_value": _field("API key (header value)", "string", "The API key.", secret=True),
            "contact_list_id": _field(
                "Contact list id", "integer", "List that upserts write to (hook_params={'contact_list_id': N} overrides)."
            ),
            **_COMMON,
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
    }
