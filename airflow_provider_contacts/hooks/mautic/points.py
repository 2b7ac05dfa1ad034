"""Mautic points: the legacy contact points and point groups (scores per group)."""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.hooks.mautic.base import MauticBase
from airflow_provider_contacts.hooks.mautic.wire import as_int, mautic_id
from airflow_provider_contacts.rules import check_adjustment, compute_score

log = logging.getLogger(__name__)

LEGACY_POINT_OPERATORS = ("plus", "minus", "times", "divide")


class MauticPoints(MauticBase):
    """The points endpoints of :class:`~.hook.MauticHook`."""

    def adjust_points(
        self,
        contact_id: int | str,
        op: str,
        delta: int,
        *,
        event_name: str | None = None,
        action_name: str | None = None,
    ) -> None:
        """Legacy ``POST /contacts/{id}/points/{op}/{delta}`` (plus, minus, times, divide).
        **Not idempotent**: never retried once sent. Prefer point groups with ``set``."""
        op, value = check_adjustment(op, delta, LEGACY_POINT_OPERATORS)
        body = {k: v for k, v in (("eventName", event_name), ("actionName", action_name)) if v}
        self._send(
            "POST",
            f"contacts/{mautic_id(contact_id)}/points/{op}/{value}",
            json=body or None,
            idempotent=False,
        )

    def list_point_groups(self) -> list[dict[str, Any]]:
        return list(
            self._entity_pages(
                "points/groups",
                "pointGroups",
                lambda start: {"start": start, "limit": 100, "orderBy": "id"},
                100,
            )
        )

    def get_point_group(self, group_id: int | str) -> dict[str, Any]:
        return self._get(f"points/groups/{mautic_id(group_id)}")["pointGroup"]

    def create_point_group(self, name: str, description: str | None = None) -> dict[str, Any]:
        body = {"name": name, **({"description": description} if description else {})}
        return self._send("POST", "points/groups/new", json=body)["pointGroup"]

    def resolve_point_group(self, group: int | str, groups: list[dict[str, Any]] | None = None) -> str:
        """A group id from an id or a name (exact, then case-insensitive)."""
        if isinstance(group, int) or (isinstance(group, str) and group.strip().isdigit()):
            return str(group).strip()
        groups = self.list_point_groups() if groups is None else groups
        for exact in (True, False):
            for g in groups:
                name = str(g.get("name") or "")
                if (name == group) if exact else (name.lower() == str(group).strip().lower()):
                    return str(g["id"])
        names = ", ".join(sorted(str(g.get("name")) for g in groups)) or "none"
        raise ContactsConfigError(
            f"point group {group!r} does not exist (groups: {names})", conn_id=self.conn_id
        )

    def get_contact_group_scores(self, contact_id: int | str) -> list[dict[str, Any]]:
        body = self._get(f"contacts/{mautic_id(contact_id)}/points/groups")
        return list(body.get("groupScores") or [])

    def get_group_score(self, contact_id: int | str, group_id: int | str) -> int:
        """The contact's score in the group; 0 when it has none yet (as Mautic starts it)."""
        body = self._get(f"contacts/{mautic_id(contact_id)}/points/groups/{mautic_id(group_id)}")
        score = body.get("groupScore")
        return as_int(score.get("score")) if isinstance(score, dict) else 0

    def adjust_group_score(
        self,
        contact_id: int | str,
        group_id: int | str,
        op: str,
        value: int,
        *,
        event_name: str | None = None,
        action_name: str | None = None,
    ) -> int:
        """``POST /contacts/{id}/points/groups/{gid}/{op}/{value}``; returns the new score.

        Validated first (operator, integer, no division by 0). An inexact division, which
        Mautic answers with HTTP 500, is sent as ``set`` to the value rounded toward zero
        (:func:`~airflow_provider_contacts.rules.compute_score`), after reading the current score. ``plus``/``minus``/
        ``times``/``divide`` are not idempotent and are never retried once sent; ``set`` is.
        """
        op, number = check_adjustment(op, value)
        if op == "divide":
            current = self.get_group_score(contact_id, group_id)
            if current % number != 0:
                target = compute_score(current, op, number)
                log.info(
                    "%s: %d / %d is inexact; setting %d (rounded toward zero)",
                    self.conn_id,
                    current,
                    number,
                    target,
                )
                op, number = "set", target
        body = {k: v for k, v in (("eventName", event_name), ("actionName", action_name)) if v}
        result = self._send(
            "POST",
            f"contacts/{mautic_id(contact_id)}/points/groups/{mautic_id(group_id)}/{op}/{number}",
            json=body or None,
            idempotent=(op == "set"),
        )
        return as_int((result.get("groupScore") or {}).get("score"))

    # ---- activity -------------------------------------------------------------------------
