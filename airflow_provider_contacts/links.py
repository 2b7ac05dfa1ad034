"""Operator extra link: the vendor's page for what a task changed.

Airflow 3 serialises an operator's links as (name, XCom key); the API server shows the URL the
task stored under that key. The worker stores it when the task ends: it asks each link's
``get_link`` with the operator that ran and pushes the answer under the link's key (a task
with nothing to link gets an empty link). So the link is the operator's own: the action
operators keep the page of the contact when the task touched exactly one contact, else the
vendor's contact list (Mautic ``/s/contacts/view/{id}`` and ``/s/contacts``). ``get_link`` never
reads an XCom: a task that touched no contact has none, and reading it logged a false
``XCom not found`` ERROR at the end of a successful task. Vendors whose console URLs are
undocumented (Dmartech, LiveDesk, Which50) get no link.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink

#: the operator attribute that holds the URL (set by :func:`publish_link`)
LINK_ATTRIBUTE = "_vendor_contact_link"


class VendorContactLink(BaseOperatorLink):
    name = "Contacts in the vendor"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return str(getattr(operator, "__dict__", {}).get(LINK_ATTRIBUTE) or "")


def publish_link(operator: Any, context: Any, url: str | None) -> None:
    """Keep ``url`` on ``operator`` for :class:`VendorContactLink` (Airflow stores it under the
    link's XCom key when the task ends) and store it there now as well (no-op without a URL;
    the XCom needs a real task instance)."""
    if not url:
        return
    operator.__dict__[LINK_ATTRIBUTE] = url
    ti = context.get("ti") if context else None
    if ti is not None and hasattr(ti, "xcom_push"):
        ti.xcom_push(key=VendorContactLink().xcom_key, value=url)
