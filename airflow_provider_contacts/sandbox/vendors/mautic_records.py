"""State of the Mautic emulator beside contacts: users, segments, companies, campaigns, stages,
notes, devices, UTM tags and tracked page hits.

A mixin of :class:`~.mautic_state.MauticState` (plain Python, no HTTP). Facts from mautic/mautic
5.x (paths relative to ``app/bundles``); each method names the controller or model it follows.
"""

from __future__ import annotations

import functools
import re
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_contacts.sandbox.vendors.mautic_common import MauticFault, crash, php_datetime, php_int
from airflow_provider_contacts.sandbox.vendors.mautic_fields import (
    COMPANY_FIELD,
    COMPANY_FIELDS,
    COMPANY_GROUPS,
    NOT_VALID,
    bind,
    normalized,
    shown,
)
from airflow_provider_contacts.sandbox.vendors.mautic_search import ids_command, match_search, parse_search

NOT_FOUND = "Item was not found."
CONTACT_NOT_FOUND = "Contact not found."  # mautic.contact.error.notfound (LeadAccessTrait)
BAD_REQUEST = "This is a bad request."
NAME_REQUIRED = "A name is required."

ROLES: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Administrator",
        "description": "Full system access",
        "isAdmin": True,
        "rawPermissions": None,
    },
    {
        "id": 2,
        "name": "Viewer",
        "description": "Logs in, sees no contacts",
        "isAdmin": False,
        "rawPermissions": [],
    },
]
#: users of the sandbox instance: two owners and the two API logins of the emulator
USERS: list[dict[str, Any]] = [
    {
        "id": 1,
        "username": "admin",
        "firstName": "Ada",
        "lastName": "Admin",
        "email": "ada@example.com",
        "role": 1,
    },
    {
        "id": 2,
        "username": "sales",
        "firstName": "Sam",
        "lastName": "Sales",
        "email": "sam@example.com",
        "role": 1,
    },
    {
        "id": 3,
        "username": "sandbox",
        "firstName": "Sandbox",
        "lastName": "API",
        "email": "sandbox@example.com",
        "role": 1,
    },
    {
        "id": 4,
        "username": "viewer",
        "firstName": "Vic",
        "lastName": "Viewer",
        "email": "vic@example.com",
        "role": 2,
    },
]
SEGMENTS = [
    ("Newsletter", "newsletter"),
    ("Customers", "customers"),
    ("Webinar attendees", "webinar-attendees"),
]
CAMPAIGNS = [("Welcome", "Onboarding emails"), ("Re-engagement", "Win back quiet contacts")]
STAGES = [("Lead", 0), ("Marketing qualified", 10), ("Customer", 20)]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella"]
NOTE_TYPES = ("general", "email", "call", "meeting")  # LeadBundle/Form/Type/NoteType.php


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "segment"


def publish_details(record: dict[str, Any], iso: Any) -> dict[str, Any]:
    """``FormEntity`` publish details (group ``publishDetails``)."""
    return {
        "isPublished": record.get("isPublished", True),
        "dateAdded": iso(record.get("dateAdded")),
        "dateModified": iso(record.get("dateModified")),
        "createdBy": record.get("createdBy", 1),
        "createdByUser": record.get("createdByUser", "Ada Admin"),
        "modifiedBy": record.get("modifiedBy"),
        "modifiedByUser": record.get("modifiedByUser"),
    }


# ---- user agents (LeadBundle/Tracker/DeviceTracker.php uses matomo/device-detector) -----------
_OS = [
    (r"iPhone|iPad|iPod", "iOS", "IOS", r"OS (\d+)[_.](\d+)"),
    (r"Android", "Android", "AND", r"Android (\d+(?:\.\d+)?)"),
    (r"Windows NT", "Windows", "WIN", r"Windows NT (\d+\.\d+)"),
    (r"Mac OS X|Macintosh", "Mac", "MAC", r"Mac OS X (\d+)[_.](\d+)"),
    (r"CrOS", "Chrome OS", "COS", None),
    (r"Linux", "GNU/Linux", "LIN", None),
]
_BROWSERS = [
    (r"FBAN|FBAV", "mobile app", "Facebook", "FB", r"FBAV/(\d+(?:\.\d+)?)"),
    (r"Edg/", "browser", "Microsoft Edge", "PS", r"Edg/(\d+(?:\.\d+)?)"),
    (r"Firefox/", "browser", "Firefox", "FF", r"Firefox/(\d+(?:\.\d+)?)"),
    (r"Chrome/", "browser", "Chrome", "CH", r"Chrome/(\d+(?:\.\d+)?)"),
    (r"Safari/", "browser", "Safari", "SF", r"Version/(\d+(?:\.\d+)?)"),
    (r"curl/", "library", "curl", "CU", r"curl/(\d+(?:\.\d+)?)"),
    (r"python-requests|python-httpx", "library", "Python Requests", "PR", r"/(\d+(?:\.\d+)?)"),
]


