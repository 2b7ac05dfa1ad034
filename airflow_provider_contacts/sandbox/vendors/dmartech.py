"""Dmartech open-platform emulator (docs/vendors/dmartech.md A and D).

* every call: ``access-key`` + ``access-sign`` verified for real (AES/ECB of epoch ms, +-5 min,
  URL-encoded or raw Base64), else code 40001;
* the ``{code, message, traceNumber, data}`` envelope on every answer, errors keyed on ``code``
  (40003 is HTTP 403 as documented; the HTTP status of other codes is undocumented, the
  emulator answers 200 with the code in the body);
* 40006 once more than ``rate_limit_per_second`` (20) calls arrive within one second;
* the contact area of A.5: contactPageList (customerType 1-4, search on a field ``sn`` whose
  ``searchType`` is true, sort on a ``fieldName`` whose ``sortType`` is true), contactEvents
  (``pageSize`` <= 20, ``fromDate``/``toDate`` days, answers in day buckets), contactFieldDetails,
  the four per-contact look-ups (``customerId`` XOR ``name``+``value``), contactByLabelPageList,
  labelPageList;
* 20001 for a missing required parameter, 10004 for a bad value (the exact code for
  ``pageSize > 20`` is undocumented: 10004 is the emulator's choice).

Settings (``emulator.settings``, ``PATCH /_sandbox/settings/dmartech``): ``rate_limit_per_second``,
``timezone`` (the tenant's; dates in payloads are local times), ``granted`` (None = every
endpoint, else the list of endpoint names the key may call: others get 40003),
``list_max_page_size`` (undocumented: 100), ``seed_contacts``, ``mask_mobile``,
``from_date_inclusive`` / ``to_date_inclusive`` (whether contactEvents' ``fromDate`` and
``toDate`` days are included: undocumented, both readings can be played; default True).
"""

from __future__ import annotations

import base64
import math
import random
import time
import uuid
from collections import deque
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_contacts.sandbox.base import VendorEmulator

ACCESS_KEY = "sandbox-access-key"
ACCESS_SECRET = "0123456789abcdef"
WINDOW_MS = 300_000
EVENTS_MAX_PAGE_SIZE = 20

DEFAULTS: dict[str, Any] = {
    "rate_limit_per_second": 20,
    "timezone": "Asia/Shanghai",
    "granted": None,
    "list_max_page_size": 100,
    "seed_contacts": 30,
    "mask_mobile": False,
    # contactEvents' fromDate/toDate: the document does not say whether the days are included
    "from_date_inclusive": True,
    "to_date_inclusive": True,
}

#: fieldName, sn, display name, searchType, sortType. Rows of contactPageList are keyed by the
#: display name for system fields and by fieldName for custom ones (as the screenshot shows).
FIELDS: list[tuple[str, str, str, bool, bool]] = [
    ("mobile", "f_mobile", "手机号", True, False),
    ("email", "f_email", "邮箱", True, False),
    ("name", "f_name", "姓名", True, False),
    ("createDate", "f_create_date", "创建时间", False, True),
    ("industry", "f_industry", "industry", False, False),
    ("userAttr", "f_user_attr", "userAttr", False, False),
]
ROW_KEY = {"mobile": "手机号", "email": "邮箱", "name": "姓名", "createDate": "创建时间"}
LABELS = [
    ("VIP", "lbl_vip", "grp_value"),
    ("Webinar 2026", "lbl_webinar", "grp_events"),
    ("Churn risk", "lbl_churn", "grp_value"),
]
#: (eventGroupName, eventName, extra attributes)
EVENT_KINDS: list[tuple[str, str]] = [
    ("email", "email_open"),
    ("email", "email_click"),
    ("form", "form_submit"),
    ("label", "label_add"),
    ("label", "label_remove"),
    ("wechat", "wechat_subscribe"),
]
MESSAGES = {
    0: "Successful.",
    -1: "system busy, retry",
    10003: "invalid sort field",
    10004: "invalid parameter value",
    10005: "invalid query field",
    10006: "invalid sort type",
    20001: "missing required parameter",
    40001: "accessKey or accessSign invalid",
    40003: "Forbidden",
    40006: "call count/frequency limit reached",
}


class DmartechError(Exception):
    def __init__(self, code: int, detail: str | None = None, status: int = 200) -> None:
        super().__init__(detail)
        self.code = code
        self.message = MESSAGES.get(code, "error") + (f": {detail}" if detail else "")
        self.status = status


def verify_signature(value: str | None, secret: str, now_ms: int) -> bool:
    """URL-decode (raw Base64 accepted too), Base64-decode, AES-ECB-decrypt, unpad, compare."""
    if not value:
        return False
    try:
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        raw = base64.b64decode(unquote(value) if "%" in value else value)
        decryptor = Cipher(algorithms.AES(secret.encode()), modes.ECB()).decryptor()  # noqa: S305
        padded = decryptor.update(raw) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        ts = int(unpadder.update(padded) + unpadder.finalize())
    except Exception:
        return False
    return abs(now_ms - ts) <= WINDOW_MS


