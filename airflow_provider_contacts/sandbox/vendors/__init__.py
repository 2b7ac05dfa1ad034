"""The vendor emulators served by the sandbox."""

from __future__ import annotations

from airflow_provider_contacts.sandbox.vendors.dmartech import DmartechEmulator
from airflow_provider_contacts.sandbox.vendors.echo import EchoEmulator
from airflow_provider_contacts.sandbox.vendors.engagelab import EngageLabEmulator
from airflow_provider_contacts.sandbox.vendors.mautic import MauticEmulator
from airflow_provider_contacts.sandbox.vendors.which50 import Which50Emulator

EMULATORS = {
    "mautic": MauticEmulator,
    "dmartech": DmartechEmulator,
    "engagelab": EngageLabEmulator,
    "which50": Which50Emulator,
    "echo": EchoEmulator,
}
