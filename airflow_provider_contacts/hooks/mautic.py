"""Mautic hook: HTTP Basic or OAuth2 client credentials; REST API under ``<base>/api``.

Facts: ``shared/research/mautic.md``. The quirks handled here, so callers get plain Python:

* errors are ``{"errors":[{message, code, type}]}``; messages are translated on real servers,
  so decisions use the HTTP status and ``type`` only;
* ``total`` is a string for contacts; ``contacts`` is an object keyed by id (``{}`` when empty);
* batch endpoints answer 201/200 whatever happened to the items: per-item ``statusCodes`` and
  ``errors`` keyed by request index, as a JSON list or object;
* a batch over the server's ``api_batch_max_limit`` is an HTTP 500 "A max of N entities…"
  with nothing processed: the batch is split, the rest continues, the limit is remembered;
* a 429 has no ``Retry-After`` but ``X-RateLimit-Reset`` (the transport waits for it);
* activity ``limit`` applies per event type: paged by ``page`` up to ``maxPages`` and
  de-duplicated on (event, eventId, contactId); dates are sent as UTC ``Y-m-d H:i:s``;
* the default contact order (``last_active DESC``) drifts while paging: listing goes by id.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Literal, Optional, Union

from airflow_provider_contacts.capabilities import (
    POINT_OPERATORS,
    ContactEvent,
    check_adjustment,
    RowOutcome,
    compute_score,
    parse_dnc_reason,
    to_utc_iso,
)
from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConfigError,
    ContactsError,
    ContactsHTTPError,
    InvalidAdjustment,
    PermissionDeniedError,
    ServerError,
)
from airflow_provider_contacts.hooks.base import Call, ContactsHook, EventPlanMixin, Plan, explain_error
from airflow_provider_contacts.transport import (
    basic_auth_header,
    default_error_mapper,
    extract_vendor_error,
    register_secret,
    safe_json,
)

if TYPE_CHECKING:
    from airflow_provider_contacts.transport import AsyncTransport, ResponseLike

log = logging.getLogger(__name__)

DEFAULT_BATCH_LIMIT = 200
#: a token is fetched again this long before Mautic says it expires (at most a tenth of
#: its lifetime, for servers configured with very short lifetimes)
TOKEN_REFRESH_MARGIN = 60.0
POINT_GROUP_OPERATORS = POINT_OPERATORS
#: the keys ``POST /contacts/{id}/utm/add`` reads (``LeadModel::addUTMTags``, ``UtmTag::getFieldSetterList``)
UTM_KEYS = frozenset({"utm_campaign", "utm_source", "utm_medium", "utm_content", "utm_term", "url", "referer",
                      "query", "useragent", "user_agent", "remotehost", "remote_host", "lastActive"})
#: the names of the stored record (as the contact's ``utmtags`` show them) → the key to send
UTM_CAMEL = {"utmCampaign": "utm_campaign", "utmSource": "utm_source", "utmMedium": "utm_medium",
             "utmContent": "utm_content", "utmTerm": "utm_term", "userAgent": "useragent", "remoteHost": "remotehost"}
LEGACY_POINT_OPERATORS = ("plus", "minus", "times", "divide")


class BatchLimitExceeded(ServerError):
    """Mautic refused a batch larger than its ``api_batch_max_limit`` (nothing processed)."""

    retry_decision = False

    def __init__(self, message: str, *, limit: int = 0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.limit = limit


@dataclass
class BatchItem:
    """One item of a batch answer: ``status`` from ``statusCodes``, the contact when it
    succeeded, the error item when it failed."""

    index: int
    status: int
    contact: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str | None:
        return None if self.error is None else str(self.error.get("message") or "")

    @property
    def error_type(self) -> str | None:
        if self.error is None:
            return None
        return str(self.error.get("type") or self.error.get("code") or "") or None


@dataclass
class ContactPage:
    total: int
    contacts: list[dict[str, Any]] = field(default_factory=list)


def mautic_datetime(value: datetime | str) -> str:
    """UTC ``Y-m-d H:i:s``, the only date format Mautic reads without shifting (research §7)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def parse_mautic_datetime(text: str) -> datetime:
    """Mautic timestamps: ISO 8601 with offset, or ``Y-m-d H:i:s`` in UTC."""
    value = text.strip().replace(" ", "T", 1)
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def index_keyed(value: Any) -> dict[int, Any]:
    """A batch answer's ``contacts``/``errors``/``statusCodes``: a JSON list (positions) or an
    object keyed by request index (string or int) → ``{index: value}``."""
    if value is None:
        return {}
    if isinstance(value, list):
        return dict(enumerate(value))
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            try:
                out[int(key)] = item
            except (TypeError, ValueError):
                continue
        return out
    return {}


try:  # msgspec comes with apache-airflow-task-sdk
    import msgspec

    class _BatchContactId(msgspec.Struct):
        id: Any = None

    class _BatchAnswer(msgspec.Struct):
        contacts: Union[dict[str, Optional[_BatchContactId]], list[Optional[_BatchContactId]], None] = None
        statusCodes: Any = None
        errors: Any = None

except ImportError:  # pragma: no cover
    msgspec = None  # type: ignore[assignment]


