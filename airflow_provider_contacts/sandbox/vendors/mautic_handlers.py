"""Mautic emulator: the API routes beside the contact core (a mixin of ``MauticEmulator``); a §
mark is a section of ``docs/vendors/mautic.md``.

Each handler takes ``(method, path args, query, body)`` and returns ``(status, payload, extra
headers)``; state lives in :mod:`.mautic_state` / :mod:`.mautic_records`. Shapes follow the
controllers of mautic/mautic 5.x (``app/bundles/...``), named on each handler. Lists follow
``FetchCommonApiController::getEntitiesAction``: ``{"total": n, "<entities>": ...}`` where the
entities are an object keyed by id when the repository indexes by id (segments, campaigns,
fields, companies) and a list when it builds its own query (point groups, notes, devices, users,
stages); ``total`` is a string where it comes from a raw count (companies, as contacts).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts.sandbox.vendors.mautic_batch_delete import delete_batch
from airflow_provider_contacts.sandbox.vendors.mautic_common import (
    ACCESS,
    BATCH_LIMIT,
    NOT_FOUND,
    MauticFault,
    iso,
    keyed,
    ordered,
    php_datetime,
)
from airflow_provider_contacts.sandbox.vendors.mautic_fields import COMPANY_FIELDS, CONTACT_FIELDS
from airflow_provider_contacts.sandbox.vendors.mautic_records import (
    BAD_REQUEST,
    CONTACT_NOT_FOUND,
    _like_prefix,
)


def batch_payload(
    name: str, records: dict[Any, Any], codes: list[int], errors: dict[Any, Any]
) -> dict[str, Any]:
    ints = all(isinstance(k, int) for k in list(records) + list(errors))
    payload: dict[str, Any] = {
        name: keyed(records) if ints else {str(k): v for k, v in records.items()},
        "statusCodes": codes,
    }
    if errors:
        payload["errors"] = keyed(errors) if ints else {str(k): v for k, v in errors.items()}
    return payload


def batch_error(fault: MauticFault) -> dict[str, Any]:
    """A batch item's error: ``setBatchError``'s shape for access (403) and not found (404),
    ``returnError``'s (with ``details``) for the rest (§4.2)."""
    if fault.code in (403, 404):
        return {"message": fault.message, "code": fault.code, "type": "api"}
    return fault.item()


