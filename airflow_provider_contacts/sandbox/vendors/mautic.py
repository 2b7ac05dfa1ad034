"""Mautic emulator: the HTTP side (guards, routing, PHP-style query strings, error bodies).

The data and its rules live in :mod:`.mautic_state`. Facts: ``shared/research/mautic.md``;
the checklist of its §11 is what this emulator reproduces:

* guard order: API disabled (403 ``api_disabled``, also for ``/oauth``) → Basic header while
  Basic auth is off (403) → authentication (401 ``access_denied`` / ``invalid_grant``) → the
  optional hourly rate limiter (429 + ``X-RateLimit-*``, no ``Retry-After``) → permission (403);
* ``/oauth/v2/token`` client credentials; tokens expire after ``token_lifetime`` seconds;
* every response carries ``Mautic-Version``.

Options (``SandboxConfig.vendor_options["mautic"]`` or ``emulator.settings`` at run time):
``api_enabled``, ``basic_auth_enabled``, ``batch_max_limit`` (200), ``rate_limit_per_hour``
(0 = off), ``token_lifetime`` (3600), ``seed_contacts`` (40), ``version``.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any, Callable
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from airflow_provider_contacts.sandbox.base import VendorEmulator, basic_credentials
from airflow_provider_contacts.sandbox.vendors.mautic_state import (
    ACCESS,
    BATCH_LIMIT,
    CAMPAIGNS,
    FIELD_BY_ALIAS,
    GENERIC_500,
    NOT_FOUND,
    OWNERS,
    SEGMENTS,
    UNIQUE_FIELDS,
    MauticFault,
    MauticState,
    iso,
    keyed,
)

USERNAME = "sandbox"
PASSWORD = "sandbox-password"
#: a user who can log in but has no permission on contacts
RESTRICTED_USER = ("viewer", "viewer-password")
CLIENT_ID = "1_sandboxclientid"
CLIENT_SECRET = "sandbox-client-secret"
#: API credentials created by a non-admin: only authorization_code + refresh_token
USER_CLIENT = ("2_userclientid", "user-client-secret")

DEFAULTS: dict[str, Any] = {
    "api_enabled": True,
    "basic_auth_enabled": True,
    "batch_max_limit": 200,
    "rate_limit_per_hour": 0,
    "token_lifetime": 3600,
    "seed_contacts": 40,
    "version": "5.2.0",
    #: time added to every /api request, outside the emulator's lock (0 = none). Real Mautic
    #: boots its kernel per request and checks Basic credentials against a bcrypt (cost 12)
    #: hash on every call (research §1.2); benchmarks set this to compare batch and
    #: per-contact clients under a per-request cost.
    "request_overhead_ms": 0,
    #: False: batch/new answers normally but forgets the contacts (memory benchmarks)
    "retain_contacts": True,
}

AUTH_MESSAGES = {
    "api_disabled": "API disabled. You need to enable the API in the API settings of Mautic's Configuration.",
    "basic_disabled": "Basic Auth disabled. You need to enable HTTP basic auth in the API settings of Mautic's Configuration.",
    "no_credentials": "API authorization denied.",
    "bad_basic": "Authorization denied, invalid credentials.",
    "bad_token": "The access token provided is invalid.",
    "expired_token": "The access token provided has expired.",
}


def php_query(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Parse ``a[b][]=1&a[c]=2`` like PHP does into nested dicts (lists for ``[]``)."""
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = re.match(r"^([^\[]+)((?:\[[^\]]*\])*)$", raw_key)
        if not match:
            out[raw_key] = value
            continue
        keys = [match.group(1)] + re.findall(r"\[([^\]]*)\]", match.group(2))
        node: Any = out
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            if isinstance(node, list):
                if key == "":
                    if last:
                        node.append(value)
                        break
                    node.append({})
                    node = node[-1]
                    continue
                node = {str(j): v for j, v in enumerate(node)}  # mixed keys: not expected
            if last:
                if key == "":
                    node.setdefault("", []).append(value)
                else:
                    node[key] = value
                break
            nxt_empty = keys[i + 1] == ""
            if key not in node or not isinstance(node[key], (dict, list)):
                node[key] = [] if nxt_empty else {}
            node = node[key]
    return out


