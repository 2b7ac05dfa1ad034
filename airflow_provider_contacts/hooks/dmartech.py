"""Dmartech open platform hook: signed requests (``access-key`` + ``access-sign``)."""

from __future__ import annotations

from airflow_provider_contacts.hooks.base import ContactsHook
from airflow_provider_contacts.transport import TransportSettings


class DmartechHook(ContactsHook):
    conn_name_attr = "conn_id"
    default_conn_name = "dmartech_default"
    conn_type = "dmartech"
    hook_name = "Dmartech Open Platform"
    default_base_url = "https://api.dmartech.cn/openapi"
    transport_defaults = TransportSettings(rate_per_second=20)
