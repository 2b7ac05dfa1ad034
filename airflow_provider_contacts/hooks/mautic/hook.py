"""The Mautic hook: HTTP Basic or OAuth2 client credentials; REST API under ``<base>/api``.

One class made of the package's parts: :mod:`.base` (settings, auth, errors, Test Connection,
low-level calls), :mod:`.contacts`, :mod:`.audience` (segments and campaigns, on top of the
contacts), :mod:`.points` and :mod:`.activity` (the endpoints), with
Mautic's formats in :mod:`.wire`, its auth in :mod:`.auth` and its errors in :mod:`.errors`.
"""

from __future__ import annotations

from airflow_provider_contacts.hooks.mautic.activity import MauticActivity
from airflow_provider_contacts.hooks.mautic.audience import MauticAudience
from airflow_provider_contacts.hooks.mautic.points import MauticPoints


class MauticHook(MauticAudience, MauticPoints, MauticActivity):
    """Interact with a Mautic instance (4.x–7.x) through its REST API.

    Connection: Host = the Mautic base URL (a path prefix is kept, e.g.
    ``https://example.com/mautic``); extra ``auth_type`` = ``basic`` (Login/Password of a
    Mautic user, needs "Enable HTTP basic auth") or ``oauth2`` (``client_id`` and
    ``client_secret`` of API credentials created by an admin, client-credentials grant);
    ``batch_limit`` when the server raised ``api_batch_max_limit`` above 200.
    """