class MauticEmulator(VendorEmulator):
    name = "mautic"
    mount = "/mautic"
    defaults = DEFAULTS

    def reset(self, seed: int | None = None, empty: bool = False) -> None:
        super().reset(seed)
        with self.lock:
            self.state = MauticState(self.settings, self.seed, empty, self.clock)
            self.tokens: dict[str, dict[str, Any]] = {}
            self.token_requests = 0
            self.buckets: dict[str, dict[str, float]] = {}
            self.users = {USERNAME: {"password": PASSWORD, "admin": True},
                          RESTRICTED_USER[0]: {"password": RESTRICTED_USER[1], "admin": False}}
            self.clients = {
                CLIENT_ID: {"secret": CLIENT_SECRET, "grants": {"authorization_code", "refresh_token", "client_credentials"}, "admin": True},
                USER_CLIENT[0]: {"secret": USER_CLIENT[1], "grants": {"authorization_code", "refresh_token"}, "admin": False},
            }

    # conveniences for tests -----------------------------------------------------------------
    @property
    def contacts(self) -> dict[int, dict[str, Any]]:
        return self.state.contacts

    def contact_by_email(self, email: str) -> dict[str, Any] | None:
        return self.state.find_by_unique({"email": email})

    def add_event(self, event_type: str, contact_id: int | None, when: datetime | None = None, **kw: Any) -> dict[str, Any]:
        with self.lock:
            return self.state.add_event(event_type, contact_id, when, **kw)

    def generate(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Bulk data for benchmarks: ``{"events": N, "days": D}`` adds N events over the last
        D days; ``{"contacts": N}`` adds N contacts."""
        with self.lock:
            out: dict[str, Any] = {}
            for i in range(int(spec.get("contacts", 0))):
                self.state.upsert({"email": f"generated{len(self.state.contacts) + 1}-{i}@example.com"})
            out["contacts"] = len(self.state.contacts)
            if spec.get("events"):
                end = self.state.now()
                start = end - timedelta(days=float(spec.get("days", 1)))
                self.state.generate_events(int(spec["events"]), start, end, spec.get("types"))
            out["events"] = len(self.state.events)
            return out

    def expire_tokens(self) -> None:
        """Make every issued token expired (a server-side expiry the client cannot see)."""
        with self.lock:
            for token in self.tokens.values():
                token["expires"] = 0

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            s = self.state
            return {
                "contacts": len(s.contacts),
                "events": len(s.events),
                "point_groups": [s.group_json(g) for g in s.point_groups.values()],
                "token_requests": self.token_requests,
                "settings": dict(self.settings),
            }

    # responses ------------------------------------------------------------------------------
    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        all_headers = {"Mautic-Version": str(self.settings["version"]), **(headers or {})}
        return Response(json.dumps(body, separators=(",", ":")), status_code=status,
                        media_type="application/json", headers=all_headers)

    def _auth_error(self, status: int, type_: str, key: str) -> Response:
        # ApiSubscriber's fresh JsonResponse: message/code/type, no details, no WWW-Authenticate
        return self._json({"errors": [{"message": AUTH_MESSAGES[key], "code": status, "type": type_}]}, status)

    def _fault(self, fault: MauticFault, headers: dict[str, str] | None = None) -> Response:
        return self._json({"errors": [fault.item()]}, fault.code, headers)

    def fault_response(self, status: int, retry_after: float):
        if status == 429:
            limit = int(self.settings.get("rate_limit_per_hour") or 100)
            return self._json(
                {"errors": [{"code": 429, "message": f"You exceeded the rate limit of {limit} API calls per hour.", "details": []}]},
                429,
                {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": str(int(self.clock() + retry_after))},
            )
        message = GENERIC_500.replace("#500", f"#{status}")
        return self._json({"errors": [{"message": message, "code": status, "type": None}]}, status)

    # guards ---------------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> tuple[Response | None, str, bool]:
        """(error response or None, rate-limit bucket key, is admin)."""
        header = request.headers.get("authorization") or ""
        if not self.settings["api_enabled"]:
            return self._auth_error(403, "api_disabled", "api_disabled"), "", False
        if header.startswith("Basic "):
            if not self.settings["basic_auth_enabled"]:
                return self._auth_error(403, "access_denied", "basic_disabled"), "", False
            creds = basic_credentials(header)
            user = self.users.get(creds[0]) if creds else None
            if user is None or user["password"] != creds[1]:
                return self._auth_error(401, "access_denied", "bad_basic"), "", False
            return None, "basic", bool(user["admin"])
        token = None
        if header.startswith("Bearer "):
            token = header[7:].strip()
        elif request.query_params.get("access_token"):
            token = request.query_params["access_token"]
        if token is None:
            return self._auth_error(401, "access_denied", "no_credentials"), "", False
        info = self.tokens.get(token)
        if info is None:
            return self._auth_error(401, "invalid_grant", "bad_token"), "", False
        if info["expires"] <= self.clock():
            return self._auth_error(401, "invalid_grant", "expired_token"), "", False
        return None, token, bool(self.clients[info["client"]]["admin"])

    def _rate_limit(self, bucket: str) -> tuple[Response | None, dict[str, str]]:
        limit = int(self.settings.get("rate_limit_per_hour") or 0)
        if limit <= 0:
            return None, {}
        now = self.clock()
        entry = self.buckets.get(bucket)
        if entry is None or now >= entry["reset"]:
            entry = self.buckets[bucket] = {"calls": 0, "reset": now + 3600}
        entry["calls"] += 1
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - int(entry["calls"]))),
            "X-RateLimit-Reset": str(int(entry["reset"])),
        }
        if entry["calls"] > limit:
            body = {"errors": [{"code": 429, "message": f"You exceeded the rate limit of {limit} API calls per hour.", "details": []}]}
            return self._json(body, 429, headers), headers
        return None, headers

    # token endpoint (§1.1) -----------------------------------------------------------------
    async def _token(self, request: Request) -> Response:
        if not self.settings["api_enabled"]:
            return self._auth_error(403, "api_disabled", "api_disabled")
        params: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            raw = (await request.body()).decode("utf-8", "replace")
            ctype = request.headers.get("content-type", "")
            if "json" in ctype:
                try:
                    data = json.loads(raw or "{}")
                    params.update({k: str(v) for k, v in data.items()} if isinstance(data, dict) else {})
                except ValueError:
                    pass
            else:
                params.update(dict(parse_qsl(raw)))

        def error(type_: str, message: str) -> Response:
            return self._json({"errors": [{"message": message, "code": 400, "type": type_}]}, 400)

        grant = params.get("grant_type")
        if grant not in ("authorization_code", "password", "client_credentials", "refresh_token"):
            return error("invalid_request", "Invalid grant_type parameter or parameter missing")
        client_id, secret = params.get("client_id"), params.get("client_secret")
        creds = basic_credentials(request.headers.get("authorization"))
        if creds:
            client_id, secret = creds
        with self.lock:
            client = self.clients.get(client_id or "")
            if client is None or client["secret"] != secret:
                return error("invalid_client", "The client credentials are invalid")
            if grant not in client["grants"]:
                return error("unauthorized_client", "The grant type is unauthorized for this client_id")
            if grant != "client_credentials":
                return error("invalid_request", "Only client_credentials is emulated by the sandbox")
            token = secrets.token_urlsafe(32)
            lifetime = int(self.settings["token_lifetime"])
            self.tokens[token] = {"client": client_id, "expires": self.clock() + lifetime}
            self.token_requests += 1
        return self._json({"access_token": token, "expires_in": lifetime, "token_type": "bearer", "scope": None})

    # routing --------------------------------------------------------------------------------
    def build_router(self):
        router = APIRouter()
        routes = self._routes()

        @router.api_route("/oauth/v2/token", methods=["GET", "POST"])
        async def token(request: Request) -> Any:
            return await self._token(request)

        @router.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def api(path: str, request: Request) -> Any:
            raw = await request.body()
            overhead = float(self.settings.get("request_overhead_ms") or 0)
            if overhead > 0:
                import asyncio

                await asyncio.sleep(overhead / 1000.0)
            with self.lock:
                denied, bucket, admin = self._authenticate(request)
                if denied is not None:
                    return denied
                limited, rl_headers = self._rate_limit(bucket)
                if limited is not None:
                    return limited
                handler, args, allowed = _match(routes, request.method, "/" + path)
                if handler is None:
                    if allowed:
                        return self._json({"errors": [{"message": f'No route found for "{request.method} /api/{path}": Method Not Allowed (Allow: {", ".join(sorted(allowed))})', "code": 405, "type": None}]}, 405, rl_headers)
                    return self._json({"errors": [{"message": f'No route found for "{request.method} /api/{path}"', "code": 404, "type": None}]}, 404, rl_headers)
                if not admin:
                    return self._fault(MauticFault(403, ACCESS), rl_headers)
                query = php_query(request.query_params.multi_items())
                body: Any = {}
                if raw:
                    if "json" in request.headers.get("content-type", "") or raw[:1] in (b"{", b"["):
                        try:
                            body = json.loads(raw)
                        except ValueError:
                            return self._fault(MauticFault(400, "This is a bad request."), rl_headers)
                    else:
                        body = php_query(parse_qsl(raw.decode("utf-8", "replace")))
                try:
                    status, payload, extra = handler(request.method, args, query, body)
                except MauticFault as fault:
                    return self._fault(fault, rl_headers)
                return self._json(payload, status, {**rl_headers, **(extra or {})})

        return router

    def _routes(self) -> list[tuple[set[str], re.Pattern[str], Callable[..., Any]]]:
        table = [
            ({"GET"}, r"/contacts", self.h_list),
            ({"POST"}, r"/contacts/new", self.h_new),
            ({"POST"}, r"/contacts/batch/new", self.h_batch_new),
            ({"PUT", "PATCH"}, r"/contacts/batch/edit", self.h_batch_edit),
            ({"DELETE"}, r"/contacts/batch/delete", self.h_batch_delete),
            ({"GET"}, r"/contacts/activity", self.h_activity),
            ({"GET"}, r"/contacts/list/owners", self.h_owners),
            ({"GET"}, r"/contacts/list/fields", self.h_fields),
            ({"GET"}, r"/contacts/list/segments", self.h_segments_list),
            ({"GET"}, r"/contacts/(\d+)", self.h_get),
            ({"PUT", "PATCH"}, r"/contacts/(\d+)/edit", self.h_edit),
            ({"DELETE"}, r"/contacts/(\d+)/delete", self.h_delete),
            ({"GET"}, r"/contacts/(\d+)/activity", self.h_contact_activity),
            ({"POST"}, r"/contacts/(\d+)/dnc/([^/]+)/add", self.h_dnc_add),
            ({"POST"}, r"/contacts/(\d+)/dnc/([^/]+)/remove", self.h_dnc_remove),
            ({"GET"}, r"/contacts/(\d+)/points/groups", self.h_contact_groups),
            ({"GET"}, r"/contacts/(\d+)/points/groups/(\d+)", self.h_contact_group),
            ({"POST"}, r"/contacts/(\d+)/points/groups/([^/]+)/([^/]+)/([^/]+)", self.h_group_adjust),
            ({"POST"}, r"/contacts/(\d+)/points/([^/]+)/([^/]+)", self.h_points),
            ({"GET"}, r"/contacts/(\d+)/notes", self.h_notes),
            ({"GET"}, r"/contacts/(\d+)/devices", self.h_devices),
            ({"GET"}, r"/contacts/(\d+)/segments", self.h_contact_segments),
            ({"GET"}, r"/contacts/(\d+)/campaigns", self.h_contact_campaigns),
            ({"GET"}, r"/contacts/(\d+)/companies", self.h_contact_companies),
            ({"POST"}, r"/contacts/(\d+)/utm/add", self.h_utm_add),
            ({"POST"}, r"/contacts/(\d+)/utm/(\d+)/remove", self.h_utm_remove),
            ({"GET"}, r"/points/groups", self.h_groups),
            ({"POST"}, r"/points/groups/new", self.h_group_new),
            ({"GET"}, r"/points/groups/(\d+)", self.h_group_get),
            ({"PUT", "PATCH"}, r"/points/groups/(\d+)/edit", self.h_group_edit),
            ({"DELETE"}, r"/points/groups/(\d+)/delete", self.h_group_delete),
        ]
        return [(methods, re.compile(pattern + r"/?$"), handler) for methods, pattern, handler in table]

    # handlers: (method, path args, query, body) -> (status, payload, extra headers) ----------
    def h_list(self, method, args, query, body):
        total, rows = self.state.list_contacts(query)
        minimal = str(query.get("minimal", "")).lower() in ("1", "true")
        contacts = {str(c["id"]): self._select(self.state.contact_json(c, minimal), query) for c in rows}
        return 200, {"total": str(total), "contacts": contacts}, None

    def _select(self, contact: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
        select = query.get("select")
        if not select:
            return contact
        wanted = set(select if isinstance(select, list) else [select]) | {"id"}
        values = {k: v for k, v in contact["fields"]["all"].items() if k in wanted and v is not None}
        return {"id": contact["id"], "fields": {"all": values}}

    def h_get(self, method, args, query, body):
        return 200, {"contact": self.state.contact_json(self.state.contact(args[0]))}, None

    def _body_dict(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise MauticFault(400, "This is a bad request.")
        return body

    def h_new(self, method, args, query, body):
        contact, status = self.state.upsert(self._body_dict(body))
        headers = {"Location": f"/api/contacts/{contact['id']}"} if status == 201 else None
        return status, {"contact": self.state.contact_json(contact)}, headers

    def h_edit(self, method, args, query, body):
        contact, status = self.state.edit(args[0], self._body_dict(body), method)
        return status, {"contact": self.state.contact_json(contact)}, None

    def h_delete(self, method, args, query, body):
        contact = self.state.delete(args[0])
        out = self.state.contact_json(contact)
        out["id"] = None  # serialised after Doctrine removal (§3.6)
        return 200, {"contact": out}, None

    def _batch_items(self, body: Any) -> list[tuple[Any, Any]]:
        if isinstance(body, list):
            items = list(enumerate(body))
        elif isinstance(body, dict):
            items = list(body.items())
        else:
            raise MauticFault(400, "This is a bad request.")
        limit = int(self.settings["batch_max_limit"])
        if len(items) > limit:
            # returnError without a code → HTTP 500; nothing processed (§4.1)
            raise MauticFault(500, BATCH_LIMIT.format(n=limit))
        return items

    def h_batch_new(self, method, args, query, body):
        items = self._batch_items(body)
        contacts: dict[Any, Any] = {}
        codes: list[int] = []
        errors: dict[Any, Any] = {}
        for key, item in items:
            try:
                contact, status = self.state.upsert(self._body_dict(item))
            except MauticFault as fault:
                codes.append(fault.code)
                errors[key] = fault.item()
                continue
            codes.append(status)
            contacts[key] = self.state.contact_json(contact)
        if not self.settings.get("retain_contacts", True):
            self.state.contacts.clear()
            self.state.by_email.clear()
        return 201, _batch_payload(contacts, codes, errors), None

    def h_batch_edit(self, method, args, query, body):
        items = self._batch_items(body)
        contacts: dict[Any, Any] = {}
        created: dict[Any, Any] = {}
        codes: list[int] = []
        errors: dict[Any, Any] = {}
        for key, item in items:
            if not isinstance(item, dict) or item.get("id") in (None, ""):
                codes.append(400)
                errors[key] = {"message": "ID is missing from the payload.", "code": 400, "type": "api"}
                if method == "PUT" and isinstance(item, dict):
                    self.state.edit(0, item, "PUT")  # created, status stays 400 (§4.3)
                continue
            try:
                contact, status = self.state.edit(item["id"], {k: v for k, v in item.items() if k != "id"}, method)
            except MauticFault as fault:
                codes.append(fault.code)
                errors[key] = (
                    {"message": fault.message, "code": fault.code, "type": "api"} if fault.code == 404 else fault.item()
                )
                continue
            codes.append(status)
            (created if status == 201 else contacts)[key] = self.state.contact_json(contact)
        ordered = {**contacts, **created}
        payload: dict[str, Any] = {"contacts": _ordered(ordered), "statusCodes": codes}
        if errors:
            payload["errors"] = keyed(errors) if all(isinstance(k, int) for k in errors) else errors
        return 200, payload, None

    def h_batch_delete(self, method, args, query, body):
        raw = query.get("ids", "")
        ids = raw if isinstance(raw, list) else [i for i in str(raw).split(",") if i.strip()]
        limit = int(self.settings["batch_max_limit"])
        if len(ids) > limit:
            raise MauticFault(500, BATCH_LIMIT.format(n=limit))
        out: dict[int, Any] = {}
        for index, cid in enumerate(ids):
            try:
                contact = self.state.contact(str(cid).strip())
            except MauticFault:
                continue  # unknown ids are silently omitted (§4.4)
            out[index] = self.state.contact_json(contact)
            self.state.delete(contact["id"])
        return 200, {"contacts": keyed(out)}, None

    def h_activity(self, method, args, query, body):
        return 200, self.state.activity(contact_id=None, query=query), None

    def h_contact_activity(self, method, args, query, body):
        contact = self.state.contact(args[0])
        return 200, self.state.activity(contact_id=contact["id"], query=query), None

    def h_owners(self, method, args, query, body):
        return 200, [{"id": o["id"], "firstName": o["firstName"], "lastName": o["lastName"]} for o in OWNERS], None

    def h_fields(self, method, args, query, body):
        fields = {
            str(fid): {
                "id": fid, "label": label, "alias": alias, "type": type_, "group": group, "order": fid,
                "object": "lead", "isUniqueIdentifier": alias in UNIQUE_FIELDS,
            }
            for alias, (fid, _, label, type_, group) in FIELD_BY_ALIAS.items()
        }
        return 200, fields, None

    def h_segments_list(self, method, args, query, body):
        return 200, [{"id": s["id"], "name": s["name"], "alias": s["alias"]} for s in SEGMENTS], None

    def h_dnc_add(self, method, args, query, body):
        contact = self.state.contact(args[0])
        body = body if isinstance(body, dict) else {}
        raw_reason = body.get("reason", 3)
        reason = int(raw_reason) if re.fullmatch(r"\s*-?\d+\s*", str(raw_reason)) else 0
        if reason <= 0:
            raise MauticFault(400, "Invalid reason code given", details=["Reason code needs to be an integer and higher than 0."])
        self.state.add_dnc(contact, args[1], reason, body.get("comments"), body.get("channelId"))
        contact["dateModified"] = self.state.now()
        return 200, {"contact": self.state.contact_json(contact)}, None

    def h_dnc_remove(self, method, args, query, body):
        contact = self.state.contact(args[0])
        found = self.state.remove_dnc(contact, args[1])
        return 200, {"recordFound": found, "contact": self.state.contact_json(contact)}, None

    def h_points(self, method, args, query, body):
        self.state.adjust_points(args[0], args[1], args[2], body if isinstance(body, dict) else {})
        return 200, {"success": 1}, None

    def h_contact_groups(self, method, args, query, body):
        contact = self.state.contact(args[0], "Contact could not be found.")
        scores = [
            {"score": score, "group": self.state.group_json(self.state.point_groups[gid])}
            for (cid, gid), score in sorted(self.state.group_scores.items())
            if cid == contact["id"] and gid in self.state.point_groups
        ]
        return 200, {"total": len(scores), "groupScores": scores}, None

    def h_contact_group(self, method, args, query, body):
        contact = self.state.contact(args[0], "Contact could not be found.")
        group = self.state.point_group(args[1], "The specified point group was not found.")
        score = self.state.group_scores.get((contact["id"], group["id"]))
        if score is None:
            return 200, {"groupScore": None}, None
        return 200, {"groupScore": {"score": score, "group": self.state.group_json(group)}}, None

    def h_group_adjust(self, method, args, query, body):
        score, group = self.state.adjust_group(args[0], args[1], args[2], args[3], body if isinstance(body, dict) else {})
        return 200, {"groupScore": {"score": score, "group": self.state.group_json(group)}}, None

    def h_groups(self, method, args, query, body):
        groups = [self.state.group_json(g, full=True) for g in self.state.point_groups.values()]
        return 200, {"total": len(groups), "pointGroups": groups}, None

    def h_group_new(self, method, args, query, body):
        group = self.state.create_point_group(self._body_dict(body))
        return 201, {"pointGroup": self.state.group_json(group, full=True)}, None

    def h_group_get(self, method, args, query, body):
        return 200, {"pointGroup": self.state.group_json(self.state.point_group(args[0]), full=True)}, None

    def h_group_edit(self, method, args, query, body):
        group = self.state.point_group(args[0])
        body = self._body_dict(body)
        for key in ("name", "description"):
            if key in body or method == "PUT":
                group[key] = body.get(key)
        group["dateModified"] = self.state.now()
        return 200, {"pointGroup": self.state.group_json(group, full=True)}, None

    def h_group_delete(self, method, args, query, body):
        group = self.state.point_group(args[0])
        del self.state.point_groups[group["id"]]
        return 200, {"pointGroup": self.state.group_json(group, full=True)}, None

    def h_notes(self, method, args, query, body):
        notes = self.state.contact(args[0])["notes"]
        return 200, {"total": len(notes), "notes": notes}, None

    def h_devices(self, method, args, query, body):
        devices = self.state.contact(args[0])["devices"]
        return 200, {"total": len(devices), "devices": devices}, None

    def h_contact_segments(self, method, args, query, body):
        contact = self.state.contact(args[0])
        out = {}
        for sid, info in contact["segments"].items():
            segment = next(s for s in SEGMENTS if s["id"] == sid)
            out[str(sid)] = {**segment, "dateAdded": iso(info["dateAdded"]),
                             "manuallyAdded": info["manuallyAdded"], "manuallyRemoved": False}
        return 200, {"total": len(out), "segments": out}, None

    def h_contact_campaigns(self, method, args, query, body):
        contact = self.state.contact(args[0])
        out = {str(cid): {**next(c for c in CAMPAIGNS if c["id"] == cid), **info} for cid, info in contact["campaigns"].items()}
        return 200, {"total": len(out), "campaigns": out}, None

    def h_contact_companies(self, method, args, query, body):
        companies = self.state.contact(args[0])["companies"]
        return 200, {"total": len(companies), "companies": companies}, None

    def h_utm_add(self, method, args, query, body):
        contact = self.state.contact(args[0])
        body = body if isinstance(body, dict) else {}
        keys = ("query", "referer", "remoteHost", "url", "userAgent", "utmCampaign", "utmContent", "utmMedium", "utmSource", "utmTerm")
        utm = {"id": self.state.next_utm_id, **{k: body.get(k) for k in keys}}
        self.state.next_utm_id += 1
        contact["utmtags"].append(utm)
        self.state.add_event("lead.utmtagsadded", contact["id"], details={"utmtags": dict(utm)})
        return 200, {"contact": self.state.contact_json(contact)}, None

    def h_utm_remove(self, method, args, query, body):
        contact = self.state.contact(args[0])
        before = len(contact["utmtags"])
        contact["utmtags"] = [u for u in contact["utmtags"] if str(u["id"]) != args[1]]
        if len(contact["utmtags"]) == before:
            raise MauticFault(404, NOT_FOUND)
        return 200, {"contact": self.state.contact_json(contact)}, None

    # sandbox wiring -------------------------------------------------------------------------
    def connection(self, root_url: str) -> dict[str, Any]:
        return {
            "conn_type": "mautic",
            "host": self.base_url(root_url),
            "login": USERNAME,
            "password": PASSWORD,
            "extra": {"auth_type": "basic"},
        }

    def oauth_connection(self, root_url: str) -> dict[str, Any]:
        """The same instance through OAuth2 client credentials."""
        return {
            "conn_type": "mautic",
            "host": self.base_url(root_url),
            "extra": {"auth_type": "oauth2", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        }

    def credentials_text(self) -> str:
        return f"Basic {USERNAME} / {PASSWORD}; OAuth2 client {CLIENT_ID} / {CLIENT_SECRET}"


def _match(routes, method: str, path: str):
    allowed: set[str] = set()
    for methods, pattern, handler in routes:
        found = pattern.match(path)
        if found:
            if method in methods:
                return handler, found.groups(), allowed
            allowed |= methods
    return None, (), allowed


def _ordered(items: dict[Any, Any]) -> Any:
    """Processing order kept; a list only when the keys are 0..n-1 in that order."""
    keys = list(items)
    if keys == list(range(len(keys))):
        return [items[k] for k in keys]
    return {str(k): v for k, v in items.items()}


def _batch_payload(contacts: dict[Any, Any], codes: list[int], errors: dict[Any, Any]) -> dict[str, Any]:
    ints = all(isinstance(k, int) for k in list(contacts) + list(errors))
    payload: dict[str, Any] = {
        "contacts": keyed(contacts) if ints else {str(k): v for k, v in contacts.items()},
        "statusCodes": codes,
    }
    if errors:
        payload["errors"] = keyed(errors) if ints else {str(k): v for k, v in errors.items()}
    return payload