def decode_batch_answer(content: bytes) -> Any:
    """Decode a batch answer keeping only what the hook reads (per-index status, errors and
    each contact's id). Mautic echoes every field of every contact (over 1 MB for 200
    contacts); msgspec skips the rest without building it."""
    if msgspec is None:  # pragma: no cover
        import json

        return json.loads(content)
    try:
        answer = msgspec.json.decode(content, type=_BatchAnswer)
    except msgspec.ValidationError:
        return msgspec.json.decode(content)
    contacts = answer.contacts
    if isinstance(contacts, dict):
        shown: Any = {k: (None if v is None else {"id": v.id}) for k, v in contacts.items()}
    elif isinstance(contacts, list):
        shown = [None if v is None else {"id": v.id} for v in contacts]
    else:
        shown = contacts
    return {"contacts": shown, "statusCodes": answer.statusCodes, "errors": answer.errors}


def parse_batch(body: Any, count: int) -> list[BatchItem]:
    """One :class:`BatchItem` per request index ``0..count-1``."""
    body = body if isinstance(body, dict) else {}
    contacts = index_keyed(body.get("contacts"))
    errors = index_keyed(body.get("errors"))
    codes = index_keyed(body.get("statusCodes"))
    items = []
    for index in range(count):
        error = errors.get(index)
        contact = contacts.get(index)
        status = codes.get(index)
        try:
            status = int(status) if status is not None else None
        except (TypeError, ValueError):
            status = None
        if status is None:  # no statusCodes (batch delete) or a short list
            status = int(error.get("code") or 400) if isinstance(error, dict) else (200 if contact else 0)
        if error is not None and 200 <= status < 300:
            status = int(error.get("code") or 400) if isinstance(error, dict) else 400
        items.append(BatchItem(index, status, contact if isinstance(contact, dict) else None,
                               error if isinstance(error, dict) else ({"message": str(error)} if error else None)))
    return items


class _Token:
    def __init__(self) -> None:
        self.value: str | None = None
        self.expires_at = 0.0  # on the hook's monotonic clock
        self.lock = threading.Lock()
        self.alock: Any = None  # asyncio.Lock, made in the trigger's loop


