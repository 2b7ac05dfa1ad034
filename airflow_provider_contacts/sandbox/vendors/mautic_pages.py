"""Mautic emulator: what the instance serves outside ``/api`` (a mixin of ``MauticEmulator``).

* ``/mtracking.gif``: the tracking pixel of ``PageBundle/Controller/PublicController.php::
  trackingImageAction`` (``PageModel::hitPage``, then ``CoreBundle/Helper/TrackingPixelHelper``
  for the answer: a 43-byte transparent GIF, not cached). It needs no credentials and records a
  ``page.hit`` in the tracked contact's activity (see ``RecordsMixin.track_hit``), setting the
  tracking cookies so the next hit of the same browser goes to the same contact.
* ``/s/contacts`` and ``/s/contacts/view/{id}``: the pages the provider's extra link opens. Real
  Mautic asks for a login first; the sandbox shows a minimal read-only page without one.
"""

from __future__ import annotations

import base64
import html
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from airflow_provider_contacts.sandbox.vendors.mautic_common import canonical_headers, php_query

PIXEL = base64.b64decode("R0lGODlhAQABAJAAAP8AAAAAACH5BAUQAAAALAAAAAABAAEAAAICBAEAOw==")
PIXEL_HEADERS = {
    "Content-Encoding": "none",
    "Cache-Control": "private, no-cache, no-cache=Set-Cookie, proxy-revalidate",
    "Expires": "Wed, 11 Jan 2000 12:59:00 GMT",
    "Last-Modified": "Wed, 11 Jan 2006 12:59:00 GMT",
    "Pragma": "no-cache",
}
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Mautic (sandbox)</title>
<style>body{{font-family:sans-serif;margin:2rem}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}</style>
</head><body><p><em>Mautic sandbox: a read-only page.</em> <a href="{base}/s/contacts">All contacts</a></p>
<h1>{title}</h1>
{body}
</body></html>
"""


class PagesMixin:
    state: Any
    lock: Any
    mount: str

    def add_pages(self, router: APIRouter) -> None:
        router.add_api_route("/mtracking.gif", self._pixel, methods=["GET", "POST"])
        router.add_api_route("/s/contacts", self._contacts_page, methods=["GET"])
        router.add_api_route("/s/contacts/view/{contact_id}", self._contact_page, methods=["GET"])

    async def _pixel(self, request: Request) -> Any:
        query = php_query(request.query_params.multi_items())
        if request.method == "POST":
            query.update(php_query(parse_qsl((await request.body()).decode("utf-8", "replace"))))
        path_qs = request.url.path.removeprefix(self.mount) + (
            f"?{request.url.query}" if request.url.query else ""
        )
        with self.lock:
            contact, device = self.state.track_hit(
                {k: v for k, v in query.items() if isinstance(v, str)},
                dict(request.cookies),
                {k.lower(): v for k, v in request.headers.items()},
                path_qs,
                request.client.host if request.client else None,
            )
        if request.method == "GET":
            response = Response(
                PIXEL, media_type="image/gif", headers={**PIXEL_HEADERS, "Connection": "close"}
            )
        else:
            response = Response(b" ")
        for name, value in (
            ("mautic_device_id", device["trackingId"]),
            ("mtc_id", str(contact["id"])),
            ("mautic_session_id", device["trackingId"]),
            (device["trackingId"], str(contact["id"])),
        ):
            response.set_cookie(name, value, path="/", samesite="none", secure=False)
        return canonical_headers(response)

    def _contacts_page(self, request: Request) -> Any:
        with self.lock:
            rows = sorted(self.state.contacts.values(), key=lambda c: c["id"])[:500]
            cells = "".join(
                f'<tr><td><a href="{self.mount}/s/contacts/view/{c["id"]}">{c["id"]}</a></td>'
                f"<td>{_h(c['values'].get('firstname'))} {_h(c['values'].get('lastname'))}</td>"
                f"<td>{_h(c['values'].get('email'))}</td><td>{c['points']}</td></tr>"
                for c in rows
            )
            total = len(self.state.contacts)
        body = (
            f"<p>{total} contacts{' (first 500)' if total > 500 else ''}</p><table><tr><th>ID</th><th>Name</th>"
            f"<th>Email</th><th>Points</th></tr>{cells}</table>"
        )
        return _html("Contacts", body, self.mount)

    def _contact_page(self, contact_id: str) -> Any:
        with self.lock:
            contact = self.state.contacts.get(int(contact_id)) if contact_id.isdigit() else None
            if contact is None:
                return _html(
                    "Contact not found", f"<p>No contact with id {_h(contact_id)}.</p>", self.mount, 404
                )
            data = self.state.contact_json(contact)
        fields = data["fields"]["all"]
        rows = "".join(
            f"<tr><th>{_h(k)}</th><td>{_h(v)}</td></tr>" for k, v in fields.items() if v not in (None, "")
        )
        name = (
            " ".join(str(fields.get(k) or "") for k in ("firstname", "lastname")).strip()
            or f"Contact #{contact['id']}"
        )
        extra = "".join(
            f"<tr><th>{label}</th><td>{_h(value)}</td></tr>"
            for label, value in (
                ("Points", data["points"]),
                ("Stage", (data["stage"] or {}).get("name")),
                (
                    "Owner",
                    " ".join(
                        filter(
                            None,
                            [
                                (data["owner"] or {}).get("firstName"),
                                (data["owner"] or {}).get("lastName"),
                            ],
                        )
                    ),
                ),
                ("Tags", ", ".join(t["tag"] for t in data["tags"])),
                (
                    "Do not contact",
                    ", ".join(f"{d['channel']} ({d['reason']})" for d in data["doNotContact"]),
                ),
                ("Last active", data["lastActive"]),
                ("Added", data["dateAdded"]),
            )
        )
        return _html(name, f"<table>{rows}{extra}</table>", self.mount)


def _h(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


def _html(title: str, body: str, base: str, status: int = 200) -> Response:
    page = _PAGE.format(title=_h(title), body=body, base=base)
    return canonical_headers(Response(page, status_code=status, media_type="text/html; charset=UTF-8"))
