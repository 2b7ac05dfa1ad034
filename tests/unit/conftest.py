"""Fixtures only the unit tests use (the root conftest.py sets up Airflow for both)."""

from __future__ import annotations

import pytest


@pytest.fixture
def hook_meta() -> dict:
    """The connection forms as Airflow's API server hands them to the UI, by connection type.
    Airflow 3.1 builds them only when the hooks are first imported there (with its stand-ins for
    WTForms), so on 3.1 the providers manager starts afresh."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    from airflow_provider_contacts._compat import AIRFLOW_V_3_2_PLUS

    if not AIRFLOW_V_3_2_PLUS:
        import sys
        from unittest.mock import MagicMock

        from airflow.providers_manager import ProvidersManager

        ProvidersManager()._cleanup()
        HookMetaService.hook_meta_data.cache_clear()
        # the stand-in modules a previous call left behind make the next one fail
        for name in [n for n, module in sys.modules.items() if isinstance(module, MagicMock)]:
            del sys.modules[name]
    return {m.connection_type: m for m in HookMetaService.hook_meta_data()}
