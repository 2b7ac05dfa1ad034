"""The provider's action operators, one module per action.

The operators can be imported from here (``from airflow_provider_contacts.operators import
UpsertContactsOperator``) or from their modules; a name is loaded on first use, so importing
the package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_contacts.operators.activity import FetchContactActivityOperator
    from airflow_provider_contacts.operators.audience import SetAudienceMembershipOperator
    from airflow_provider_contacts.operators.do_not_contact import DoNotContactOperator
    from airflow_provider_contacts.operators.point_groups import AdjustPointGroupsOperator
    from airflow_provider_contacts.operators.upsert import UpsertContactsOperator

_MODULES = {
    "UpsertContactsOperator": "upsert",
    "DoNotContactOperator": "do_not_contact",
    "AdjustPointGroupsOperator": "point_groups",
    "FetchContactActivityOperator": "activity",
    "SetAudienceMembershipOperator": "audience",
}

__all__ = [
    "AdjustPointGroupsOperator",
    "DoNotContactOperator",
    "FetchContactActivityOperator",
    "SetAudienceMembershipOperator",
    "UpsertContactsOperator",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
