"""Mautic emulator: the HTTP side (guards, routing, PHP-style query strings, error bodies).

The data and its rules live in :mod:`.mautic_state` (and the modules next to it); the routes
beside the contact core in :mod:`.mautic_handlers`, the pages outside ``/api`` in
:mod:`.mautic_pages`. A § mark is a section of ``docs/vendors/mautic.md``. Facts from Mautic 5.x's
source (mautic/mautic):

* guard order: API disabled (403 ``api_disabled``, also for ``/oauth``) → Basic header while
  Basic auth is off (403) → authentication (401 ``access_denied`` / ``invalid_grant``) → the
  optional hourly rate limiter (429 + ``X-RateLimit-*``, no ``Retry-After``) → permission (403);
* ``/oauth/v2/token`` client credentials; tokens expire after ``token_lifetime`` seconds;
* every response carries ``Mautic-Version``.

Beside the API under ``/api``, the instance serves the tracking pixel ``/mtracking.gif`` and a
read-only page for ``/s/contacts`` and ``/s/contacts/view/{id}`` (the provider's extra link).
Response header names are sent as Mautic sends them (``Content-Type``, ``Mautic-Version``...);
uvicorn's h11 protocol (the sandbox's default) keeps them on the wire, httptools lowercases them.

Options (``SandboxConfig.vendor_options["mautic"]`` or ``emulator.settings`` at run time):
``api_enabled``, ``basic_auth_enabled``, ``batch_max_limit`` (200), ``rate_limit_per_hour``
(0 = off), ``token_lifetime`` (3600), ``seed_contacts`` (40), ``version``, ``char_length_limit``
(64: the length limit a fresh install gives every field; 255 on instances upgraded from 2.x),
``request_overhead_ms`` (0: a delay per ``/api`` request, awaited outside the lock),
``overlap_gate`` (0 = off; N > 0: each ``/api`` request waits in that delay section until N
requests have been in it at once, or 10 s passed; once N were in it together, the gate stays open
until the next reset), ``retain_contacts`` (true), ``contact_edit_scope`` ("other"; "own": the
API user may edit only the contacts whose owner, else creator, it is — a 403 on the edit routes,
a 403 item in batch/new and batch/edit, ``success: false`` in the segment batch add).

The state (``snapshot()``, ``GET /_sandbox/state/mautic``) reports ``in_flight`` (``/api``
requests in the delay section now) and ``max_in_flight`` (the most at once since the last
reset): with ``overlap_gate`` a test proves without timing that requests overlap.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response
from msgspec.json import encode as _encode  # a dependency of the provider

from airflow_provider_contacts.sandbox.base import VendorEmulator, basic_credentials
from airflow_provider_contacts.sandbox.vendors.mautic_batch_delete import delete_batch
from airflow_provider_contacts.sandbox.vendors.mautic_common import (
    ACCESS,
    GENERIC_500,
    BodyRefused,
    MauticFault,
    canonical_headers,
    keyed,
    php_json_body,
    php_query,
)
from airflow_provider_contacts.sandbox.vendors.mautic_handlers import (
    ResourceHandlers,
    batch_error,
    batch_payload,
    ordered,
)
from airflow_provider_contacts.sandbox.vendors.mautic_pages import PagesMixin
from airflow_provider_contacts.sandbox.vendors.mautic_state import MauticState

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
    #: hash on every call (docs/vendors/mautic.md §1.2); benchmarks set this to compare batch and
    #: per-contact clients under a per-request cost.
    "request_overhead_ms": 0,
    #: N > 0: each /api request waits (without blocking the loop) in the overhead section until
    #: N requests have been in it at once, or OVERLAP_GATE_TIMEOUT passed (then it goes on); once
    #: N were there together the gate stays open until the next reset. 0 = off. Tests use it to
    #: prove that requests overlap (``max_in_flight`` in the state) without timing anything.
    "overlap_gate": 0,
    #: False: batch/new answers normally but forgets the contacts (memory benchmarks)
    "retain_contacts": True,
    #: LeadField::$charLengthLimit of every field (see mautic_fields.DEFAULT_CHAR_LIMIT)
    "char_length_limit": 64,
    #: the API user's contact edit permission: "other" (an admin: every contact) or "own" (a role
    #: with lead:leads:editown but not editother: only the contacts it owns, else created; §1.4)
    "contact_edit_scope": "other",
}

#: seconds a request waits at most for ``overlap_gate`` partners
OVERLAP_GATE_TIMEOUT = 10.0

AUTH_MESSAGES = {
    "api_disabled": "API disabled. You need to enable the API in the API settings of Mautic's Configuration.",
    "basic_disabled": "Basic Auth disabled. You need to enable HTTP basic auth in the API settings of Mautic's Configuration.",
    "no_credentials": "API authorization denied.",
    "bad_basic": "Authorization denied, invalid credentials.",
    "bad_token": "The access token provided is invalid.",
    "expired_token": "The access token provided has expired.",
}


class MauticEmulator(ResourceHandlers, PagesMixin, VendorEmulator):
    name = "mautic"
    mount = "/mautic"
    defaults = DEFAULTS

    def reset(self, seed: int | None = None, empty: bool = False) -> None:
        super().reset(seed)
        with self.lock:
            self.state = MauticState(self.settings, self.seed, empty, self.clock)
            self.tokens: dict[str, dict[str, Any]] = {}
            self.current_login: str | None = None
            self.current_client: str | None = None
            self.token_requests = 0
            #: /api requests in the overhead section now, and the most at once since the reset;
            #: a request that entered before the reset does not count against the new figures
            self.in_flight = 0
            self.max_in_flight = 0
            self.flight_epoch = getattr(self, "flight_epoch", 0) + 1
            self.buckets: dict[str, dict[str, float]] = {}
            self.users = {
                USERNAME: {"password": PASSWORD, "admin": True},
                RESTRICTED_USER[0]: {"password": RESTRICTED_USER[1], "admin": False},
            }
            self.clients: dict[str, dict[str, Any]] = {
                CLIENT_ID: {
                    "secret": CLIENT_SECRET,
                    "grants": {"authorization_code", "refresh_token", "client_credentials"},
                    "admin": True,
                },
                USER_CLIENT[0]: {
                    "secret": USER_CLIENT[1],
                    "grants": {"authorization_code", "refresh_token"},
                    "admin": False,
                },
            }

    # conveniences for tests -----------------------------------------------------------------
    @property
    def contacts(self) -> dict[int, dict[str, Any]]:
        return self.state.contacts

    def contact_by_email(self, email: str) -> dict[str, Any] | None:
        return self.state.find_by_unique({"email": email})

    def add_event(
        self, event_type: str, contact_id: int | None, when: datetime | None = None, **kw: Any
    ) -> dict[str, Any]:
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
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "settings": dict(self.settings),
            }

    # responses ------------------------------------------------------------------------------
    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        all_headers = {"Mautic-Version": str(self.settings["version"]), **(headers or {})}
        return canonical_headers(
            Response(_encode(body), status_code=status, media_type="application/json", headers=all_headers)
        )

    def _auth_error(self, status: int, type_: str, key: str) -> Response:
        # ApiSubscriber's fresh JsonResponse: message/code/type, no details, no WWW-Authenticate
        return self._json(
            {"errors": [{"message": AUTH_MESSAGES[key], "code": status, "type": type_}]}, status
        )

    def _fault(self, fault: MauticFault, headers: dict[str, str] | None = None) -> Response:
        return self._json({"errors": [fault.item()]}, fault.code, headers)

    def fault_response(self, status: int, retry_after: float):
        if status == 429:
            limit = int(self.settings.get("rate_limit_per_hour") or 100)
            return self._json(
                {
                    "errors": [
                        {
                            "code": 429,
                            "message": f"You exceeded the rate limit of {limit} API calls per hour.",
                            "details": [],
                        }
                    ]
                },
                429,
                {
                    "X-RateLimit-Limit": str(limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(self.clock() + retry_after)),
                },
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
            if creds is None or user is None or user["password"] != creds[1]:
                return self._auth_error(401, "access_denied", "bad_basic"), "", False
            self.current_login = creds[0]
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
        self.current_login = None
        self.current_client = info["client"]
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
            body = {
                "errors": [
                    {
                        "code": 429,
                        "message": f"You exceeded the rate limit of {limit} API calls per hour.",
                        "details": [],
                    }
                ]
            }
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
        return self._json(
            {"access_token": token, "expires_in": lifetime, "token_type": "bearer", "scope": None}
        )

    # routing --------------------------------------------------------------------------------
    def build_router(self):
        router = APIRouter()
        self._route_table = self._routes()
        self.add_pages(router)
        router.add_api_route("/oauth/v2/token", self._token, methods=["GET", "POST"])
        router.add_api_route("/api/{path:path}", self._api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        return router

    async def _api(self, path: str, request: Request) -> Any:
        raw = await request.body()
        await self._overhead_section()
        with self.lock:
            denied, bucket, admin = self._authenticate(request)
            if denied is not None:
                return denied
            limited, rl_headers = self._rate_limit(bucket)
            if limited is not None:
                return limited
            handler, args, allowed = _match(self._route_table, request.method, "/" + path)
            if handler is None:
                return self._no_route(request.method, path, allowed, rl_headers)
            if not admin:
                return self._fault(MauticFault(403, ACCESS), rl_headers)
            self.state.acting_user = self._acting_user()
            query = php_query(request.query_params.multi_items())
            body: Any = {}
            if raw:
                if "json" in request.headers.get("content-type", "") or raw[:1] in (b"{", b"["):
                    try:
                        body = php_json_body(raw)
                    except BodyRefused:  # §2.3: "Invalid json message received", answered as the generic 400
                        message = GENERIC_500.replace("#500", "#400")
                        return self._fault(MauticFault(400, message, with_details=False), rl_headers)
                else:
                    body = php_query(parse_qsl(raw.decode("utf-8", "replace")))
            try:
                status, payload, extra = handler(request.method, args, query, body)
            except MauticFault as fault:
                return self._fault(fault, rl_headers)
            return self._json(payload, status, {**rl_headers, **(extra or {})})

    def _acting_user(self) -> int | None:
        """The id of the user a request acts as: the Basic login's; a client-credentials token
        acts as a pseudo-user without an id (it owns no contact)."""
        user = self.state.user_by_name(self.current_login) if self.current_login else None
        return None if user is None else int(user["id"])

    async def _overhead_section(self) -> None:
        """The per-request cost (``request_overhead_ms``) and the ``overlap_gate``, awaited
        outside the lock so that requests overlap here as on a server with several PHP workers;
        counts the requests inside (``in_flight``, ``max_in_flight``)."""
        overhead = float(self.settings.get("request_overhead_ms") or 0)
        gate = int(self.settings.get("overlap_gate") or 0)
        with self.lock:
            epoch = self.flight_epoch
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if gate > 0:
                deadline = asyncio.get_running_loop().time() + OVERLAP_GATE_TIMEOUT
                # max_in_flight only grows until a reset: once it reached the gate, all go on
                while self.max_in_flight < gate and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.002)
            if overhead > 0:
                await asyncio.sleep(overhead / 1000.0)
        finally:
            with self.lock:
                if epoch == self.flight_epoch:
                    self.in_flight -= 1

    def _no_route(self, method: str, path: str, allowed: Any, rl_headers: dict[str, str]) -> Any:
        """Symfony's answer for a path no route takes (404), or a method it does not (405)."""
        message = f'No route found for "{method} /api/{path}"'
        status = 404
        if allowed:
            message += f": Method Not Allowed (Allow: {', '.join(sorted(allowed))})"
            status = 405
        return self._json(
            {"errors": [{"message": message, "code": status, "type": None}]}, status, rl_headers
        )

    def _routes(self) -> list[tuple[set[str], re.Pattern[str], Callable[..., Any]]]:
        table = [
            ({"GET"}, r"/contacts", self.h_list),
            ({"POST"}, r"/contacts/new", self.h_new),
            ({"POST"}, r"/contacts/batch/new", self.h_batch_new),
            ({"PUT", "PATCH"}, r"/contacts/batch/edit", self.h_batch_edit),
            ({"DELETE"}, r"/contacts/batch/delete", self.h_batch_delete),
            ({"GET"}, r"/contacts/activity", self.h_activity),
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
            *self.resource_routes(),
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

    def h_new(self, method, args, query, body):
        contact, status = self.state.upsert(self._body_dict(body))
        headers = self._location(f"contacts/{contact['id']}") if status == 201 else None
        return status, {"contact": self.state.contact_json(contact)}, headers

    def h_edit(self, method, args, query, body):
        contact, status = self.state.edit(args[0], self._body_dict(body), method)
        return status, {"contact": self.state.contact_json(contact)}, None

    def h_delete(self, method, args, query, body):
        contact = self.state.delete(args[0])
        out = self.state.contact_json(contact)
        out["id"] = None  # serialised after Doctrine removal (§3.6)
        return 200, {"contact": out}, None

    def h_batch_new(self, method, args, query, body):
        items = self._batch_items(body)
        contacts: dict[Any, Any] = {}
        codes: list[int] = []
        errors: dict[Any, Any] = {}
        for key, item in items:
            try:
                contact, status = self.state.upsert(self._body_dict(item), batch=True)
            except MauticFault as fault:
                codes.append(fault.code)
                errors[key] = batch_error(fault)
                continue
            codes.append(status)
            contacts[key] = self.state.contact_json(contact)
        if not self.settings.get("retain_contacts", True):
            self.state.contacts.clear()
            self.state.by_email.clear()
        return 201, batch_payload("contacts", contacts, codes, errors), None

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
                contact, status = self.state.edit(
                    item["id"], {k: v for k, v in item.items() if k != "id"}, method
                )
            except MauticFault as fault:
                codes.append(fault.code)
                errors[key] = batch_error(fault)
                continue
            codes.append(status)
            (created if status == 201 else contacts)[key] = self.state.contact_json(contact)
        merged = {**contacts, **created}
        payload: dict[str, Any] = {"contacts": ordered(merged), "statusCodes": codes}
        if errors:
            payload["errors"] = keyed(errors) if all(isinstance(k, int) for k in errors) else errors
        return 200, payload, None

    def h_batch_delete(self, method, args, query, body):
        def find(raw: str) -> dict[str, Any] | None:
            try:
                return self.state.contact(raw)
            except MauticFault:
                return None

        payload = delete_batch(
            query,
            name="contacts",
            limit=int(self.settings["batch_max_limit"]),
            find=find,
            serialise=self.state.contact_json,
            delete=lambda contact: self.state.delete(contact["id"]),
        )
        return 200, payload, None

    def h_activity(self, method, args, query, body):
        return 200, self.state.activity(contact_id=None, query=query), None

    def h_contact_activity(self, method, args, query, body):
        contact = self.state.contact(args[0])
        return 200, self.state.activity(contact_id=contact["id"], query=query), None

    def h_dnc_add(self, method, args, query, body):
        contact = self.state.contact_to_edit(args[0])
        body = body if isinstance(body, dict) else {}
        raw_reason = body.get("reason", 3)
        reason = int(raw_reason) if re.fullmatch(r"\s*-?\d+\s*", str(raw_reason)) else 0
        if reason <= 0:
            raise MauticFault(
                400,
                "Invalid reason code given",
                details=["Reason code needs to be an integer and higher than 0."],
            )
        self.state.add_dnc(contact, args[1], reason, body.get("comments"), body.get("channelId"))
        self.state.touch(contact)
        return 200, {"contact": self.state.contact_json(contact)}, None

    def h_dnc_remove(self, method, args, query, body):
        contact = self.state.contact_to_edit(args[0])
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
        score, group = self.state.adjust_group(
            args[0], args[1], args[2], args[3], body if isinstance(body, dict) else {}
        )
        return 200, {"groupScore": {"score": score, "group": self.state.group_json(group)}}, None

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
