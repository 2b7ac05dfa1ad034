"""The poll loop both contact-events triggers share, and opening a hook without blocking the
triggerer's event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

#: modules a trigger needs, imported in a worker thread before the first poll: an import
#: reads files, which must not happen on the triggerer's event loop. The last ones are loaded
#: lazily by Airflow's connection look-up and by httpx on its first request.
_WARM_MODULES = (
    "airflow_provider_contacts.hooks",
    "airflow_provider_contacts.hooks.base",
    "airflow_provider_contacts.http.client",
    "airflow_provider_contacts.http.loop",
    "airflow_provider_contacts.http.auth",
    "airflow_provider_contacts.http.plan",
    "airflow_provider_contacts.capabilities",
    "airflow_provider_contacts.exceptions",
    "airflow.sdk.definitions.connection",
    "airflow.sdk.execution_time.cache",
    "airflow.sdk.execution_time.secrets",  # Airflow 3.1: imported by aget_connection
    "asgiref.sync",
    "httpcore._backends.anyio",
    "anyio.abc",
    "anyio.lowlevel",
    "anyio.to_thread",
    "anyio.streams.memory",
    "anyio.streams.stapled",
    "anyio.streams.tls",
    "anyio._backends._asyncio",
)


def _warm_imports() -> None:
    from importlib import import_module

    for name in _WARM_MODULES:
        try:
            import_module(name)
        except ImportError:  # an optional speed-up only (module names of other libraries)
            pass


def _build_hook(conn_id: str, conn: Any) -> tuple[Any, Any]:
    """Hook and async transport from a fetched connection (runs in a worker thread: it imports
    the vendor's module, parses the extras and builds the HTTP client with its TLS context)."""
    from airflow_provider_contacts.hooks import hook_for, require_capability

    hook = hook_for(conn, conn_id)  # imports the vendor's module
    require_capability(hook, "activity", "list contact events")
    hook.prepare_for_async()
    transport = hook.make_async_transport()
    transport.client  # noqa: B018 - builds the httpx client (CA bundle read) off the event loop
    return hook, transport


async def open_hook(conn_id: str) -> tuple[Any, Any]:
    """The vendor hook and a fresh async transport. Nothing here blocks the event loop: imports,
    hook construction and the HTTP client run in a worker thread, and the connection is
    fetched with ``aget_connection``."""
    await asyncio.to_thread(_warm_imports)
    from airflow.sdk import BaseHook

    conn = await BaseHook.aget_connection(conn_id)
    return await asyncio.to_thread(_build_hook, conn_id, conn)


def watched_events(trigger: Any, hook: Any, transport: Any, since: Any, until: Any) -> Any:
    """The events in ``[since, until)`` that ``trigger`` watches (its type and contact filters)."""
    return hook.aiter_events(
        transport,
        since,
        until,
        include_types=trigger.include_types,
        exclude_types=trigger.exclude_types,
        contact_ids=trigger.contact_ids,
    )


def is_fatal(err: Exception) -> bool:
    """Errors that polling again cannot fix: settings, credentials, permissions, bad requests."""
    from airflow_provider_contacts.exceptions import (
        AuthenticationError,
        ContactsConfigError,
        InvalidRequestError,
        NotFoundError,
        PermissionDeniedError,
        UnsupportedActionError,
    )

    return isinstance(
        err,
        (
            AuthenticationError,
            PermissionDeniedError,
            ContactsConfigError,
            UnsupportedActionError,
            InvalidRequestError,
            NotFoundError,
        ),
    )


class Backoff:
    """Capped exponential waits after failed polls: ``first``, doubling, at most ``cap``."""

    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap, self.failures = max(float(first), 0.001), max(float(cap), 0.001), 0

    def next_wait(self) -> float:
        self.failures += 1
        return min(self.cap, self.first * 2 ** (self.failures - 1))

    def reset(self) -> None:
        self.failures = 0


#: one poll: ``(hook, transport) -> (value to hand on or None, seconds until the next poll)``
Step = Callable[[Any, Any], Awaitable[tuple[Any, float]]]


async def poll_loop(
    conn_id: str, step: Step, on_failure: Callable[[Exception], float]
) -> AsyncGenerator[Any, None]:
    """Run ``step`` until the consumer stops iterating, yielding each value it hands on. The hook
    and its async client are opened off the event loop, and opened again after a failure (the
    connection may have been fixed meanwhile). A failed step (or open) asks ``on_failure`` how
    long to wait before trying again; ``on_failure`` raises to end the loop. The client is
    closed whatever ends the loop."""
    hook = transport = None
    wait = 0.0
    try:
        while True:
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if hook is None:
                    hook, transport = await open_hook(conn_id)
                value, wait = await step(hook, transport)
            except Exception as err:
                wait = on_failure(err)
                if transport is not None:
                    await transport.aclose()
                hook = transport = None
                continue
            if value is not None:
                yield value
    finally:
        if transport is not None:
            await transport.aclose()