class MauticHook(EventPlanMixin, ContactsHook):
    """Interact with a Mautic instance (4.x–7.x) through its REST API.

    Connection: Host = the Mautic base URL (a path prefix is kept, e.g.
    ``https://example.com/mautic``); extra ``auth_type`` = ``basic`` (Login/Password of a
    Mautic user, needs "Enable HTTP basic auth") or ``oauth2`` (``client_id`` and
    ``client_secret`` of API credentials created by an admin, client-credentials grant);
    ``batch_limit`` when the server raised ``api_batch_max_limit`` above 200.
    """

    conn_name_attr = "conn_id"
    default_conn_name = "mautic_default"
    conn_type = "mautic"
    hook_name = "Mautic"

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(conn_id, **kwargs)
        self._token = _Token()
        self._learned_batch_limit: int | None = None
        self._unique_fields: set[str] | None = None
        self.token_requests = 0

    # ---- settings -------------------------------------------------------------------------
    @property
    def auth_type(self) -> str:
        return self.extras.choice("auth_type", ("basic", "oauth2"), "basic")

    @property
    def batch_limit(self) -> int:
        configured = self.extras.int("batch_limit", DEFAULT_BATCH_LIMIT, minimum=1) or DEFAULT_BATCH_LIMIT
        if self._learned_batch_limit is not None:
            return min(configured, self._learned_batch_limit)
        return configured

    @property
    def upsert_batch_size(self) -> int:
        return self.batch_limit

    @property
    def dnc_batch_size(self) -> int:
        return self.batch_limit

    def _clock(self) -> float:
        return (self.transport_options.get("clock") or time.monotonic)()

    # ---- auth -----------------------------------------------------------------------------
    def _client_credentials(self) -> dict[str, str]:
        client_id = self.require(self.extras.str("client_id") or self.connection.login, "client_id",
                                 'set "client_id" (extra) to the public id of Mautic API credentials')
        secret = self.require(self.extras.str("client_secret") or self.connection.password, "client_secret",
                              'set "client_secret" (extra) to the secret of those API credentials')
        register_secret(secret)
        return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}

    def _store_token(self, body: Any) -> str:
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError("Mautic's token endpoint answered without an access_token", conn_id=self.conn_id)
        register_secret(token)
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        margin = min(TOKEN_REFRESH_MARGIN, lifetime / 10)
        self._token.value = token
        self._token.expires_at = self._clock() + lifetime - margin
        self.token_requests += 1
        return token

    def _token_valid(self) -> bool:
        return self._token.value is not None and self._clock() < self._token.expires_at

    def auth_headers(self) -> dict[str, str]:
        if self.auth_type == "basic":
            conn = self.connection
            login = self.require(conn.login, "login", "set the Mautic username (Basic auth)")
            password = self.require(conn.password, "password", "set the Mautic user's password")
            return {"Authorization": basic_auth_header(login, password)}
        with self._token.lock:
            if not self._token_valid():
                response = self.transport.request(
                    "POST", "/oauth/v2/token", data=self._client_credentials(), authenticate=False, idempotent=True
                )
                self._store_token(response.json())
            return {"Authorization": f"Bearer {self._token.value}"}

    async def aauth_headers(self, transport: AsyncTransport) -> dict[str, str]:
        if self.auth_type == "basic":
            return self.auth_headers()
        import asyncio

        if self._token.alock is None:
            self._token.alock = asyncio.Lock()
        async with self._token.alock:
            if not self._token_valid():
                response = await transport.request(
                    "POST", "/oauth/v2/token", data=self._client_credentials(), authenticate=False, idempotent=True
                )
                self._store_token(response.json())
            return {"Authorization": f"Bearer {self._token.value}"}

    def renew_credentials(self, err: ContactsHTTPError) -> bool:
        """A 401 ``invalid_grant`` (token expired or revoked early): fetch a token once more."""
        if self.auth_type != "oauth2" or err.vendor_code != "invalid_grant":
            return False
        self._token.value = None
        self._token.expires_at = 0.0
        return True

    async def arenew_credentials(self, err: ContactsHTTPError) -> bool:
        return self.renew_credentials(err)

    # ---- errors ---------------------------------------------------------------------------
    def map_error(self, response: ResponseLike) -> ContactsHTTPError | None:
        err = default_error_mapper(response)
        if err is None:
            return None
        if err.status == 400 and err.vendor_code == "invalid_client":
            return AuthenticationError(err.message, status=400, vendor_code="invalid_client")
        if err.status == 400 and err.vendor_code == "unauthorized_client":
            return PermissionDeniedError(err.message, status=400, vendor_code="unauthorized_client")
        return err

    def _batch_mapper(self, sent: int):
        def mapper(response: ResponseLike) -> ContactsHTTPError | None:
            if response.status_code == 500:
                _, message = extract_vendor_error(safe_json(response))
                # "A max of 200 entities are supported at a time." (translated on some servers:
                # the number is what we rely on, and only when it is below what we sent)
                numbers = [int(n) for n in re.findall(r"\d+", message or "") if int(n) != 500]
                if numbers and 0 < numbers[0] < sent:
                    return BatchLimitExceeded(message or "batch too large", limit=numbers[0], status=500)
            return self.map_error(response)

        return mapper

    def explain(self, err: ContactsError) -> str:
        where = self.base_url if "base_url" in self.__dict__ else "the host"
        code = getattr(err, "vendor_code", None)
        if isinstance(err, PermissionDeniedError) and code == "api_disabled":
            return (
                f"API disabled: Mautic at {where} has its API switched off. In Mautic open Settings → "
                "Configuration → API Settings, set 'API enabled?' to Yes, save, and clear Mautic's cache."
            )
        if isinstance(err, PermissionDeniedError) and code == "access_denied":
            return (
                "Basic auth disabled: Mautic refuses HTTP Basic. Enable 'Enable HTTP basic auth?' in "
                "Configuration → API Settings, or set auth_type to oauth2 with API credentials."
            )
        if isinstance(err, PermissionDeniedError) and code == "unauthorized_client":
            return (
                "No permission: these API credentials may not use the client-credentials grant. "
                "Create them (Settings → API Credentials, OAuth 2) while logged in as an administrator."
            )
        if isinstance(err, PermissionDeniedError):
            return (
                f"No permission: the credentials are valid but the user's role may not view contacts "
                f"(HTTP {err.status}): {err.message}. Give the role contact view/edit permissions."
            )
        if isinstance(err, AuthenticationError):
            what = "client id/secret" if self._safe_auth_type() == "oauth2" else "username/password"
            hint = ""
            if code == "access_denied" and err.status == 401 and self._safe_auth_type() == "basic":
                hint = (" If the credentials are right, the web server may be stripping the Authorization "
                        "header (a FastCGI setting).")
            return f"Bad credentials: Mautic refused the {what} (HTTP {err.status} {code or ''}): {err.message.rstrip('.')}.{hint}".replace(" )", ")")
        return explain_error(err, self.base_url if "base_url" in self.__dict__ else None)

    def _safe_auth_type(self) -> str:
        try:
            return self.auth_type
        except ContactsError:
            return "basic"

    def contacts_url(self, contact_id: str | None = None) -> str | None:
        """``{base}/s/contacts/view/{id}``, or ``{base}/s/contacts`` (Mautic's admin UI)."""
        return f"{self.base_url}/s/contacts/view/{contact_id}" if contact_id else f"{self.base_url}/s/contacts"

    def probe(self) -> str:
        response = self.transport.request("GET", "/api/contacts", params={"limit": 1, "minimal": 1})
        version = response.headers.get("Mautic-Version")
        total = _int((safe_json(response) or {}).get("total"))
        who = f"basic auth as {self.connection.login}" if self.auth_type == "basic" else "OAuth2 client credentials"
        shown = f"Mautic {version}" if version else "Mautic"
        return f"Connected to {shown} at {self.base_url} ({who}); {total} contacts visible"

    # ---- low level ------------------------------------------------------------------------
    def _get(self, path: str, params: Any = None) -> Any:
        return self.transport.request("GET", f"/api/{path.lstrip('/')}", params=params).json()

    def _send(self, method: str, path: str, *, json: Any = None, params: Any = None,
              idempotent: bool | None = None, error_mapper: Any = None, decode: Any = None) -> Any:
        response = self.transport.request(
            method, f"/api/{path.lstrip('/')}", json=json, params=params, idempotent=idempotent,
            error_mapper=error_mapper,
        )
        if decode is not None and response.content:
            return decode(response.content)
        return safe_json(response)

    # ---- contacts -------------------------------------------------------------------------
    def get_contact(self, contact_id: int | str) -> dict[str, Any]:
        return self._get(f"contacts/{_id(contact_id)}")["contact"]

    def list_contacts(
        self,
        *,
        search: str | None = None,
        start: int = 0,
        limit: int = 30,
        order_by: str | None = "id",
        order_dir: str = "ASC",
        where: list[dict[str, Any]] | None = None,
        published: bool | None = None,
        minimal: bool = False,
        select: list[str] | None = None,
    ) -> ContactPage:
        """One page of ``GET /contacts`` (``total`` as int, contacts as a list in server order).
        ``order_by`` must be a DB column (``id``, ``date_added``, ``last_active``...)."""
        params = _list_params(search=search, start=start, limit=limit, order_by=order_by, order_dir=order_dir,
                              where=where, published=published, minimal=minimal, select=select)
        body = self._get("contacts", params)
        contacts = body.get("contacts") or {}
        rows = list(contacts.values()) if isinstance(contacts, dict) else list(contacts)
        return ContactPage(total=_int(body.get("total")), contacts=rows)

    def iter_contacts(
        self,
        *,
        search: str | None = None,
        where: list[dict[str, Any]] | None = None,
        page_size: int = 200,
        minimal: bool = False,
        select: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching contact once: keyset paging by id (``id > last``), stable while
        contacts change (the default ``last_active`` order is not)."""
        last = 0
        while True:
            clauses = list(where or []) + [{"col": "id", "expr": "gt", "val": last}]
            page = self.list_contacts(search=search, where=clauses, limit=page_size, order_by="id",
                                      minimal=minimal, select=select)
            for contact in page.contacts:
                yield contact
            if len(page.contacts) < page_size:
                return
            last = max(int(c["id"]) for c in page.contacts)

    def find_contacts_by_email(self, emails: Iterable[str], *, chunk_size: int = 100) -> dict[str, dict[str, Any]]:
        """Lower-cased email → contact, for those that exist (one request per ``chunk_size``
        emails, ``where email in``). When several contacts share an email, the newest wins,
        as in Mautic's own upsert."""
        wanted = sorted({e.strip().lower() for e in emails if isinstance(e, str) and e.strip() and "," not in e})
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), chunk_size):
            chunk = wanted[i : i + chunk_size]
            where = [{"col": "email", "expr": "in", "val": ",".join(chunk)}]
            page_size = max(len(chunk) * 2, 10)
            for contact in self.iter_contacts(where=where, page_size=page_size, minimal=True):
                email = str(_field(contact, "email") or "").lower()
                if email in chunk:
                    current = found.get(email)
                    if current is None or (str(contact.get("dateAdded")), int(contact["id"])) > (
                        str(current.get("dateAdded")), int(current["id"])
                    ):
                        found[email] = contact
        return found

    def find_contact_ids_by_email(self, emails: Iterable[str]) -> dict[str, str]:
        return {email: str(c["id"]) for email, c in self.find_contacts_by_email(emails).items()}

    def create_contact(self, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """``POST /contacts/new``: Mautic upserts on unique identifiers (email by default).
        Returns (contact, created). Replay-safe when the data has an email."""
        response = self.transport.request(
            "POST", "/api/contacts/new", json=_clean(data), idempotent=bool(data.get("email"))
        )
        return response.json()["contact"], response.status_code == 201

    def edit_contact(self, contact_id: int | str, data: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /contacts/{id}/edit``: absent fields are kept. Note Mautic ignores numeric 0
        on POST/PATCH (use :meth:`replace_contact` to set 0)."""
        return self._send("PATCH", f"contacts/{_id(contact_id)}/edit", json=_clean(data), idempotent=True)["contact"]

    def replace_contact(self, contact_id: int | str, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """``PUT /contacts/{id}/edit``. **Every field absent from ``data`` is blanked**, and an
        unknown id creates a new contact (with a new id). Returns (contact, created)."""
        warnings.warn(
            "MauticHook.replace_contact (PUT) blanks every field absent from the data and creates a "
            "new contact when the id is unknown; use edit_contact (PATCH) for partial updates",
            UserWarning,
            stacklevel=2,
        )
        log.warning("%s: PUT contact %s: fields absent from the data will be blanked", self.conn_id, contact_id)
        response = self.transport.request(
            "PUT", f"/api/contacts/{_id(contact_id)}/edit", json=_clean(data), idempotent=False
        )
        return response.json()["contact"], response.status_code == 201

    def delete_contact(self, contact_id: int | str) -> dict[str, Any]:
        return self._send("DELETE", f"contacts/{_id(contact_id)}/delete")["contact"]

    def batch_create(self, items: list[dict[str, Any]]) -> list[BatchItem]:
        """``POST /contacts/batch/new`` (upsert per item), split to the batch limit; one
        :class:`BatchItem` per input item, in input order."""
        cleaned = [_clean(item) for item in items]
        replay_safe = all(item.get("email") for item in cleaned)
        return self._batched("POST", "contacts/batch/new", cleaned, idempotent=replay_safe)

    def batch_edit(self, items: list[dict[str, Any]], *, method: Literal["PATCH", "PUT"] = "PATCH") -> list[BatchItem]:
        """``PATCH|PUT /contacts/batch/edit``; each item needs ``id``. PUT blanks absent
        fields and creates unknown ids — prefer PATCH."""
        if method not in ("PATCH", "PUT"):
            raise ContactsConfigError(f"method {method!r}: use PATCH or PUT")
        for position, item in enumerate(items):
            if item.get("id") in (None, ""):
                raise ContactsConfigError(f"item {position} has no id; batch edit needs the contact id in every item")
        cleaned = [_clean(item) for item in items]
        return self._batched(method, "contacts/batch/edit", cleaned, idempotent=(method == "PATCH"))

    def batch_delete(self, contact_ids: Iterable[int | str]) -> list[dict[str, Any]]:
        """``DELETE /contacts/batch/delete?ids=…``; returns the deleted contacts (unknown ids
        are silently skipped by Mautic)."""
        ids = [_id(c) for c in contact_ids]
        deleted: list[dict[str, Any]] = []
        start = 0
        while start < len(ids):
            chunk = ids[start : start + self.batch_limit]
            try:
                body = self._send("DELETE", "contacts/batch/delete", params={"ids": ",".join(chunk)},
                                  error_mapper=self._batch_mapper(len(chunk)))
            except BatchLimitExceeded as err:
                self._learn_limit(err)
                continue
            deleted += list(index_keyed(body.get("contacts")).values())
            start += len(chunk)
        return deleted

    def _learn_limit(self, err: BatchLimitExceeded) -> None:
        log.warning(
            "%s: Mautic accepts at most %d items per batch (HTTP 500 '%s'); splitting and continuing. "
            'Set "batch_limit": %d in the connection extra to avoid the failed request.',
            self.conn_id, err.limit, err.message, err.limit,
        )
        self._learned_batch_limit = err.limit

    def _batched(self, method: str, path: str, items: list[dict[str, Any]], *, idempotent: bool) -> list[BatchItem]:
        results: list[BatchItem] = []
        start = 0
        while start < len(items):
            chunk = items[start : start + self.batch_limit]
            try:
                body = self._send(method, path, json=chunk, idempotent=idempotent,
                                  error_mapper=self._batch_mapper(len(chunk)), decode=decode_batch_answer)
            except BatchLimitExceeded as err:
                self._learn_limit(err)
                continue
            for item in parse_batch(body, len(chunk)):
                item.index += start
                results.append(item)
            start += len(chunk)
        return results

    # ---- capability: upsert ---------------------------------------------------------------
    def unique_identifier_fields(self) -> set[str] | None:
        """Aliases flagged "unique identifier" (None when the server does not say). Read from
        ``GET /fields/contact``: ``/contacts/list/fields`` does not show the flag (its
        serializer group ``leadFieldList`` has only id, label, alias, type, group, order, object)."""
        if self._unique_fields is None:
            flags: dict[str, bool] = {}
            start = 0
            while True:
                body = self._get("fields/contact", {"start": start, "limit": 200}) or {}
                page = body.get("fields") or {}
                page = list(page.values()) if isinstance(page, dict) else list(page)
                for f in page:
                    for key in ("isUniqueIdentifier", "isUniqueIdentifer", "is_unique_identifer"):
                        if isinstance(f, dict) and key in f:
                            flags[f.get("alias")] = bool(f[key]) and str(f[key]) not in ("0", "false")
                if len(page) < 200:
                    break
                start += len(page)
            self._unique_fields = {alias for alias, flag in flags.items() if flag} if flags else set()
            if not flags:
                return None
        return self._unique_fields or None

    def structured_value_problem(self, field: str, value: Any) -> str | None:
        """Mautic takes a list of values for ``tags`` and for multiselect fields (it joins them
        with ``|``); an object, or a list holding lists or objects, has no field to go to."""
        if isinstance(value, (list, tuple)) and all(not isinstance(v, (dict, list, tuple)) for v in value):
            return None
        return super().structured_value_problem(field, value) + (
            " (Mautic takes a list of values only, for tags and multiselect fields)" if isinstance(value, dict) else "")

    def upsert_batch(self, rows: list[dict[str, Any]], key: str = "email") -> list[RowOutcome]:
        """Upsert ``rows`` through ``batch/new``: Mautic matches existing contacts on its unique
        identifier fields (email by default), so ``key`` must be one of them."""
        if key != "email":
            unique = self.unique_identifier_fields()
            if unique is not None and key not in unique:
                raise ContactsConfigError(
                    f'key "{key}" is not a unique identifier in this Mautic (unique: {", ".join(sorted(unique)) or "none"}); '
                    "Mautic matches contacts on unique identifier fields only. Use key='email' or mark the "
                    "field 'Is Unique Identifier' in Mautic's custom fields.",
                    conn_id=self.conn_id,
                )
        zeros = sum(1 for row in rows for k, v in row.items() if k != key and _is_zero(v))
        if zeros:
            log.warning(
                "%s: %d field value(s) are numeric 0; Mautic ignores 0 on create/update (POST/PATCH, "
                "Mautic issue #15030), so those fields keep their current value.", self.conn_id, zeros,
            )
        outcomes = []
        for item in self.batch_create(rows):
            if item.ok:
                outcomes.append(RowOutcome(item.index, "created" if item.status == 201 else "updated",
                                           contact_id=_str_id(item.contact), http_status=item.status))
            else:
                outcomes.append(RowOutcome(item.index, "rejected", http_status=item.status,
                                           message=item.message or f"HTTP {item.status}", vendor_code=item.error_type))
        return outcomes

    # ---- do not contact -------------------------------------------------------------------
    def add_do_not_contact(self, contact_id: int | str, channel: str = "email", reason: int | str = 3,
                           comments: str | None = None, channel_id: int | None = None) -> dict[str, Any]:
        """``POST /contacts/{id}/dnc/{channel}/add``. An existing "unsubscribed" entry is never
        overwritten by Mautic. Idempotent."""
        body: dict[str, Any] = {"reason": parse_dnc_reason(reason)}
        if comments is not None:
            body["comments"] = comments
        if channel_id is not None:
            body["channelId"] = channel_id
        return self._send("POST", f"contacts/{_id(contact_id)}/dnc/{_channel(channel)}/add", json=body,
                          idempotent=True)["contact"]

    def remove_do_not_contact(self, contact_id: int | str, channel: str = "email") -> bool:
        """``POST /contacts/{id}/dnc/{channel}/remove``; True when an entry was removed."""
        body = self._send("POST", f"contacts/{_id(contact_id)}/dnc/{_channel(channel)}/remove", idempotent=True)
        return bool(body.get("recordFound"))

    def set_do_not_contact(self, contact_ids: list[str], *, action: Literal["add", "remove"],
                           channel: str = "email", reason: int | str = 3,
                           comments: str | None = None) -> list[RowOutcome]:
        """Add or remove DNC for many contacts with ``doNotContact`` lists inside batch edits
        (⌈n/limit⌉ requests). Unknown ids are rejected "contact not found"."""
        if action not in ("add", "remove"):
            raise ContactsConfigError(f"action {action!r}: use 'add' or 'remove'")
        entry: dict[str, Any] = {"channel": _channel(channel), "reason": parse_dnc_reason(reason) if action == "add" else 0}
        if comments is not None and action == "add":
            entry["comments"] = comments
        items = [{"id": _id(cid), "doNotContact": [dict(entry)]} for cid in contact_ids]
        outcomes = []
        for item in self._batched("PATCH", "contacts/batch/edit", items, idempotent=True):
            if item.ok:
                outcomes.append(RowOutcome(item.index, "updated", contact_id=str(items[item.index]["id"]),
                                           http_status=item.status))
            else:
                message = "contact not found" if item.status == 404 else (item.message or f"HTTP {item.status}")
                outcomes.append(RowOutcome(item.index, "rejected", contact_id=str(items[item.index]["id"]),
                                           http_status=item.status, message=message, vendor_code=item.error_type))
        return outcomes

    # ---- points ---------------------------------------------------------------------------
    def adjust_points(self, contact_id: int | str, op: str, delta: int, *, event_name: str | None = None,
                      action_name: str | None = None) -> None:
        """Legacy ``POST /contacts/{id}/points/{op}/{delta}`` (plus, minus, times, divide).
        **Not idempotent**: never retried once sent. Prefer point groups with ``set``."""
        op, value = check_adjustment(op, delta, LEGACY_POINT_OPERATORS)
        body = {k: v for k, v in (("eventName", event_name), ("actionName", action_name)) if v}
        self._send("POST", f"contacts/{_id(contact_id)}/points/{op}/{value}", json=body or None, idempotent=False)

    def list_point_groups(self) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = []
        start = 0
        while True:
            body = self._get("points/groups", {"start": start, "limit": 100, "orderBy": "id"})
            page = body.get("pointGroups") or []
            page = list(page.values()) if isinstance(page, dict) else list(page)
            groups += page
            if len(page) < 100:
                return groups
            start += len(page)

    def get_point_group(self, group_id: int | str) -> dict[str, Any]:
        return self._get(f"points/groups/{_id(group_id)}")["pointGroup"]

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
        raise ContactsConfigError(f"point group {group!r} does not exist (groups: {names})", conn_id=self.conn_id)

    def get_contact_group_scores(self, contact_id: int | str) -> list[dict[str, Any]]:
        body = self._get(f"contacts/{_id(contact_id)}/points/groups")
        return list(body.get("groupScores") or [])

    def get_group_score(self, contact_id: int | str, group_id: int | str) -> int:
        """The contact's score in the group; 0 when it has none yet (as Mautic starts it)."""
        body = self._get(f"contacts/{_id(contact_id)}/points/groups/{_id(group_id)}")
        score = body.get("groupScore")
        return _int(score.get("score")) if isinstance(score, dict) else 0

    def adjust_group_score(self, contact_id: int | str, group_id: int | str, op: str, value: int, *,
                           event_name: str | None = None, action_name: str | None = None) -> int:
        """``POST /contacts/{id}/points/groups/{gid}/{op}/{value}``; returns the new score.

        Validated first (operator, integer, no division by 0). An inexact division, which
        Mautic answers with HTTP 500, is sent as ``set`` to the value rounded toward zero
        (:func:`~airflow_provider_contacts.capabilities.compute_score`), after reading the current score. ``plus``/``minus``/
        ``times``/``divide`` are not idempotent and are never retried once sent; ``set`` is.
        """
        op, number = check_adjustment(op, value)
        if op == "divide":
            current = self.get_group_score(contact_id, group_id)
            if current % number != 0:
                target = compute_score(current, op, number)
                log.info("%s: %d / %d is inexact; setting %d (rounded toward zero)", self.conn_id, current, number, target)
                op, number = "set", target
        body = {k: v for k, v in (("eventName", event_name), ("actionName", action_name)) if v}
        result = self._send(
            "POST", f"contacts/{_id(contact_id)}/points/groups/{_id(group_id)}/{op}/{number}",
            json=body or None, idempotent=(op == "set"),
        )
        return _int((result.get("groupScore") or {}).get("score"))

    # ---- activity -------------------------------------------------------------------------
    def event_plan(
        self,
        since: datetime,
        until: datetime,
        *,
        include_types: list[str] | None = None,
        exclude_types: list[str] | None = None,
        contact_ids: list[str] | None = None,
        page_size: int = 100,
        search: str | None = None,
    ) -> Plan:
        """Events with ``since <= occurred_at < until``: Mautic's date filters are inclusive
        and second-precise, so the window is widened to whole seconds and cut here."""
        since_utc = _aware(since)
        until_utc = _aware(until)
        if until_utc <= since_utc:
            return
        date_to = until_utc if until_utc.microsecond == 0 else until_utc + timedelta(seconds=1)
        base: dict[str, Any] = {
            "filters[dateFrom]": mautic_datetime(since_utc),
            "filters[dateTo]": mautic_datetime(date_to),
            "order[0]": "timestamp",
            "order[1]": "ASC",
            "limit": int(page_size),
        }
        if include_types:
            base["filters[includeEvents][]"] = list(include_types)
        if exclude_types:
            base["filters[excludeEvents][]"] = list(exclude_types)
        if search:
            base["filters[search]"] = search
        paths = [f"/api/contacts/{_id(c)}/activity" for c in contact_ids] if contact_ids else ["/api/contacts/activity"]
        for path in paths:
            # Duplicates come from offsets shifting while we page (an event inserted into a
            # type already paged pushes its neighbour onto the next page), so remembering
            # the keys of the previous and current page is enough: memory stays flat.
            previous: set[tuple[str, str, str, str]] = set()
            page, max_pages = 1, 1
            while page <= max_pages:
                body = yield Call("GET", path, params={**base, "page": page})
                body = body if isinstance(body, dict) else {}
                max_pages = _int(body.get("maxPages"), 1)
                current: set[tuple[str, str, str, str]] = set()
                for raw in body.get("events") or []:
                    event = normalise_event(raw)
                    if event is None:
                        continue
                    occurred = parse_mautic_datetime(event.occurred_at)
                    key = event.dedup_key
                    if not (since_utc <= occurred < until_utc) or key in current or key in previous:
                        continue
                    current.add(key)
                    yield event
                previous = current
                page += 1

    def get_contact_activity(self, contact_id: int | str, since: datetime | None = None,
                             until: datetime | None = None, **filters: Any) -> list[ContactEvent]:
        """All of one contact's timeline events in ``[since, until)`` (default: everything)."""
        since = since or datetime(1970, 1, 1, tzinfo=timezone.utc)
        until = until or datetime.now(timezone.utc) + timedelta(seconds=1)
        return list(self.iter_events(since, until, contact_ids=[str(contact_id)], **filters))

    def get_contact_events(self, contact_id: int | str, **filters: Any) -> list[ContactEvent]:
        """Deprecated: Mautic removed ``/contacts/{id}/events``; this calls the activity endpoint."""
        warnings.warn("get_contact_events is deprecated (removed from Mautic); use get_contact_activity",
                      DeprecationWarning, stacklevel=2)
        return self.get_contact_activity(contact_id, **filters)

    # ---- the rest of the contact endpoints ------------------------------------------------
    def list_owners(self) -> list[dict[str, Any]]:
        return list(self._get("contacts/list/owners") or [])

    def list_fields(self) -> list[dict[str, Any]]:
        body = self._get("contacts/list/fields") or {}
        return list(body.values()) if isinstance(body, dict) else list(body)

    def list_segments(self) -> list[dict[str, Any]]:
        body = self._get("contacts/list/segments") or []
        return list(body.values()) if isinstance(body, dict) else list(body)

    def _sub_list(self, contact_id: int | str, name: str, key: str | None = None) -> list[dict[str, Any]]:
        body = self._get(f"contacts/{_id(contact_id)}/{name}") or {}
        items = body.get(key or name) or []
        return list(items.values()) if isinstance(items, dict) else list(items)

    def get_contact_segments(self, contact_id: int | str) -> list[dict[str, Any]]:
        """``GET /contacts/{id}/segments``; Mautic answers them under the key ``lists``."""
        return self._sub_list(contact_id, "segments", "lists")

    def get_contact_campaigns(self, contact_id: int | str) -> list[dict[str, Any]]:
        return self._sub_list(contact_id, "campaigns")

    def get_contact_companies(self, contact_id: int | str) -> list[dict[str, Any]]:
        return self._sub_list(contact_id, "companies")

    def get_contact_notes(self, contact_id: int | str) -> list[dict[str, Any]]:
        return self._sub_list(contact_id, "notes")

    def get_contact_devices(self, contact_id: int | str) -> list[dict[str, Any]]:
        return self._sub_list(contact_id, "devices")

    def add_utm_tags(self, contact_id: int | str, utm: dict[str, Any]) -> dict[str, Any]:
        """``POST /contacts/{id}/utm/add``: records one set of UTM tags; returns the contact.

        Keys, as Mautic reads them (snake_case; ``LeadModel::addUTMTags``): ``utm_source``,
        ``utm_medium``, ``utm_campaign``, ``utm_content``, ``utm_term``, ``url``, ``referer``,
        ``query`` (a dict, or a query string), ``useragent`` (also records the contact's device;
        ``user_agent`` only stores it), ``remotehost`` / ``remote_host``, and ``lastActive`` (a
        datetime or text; it dates the record and sets the contact's last activity). Mautic
        ignores any other key, so a camelCase one (``utmSource``) would be stored as nothing:
        it is refused here, before the request. Not idempotent (adds a record): never retried."""
        unknown = sorted(k for k in utm if k not in UTM_KEYS)
        if unknown:
            hints = [f"{k!r} → {UTM_CAMEL.get(k) or _snake(k)!r}" if (UTM_CAMEL.get(k) or _snake(k)) in UTM_KEYS else repr(k)
                     for k in unknown]
            raise ContactsConfigError(
                f"UTM key(s) {', '.join(hints)} not read by Mautic, which would store nothing for them; "
                f"use {', '.join(sorted(UTM_KEYS))}", conn_id=self.conn_id)
        return self._send("POST", f"contacts/{_id(contact_id)}/utm/add", json=_clean(utm), idempotent=False)["contact"]

    def remove_utm_tag(self, contact_id: int | str, utm_id: int | str) -> dict[str, Any]:
        return self._send("POST", f"contacts/{_id(contact_id)}/utm/{_id(utm_id)}/remove", idempotent=True)["contact"]


# ---- helpers ------------------------------------------------------------------------------
def normalise_event(raw: Any) -> ContactEvent | None:
    if not isinstance(raw, dict) or not raw.get("timestamp") or not raw.get("event"):
        return None
    label = raw.get("eventLabel")
    if isinstance(label, dict):
        label = label.get("label")
    details = raw.get("details") if isinstance(raw.get("details"), dict) else {}
    log_info = details.get("log") if isinstance(details.get("log"), dict) else {}
    campaign = log_info.get("campaignName") or log_info.get("campaign_name")
    contact = raw.get("contactId")
    return ContactEvent(
        vendor="mautic",
        event_id=str(raw.get("eventId") or ""),
        event_type=str(raw["event"]),
        contact_id=None if contact in (None, "") else str(contact),
        occurred_at=to_utc_iso(parse_mautic_datetime(str(raw["timestamp"]))),
        label=None if label is None else str(label),
        campaign=None if campaign is None else str(campaign),
        raw=raw,
    )


def _list_params(*, search, start, limit, order_by, order_dir, where, published, minimal, select) -> dict[str, Any]:
    params: dict[str, Any] = {"start": int(start), "limit": int(limit)}
    if search:
        params["search"] = search
    if order_by:
        params["orderBy"] = order_by
        params["orderByDir"] = order_dir.upper()
    for i, clause in enumerate(where or []):
        for key, value in clause.items():
            if isinstance(value, (list, tuple)):
                params[f"where[{i}][{key}][]"] = [str(v) for v in value]
            else:
                params[f"where[{i}][{key}]"] = str(value)
    if published is not None:
        params["published"] = 1 if published else 0  # the code reads "published", not "publishedOnly"
    if minimal:
        params["minimal"] = 1
    if select:
        params["select[]"] = sorted(set(select) | {"id"})
    return params


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _id(value: int | str) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text):
        raise ContactsConfigError(f"id {value!r} is not a Mautic id (a positive whole number)")
    return text


def _channel(channel: str) -> str:
    text = str(channel or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", text):
        raise ContactsConfigError(f"channel {channel!r} is not valid; use e.g. email or sms")
    return text


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _str_id(contact: dict[str, Any] | None) -> str | None:
    if not contact or contact.get("id") in (None, ""):
        return None
    return str(contact["id"])


def _field(contact: dict[str, Any], alias: str) -> Any:
    fields = contact.get("fields") or {}
    if isinstance(fields, dict):
        flat = fields.get("all")
        if isinstance(flat, dict) and alias in flat:
            return flat[alias]
        for group in fields.values():
            if isinstance(group, dict) and isinstance(group.get(alias), dict):
                return group[alias].get("value")
    return contact.get(alias)


def _is_zero(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        return int(value) == 0
    if isinstance(value, str):
        try:
            return int(float(value)) == 0
        except ValueError:
            return False
    return False


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready values: datetimes as UTC ``Y-m-d H:i:s``."""
    out = {}
    for key, value in data.items():
        if isinstance(value, datetime):
            value = mautic_datetime(value)
        out[key] = value
    return out


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


__all__ = [
    "BatchItem",
    "BatchLimitExceeded",
    "ContactPage",
    "InvalidAdjustment",
    "MauticHook",
    "mautic_datetime",
    "normalise_event",
    "parse_batch",
]