def detect_device(user_agent: str) -> dict[str, Any]:
    """A small user-agent reader giving what Mautic stores on a device (type, brand, model, OS,
    client); Mautic uses matomo's DeviceDetector, which knows many more devices."""
    ua = user_agent or ""
    if re.search(r"iPad|Tablet", ua):
        device = "tablet"
    elif re.search(r"iPhone|iPod|Android.*Mobile|Mobile", ua):
        device = "smartphone"
    elif re.search(r"Windows NT|Macintosh|X11|CrOS|Linux", ua):
        device = "desktop"
    else:
        device = None
    brand = model = None
    for pattern, name in ((r"iPhone", "iPhone"), (r"iPad", "iPad"), (r"iPod", "iPod")):
        if re.search(pattern, ua):
            brand, model = "Apple", name
            break
    os_info: dict[str, Any] = {}
    for pattern, name, short, version_re in _OS:
        if re.search(pattern, ua):
            version = ""
            found = re.search(version_re, ua) if version_re else None
            if found:
                version = ".".join(g for g in found.groups() if g)
            os_info = {"name": name, "short_name": short, "version": version, "platform": ""}
            break
    client: Any = False
    for pattern, type_, name, short, version_re in _BROWSERS:
        if re.search(pattern, ua):
            found = re.search(version_re, ua)
            client = {
                "type": type_,
                "name": name,
                "short_name": short,
                "version": found.group(1) if found else "",
                "engine": "WebKit" if "AppleWebKit" in ua else "",
                "engine_version": "",
            }
            break
    return {
        "device": device,
        "deviceBrand": brand,
        "deviceModel": model,
        "clientInfo": client,
        "deviceOsName": os_info.get("name"),
        "deviceOsShortName": os_info.get("short_name"),
        "deviceOsVersion": os_info.get("version"),
        "deviceOsPlatform": os_info.get("platform"),
    }


def php_parse_str(text: str) -> dict[str, Any]:
    """``parse_str`` of a query string (nested ``a[b]=1`` keys kept flat here)."""
    return {k: v for k, v in parse_qsl(text, keep_blank_values=True)}


