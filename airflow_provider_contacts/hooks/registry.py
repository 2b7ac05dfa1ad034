"""The connection types, written once: each vendor's extras model declares its connection type
(name, hook class, form labels) and its extras; :data:`MODELS` lists them. From here come
``get_provider_info()``'s connection types and forms, the hook classes' ``conn_type`` /
``hook_name`` / ``default_conn_name``, the README's extras tables, and the connection type ->
hook resolution (:func:`get_hook`, :func:`require_capability`).

Importing this module imports no hook (the hooks are named by path) and nothing of Airflow:
``get_provider_info``, which Airflow imports while it reads its configuration, stays cheap and
free of import cycles.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.hooks.extras import ConnectionType, ConnExtras
from airflow_provider_contacts.hooks.fields import MAX_ID, Choice, Integer, Number, Text

if TYPE_CHECKING:
    from airflow_provider_contacts.hooks.base import ContactsHook

_PORT = {"port": "optional, e.g. 443"}
_BASIC = {"login": "Username (Basic auth)", "password": "Password (Basic auth)"}


class MauticExtras(ConnExtras):
    connection = ConnectionType("mautic", "Mautic", "mautic.hook.MauticHook")
    auth_type = Choice(
        "Auth type",
        "basic = Mautic user + password; oauth2 = client credentials.",
        default="basic",
        choices=("basic", "oauth2"),
    )
    client_id = Text("OAuth2 client id", "Public id of the API credential (oauth2).")
    client_secret = Text("OAuth2 client secret", "Secret of the API credential (oauth2).", secret=True)
    batch_limit = Integer(
        "Batch limit", "Items per batch request (server api_batch_max_limit).", default=200, within=(1, 10000)
    )
    relabeling = {"host": "Mautic base URL", **_BASIC}
    placeholders = {"host": "https://mautic.example.com", "login": "API user (Basic auth only)", **_PORT}


class DmartechExtras(ConnExtras):
    connection = ConnectionType("dmartech", "Dmartech Open Platform", "dmartech.DmartechHook")
    timezone = Text(
        "Tenant time zone",
        "IANA zone of the dates in Dmartech payloads (undocumented; presumably China time).",
        default="Asia/Shanghai",
    )
    list_page_size = Integer(
        "List page size",
        "Contacts per list request (the maximum is undocumented).",
        default=100,
        within=(1, 1000),
    )
    max_active_requests = Integer(
        "Parallel contacts",
        "Contacts whose events are fetched at once (under the rate limit).",
        default=4,
        within=(1, 32),
    )
    rate_limit_per_second = Number(
        "Client rate limit (requests/s)",
        "Dmartech allows 20 calls per second; 0 = no client limit.",
        default=20,
        within=(0, 10000),
    )
    relabeling = {"host": "API base URL", "login": "Access key", "password": "Access key secret"}
    placeholders = {"host": "https://api.dmartech.cn/openapi", **_PORT}


class EngageLabExtras(ConnExtras):
    connection = ConnectionType("engagelab", "EngageLab LiveDesk", "engagelab.EngageLabHook")
    inbox_id = Integer(
        "Inbox (channel) id",
        "Channel id used when creating contacts (Project Settings > Channels).",
        within=(1, MAX_ID),
    )
    sort_style = Choice(
        "Sort style",
        "direction = sort=field&direction=desc (documented); prefix = sort=-field (Chatwoot).",
        default="direction",
        choices=("direction", "prefix"),
    )
    relabeling = {"host": "API base URL", "login": "API key", "password": "API secret"}
    placeholders = {"host": "https://livedesk-api.engagelab.com", **_PORT}


class Which50Extras(ConnExtras):
    connection = ConnectionType("which50", "Which50", "which50.Which50Hook")
    auth_type = Choice(
        "Auth type",
        "The vendor does not document its scheme: a header or Basic.",
        default="header",
        choices=("header", "basic"),
    )
    # not "auth_header_name": Airflow hides (and its form pre-fills as ***) every extra whose
    # name contains a sensitive word such as "auth_header"; only secrets may
    header_name = Text(
        "Header name",
        "Header carrying the API key (auth type header). Formerly auth_header_name.",
        default="X-Api-Key",
        formerly=("auth_header_name",),
    )
    # not "auth_header_value" (still read): Airflow 3.1 does not count "auth_header" as
    # sensitive, so its API showed that value; every version hides "api_key"
    api_key = Text(
        "API key (header value)",
        "The API key. Formerly auth_header_value.",
        secret=True,
        formerly=("auth_header_value",),
    )
    contact_list_id = Integer(
        "Contact list id",
        "List that upserts write to (hook_params={'contact_list_id': N} overrides).",
        within=(1, MAX_ID),
    )
    relabeling = {"host": "API base URL", **_BASIC}
    placeholders = {"host": "https://app.which50.com/Which50API", **_PORT}


#: every connection type of the provider, in the order Airflow lists them
MODELS: tuple[type[ConnExtras], ...] = (MauticExtras, DmartechExtras, EngageLabExtras, Which50Extras)
CONN_TYPES: tuple[str, ...] = tuple(m.connection.conn_type for m in MODELS if m.connection)


def connection_types() -> list[dict[str, Any]]:
    """``get_provider_info()["connection-types"]``: each model's connection type and form."""
    return [m.provider_info() for m in MODELS]


