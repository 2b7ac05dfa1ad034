"""Requests described as data, and plans: generators of requests run by either client.

A :class:`Call` is one HTTP request to make. Hook code that pages through an API is written
once as a *plan*: a generator that yields calls (and receives the decoded JSON body of each
answer) or results to hand to the caller (e.g. contact events). :func:`run_plan` drives a plan
on the blocking client (operators, sensors), :func:`arun_plan` on the async one (triggers), so
the paging logic has no blocking call in the event loop and no twin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Call:
    """One HTTP request: ``path`` is under the connection's base URL (or an absolute URL on
    its origin). ``idempotent`` None means "by the method" (GET, HEAD, PUT, DELETE, OPTIONS)."""

    method: str
    path: str
    params: Any = None
    json: Any = None
    idempotent: bool | None = None
    #: a form body (an OAuth token request)
    data: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


#: yields :class:`Call` objects (receiving the decoded JSON body of each answer) or results
Plan = Generator[Any, Any, None]


class Sends(Protocol):  # the blocking client
    def send(self, call: Call) -> Any: ...


class SendsAsync(Protocol):  # the async client
    def send(self, call: Call) -> Awaitable[Any]: ...


class Stepper:
    """Steps through a generator that is answered: iterate it, and set :attr:`answer` to what
    the last item asked for before taking the next one; :attr:`result` is what the generator
    returned. What the blocking and the async drivers share (they differ only in how they get
    an answer)."""

    def __init__(self, steps: Generator[Any, Any, Any]) -> None:
        self.steps = steps
        self.answer: Any = None
        self.result: Any = None

    def __iter__(self) -> Stepper:
        return self

    def __next__(self) -> Any:
        answer, self.answer = self.answer, None
        try:
            return self.steps.send(answer)
        except StopIteration as done:
            self.result = done.value
            raise StopIteration from None


def _body(response: Any) -> Any:
    return response.json() if response.content else None


def run_plan(transport: Sends, plan: Plan) -> Iterator[Any]:
    """Drive a plan on the blocking client, yielding its results."""
    with closing(plan):
        steps = Stepper(plan)
        for item in steps:
            if isinstance(item, Call):
                steps.answer = _body(transport.send(item))
            else:
                yield item


async def arun_plan(transport: SendsAsync, plan: Plan) -> AsyncIterator[Any]:
    """Drive a plan on the async client, yielding its results."""
    with closing(plan):
        steps = Stepper(plan)
        for item in steps:
            if isinstance(item, Call):
                steps.answer = _body(await transport.send(item))
            else:
                yield item


# ---- paging ---------------------------------------------------------------------------------
@dataclass
class Page:
    """What a page answer holds: its rows (already read into what the caller wants) and whether
    it is the last page."""

    rows: list[Any]
    last: bool


def paged(
    request: Callable[[Any], Call],
    read: Callable[[Any, Any], Page],
    *,
    start: Any = 1,
    advance: Callable[[Any, Page], Any] | None = None,
    key: Callable[[Any], Any] | None = None,
    repeats: str = "iteration",
) -> Plan:
    """The paging loop every vendor shares, as a plan: ask ``request(cursor)``, ``read`` the
    answer into a :class:`Page`, yield its rows, and go on from ``advance(cursor, page)`` (the
    next page number by default; an offset or a keyset cursor otherwise) until a page is the
    last one.

    With ``key``, a row whose key was already yielded is a repeat and skipped: pages shift when
    the data changes while they are read, so a row can come twice. ``repeats="iteration"``
    remembers every key of the iteration; ``"adjacent"`` only those of the previous page (enough
    where a change shifts rows by less than a page; memory stays flat)."""
    if repeats not in ("iteration", "adjacent"):
        raise ValueError(f"repeats={repeats!r}: use 'iteration' or 'adjacent'")
    step = advance or (lambda cursor, _page: cursor + 1)
    cursor, previous, current = start, set(), set()
    while True:
        page = read((yield request(cursor)), cursor)
        for row in page.rows:
            if key is not None:
                k = key(row)
                if k in current or k in previous:
                    continue
                current.add(k)
            yield row
        if page.last:
            return
        if repeats == "adjacent":
            previous, current = current, set()
        cursor = step(cursor, page)


def map_plan(plan: Plan, each: Callable[[Any], Iterable[Any]]) -> Plan:
    """``plan`` with each of its results replaced by what ``each(result)`` yields (none, one or
    several); its calls go on unchanged."""
    with closing(plan):
        steps = Stepper(plan)
        for item in steps:
            if isinstance(item, Call):
                steps.answer = yield item
            else:
                yield from each(item)