class RecordsMixin:
    """Users, segments, companies, campaigns, stages, notes, devices, UTM tags, page hits."""

    # the host class (MauticState) provides these
    contacts: dict[int, dict[str, Any]]
    row_ids: dict[str, int]
    next_utm_id: int

    if TYPE_CHECKING:

        def now(self) -> datetime: ...
        def contact(self, contact_id: Any, message: str = ...) -> dict[str, Any]: ...
        def _new_contact(self, when: datetime | None = None) -> dict[str, Any]: ...
        def _next_row(self, event_type: str) -> int: ...
        def contact_json(self, contact: dict[str, Any], minimal: bool = False) -> dict[str, Any]: ...
        def add_event(
            self,
            event_type: str,
            contact_id: int | None,
            when: datetime | None = None,
            label: Any = None,
            details: dict[str, Any] | None = None,
        ) -> dict[str, Any]: ...

    def _seed_records(self) -> None:
        now = self.now()
        self.roles = {r["id"]: dict(r) for r in ROLES}
        self.users: dict[int, dict[str, Any]] = {
            u["id"]: {
                **u,
                "position": None,
                "timezone": None,
                "locale": None,
                "lastLogin": None,
                "lastActive": None,
                "signature": None,
                "isPublished": True,
                "dateAdded": now,
            }
            for u in USERS
        }
        self.segments: dict[int, dict[str, Any]] = {}
        self.campaigns: dict[int, dict[str, Any]] = {}
        self.stages: dict[int, dict[str, Any]] = {}
        self.companies: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, dict[str, Any]] = {}
        self.devices: dict[int, dict[str, Any]] = {}
        self.next_ids = {
            "segment": 1,
            "campaign": 1,
            "stage": 1,
            "company": 1,
            "note": 1,
            "device": 1,
            "lead_event_log": 1,
            "stage_log": 1,
            "hit": 1,
        }
        for name, alias in SEGMENTS:
            self.create_segment({"name": name, "alias": alias}, when=now)
        for name, description in CAMPAIGNS:
            cid = self._take("campaign")
            self.campaigns[cid] = {
                "id": cid,
                "name": name,
                "description": description,
                "category": None,
                "allowRestart": False,
                "publishUp": None,
                "publishDown": None,
                "isPublished": True,
                "dateAdded": now,
                "dateModified": None,
                "events": [],
                "forms": [],
                "lists": [],
                "canvasSettings": {"nodes": [], "connections": []},
            }
        for name, weight in STAGES:
            self.create_stage({"name": name, "weight": weight}, when=now)
        for name in COMPANIES:
            self.create_company({"companyname": name}, when=now)

    def _take(self, kind: str) -> int:
        value = self.next_ids[kind]
        self.next_ids[kind] += 1
        return value

    # ---- generic listing (FetchCommonApiController::getEntitiesAction) --------------------
    def list_records(
        self,
        rows: list[dict[str, Any]],
        query: dict[str, Any],
        *,
        catch_all: Any,
        commands: dict[str, Any] | None = None,
        default_order: list[str] | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """``search`` (the repository's commands, ``ids:`` always), ``orderBy``/``orderByDir``,
        ``start``/``limit`` (default 30; 0 or empty: every row, ``start`` ignored as
        ``CommonRepository::buildLimiterClauses`` does), ``published``."""
        search = str(query.get("search") or "").strip()
        if search:
            filters = parse_search(search)
            table = {"ids": ids_command, **(commands or {})}
            rows = [r for r in rows if match_search(filters, r, catch_all=catch_all, commands=table)]
        if str(query.get("published") or "") not in ("", "0"):
            rows = [r for r in rows if r.get("isPublished", True)]
        order_by = str(query.get("orderBy") or "")
        keys = (
            [c.strip().split(".")[-1] for c in order_by.split(",") if c.strip()]
            if order_by
            else list(default_order or ["id"])
        )
        direction = str(query.get("orderByDir") or "ASC").upper()
        for key in reversed(keys):
            rows = sorted(
                rows,
                key=functools.partial(_order_value, key),
                reverse=(direction == "DESC"),
            )
        total = len(rows)
        start = max(0, php_int(query.get("start", 0)))
        limit_raw = query.get("limit", 30)
        if limit_raw in (None, "", "0", 0):
            return total, rows
        return total, rows[start : start + max(0, php_int(limit_raw))]

    # ---- users (UserBundle/Controller/Api/UserApiController.php) ---------------------------
    def user(self, user_id: Any) -> dict[str, Any]:
        found = _find(self.users, user_id)
        if found is None:
            raise MauticFault(404, NOT_FOUND)
        return found

    def user_by_name(self, username: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if u["username"] == username), None)

    def touch(self, contact: dict[str, Any]) -> None:
        """A contact changed now by the acting user (``dateModified``, ``modifiedBy``)."""
        contact["dateModified"] = self.now()
        contact["modifiedBy"] = getattr(self, "acting_user", 1)

    def user_name(self, user_id: Any) -> str | None:
        """``createdByUser``: the user's name as stored with the record (none without a user)."""
        u = self.users.get(user_id) if user_id is not None else None
        return None if u is None else f"{u['firstName']} {u['lastName']}"

    def owner_json(self, user_id: Any) -> dict[str, Any] | None:
        """A contact's ``owner`` (group ``userList``)."""
        u = self.users.get(user_id) if user_id is not None else None
        return (
            None
            if u is None
            else {
                "id": u["id"],
                "username": u["username"],
                "firstName": u["firstName"],
                "lastName": u["lastName"],
            }
        )

    def user_json(self, u: dict[str, Any], iso: Any) -> dict[str, Any]:
        role = self.roles.get(u["role"])
        return {
            **publish_details(u, iso),
            "id": u["id"],
            "username": u["username"],
            "firstName": u["firstName"],
            "lastName": u["lastName"],
            "email": u["email"],
            "position": u["position"],
            "role": dict(role) if role else None,
            "timezone": u["timezone"],
            "locale": u["locale"],
            "lastLogin": iso(u["lastLogin"]),
            "lastActive": iso(u["lastActive"]),
            "signature": u["signature"],
        }

    # ---- segments (LeadBundle/Controller/Api/ListApiController.php) ------------------------
    def create_segment(self, body: dict[str, Any], when: datetime | None = None) -> dict[str, Any]:
        name = str(body.get("name") or "").strip()
        if not name:
            raise MauticFault(400, f"name: {NAME_REQUIRED}", details={"name": [NAME_REQUIRED]})
        alias = slugify(str(body.get("alias") or name))
        taken = {s["alias"] for s in self.segments.values()}
        base, n = alias, 1
        while alias in taken:  # ListModel makes the alias unique
            n += 1
            alias = f"{base}{n}"
        sid = self._take("segment")
        segment: dict[str, Any] = {
            "id": sid,
            "name": name,
            "publicName": str(body.get("publicName") or name),
            "alias": alias,
            "description": body.get("description"),
            "category": None,
            "filters": body.get("filters") if isinstance(body.get("filters"), list) else [],
            "isGlobal": _bool(body.get("isGlobal"), True),
            "isPreferenceCenter": _bool(body.get("isPreferenceCenter"), False),
            "isPublished": _bool(body.get("isPublished"), True),
            "dateAdded": when or self.now(),
            "dateModified": None,
        }
        self.segments[sid] = segment
        return segment

    def segment(self, segment_id: Any) -> dict[str, Any]:
        found = _find(self.segments, segment_id)
        if found is None:
            raise MauticFault(404, NOT_FOUND)
        return found

    def segment_json(self, s: dict[str, Any], iso: Any) -> dict[str, Any]:
        return {
            **publish_details(s, iso),
            "id": s["id"],
            "name": s["name"],
            "publicName": s["publicName"],
            "alias": s["alias"],
            "description": s["description"],
            "category": s["category"],
            "filters": s["filters"],
            "isGlobal": s["isGlobal"],
            "isPreferenceCenter": s["isPreferenceCenter"],
        }

    def segment_search_commands(self) -> dict[str, Any]:
        """``LeadListRepository::getSearchCommands``."""
        return {
            "is:global": lambda f, r: bool(r["isGlobal"]),
            "is:published": lambda f, r: bool(r["isPublished"]),
            "is:unpublished": lambda f, r: not r["isPublished"],
            "is:mine": lambda f, r: r.get("createdBy", 1) == 1,
            "name": lambda f, r: _like_prefix(f, r["name"]),
        }

    def add_to_segment(self, segment: dict[str, Any], contact: dict[str, Any]) -> None:
        """``LeadModel::addToLists``: a manual membership; logs ``segment_membership``."""
        if segment["id"] in contact["segments"]:
            return
        contact["segments"][segment["id"]] = {"dateAdded": self.now(), "manuallyAdded": True}
        self._log_membership(contact, "segment_membership", "lead", "segment", "added", segment, {})

    def remove_from_segment(self, segment: dict[str, Any], contact: dict[str, Any]) -> None:
        if contact["segments"].pop(segment["id"], None) is not None:
            self._log_membership(contact, "segment_membership", "lead", "segment", "removed", segment, {})

    def _log_membership(
        self,
        contact: dict[str, Any],
        event_type: str,
        bundle: str,
        object_: str,
        action: str,
        record: dict[str, Any],
        extra: dict[str, Any],
    ) -> None:
        """A ``lead_event_log`` row as ``TimelineEventLog*Subscriber`` writes and shows it:
        label "Contact added to segment, <name>", details from its properties."""
        row = self._take("lead_event_log")
        noun = "segment" if object_ == "segment" else "campaign"
        label = f"Contact {action} {'to' if action == 'added' else 'from'} {noun}, {record['name']}"
        event = self.add_event(
            event_type,
            contact["id"],
            label=label,
            details={**extra, "objectDescription": record["name"]},
        )
        event["eventId"] = f"{event_type}{row}"

    # ---- campaigns (CampaignBundle/Controller/Api/CampaignApiController.php) ---------------
    def campaign(self, campaign_id: Any) -> dict[str, Any]:
        found = _find(self.campaigns, campaign_id)
        if found is None:
            raise MauticFault(404, NOT_FOUND)
        return found

    def campaign_json(self, c: dict[str, Any], iso: Any) -> dict[str, Any]:
        return {
            **publish_details(c, iso),
            "id": c["id"],
            "name": c["name"],
            "category": c["category"],
            "description": c["description"],
            "allowRestart": c["allowRestart"],
            "publishUp": iso(c["publishUp"]),
            "publishDown": iso(c["publishDown"]),
            "events": c["events"],
            "forms": c["forms"],
            "lists": c["lists"],
            "canvasSettings": c["canvasSettings"],
        }

    def add_to_campaign(self, campaign: dict[str, Any], contact: dict[str, Any]) -> None:
        """``MembershipManager::addContact`` (manual): a new member starts at rotation 1; a member
        removed by hand comes back (``Adder::updateExistingMembership``); an active member of a
        campaign that allows restarts starts a **new rotation** (the campaign runs again for it),
        otherwise nothing happens. Each change logs ``campaign_membership`` "added"."""
        member = contact["campaigns"].get(campaign["id"])
        if member is None:
            contact["campaigns"][campaign["id"]] = {
                "dateAdded": self.now(),
                "manuallyRemoved": False,
                "manuallyAdded": True,
                "dateLastExited": None,
                "rotation": 1,
            }
        elif member["manuallyRemoved"] or campaign["allowRestart"]:
            if member["manuallyRemoved"]:
                member["manuallyAdded"] = True
            member.update(manuallyRemoved=False, dateLastExited=None, rotation=member["rotation"] + 1)
        else:
            return
        self._log_campaign_membership(contact, campaign, "added")

    def remove_from_campaign(self, campaign: dict[str, Any], contact: dict[str, Any]) -> None:
        """``MembershipManager::removeContact`` (manual): the member row stays, marked manually
        removed (``Remover::updateExistingMembership``); a non-member or a member already removed
        is left as it is, with no event."""
        member = contact["campaigns"].get(campaign["id"])
        if member is None or member["manuallyRemoved"]:
            return
        member.update(manuallyRemoved=True, manuallyAdded=False)
        self._log_campaign_membership(contact, campaign, "removed")

    def _log_campaign_membership(
        self, contact: dict[str, Any], campaign: dict[str, Any], action: str
    ) -> None:
        details = {"campaignId": campaign["id"], "campaignName": campaign["name"]}
        self._log_membership(
            contact, "campaign_membership", "campaign", "campaign", action, campaign, details
        )

    def campaign_members(self, campaign: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``campaign_leads`` rows of the campaign's active members (``manually_removed``
        = 0), as ``StatsApiController::listAction`` reads them: raw database values, as text."""
        rows = []
        for contact in self.contacts.values():
            member = contact["campaigns"].get(campaign["id"])
            if member is None or member["manuallyRemoved"]:
                continue
            exited = member["dateLastExited"]
            rows.append(
                {
                    "campaign_id": str(campaign["id"]),
                    "lead_id": str(contact["id"]),
                    "date_added": member["dateAdded"].strftime("%Y-%m-%d %H:%M:%S"),
                    "manually_removed": "0",
                    "manually_added": "1" if member["manuallyAdded"] else "0",
                    "date_last_exited": exited.strftime("%Y-%m-%d %H:%M:%S") if exited else None,
                    "rotation": str(member["rotation"]),
                }
            )
        return rows

    # ---- stages (StageBundle/Controller/Api/StageApiController.php) -------------------------
    def create_stage(self, body: dict[str, Any], when: datetime | None = None) -> dict[str, Any]:
        name = str(body.get("name") or "").strip()
        if not name:
            raise MauticFault(400, f"name: {NAME_REQUIRED}", details={"name": [NAME_REQUIRED]})
        sid = self._take("stage")
        stage = {
            "id": sid,
            "name": name,
            "category": None,
            "weight": php_int(body.get("weight") or 0),
            "description": body.get("description"),
            "publishUp": None,
            "publishDown": None,
            "isPublished": _bool(body.get("isPublished"), True),
            "dateAdded": when or self.now(),
            "dateModified": None,
        }
        self.stages[sid] = stage
        return stage

    def stage(self, stage_id: Any) -> dict[str, Any]:
        found = _find(self.stages, stage_id)
        if found is None:
            raise MauticFault(404, NOT_FOUND)
        return found

    def stage_json(self, s: dict[str, Any], iso: Any, full: bool = True) -> dict[str, Any]:
        out = {
            "id": s["id"],
            "name": s["name"],
            "category": s["category"],
            "weight": s["weight"],
            "description": s["description"],
        }
        if full:
            out = {
                **publish_details(s, iso),
                **out,
                "publishUp": iso(s["publishUp"]),
                "publishDown": iso(s["publishDown"]),
            }
        return out

    def change_stage(
        self, contact: dict[str, Any], stage: dict[str, Any], action_name: str, to: int | None
    ) -> None:
        """``LeadModel::addToStages``/``removeFromStages``: set (or clear) the stage and log a
        ``lead_stages_change_log`` row, shown as ``stage.changed`` (StageBundle LeadSubscriber)."""
        contact["stage"] = to
        self.touch(contact)
        row = self._take("stage_log")
        event_name = f"{stage['id']}: {stage['name']}"
        when = self.now()
        event = self.add_event(
            "stage.changed",
            contact["id"],
            when,
            label={"label": event_name, "href": f"/s/stages/edit/{stage['id']}", "isExternal": False},
            details={
                "log": {
                    "id": str(row),
                    "reference": str(stage["id"]),
                    "eventName": event_name,
                    "actionName": action_name,
                    "dateAdded": when.strftime("%Y-%m-%d %H:%M:%S"),
                }
            },
        )
        event["eventId"] = f"stage.changed{row}"

    # ---- companies (LeadBundle/Controller/Api/CompanyApiController.php, CompanyModel) ------
    def create_company(self, body: dict[str, Any], when: datetime | None = None) -> dict[str, Any]:
        values, _, errors = bind(
            COMPANY_FIELD, body, int(getattr(self, "settings", {}).get("char_length_limit") or 0)
        )
        name = values.get("companyname")
        if not errors and not name:
            errors = {"companyname": ["A value is required."]}
        if errors:
            message = ", ".join(f"{alias}: {m}" for alias, msgs in errors.items() for m in msgs)
            raise MauticFault(400, message, details=errors)
        cid = self._take("company")
        company = {
            "id": cid,
            "values": {f.alias: values.get(f.alias) for f in COMPANY_FIELDS},
            "score": 0,
            "isPublished": True,
            "dateAdded": when or self.now(),
            "dateModified": None,
        }
        self.companies[cid] = company
        return company

    def find_company(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """``IdentifyCompanyHelper::findCompany``: by ``companyname`` (case-insensitive)."""
        name = str(body.get("companyname") or "").strip().lower()
        if not name:
            return None
        return next(
            (c for c in self.companies.values() if str(c["values"].get("companyname") or "").lower() == name),
            None,
        )

    def company(self, company_id: Any) -> dict[str, Any]:
        found = _find(self.companies, company_id)
        if found is None:
            raise MauticFault(404, NOT_FOUND)
        return found

    def edit_company(self, company: dict[str, Any], body: dict[str, Any], method: str) -> None:
        values, _, errors = bind(
            COMPANY_FIELD, body, int(getattr(self, "settings", {}).get("char_length_limit") or 0)
        )
        if errors:
            message = ", ".join(f"{alias}: {m}" for alias, msgs in errors.items() for m in msgs)
            raise MauticFault(400, message, details=errors)
        for f in COMPANY_FIELDS:
            if f.alias in values and (values[f.alias] is not None or method == "PUT"):
                company["values"][f.alias] = values[f.alias]
            elif method == "PUT":
                company["values"][f.alias] = None
        company["dateModified"] = self.now()

    def company_json(self, c: dict[str, Any]) -> dict[str, Any]:
        """Serializer group ``companyDetails``: ``id``, ``fields`` (by group and ``all``), ``score``."""
        groups: dict[str, Any] = {g: {} for g in COMPANY_GROUPS}
        flat: dict[str, Any] = {"id": c["id"]}
        for f in COMPANY_FIELDS:
            value = shown(f, c["values"].get(f.alias))
            groups[f.group][f.alias] = {
                **f.group_entry(),
                "value": value,
                "normalizedValue": normalized(f, value),
            }
            flat[f.alias] = value
        return {"id": c["id"], "fields": {**groups, "all": flat}, "score": c["score"]}

    def add_to_company(self, company: dict[str, Any], contact: dict[str, Any]) -> None:
        """``CompanyModel::addLeadToCompany``: the new link becomes the primary company and the
        contact's ``company`` field takes its name."""
        if any(link["company_id"] == company["id"] for link in contact["companies"]):
            return
        for link in contact["companies"]:
            link["is_primary"] = False
        contact["companies"].append(
            {"company_id": company["id"], "date_associated": self.now(), "is_primary": True}
        )
        name = company["values"].get("companyname")
        if contact["values"].get("company") != name:
            contact["values"]["company"] = name
            self.touch(contact)

    def remove_from_company(self, company: dict[str, Any], contact: dict[str, Any]) -> None:
        """``CompanyModel::removeLeadFromCompany``: removing the primary makes the first other
        link primary (its name goes to the contact), or empties the ``company`` field."""
        link = next((ln for ln in contact["companies"] if ln["company_id"] == company["id"]), None)
        if link is None:
            return
        contact["companies"].remove(link)
        if link["is_primary"]:
            remaining = [ln for ln in contact["companies"] if ln["company_id"] in self.companies]
            if remaining:
                remaining[0]["is_primary"] = True
                contact["values"]["company"] = self.companies[remaining[0]["company_id"]]["values"].get(
                    "companyname"
                )
            else:
                contact["values"]["company"] = None
            self.touch(contact)

    def contact_companies(self, contact: dict[str, Any]) -> list[dict[str, Any]]:
        """``CompanyLeadRepository::getCompaniesByLeadId``: DBAL rows (strings) of the link and
        the company's columns."""
        out = []
        for link in contact["companies"]:
            company = self.companies.get(link["company_id"])
            if company is None:
                continue
            row = {
                "company_id": str(company["id"]),
                "date_associated": link["date_associated"].strftime("%Y-%m-%d %H:%M:%S"),
                "is_primary": "1" if link["is_primary"] else "0",
                "id": str(company["id"]),
                "is_published": "1",
                "date_added": company["dateAdded"].strftime("%Y-%m-%d %H:%M:%S"),
                "score": str(company["score"]),
            }
            for f in COMPANY_FIELDS:
                value = company["values"].get(f.alias)
                row[f.alias] = (
                    None
                    if value is None
                    else (str(value) if not isinstance(value, float) else _num_text(value))
                )
            out.append(row)
        return out

    # ---- notes (LeadBundle/Controller/Api/NoteApiController.php) ----------------------------
    def create_note(self, body: dict[str, Any], contact: dict[str, Any]) -> dict[str, Any]:
        nid = self._take("note")
        note = {
            "id": nid,
            "lead_id": contact["id"],
            "text": body["text"],
            "type": body.get("type") or "general",
            "dateTime": body.get("dateTime") or self.now(),
        }
        self.notes[nid] = note
        return note

    def check_note(self, body: dict[str, Any], partial: bool) -> dict[str, list[str]]:
        """The note form: ``text`` not blank (``LeadNote::loadValidatorMetadata``), ``type`` one
        of the choices; on PATCH absent fields are not checked."""
        errors: dict[str, list[str]] = {}
        if not partial or "text" in body:
            if not str(body.get("text") or "").strip():
                errors["text"] = ["Note text cannot be empty"]
        if "type" in body and body["type"] not in (None, "") and str(body["type"]) not in NOTE_TYPES:
            errors["type"] = [NOT_VALID]
        return errors

    def note(self, note_id: Any) -> dict[str, Any]:
        found = _find(self.notes, note_id)
        if found is None:
            raise MauticFault(404, NOT_FOUND)
        return found

    def note_json(self, n: dict[str, Any], iso: Any, with_lead: bool) -> dict[str, Any]:
        """Group ``leadNoteDetails`` (and ``leadList`` on ``/notes``: the contact's id, points,
        color and field groups; ``/contacts/{id}/notes`` shows the contact as ``{}``)."""
        lead: Any = {}
        contact = self.contacts.get(n["lead_id"])
        if with_lead and contact is not None:
            full = self.contact_json(contact, minimal=True)
            lead = {
                "id": full["id"],
                "points": full["points"],
                "color": full["color"],
                "fields": {k: v for k, v in full["fields"].items() if k != "all"},
            }
        return {
            "id": n["id"],
            "text": n["text"],
            "type": n["type"],
            "dateTime": iso(n["dateTime"]),
            "lead": lead,
        }

    # ---- devices (LeadBundle/Entity/LeadDevice.php, DeviceTrackingService) ------------------
    def track_device(self, contact: dict[str, Any], user_agent: str) -> dict[str, Any]:
        """One device per contact, type, brand and model (``trackCurrentDevice`` looks for it
        before creating one)."""
        detected = detect_device(user_agent)
        for did in contact["devices"]:
            device = self.devices.get(did)
            if device and all(device[k] == detected[k] for k in ("device", "deviceBrand", "deviceModel")):
                return device
        did = self._take("device")
        device = {
            "id": did,
            "lead_id": contact["id"],
            **detected,
            "trackingId": secrets.token_hex(12),
            "dateAdded": self.now(),
        }
        self.devices[did] = device
        contact["devices"].append(did)
        return device

    def device(self, device_id: Any) -> dict[str, Any]:
        found = _find(self.devices, device_id)
        if found is None:
            raise MauticFault(404, NOT_FOUND)
        return found

    def device_json(self, d: dict[str, Any], with_lead: bool) -> dict[str, Any]:
        lead: Any = {}
        if with_lead and d["lead_id"] in self.contacts:
            lead = {"id": d["lead_id"]}
        return {
            "id": d["id"],
            "lead": lead,
            "clientInfo": d["clientInfo"],
            "device": d["device"],
            "deviceBrand": d["deviceBrand"],
            "deviceModel": d["deviceModel"],
            "deviceOsName": d["deviceOsName"],
            "deviceOsShortName": d["deviceOsShortName"],
            "deviceOsVersion": d["deviceOsVersion"],
            "deviceOsPlatform": d["deviceOsPlatform"],
        }

    # ---- UTM tags (LeadModel::addUTMTags, LeadBundle/Entity/UtmTag.php) ----------------------
    def add_utm_tags(self, contact: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Mautic reads snake_case keys only (``UtmTag::getFieldSetterList``): ``utm_campaign``,
        ``utm_source``, ``utm_medium``, ``utm_content``, ``utm_term``, ``user_agent`` (or
        ``useragent``), ``url``, ``referer``, ``query`` (a query string is parsed, an
        unreadable one dropped), ``remote_host`` (or ``remotehost``); camelCase keys such as
        ``utmSource`` are ignored and stored as null. ``lastActive`` dates the record and the
        contact's last activity; ``useragent`` (that spelling only) also records a device."""
        params = dict(params)
        if (
            "query" in params
            and params["query"] is not None
            and not isinstance(params["query"], (dict, list))
        ):
            parsed = php_parse_str(str(params["query"]))
            if parsed:
                params["query"] = parsed
            else:
                del params["query"]
        for expected, replace in (("useragent", "user_agent"), ("remotehost", "remote_host")):
            if expected in params and params.get(replace) is None:
                params[replace] = params[expected]
        when = self.now()
        last_active = None
        if params.get("lastActive") is not None:
            last_active = php_datetime(params["lastActive"])
            if last_active is None:
                raise crash()  # new \DateTime('garbage') throws
            when = last_active
        setters = {
            "utm_campaign": "utmCampaign",
            "utm_source": "utmSource",
            "utm_medium": "utmMedium",
            "utm_content": "utmContent",
            "utm_term": "utmTerm",
            "user_agent": "userAgent",
            "url": "url",
            "referer": "referer",
            "query": "query",
            "remote_host": "remoteHost",
        }
        utm: dict[str, Any] = {"id": self._take_utm(), "dateAdded": when}
        for key, prop in setters.items():
            utm[prop] = params.get(key)
        if params.get("useragent"):
            self.track_device(contact, str(params["useragent"]))
        if last_active is not None:
            contact["lastActive"] = last_active
        contact["utmtags"].append(utm)
        self.touch(contact)
        self._log_utm(contact, utm)
        return utm

    def _take_utm(self) -> int:
        value = self.next_utm_id
        self.next_utm_id += 1
        return value

    def _log_utm(self, contact: dict[str, Any], utm: dict[str, Any]) -> None:
        """``lead.utmtagsadded`` (LeadBundle LeadSubscriber::addTimelineUtmEntries)."""
        label = f"UTM Campaign: {utm['utmCampaign']}" if utm.get("utmCampaign") else "UTM tags recorded"
        row = {k: v for k, v in utm.items() if k != "dateAdded"}
        event = self.add_event(
            "lead.utmtagsadded",
            contact["id"],
            utm["dateAdded"],
            label=label,
            details={"utmtags": row},
        )
        event["eventId"] = f"lead.utmtagsadded{utm['id']}"

    @staticmethod
    def utm_json(utm: dict[str, Any]) -> dict[str, Any]:
        """Group ``utmtagsList`` of a contact's ``utmtags``."""
        return {
            k: utm[k]
            for k in (
                "id",
                "query",
                "referer",
                "remoteHost",
                "url",
                "userAgent",
                "utmCampaign",
                "utmContent",
                "utmMedium",
                "utmSource",
                "utmTerm",
            )
        }

    def remove_utm_tag(self, contact: dict[str, Any], utm_id: int) -> bool:
        for utm in contact["utmtags"]:
            if utm["id"] == utm_id:
                contact["utmtags"].remove(utm)
                return True
        return False

    # ---- tracking pixel (PageBundle PublicController::trackingImageAction, PageModel::hitPage) --
    def track_hit(
        self,
        query: dict[str, Any],
        cookies: dict[str, str],
        headers: dict[str, str],
        path_qs: str,
        client_ip: str | None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Record a page hit for the tracked visitor. The contact comes from the tracking
        cookies (``mautic_device_id``, or ``mautic_session_id`` with ``mtc_id``); without them a
        new anonymous visitor is created (``ContactTracker::getContact``). The hit's URL is
        ``page_url``, else the page the pixel sits on (``Referer``); with neither, Mautic stores
        the pixel's own request URI (``PageModel::processPageHit``). ``utm_*`` parameters add a
        UTM record. Returns (contact, device)."""
        contact = self._tracked_contact(query, cookies)
        if client_ip and client_ip not in contact["ipAddresses"]:
            contact["ipAddresses"][client_ip] = {"ipAddress": client_ip, "ipDetails": {}}
        user_agent = headers.get("user-agent") or ""
        device = self.track_device(contact, user_agent)
        referer = headers.get("referer")
        page_url = query.get("page_url") or (referer if path_qs.partition("?")[2] else None)
        hit_query = _hit_query(query, page_url)
        url = hit_query.get("page_url") or path_qs
        title = hit_query.get("page_title")
        when = self.now()
        hit_id = self._take("hit")
        self.row_ids["page.hit"] = max(self.row_ids.get("page.hit", 0), hit_id)
        hit = {
            "hitId": str(hit_id),
            "page_id": None,
            "userAgent": user_agent,
            "dateHit": when.strftime("%Y-%m-%d %H:%M:%S"),
            "dateLeft": None,
            "referer": hit_query.get("page_referrer") or referer,
            "source": None,
            "sourceId": None,
            "url": url,
            "urlTitle": title,
            "query": hit_query,
            "clientInfo": device["clientInfo"],
            "device": device["device"],
            "deviceOsName": device["deviceOsName"],
            "deviceBrand": device["deviceBrand"],
            "deviceModel": device["deviceModel"],
        }
        event = self.add_event(
            "page.hit",
            contact["id"],
            when,
            label={"label": title or url, "href": url, "isExternal": True},
            details={"hit": hit},
        )
        event["eventId"] = str(hit_id)
        if any("utm_" in k for k in hit_query):
            self._hit_utm(contact, hit_query, when, hit["referer"], url, user_agent)
        contact["lastActive"] = when
        return contact, device

    def _tracked_contact(self, query: dict[str, Any], cookies: dict[str, str]) -> dict[str, Any]:
        """``ContactTracker::getContact``: by the device cookie, else by the session cookie and
        ``mtc_id``, else a new anonymous visitor."""
        contact = None
        device_id = cookies.get("mautic_device_id") or query.get("mautic_device_id")
        if device_id:
            device = next((d for d in self.devices.values() if d["trackingId"] == device_id), None)
            if device is not None:
                contact = self.contacts.get(device["lead_id"])
        session = cookies.get("mautic_session_id")
        if contact is None and session:
            lead_id = cookies.get(session) or query.get("mtc_id")
            contact = _find(self.contacts, lead_id)
        return contact if contact is not None else self._new_contact()

    def _hit_utm(
        self,
        contact: dict[str, Any],
        hit_query: dict[str, Any],
        when: Any,
        referer: Any,
        url: Any,
        agent: str,
    ) -> None:
        """The UTM record a hit with ``utm_*`` parameters adds."""
        utm = {
            "id": self._take_utm(),
            "dateAdded": when,
            "query": hit_query,
            "referer": referer,
            "remoteHost": None,
            "url": url,
            "userAgent": agent,
        }
        for key, prop in (
            ("utm_campaign", "utmCampaign"),
            ("utm_term", "utmTerm"),
            ("utm_content", "utmContent"),
            ("utm_medium", "utmMedium"),
            ("utm_source", "utmSource"),
        ):
            utm[prop] = hit_query.get(key)
        contact["utmtags"].append(utm)
        self._log_utm(contact, utm)


def _find(table: dict[int, dict[str, Any]], record_id: Any) -> dict[str, Any] | None:
    """The record of ``table`` whose id is ``record_id`` (a number or its text), else None."""
    key = _int_or_none(record_id)
    return None if key is None else table.get(key)


def _order_value(field: str, row: dict[str, Any]) -> tuple[bool, Any]:
    """Sort key of ``row`` on ``field``: missing values first, text without case."""
    value = row.get(field)
    return value is not None, (value.lower() if isinstance(value, str) else value or 0)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _like_prefix(f: Any, value: Any) -> bool:
    """A command's value matched as ``LIKE value%`` (``%`` kept when given; strict = exact)."""
    from airflow_provider_contacts.sandbox.vendors.mautic_search import like

    pattern = f.string if f.strict or "%" in f.string else f.string + "%"
    return like(pattern, value)


def _num_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _hit_query(query: dict[str, Any], page_url: Any) -> dict[str, Any]:
    """``getHitQuery``: the page URL's parameters, then the request's over them."""
    if not page_url:
        return dict(query)
    return {
        **{k.lower(): v for k, v in parse_qsl(urlsplit(str(page_url)).query)},
        **query,
        "page_url": page_url,
    }