def by_id(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A repository indexed by id: a JSON object keyed by id, ``{}`` when empty."""
    return {str(r["id"]): r for r in rows}


class ResourceHandlers:
    """Handlers of the routes Mautic clients use beside upsert, DNC, points and activity."""

    state: Any
    settings: dict[str, Any]
    mount: str

    # ---- helpers ---------------------------------------------------------------------------
    def _body_dict(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise MauticFault(400, BAD_REQUEST)
        return body

    def _batch_items(self, body: Any) -> list[tuple[Any, Any]]:
        if isinstance(body, list):
            items = list(enumerate(body))
        elif isinstance(body, dict):
            items = list(body.items())
        else:
            raise MauticFault(400, BAD_REQUEST)
        limit = int(self.settings["batch_max_limit"])
        if len(items) > limit:
            # returnError without a code → HTTP 500; nothing processed (§4.1)
            raise MauticFault(500, BATCH_LIMIT.format(n=limit))
        return items

    def _lead(self, contact_id: Any) -> dict[str, Any]:
        """``LeadAccessTrait::checkLeadAccess``: an unknown contact is 404 "Contact not found."."""
        return self.state.contact(contact_id, CONTACT_NOT_FOUND)

    def _lead_to_edit(self, contact_id: Any) -> dict[str, Any]:
        """``checkLeadAccess($id, 'edit')``: 404 "Contact not found.", then 403 (§1.4)."""
        return self.state.contact_to_edit(contact_id, CONTACT_NOT_FOUND)

    def _location(self, path: str) -> dict[str, str]:
        # generateUrl(..., true): `true` is UrlGeneratorInterface::ABSOLUTE_PATH, a path
        return {"Location": f"{self.mount}/api/{path}"}

    # ---- /contacts/list/* and contact sub-resources (LeadApiController) ---------------------
    def h_owners(self, method, args, query, body):
        """``getOwnersAction``: ``UserRepository::getUserList`` — published users whose role is
        admin or may handle contacts, ``filter`` matched as a name prefix, by first then last
        name; ``[{id, firstName, lastName}]``."""
        prefix = str(query.get("filter") or "").lower()
        users = [
            u
            for u in self.state.users.values()
            if u["isPublished"] and self.state.roles[u["role"]]["isAdmin"]
        ]
        if prefix:
            users = [
                u
                for u in users
                if any(
                    n.lower().startswith(prefix)
                    for n in (u["firstName"], u["lastName"], f"{u['firstName']} {u['lastName']}")
                )
            ]
        users.sort(key=lambda u: (u["firstName"], u["lastName"]))
        return (
            200,
            [{"id": u["id"], "firstName": u["firstName"], "lastName": u["lastName"]} for u in users],
            None,
        )

    def h_fields(self, method, args, query, body):
        """``getFieldsAction``: group ``leadFieldList``, keyed by id. Its filter names the object
        in a key Doctrine ignores, so company fields are listed too."""
        fields = sorted(CONTACT_FIELDS + COMPANY_FIELDS, key=lambda f: (f.order, f.id))
        return 200, {str(f.id): f.list_json() for f in fields}, None

    def h_segments_list(self, method, args, query, body):
        """``ListApiController::getListsAction``: ``getUserLists``, published ones, by name,
        keyed by id."""
        segments = sorted(
            (s for s in self.state.segments.values() if s["isPublished"]), key=lambda s: s["name"].lower()
        )
        return (
            200,
            {str(s["id"]): {"id": s["id"], "name": s["name"], "alias": s["alias"]} for s in segments},
            None,
        )

    def h_notes(self, method, args, query, body):
        contact = self.state.contact(args[0])
        rows = [n for n in self.state.notes.values() if n["lead_id"] == contact["id"]]
        total, page = self.state.list_records(
            rows, query, catch_all=lambda n: [n["text"]], default_order=["dateTime"]
        )
        if not query.get("orderBy"):
            page = sorted(
                page,
                key=lambda n: (n["dateTime"], n["id"]),
                reverse=str(query.get("orderByDir") or "DESC").upper() == "DESC",
            )
        return (
            200,
            {"total": total, "notes": [self.state.note_json(n, iso, with_lead=False) for n in page]},
            None,
        )

    def h_devices(self, method, args, query, body):
        contact = self.state.contact(args[0])
        rows = [self.state.devices[d] for d in contact["devices"] if d in self.state.devices]
        total, page = self.state.list_records(rows, query, catch_all=lambda d: [d["device"]])
        return (
            200,
            {"total": total, "devices": [self.state.device_json(d, with_lead=False) for d in page]},
            None,
        )

    def h_contact_segments(self, method, args, query, body):
        """``getListsAction``: the answer's key is ``lists``, keyed by segment id."""
        contact = self.state.contact(args[0])
        out = {}
        for sid, info in contact["segments"].items():
            segment = self.state.segments.get(sid)
            if segment is None:
                continue
            out[str(sid)] = {
                "id": sid,
                "name": segment["name"],
                "alias": segment["alias"],
                "dateAdded": iso(info["dateAdded"]),
                "manuallyAdded": info["manuallyAdded"],
                "manuallyRemoved": False,
            }
        return 200, {"total": len(out), "lists": out}, None

    def h_contact_campaigns(self, method, args, query, body):
        contact = self.state.contact(args[0])
        out = {}
        for cid, info in contact["campaigns"].items():
            campaign = self.state.campaigns.get(cid)
            if campaign is None or info["manuallyRemoved"]:  # getPublishedCampaigns: manuallyRemoved = false
                continue
            out[str(cid)] = {
                "id": cid,
                "name": campaign["name"],
                "dateAdded": iso(info["dateAdded"]),
                "manuallyRemoved": info["manuallyRemoved"],
                "manuallyAdded": info["manuallyAdded"],
            }
        return 200, {"total": len(out), "campaigns": out}, None

    def h_contact_companies(self, method, args, query, body):
        rows = self.state.contact_companies(self.state.contact(args[0]))
        return 200, {"total": len(rows), "companies": rows}, None

    def h_utm_add(self, method, args, query, body):
        """``addUtmTagsAction`` → ``LeadModel::addUTMTags`` (snake_case keys; see mautic_records)."""
        contact = self.state.contact_to_edit(args[0])
        self.state.add_utm_tags(contact, body if isinstance(body, dict) else {})
        return 200, {"contact": self.state.contact_json(contact)}, None

    def h_utm_remove(self, method, args, query, body):
        """``removeUtmTagsAction``: an unknown UTM id is ``badRequest()`` (400), not 404."""
        contact = self.state.contact_to_edit(args[0])
        if not self.state.remove_utm_tag(contact, int(args[1])):
            raise MauticFault(400, BAD_REQUEST)
        return 200, {"recordFound": True, "contact": self.state.contact_json(contact)}, None

    # ---- point groups (PointGroupsApiController, a standard entity) -------------------------
    def _group_json(self, group):
        return self.state.group_json(group, full=True)

    def h_groups(self, method, args, query, body):
        """Search: ``GroupRepository`` keeps CommonRepository's commands (``ids:`` only); a
        plain word is ``name LIKE %word%``. A list (the repository builds its own query)."""
        rows = list(self.state.point_groups.values())
        total, page = self.state.list_records(rows, query, catch_all=lambda g: [g["name"]])
        return 200, {"total": total, "pointGroups": [self._group_json(g) for g in page]}, None

    def h_group_new(self, method, args, query, body):
        group = self.state.create_point_group(self._body_dict(body))
        return 201, {"pointGroup": self._group_json(group)}, self._location(f"points/groups/{group['id']}")

    def h_group_get(self, method, args, query, body):
        return 200, {"pointGroup": self._group_json(self.state.point_group(args[0]))}, None

    def h_group_edit(self, method, args, query, body):
        """``editEntityAction``: PATCH on a missing id is 404; PUT creates a group (new id, 201)."""
        group, status = self.state.edit_point_group(args[0], self._body_dict(body), method)
        extra = self._location(f"points/groups/{group['id']}") if status == 201 else None
        return status, {"pointGroup": self._group_json(group)}, extra

    def h_group_delete(self, method, args, query, body):
        group = self.state.point_group(args[0])
        out = self._group_json(group)
        self._delete_group(group)
        return 200, {"pointGroup": out}, None

    def h_groups_batch_new(self, method, args, query, body):
        """``newEntitiesAction``: HTTP 201 whatever the items; per item 201 or the form error."""
        records: dict[Any, Any] = {}
        codes: list[int] = []
        errors: dict[Any, Any] = {}
        for key, item in self._batch_items(body):
            try:
                group = self.state.create_point_group(self._body_dict(item))
            except MauticFault as fault:
                codes.append(fault.code)
                errors[key] = fault.item()
                continue
            codes.append(201)
            records[key] = self._group_json(group)
        return 201, batch_payload("pointGroups", records, codes, errors), None

    def h_groups_batch_edit(self, method, args, query, body):
        """``editEntitiesAction``: HTTP 200; an item without ``id`` is 400 "ID is missing from the
        payload." (``BatchIdToEntityHelper``); PATCH on a missing id 404; PUT creates (201)."""
        records: dict[Any, Any] = {}
        codes: list[int] = []
        errors: dict[Any, Any] = {}
        for key, item in self._batch_items(body):
            if not isinstance(item, dict) or item.get("id") in (None, ""):
                codes.append(400)
                errors[key] = {"message": "ID is missing from the payload.", "code": 400, "type": "api"}
                continue
            try:
                group, status = self.state.edit_point_group(
                    item["id"], {k: v for k, v in item.items() if k != "id"}, method
                )
            except MauticFault as fault:
                codes.append(fault.code)
                errors[key] = (
                    {"message": fault.message, "code": fault.code, "type": "api"}
                    if fault.code == 404
                    else fault.item()
                )
                continue
            codes.append(status)
            records[key] = self._group_json(group)
        payload: dict[str, Any] = {"pointGroups": ordered(records), "statusCodes": codes}
        if errors:
            payload["errors"] = keyed(errors) if all(isinstance(k, int) for k in errors) else errors
        return 200, payload, None

    def h_groups_batch_delete(self, method, args, query, body):
        """``deleteEntitiesAction`` (§4.4): serialised before deleting; unknown ids left out."""

        def find(raw: str) -> dict[str, Any] | None:
            try:
                return self.state.point_group(raw)
            except MauticFault:
                return None

        payload = delete_batch(
            query,
            name="pointGroups",
            limit=int(self.settings["batch_max_limit"]),
            find=find,
            serialise=self._group_json,
            delete=self._delete_group,
        )
        return 200, payload, None

    def _delete_group(self, group: dict[str, Any]) -> None:
        """A group and the contacts' scores in it."""
        del self.state.point_groups[group["id"]]
        for key in [k for k in self.state.group_scores if k[1] == group["id"]]:
            del self.state.group_scores[key]

    # ---- segments (ListApiController, standard entity "lists") -------------------------------
    def h_segments(self, method, args, query, body):
        rows = list(self.state.segments.values())
        total, page = self.state.list_records(
            rows,
            query,
            catch_all=lambda s: [s["name"]],
            commands=self.state.segment_search_commands(),
            default_order=["name"],
        )
        return 200, {"total": total, "lists": by_id([self.state.segment_json(s, iso) for s in page])}, None

    def h_segment_get(self, method, args, query, body):
        return 200, {"list": self.state.segment_json(self.state.segment(args[0]), iso)}, None

    def h_segment_new(self, method, args, query, body):
        segment = self.state.create_segment(self._body_dict(body))
        return (
            201,
            {"list": self.state.segment_json(segment, iso)},
            self._location(f"segments/{segment['id']}"),
        )

    def h_segment_contact(self, method, args, query, body):
        """``addLeadAction``/``removeLeadAction``: segment 404 "Item was not found." first, then
        the contact ("Contact not found."); ``{"success": 1}``."""
        segment = self.state.segment(args[0])
        contact = self._lead_to_edit(args[1])
        self._check_user_list(segment)
        if args[2] == "add":
            self.state.add_to_segment(segment, contact)
        else:
            self.state.remove_from_segment(segment, contact)
        return 200, {"success": 1}, None

    @staticmethod
    def _check_user_list(segment: dict[str, Any]) -> None:
        """``isset($lists[$id])`` over ``getUserLists()``: an unpublished segment is 403."""
        if not segment["isPublished"]:
            raise MauticFault(403, ACCESS)

    def h_segment_contacts_add(self, method, args, query, body):
        """``addLeadsAction``: body ``ids`` (400 without it); per id ``{"success": bool}``: false
        keyed by the id as sent (no such contact, or one the user may not edit), true keyed by
        the contact's id."""
        ids = body.get("ids") if isinstance(body, dict) else None
        if ids is None:
            raise MauticFault(400, BAD_REQUEST)
        segment = self.state.segment(args[0])
        self._check_user_list(segment)
        details: dict[str, Any] = {}
        for cid in ids if isinstance(ids, list) else [ids]:
            contact = self.state.contacts.get(_int(cid))
            if contact is None or not self.state.may_edit(contact):
                details[str(cid)] = {"success": False}
            else:
                self.state.add_to_segment(segment, contact)
                details[str(contact["id"])] = {"success": True}
        return 200, {"success": 1, "details": details}, None

    # ---- contact fields (FieldApiController, /fields/{object}) ------------------------------
    def _field_object(self, name: str) -> list:
        if name == "contact":
            return list(CONTACT_FIELDS)
        if name == "company":
            return list(COMPANY_FIELDS)
        return []

    def h_field_list(self, method, args, query, body):
        fields = self._field_object(args[0])
        rows = [{**f.details_json(), "_field": f} for f in fields]
        # LeadFieldRepository: the catch-all search is on label and alias, the default order f.order
        total, page = self.state.list_records(
            rows, query, catch_all=lambda r: [r["label"], r["alias"]], default_order=["order"]
        )
        return (
            200,
            {"total": total, "fields": by_id([{k: v for k, v in r.items() if k != "_field"} for r in page])},
            None,
        )

    def h_field_get(self, method, args, query, body):
        found = next((f for f in self._field_object(args[0]) if str(f.id) == args[1]), None)
        if found is None:
            raise MauticFault(404, NOT_FOUND)
        return 200, {"field": found.details_json()}, None

    # ---- users (UserApiController) -------------------------------------------------------------
    def h_users(self, method, args, query, body):
        rows = list(self.state.users.values())
        total, page = self.state.list_records(
            rows,
            query,
            catch_all=lambda u: [u["firstName"], u["lastName"], u["username"], u["email"]],
            commands={
                "email": lambda f, u: _like_prefix(f, u["email"]),
                "username": lambda f, u: _like_prefix(f, u["username"]),
            },
            default_order=["lastName", "firstName", "username"],
        )
        return 200, {"total": total, "users": [self.state.user_json(u, iso) for u in page]}, None

    def h_user_get(self, method, args, query, body):
        return 200, {"user": self.state.user_json(self.state.user(args[0]), iso)}, None

    def h_user_self(self, method, args, query, body):
        """``getSelfAction``: the user object itself, not wrapped. A client-credentials token
        acts as a pseudo-user named after the client (``AuthenticationListener``)."""
        login = getattr(self, "current_login", None)
        user = self.state.user_by_name(login) if login else None
        if user is not None:
            return 200, self.state.user_json(user, iso), None
        client = getattr(self, "current_client", "") or ""
        return (
            200,
            {
                "id": None,
                "username": None,
                "firstName": "Sandbox client",
                "lastName": f"[{client}]",
                "email": None,
                "role": self.state.roles[1],
            },
            None,
        )

    # ---- notes (NoteApiController) ---------------------------------------------------------
    def h_notes_list(self, method, args, query, body):
        rows = list(self.state.notes.values())
        total, page = self.state.list_records(rows, query, catch_all=lambda n: [n["text"]])
        return (
            200,
            {"total": total, "notes": [self.state.note_json(n, iso, with_lead=True) for n in page]},
            None,
        )

    def h_note_get(self, method, args, query, body):
        return 200, {"note": self.state.note_json(self.state.note(args[0]), iso, with_lead=True)}, None

    def h_note_new(self, method, args, query, body):
        """The form first (``text`` not blank, ``type`` a choice), then ``preSaveEntity``: no
        ``lead`` is 400 "lead ID is mandatory", an unknown one 404 "Contact not found."."""
        body = self._body_dict(body)
        errors = self.state.check_note(body, partial=False)
        if errors:
            raise MauticFault(
                400, ", ".join(f"{k}: {m}" for k, ms in errors.items() for m in ms), details=errors
            )
        if body.get("lead") in (None, "", 0, "0"):
            raise MauticFault(400, "lead ID is mandatory")
        contact = self._lead(body["lead"])
        when = php_datetime(body["dateTime"]) if body.get("dateTime") else None
        note = self.state.create_note({**body, "dateTime": when}, contact)
        return (
            201,
            {"note": self.state.note_json(note, iso, with_lead=True)},
            self._location(f"notes/{note['id']}"),
        )

    # ---- companies (CompanyApiController) -----------------------------------------------------
    def h_companies(self, method, args, query, body):
        rows = list(self.state.companies.values())
        total, page = self.state.list_records(
            [{**c, "name": c["values"].get("companyname")} for c in rows],
            query,
            catch_all=lambda c: [
                c["values"].get("companyname"),
                c["values"].get("companycity"),
                c["values"].get("companyemail"),
            ],
        )
        return (
            200,
            {
                "total": str(total),
                "companies": by_id([self.state.company_json(self.state.companies[c["id"]]) for c in page]),
            },
            None,
        )

    def h_company_get(self, method, args, query, body):
        return 200, {"company": self.state.company_json(self.state.company(args[0]))}, None

    def h_company_new(self, method, args, query, body):
        """``newEntityAction``: without ``force``, an existing company of that name is edited
        instead (200), through ``editEntityAction`` with the request's method (POST): the form
        clears absent fields and ``preSaveEntity`` writes blanks, as a PUT does."""
        body = self._body_dict(body)
        if not body.get("force"):
            existing = self.state.find_company(body)
            if existing is not None:
                self.state.edit_company(existing, body, "PUT")
                return 200, {"company": self.state.company_json(existing)}, None
        company = self.state.create_company(body)
        return (
            201,
            {"company": self.state.company_json(company)},
            self._location(f"companies/{company['id']}"),
        )

    def h_company_contact(self, method, args, query, body):
        """``addContactAction`` checks the contact with ``checkLeadAccess`` ("Contact not
        found."); ``removeContactAction`` answers a missing contact "Item was not found."."""
        company = self.state.company(args[0])
        if args[2] == "add":
            self.state.add_to_company(company, self._lead_to_edit(args[1]))
        else:
            self.state.remove_from_company(company, self.state.contact_to_edit(args[1]))
        return 200, {"success": 1}, None

    # ---- campaigns (CampaignApiController) -----------------------------------------------------
    def h_campaigns(self, method, args, query, body):
        rows = list(self.state.campaigns.values())
        total, page = self.state.list_records(
            rows,
            query,
            catch_all=lambda c: [c["name"]],
            commands={
                "is:published": lambda f, c: bool(c["isPublished"]),
                "is:unpublished": lambda f, c: not c["isPublished"],
            },
        )
        return (
            200,
            {"total": total, "campaigns": by_id([self.state.campaign_json(c, iso) for c in page])},
            None,
        )

    def h_campaign_get(self, method, args, query, body):
        return 200, {"campaign": self.state.campaign_json(self.state.campaign(args[0]), iso)}, None

    def h_campaign_members(self, method, args, query, body):
        """``getContactsAction``: campaign 404 first; the active members' ``campaign_leads`` rows."""
        return 200, self.state.list_campaign_members(self.state.campaign(args[0]), query), None

    def h_campaign_contact(self, method, args, query, body):
        """``addLeadAction`` answers an unknown contact "Item was not found." and checks the edit
        access against the contact's owner only; ``removeLeadAction`` uses ``checkLeadAccess``
        ("Contact not found.", then the owner, else the creator)."""
        campaign = self.state.campaign(args[0])
        if args[2] == "add":
            self.state.add_to_campaign(campaign, self.state.contact_to_edit(args[1], owner_only=True))
        else:
            self.state.remove_from_campaign(campaign, self._lead_to_edit(args[1]))
        return 200, {"success": 1}, None

    # ---- stages (StageApiController) -----------------------------------------------------------
    def h_stages(self, method, args, query, body):
        rows = list(self.state.stages.values())
        total, page = self.state.list_records(
            rows,
            query,
            catch_all=lambda s: [s["name"]],
            commands={
                "is:published": lambda f, s: bool(s["isPublished"]),
                "is:unpublished": lambda f, s: not s["isPublished"],
            },
        )
        return 200, {"total": total, "stages": [self.state.stage_json(s, iso) for s in page]}, None

    def h_stage_get(self, method, args, query, body):
        return 200, {"stage": self.state.stage_json(self.state.stage(args[0]), iso)}, None

    def h_stage_new(self, method, args, query, body):
        stage = self.state.create_stage(self._body_dict(body))
        return 201, {"stage": self.state.stage_json(stage, iso)}, self._location(f"stages/{stage['id']}")

    def h_stage_contact(self, method, args, query, body):
        """``addContactAction``/``removeContactAction``: stage 404 first, then the contact;
        the change is logged ("Manually Added" / "Manually Removed")."""
        stage = self.state.stage(args[0])
        contact = self._lead_to_edit(args[1])
        if args[2] == "add":
            self.state.change_stage(contact, stage, "Manually Added", stage["id"])
        else:
            self.state.change_stage(contact, stage, "Manually Removed", None)
        return 200, {"success": 1}, None

    # ---- devices (DeviceApiController) ---------------------------------------------------------
    def h_devices_list(self, method, args, query, body):
        rows = list(self.state.devices.values())
        total, page = self.state.list_records(rows, query, catch_all=lambda d: [d["device"]])
        return (
            200,
            {"total": total, "devices": [self.state.device_json(d, with_lead=True) for d in page]},
            None,
        )

    def h_device_get(self, method, args, query, body):
        return 200, {"device": self.state.device_json(self.state.device(args[0]), with_lead=True)}, None

    def resource_routes(self) -> list[tuple[set[str], str, Any]]:
        return [
            ({"GET"}, r"/contacts/list/owners", self.h_owners),
            ({"GET"}, r"/contacts/list/fields", self.h_fields),
            ({"GET"}, r"/contacts/list/segments", self.h_segments_list),
            ({"GET"}, r"/contacts/(\d+)/notes", self.h_notes),
            ({"GET"}, r"/contacts/(\d+)/devices", self.h_devices),
            ({"GET"}, r"/contacts/(\d+)/segments", self.h_contact_segments),
            ({"GET"}, r"/contacts/(\d+)/campaigns", self.h_contact_campaigns),
            ({"GET"}, r"/contacts/(\d+)/companies", self.h_contact_companies),
            ({"POST"}, r"/contacts/(\d+)/utm/add", self.h_utm_add),
            ({"POST"}, r"/contacts/(\d+)/utm/(\d+)/remove", self.h_utm_remove),
            ({"GET"}, r"/points/groups", self.h_groups),
            ({"POST"}, r"/points/groups/new", self.h_group_new),
            ({"POST"}, r"/points/groups/batch/new", self.h_groups_batch_new),
            ({"PUT", "PATCH"}, r"/points/groups/batch/edit", self.h_groups_batch_edit),
            ({"DELETE"}, r"/points/groups/batch/delete", self.h_groups_batch_delete),
            ({"GET"}, r"/points/groups/(\d+)", self.h_group_get),
            ({"PUT", "PATCH"}, r"/points/groups/(\d+)/edit", self.h_group_edit),
            ({"DELETE"}, r"/points/groups/(\d+)/delete", self.h_group_delete),
            ({"GET"}, r"/segments", self.h_segments),
            ({"POST"}, r"/segments/new", self.h_segment_new),
            ({"GET"}, r"/segments/(\d+)", self.h_segment_get),
            ({"POST"}, r"/segments/(\d+)/contact/(\d+)/(add|remove)", self.h_segment_contact),
            ({"POST"}, r"/segments/(\d+)/contacts/add", self.h_segment_contacts_add),
            ({"GET"}, r"/fields/(contact|company)", self.h_field_list),
            ({"GET"}, r"/fields/(contact|company)/(\d+)", self.h_field_get),
            ({"GET"}, r"/users", self.h_users),
            ({"GET"}, r"/users/self", self.h_user_self),
            ({"GET"}, r"/users/(\d+)", self.h_user_get),
            ({"GET"}, r"/notes", self.h_notes_list),
            ({"POST"}, r"/notes/new", self.h_note_new),
            ({"GET"}, r"/notes/(\d+)", self.h_note_get),
            ({"GET"}, r"/companies", self.h_companies),
            ({"POST"}, r"/companies/new", self.h_company_new),
            ({"GET"}, r"/companies/(\d+)", self.h_company_get),
            ({"POST"}, r"/companies/(\d+)/contact/(\d+)/(add|remove)", self.h_company_contact),
            ({"GET"}, r"/campaigns", self.h_campaigns),
            ({"GET"}, r"/campaigns/(\d+)", self.h_campaign_get),
            ({"GET"}, r"/campaigns/(\d+)/contacts", self.h_campaign_members),
            ({"POST"}, r"/campaigns/(\d+)/contact/(\d+)/(add|remove)", self.h_campaign_contact),
            ({"GET"}, r"/stages", self.h_stages),
            ({"POST"}, r"/stages/new", self.h_stage_new),
            ({"GET"}, r"/stages/(\d+)", self.h_stage_get),
            ({"POST"}, r"/stages/(\d+)/contact/(\d+)/(add|remove)", self.h_stage_contact),
            ({"GET"}, r"/devices", self.h_devices_list),
            ({"GET"}, r"/devices/(\d+)", self.h_device_get),
        ]


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
