"""Operator extra link: the vendor's page for what a task changed.

Airflow 3 serialises an operator's links as (name, XCom key); the API server shows the URL the
task stored under that key. The action operators store the page of the contact when the task
touched exactly one contact, else the vendor's contact list (Mautic ``/s/contacts/view/{id}``
and ``/s/contacts``). Vendors whose console URLs are undocumented (Dmartech, LiveDesk, Which50)
get no link.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink


class VendorContactLink(BaseOperatorLink):
    name = "Contacts in the vendor"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.bases.xcom import BaseXCom

        return BaseXCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""


def publish_link(context: Any, url: str | None) -> None:
    """Store ``url`` for :class:`VendorContactLink` (no-op without a URL or a real task instance)."""
    ti = context.get("ti") if context else None
    if url and ti is not None and hasattr(ti, "xcom_push"):
        ti.xcom_push(key=VendorContactLink().xcom_key, value=url)
