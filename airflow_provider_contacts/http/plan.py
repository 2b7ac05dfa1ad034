"""Requests described as data, and plans: generators of requests run by either client.

A :class:`Call` is one HTTP request to make. Hook code that pages through an API is written
once as a *plan*: a generator that yields calls (and receives the decoded JSON body of each
answer) or results to hand to the caller (e.g. contact events). :func:`run_plan` drives a plan
on the blocking client (operators, sensors), :func:`arun_plan` on the async one (triggers), so
the paging logic has no blocking call in the event loop and no twin.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Generator, Iterator, Mapping, Protocol


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