# ---- connection type -> hook --------------------------------------------------------------------
def hook_class(conn_type: str) -> type[ContactsHook]:
    connection = ConnExtras.model_for(conn_type).connection
    if connection is None:
        raise KeyError(conn_type)
    module, _, name = connection.hook_class_name.rpartition(".")
    return getattr(import_module(module), name)


def hook_for(conn: Any, conn_id: str, **hook_kwargs: Any) -> ContactsHook:
    """The hook of an already fetched connection, chosen by its type; a clear error for a type
    that is not one of this provider's."""
    from airflow_provider_contacts.exceptions import ContactsConfigError

    conn_type = (conn.conn_type or "").replace("-", "_")
    if conn_type not in CONN_TYPES:
        raise ContactsConfigError(
            f"connection type {conn.conn_type!r} is not a contacts platform; use one of "
            f"{', '.join(sorted(CONN_TYPES))}",
            conn_id=conn_id,
        )
    hook = hook_class(conn_type)(conn_id, **hook_kwargs)  # imports the vendor's module
    hook.use_connection(conn)
    return hook


def get_hook(conn_id: str, **hook_kwargs: Any) -> ContactsHook:
    """The hook for a connection id, chosen by the connection's type (fetched now).

    Not Airflow's ``Connection.get_hook()``: that discovers every installed provider, builds the
    hook from the conn_id alone (which fetches the connection a second time) and raises
    "Unknown hook type" rather than naming this provider's connection types."""
    from airflow.sdk import BaseHook

    from airflow_provider_contacts._compat import AirflowNotFoundException
    from airflow_provider_contacts.exceptions import connection_not_found

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise connection_not_found(conn_id) from None
    return hook_for(conn, conn_id, **hook_kwargs)


# ---- capabilities -------------------------------------------------------------------------------
def types_supporting(capability: str) -> list[str]:
    from airflow_provider_contacts.capabilities import CAPABILITIES

    proto = CAPABILITIES[capability]
    return [t for t in sorted(CONN_TYPES) if _class_implements(hook_class(t), proto)]


def _class_implements(cls: type, proto: type) -> bool:
    names = getattr(proto, "__protocol_attrs__", None)
    if names is None:  # Python < 3.12
        import typing

        names = typing._get_protocol_attrs(proto)  # type: ignore[attr-defined]
    return all(hasattr(cls, n) for n in names)


def require_capability(hook: ContactsHook, capability: str, action: str) -> Any:
    """Return ``hook`` if it can do ``capability``, else raise a clear error."""
    from airflow_provider_contacts.capabilities import CAPABILITIES
    from airflow_provider_contacts.exceptions import UnsupportedActionError

    if _class_implements(type(hook), CAPABILITIES[capability]):
        return hook
    raise UnsupportedActionError(
        f"{hook.hook_name} ({hook.conn_type}) cannot {action}; connection types that can: "
        f"{', '.join(types_supporting(capability)) or 'none'}",
        conn_id=hook.conn_id,
    )
