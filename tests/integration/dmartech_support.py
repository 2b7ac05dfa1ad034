"""Helpers of the DmartechHook tests: events that arrive while a contact's event pages are read."""

from __future__ import annotations


def arrivals_while_paging(hook, emu, cid: str, after_page: int, arrivals: int, event_type: str) -> list[int]:
    """``arrivals`` new events of ``event_type`` (now: the newest, as the listing sorts them)
    arrive right after page ``after_page`` of ``cid``'s events is read; returns the page numbers
    the hook asks for, as it asks for them."""
    real_send = hook.transport.send
    pages: list[int] = []

    def send(call):
        response = real_send(call)
        if call.path.endswith("/contactEvents"):
            pages.append(call.params["pageNo"])
            if len(pages) == after_page:
                for j in range(arrivals):
                    emu.add_event(cid, event_type, attributes={"late": str(j)})
        return response

    hook.transport.send = send
    return pages
