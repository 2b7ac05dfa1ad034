"""The Mautic hook (:class:`airflow_provider_contacts.hooks.mautic.hook.MauticHook`) and its parts.

``from airflow_provider_contacts.hooks.mautic import MauticHook`` works: the name is loaded on
first use, so importing one part of the package (e.g. its wire formats) does not load the hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_contacts.hooks.mautic.hook import MauticHook

__all__ = ["MauticHook"]


def __getattr__(name: str) -> Any:
    if name == "MauticHook":
        from airflow_provider_contacts.hooks.mautic.hook import MauticHook

        return MauticHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