class DmartechEmulator(VendorEmulator):
    name = "dmartech"
    mount = "/dmartech"
    defaults = DEFAULTS
    base_path = "/openapi"

    def reset(self, seed: int | None = None, empty: bool = False) -> None:
        super().reset(seed)
        with self.lock:
            self.calls: deque[float] = deque()
            self.contacts: dict[str, dict[str, Any]] = {}
            self.events: dict[str, list[dict[str, Any]]] = {}
            self.labels: list[dict[str, Any]] = [
                {
                    "id": i + 1,
                    "sn": sn,
                    "labelName": name,
                    "groupSn": grp,
                    "isConceal": 0,
                    "updateDate": "2026-10-01 09:00:00",
                }
                for i, (name, sn, grp) in enumerate(LABELS)
            ]
            self.rng = random.Random(self.seed)
            if not empty:
                self._seed()

    # data -----------------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(str(self.settings["timezone"]))

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def local_text(self, when: datetime) -> str:
        return when.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def _seed(self) -> None:
        now = self.now()
        for i in range(int(self.settings["seed_contacts"])):
            anonymous = i % 10 == 9
            contact = self.add_contact(
                None if anonymous else f"1380000{i:04d}",
                None if anonymous else f"dm{i}@example.cn",
                None if anonymous else f"客户{i}",
                industry=self.rng.choice(["retail", "finance", "education"]),
                created=now - timedelta(days=60 - i),
                labels=[LABELS[i % 3][1]] if i % 2 == 0 else [],
            )
            for _ in range(self.rng.randint(0, 6)):
                group, event_name = self.rng.choice(EVENT_KINDS)
                when = now - timedelta(minutes=self.rng.randint(60, 14 * 24 * 60))
                self.add_event(contact["customerId"], event_name, when, group=group)

    def add_contact(
        self,
        mobile: str | None,
        email: str | None,
        name: str | None,
        *,
        industry: str | None = None,
        created: datetime | None = None,
        labels: list[str] | None = None,
        customer_type: int | None = None,
    ) -> dict[str, Any]:
        """A contact (tests and the seed); returns the stored record."""
        with self.lock:
            customer_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            contact = {
                "customerId": customer_id,
                "values": {
                    "mobile": mobile,
                    "email": email,
                    "name": name,
                    "industry": industry,
                    "userAttr": None,
                    "createDate": self.local_text(created or self.now()),
                },
                "type": customer_type or (1 if (mobile or email) else 2),
                "labels": list(labels or []),
                "unsubscribe": {"globalStatus": 0, "emailStatus": 0, "mobileStatus": 0},
                "grades": [{"gradeRule": "Engagement", "rank": "B", "score": str(self.rng.randint(0, 100))}],
            }
            self.contacts[customer_id] = contact
            self.events[customer_id] = []
            return contact

    def add_event(
        self,
        customer_id: str,
        event_name: str,
        when: datetime | None = None,
        *,
        group: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Record one event of a contact (also used by tests to make events appear)."""
        with self.lock:
            if customer_id not in self.contacts:
                raise KeyError(f"no Dmartech contact {customer_id}")
            when = (when or self.now()).astimezone(timezone.utc).replace(microsecond=0)
            local = when.astimezone(self.tz)
            group = group or dict((n, g) for g, n in EVENT_KINDS).get(event_name, "custom")
            attrs = [
                {
                    "attributeMeaning": "event trigger time",
                    "attributeValue": local.strftime("%Y-%m-%d %H:%M:%S"),
                    "attributeName": "event_date",
                },
                {"attributeMeaning": "Data source", "attributeValue": "sandbox", "attributeName": "source"},
            ]
            for key, value in (attributes or {}).items():
                attrs.append({"attributeMeaning": key, "attributeValue": value, "attributeName": key})
            event = {
                "date": local.strftime("%Y-%m-%d"),
                "userInfo": None,
                "eventGroupName": group,
                "mergedUsers": None,
                "eventName": event_name,
                "attributes": attrs,
                "_at": when,
            }
            self.events[customer_id].append(event)
            return event

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "contacts": len(self.contacts),
                "events": sum(len(v) for v in self.events.values()),
                "settings": dict(self.settings),
            }

    # envelope ---------------------------------------------------------------------------------
    def envelope(self, data: Any = None, code: int = 0, message: str = "Successful.", status: int = 200):
        return JSONResponse(
            {"code": code, "message": message, "traceNumber": uuid.uuid4().hex, "data": data},
            status_code=status,
        )

    def fault_response(self, status: int, retry_after: float):
        if status == 429:
            return self.envelope(None, 40006, MESSAGES[40006], status=200)
        return self.envelope(None, -1, MESSAGES[-1], status=status)

    # guards ---------------------------------------------------------------------------------
    def _guard(self, request: Request, endpoint: str) -> None:
        if request.headers.get("access-key") != ACCESS_KEY or not verify_signature(
            request.headers.get("access-sign"), ACCESS_SECRET, int(self.clock() * 1000)
        ):
            raise DmartechError(40001)
        limit = int(self.settings.get("rate_limit_per_second") or 0)
        if limit > 0:
            now = time.monotonic()
            while self.calls and self.calls[0] <= now - 1.0:
                self.calls.popleft()
            self.calls.append(now)
            if len(self.calls) > limit:
                raise DmartechError(40006)
        granted = self.settings.get("granted")
        if granted is not None and endpoint not in granted:
            raise DmartechError(40003, status=403)

    # routing --------------------------------------------------------------------------------
    def build_router(self):
        router = APIRouter()
        handlers = {
            "contactPageList": self.h_page_list,
            "contactByLabelPageList": self.h_by_label,
            "contactEvents": self.h_events,
            "contactFieldDetails": self.h_fields,
            "contactCustomerDetails": self.h_details,
            "contactLabelList": self.h_labels_of,
            "contactGradeScoreList": self.h_grades,
            "contactUnsubscribeStatus": self.h_unsubscribe,
            "labelPageList": self.h_label_page,
        }

        @router.get("/openapi/open-api/v1/contact/{endpoint}")
        def contact_area(endpoint: str, request: Request) -> Any:
            handler = handlers.get(endpoint)
            if handler is None:
                return self.envelope(None, 40003, "Forbidden", status=403)  # not an interface of the key
            try:
                with self.lock:
                    self._guard(request, endpoint)
                    data = handler(request.query_params)
            except DmartechError as err:
                return self.envelope(None, err.code, err.message, status=err.status)
            return self.envelope(data)

        return router

    # parameters -------------------------------------------------------------------------------
    @staticmethod
    def _required(query, *names: str) -> list[str]:
        missing = [n for n in names if not query.get(n)]
        if missing:
            raise DmartechError(20001, ", ".join(missing))
        return [query[n] for n in names]

    def _paging(self, query, maximum: int) -> tuple[int, int]:
        page_text, size_text = self._required(query, "pageNo", "pageSize")
        try:
            page_no, page_size = int(page_text), int(size_text)
        except ValueError:
            raise DmartechError(10004, "pageNo and pageSize must be integers") from None
        if page_no < 1 or page_size < 1:
            raise DmartechError(10004, "pageNo and pageSize must be >= 1")
        if page_size > maximum:
            raise DmartechError(10004, f"pageSize must not exceed {maximum}")
        return page_no, page_size

    def _page(self, rows: list[Any], page_no: int, page_size: int) -> dict[str, Any]:
        return {
            "totalPage": math.ceil(len(rows) / page_size),
            "totalRow": len(rows),
            "resultList": rows[(page_no - 1) * page_size : page_no * page_size],
        }

    def _row(self, contact: dict[str, Any]) -> dict[str, Any]:
        values = contact["values"]
        row = {ROW_KEY.get(k, k): v for k, v in values.items()}
        if self.settings.get("mask_mobile") and row.get("手机号"):
            row["手机号"] = "******"
        row["customerId"] = contact["customerId"]
        return row

    def _lookup(self, query) -> dict[str, Any]:
        customer_id, name, value = query.get("customerId"), query.get("name"), query.get("value")
        if customer_id and (name or value):
            raise DmartechError(10004, "send customerId or name+value, not both")
        if customer_id:
            contact = self.contacts.get(customer_id)
        elif name and value:
            if name not in ("mobile", "email"):
                raise DmartechError(10005, f"{name} is not a primary-key field")
            contact = next((c for c in self.contacts.values() if c["values"].get(name) == value), None)
        else:
            raise DmartechError(20001, "customerId, or name and value")
        if contact is None:
            raise DmartechError(10004, "contact does not exist")
        return contact

    # handlers ---------------------------------------------------------------------------------
    def h_fields(self, query) -> Any:
        return {
            "resultList": [
                {"fieldName": f, "sn": sn, "name": n, "searchType": s, "sortType": o}
                for f, sn, n, s, o in FIELDS
            ]
        }

    def _list(self, query, contacts: list[dict[str, Any]]) -> dict[str, Any]:
        page_no, page_size = self._paging(query, int(self.settings["list_max_page_size"]))
        search_field, search_value = query.get("searchField"), query.get("searchValue")
        if search_field:
            field = next((f for f in FIELDS if f[1] == search_field), None)
            if field is None or not field[3]:
                raise DmartechError(10005, f"{search_field} is not a searchable field sn")
            contacts = [
                c
                for c in contacts
                if search_value is not None and str(c["values"].get(field[0]) or "") == search_value
            ]
        sort_field, sort_order = query.get("sortField"), (query.get("sortOrder") or "asc")
        if sort_order not in ("asc", "desc"):
            raise DmartechError(10006, sort_order)
        if sort_field:
            field = next((f for f in FIELDS if f[0] == sort_field), None)
            if field is None or not field[4]:
                raise DmartechError(10003, sort_field)
            contacts = sorted(
                contacts, key=lambda c: str(c["values"].get(sort_field) or ""), reverse=sort_order == "desc"
            )
        page = self._page(contacts, page_no, page_size)
        page["resultList"] = [self._row(c) for c in page["resultList"]]
        return page

    def h_page_list(self, query) -> Any:
        (customer_type,) = self._required(query, "customerType")
        if customer_type not in ("1", "2", "3", "4"):
            raise DmartechError(10004, "customerType must be 1, 2, 3 or 4")
        if customer_type == "3" and not query.getlist("appIds"):
            raise DmartechError(20001, "appIds (customerType 3)")
        wanted = int(customer_type)
        contacts = [c for c in self.contacts.values() if wanted == 4 or c["type"] == wanted]
        return self._list(query, contacts)

    def h_by_label(self, query) -> Any:
        (sn,) = self._required(query, "sn")
        return self._list(query, [c for c in self.contacts.values() if sn in c["labels"]])

    def _day(self, value: str | None, field: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise DmartechError(10004, f"{field} must be YYYY-MM-DD") from None

    def h_events(self, query) -> Any:
        (customer_id,) = self._required(query, "customerId")
        page_no, page_size = self._paging(query, EVENTS_MAX_PAGE_SIZE)
        if customer_id not in self.contacts:
            raise DmartechError(10004, "contact does not exist")
        first, last = self._day(query.get("fromDate"), "fromDate"), self._day(query.get("toDate"), "toDate")
        from_in, to_in = bool(self.settings["from_date_inclusive"]), bool(self.settings["to_date_inclusive"])

        def in_days(day: str) -> bool:
            after_first = first is None or (day >= first.isoformat() if from_in else day > first.isoformat())
            before_last = last is None or (day <= last.isoformat() if to_in else day < last.isoformat())
            return after_first and before_last

        events = [e for e in self.events[customer_id] if in_days(e["date"])]
        events.sort(key=lambda e: e["_at"], reverse=True)  # newest first, like a timeline
        page = self._page(events, page_no, page_size)
        buckets: list[dict[str, Any]] = []
        for event in page["resultList"]:
            public = {k: v for k, v in event.items() if k != "_at"}
            if buckets and buckets[-1]["date"] == event["date"]:
                buckets[-1]["events"].append(public)
            else:
                buckets.append({"date": event["date"], "events": [public]})
        page["resultList"] = buckets
        return page

    def h_details(self, query) -> Any:
        contact = self._lookup(query)
        return {
            "resultList": [
                {"fieldName": f, "value": contact["values"].get(f), "name": n} for f, _sn, n, _s, _o in FIELDS
            ]
        }

    def h_labels_of(self, query) -> Any:
        contact = self._lookup(query)
        names = {sn: name for name, sn, _grp in LABELS}
        return {
            "customerLabelList": [{"name": names.get(sn, sn), "sn": sn} for sn in contact["labels"]],
            "fansLabelList": [],
        }

    def h_grades(self, query) -> Any:
        return {"resultList": list(self._lookup(query)["grades"])}

    def h_unsubscribe(self, query) -> Any:
        return dict(self._lookup(query)["unsubscribe"])

    def h_label_page(self, query) -> Any:
        page_no, page_size = self._paging(query, int(self.settings["list_max_page_size"]))
        labels = self.labels
        if query.get("groupSn"):
            labels = [label for label in labels if label["groupSn"] == query["groupSn"]]
        if query.get("keywords"):
            labels = [label for label in labels if query["keywords"] in label["labelName"]]
        rows = [
            {
                **{k: v for k, v in label.items() if k != "groupSn"},
                "contactCount": sum(1 for c in self.contacts.values() if label["sn"] in c["labels"]),
            }
            for label in labels
        ]
        return self._page(rows, page_no, page_size)

    # connection -------------------------------------------------------------------------------
    def connection(self, root_url: str) -> dict[str, Any]:
        return {
            "conn_type": "dmartech",
            "host": self.base_url(root_url),
            "login": ACCESS_KEY,
            "password": ACCESS_SECRET,
            "extra": {"timezone": DEFAULTS["timezone"]},
        }

    def credentials_text(self) -> str:
        return f"access-key {ACCESS_KEY} / accessKeySecret {ACCESS_SECRET}"
