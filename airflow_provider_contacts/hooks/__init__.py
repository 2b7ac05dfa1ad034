"""Vendor hooks, one module per vendor; the connection types and the connection type -> hook
resolution are in :mod:`.registry` (re-exported here)."""

from __future__ import annotations

from airflow_provider_contacts.hooks.registry import (
    CONN_TYPES,
    get_hook,
    hook_class,
    hook_for,
    require_capability,
    types_supporting,
)

__all__ = ["CONN_TYPES", "get_hook", "hook_class", "hook_for", "require_capability", "types_supporting"]
