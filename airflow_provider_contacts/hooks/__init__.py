"""Vendor hooks, one module per vendor, and the connection-type registry."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from airflow_provider_contacts.exceptions import (
    ContactsConfigError,
    UnsupportedActionError,
    connection_not_found,
)

if TYPE_CHECKING:
    from airflow_provider_contacts.hooks.base import ContactsHook

#: connection type -> hook class path (the same table feeds get_provider_info)
HOOK_CLASSES: dict[str, str] = {
    "mautic": "airflow_provider_contacts.hooks.mautic.hook.MauticHook",
    "dmartech": "airflow_provider_contacts.hooks.dmartech.DmartechHook",
    "engagelab": "airflow_provider_contacts.hooks.engagelab.EngageLabHook",
    "which50": "airflow_provider_contacts.hooks.which50.Which50Hook",
}


def hook_class(conn_type: str) -> type[ContactsHook]:
    path = HOOK_CLASSES[conn_type]
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def get_hook(conn_id: str, **hook_kwargs) -> ContactsHook:
    """The hook for a connection id, chosen by the connection's type (fetched now)."""
    from airflow.sdk import BaseHook

    from airflow_provider_contacts._compat import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise connection_not_found(conn_id) from None
    conn_type = (conn.conn_type or "").replace("-", "_")
    if conn_type not in HOOK_CLASSES:
        raise ContactsConfigError(
            f"connection type {conn.conn_type!r} is not a contacts platform; use one of "
            f"{', '.join(sorted(HOOK_CLASSES))}",
            conn_id=conn_id,
        )
    hook = hook_class(conn_type)(conn_id, **hook_kwargs)
    hook.use_connection(conn)
    return hook


def types_supporting(capability: str) -> list[str]:
    from airflow_provider_contacts.capabilities import CAPABILITIES

    proto = CAPABILITIES[capability]
    return [t for t in sorted(HOOK_CLASSES) if _class_implements(hook_class(t), proto)]


def _class_implements(cls: type, proto: type) -> bool:
    names = getattr(proto, "__protocol_attrs__", None)
    if names is None:  # Python < 3.12
        import typing

        names = typing._get_protocol_attrs(proto)  # type: ignore[attr-defined]
    return all(hasattr(cls, n) for n in names)


def require_capability(hook: ContactsHook, capability: str, action: str):
    """Return ``hook`` if it can do ``capability``, else raise a clear error."""
    from airflow_provider_contacts.capabilities import CAPABILITIES

    if _class_implements(type(hook), CAPABILITIES[capability]):
        return hook
    raise UnsupportedActionError(
        f"{hook.hook_name} ({hook.conn_type}) cannot {action}; connection types that can: "
        f"{', '.join(types_supporting(capability)) or 'none'}",
        conn_id=hook.conn_id,
    )
