"""How often and how long a request is tried again, and how fast requests may go.

* retries use capped exponential backoff with jitter on 429, 502/503/504 (500 when a vendor
  marks it retryable), connection errors and read timeouts; ``Retry-After`` (seconds or an
  HTTP date) and ``X-RateLimit-Reset`` (epoch seconds) are honoured; attempts and total time
  are bounded; other 4xx are never retried;
* a request marked ``idempotent=False`` (points plus/minus...) is retried only when the failure
  proves the vendor never processed it (429, or no connection could be made), so a retry never
  applies a change twice;
* an optional client-side rate limit spaces requests out before they are sent;
* :class:`TransportStats` counts what happened, for the operators' summaries.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_contacts.exceptions import (
    ContactsConnectionError,
    ContactsHTTPError,
    ContactsTimeoutError,
    RateLimitedError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to retry.

    ``backoff_initial * 2**(attempt-1)``, capped at ``backoff_max``, with "equal jitter"
    (half fixed, half random). A wait the vendor asks for (``Retry-After``,
    ``X-RateLimit-Reset``) replaces the backoff. No single wait exceeds ``max_wait`` and the
    whole call never exceeds ``max_total_seconds``: when the next wait would not fit, the last
    error is raised at once (carrying ``retry_after``) so an Airflow task retry can take over.
    """

    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 300.0
    max_total_seconds: float = 600.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    jitter: bool = True

    def backoff(self, attempt: int, rng: random.Random) -> float:
        base = min(self.backoff_max, self.backoff_initial * (2 ** max(0, attempt - 1)))
        if not self.jitter:
            return base
        return base / 2 + rng.uniform(0, base / 2)

    def may_retry(self, err: ContactsHTTPError, idempotent: bool) -> bool:
        """Whether ``err`` may be tried again at all (budget aside). A vendor's error mapper
        decides through ``err.retry_decision``; else connection failures and timeouts are
        retried, and the statuses of ``retry_statuses``. A request that is not idempotent is
        retried only when the vendor provably did not process it (429, nothing sent)."""
        retryable = err.retry_decision
        if retryable is None:
            if isinstance(err, (ContactsConnectionError, ContactsTimeoutError)):
                retryable = True
            else:
                retryable = err.status in self.retry_statuses
        if not retryable:
            return False
        return idempotent or isinstance(err, RateLimitedError) or err.not_sent


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 120.0


class RateLimiter:
    """Client-side sliding-window limit: at most ``per_second`` calls in any second and
    ``per_hour`` in any hour. Thread-safe. :meth:`reserve` books a slot and returns how long
    the caller must wait before sending (the caller sleeps, sync or async).

    The server counts arrivals, and the first request of a burst often arrives late (a new
    connection), so the per-second window is ``1 + jitter_margin`` seconds: without it, a
    client at exactly 20/s regularly gets Dmartech's 40006 and pays a back-off."""

    def __init__(
        self,
        per_second: float | None = None,
        per_hour: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        jitter_margin: float = 0.1,
    ) -> None:
        self._windows: list[tuple[float, int, deque[float]]] = []
        if per_second:
            if per_second >= 1:
                self._windows.append((1.0 + jitter_margin, int(per_second), deque()))
            else:  # e.g. 0.5/s = one call every 2 s
                self._windows.append((1.0 / per_second + jitter_margin, 1, deque()))
        if per_hour:
            self._windows.append((3600.0, int(per_hour), deque()))
        self._clock = clock
        self._lock = threading.Lock()
        self.per_second = per_second
        self.per_hour = per_hour

    def reserve(self) -> float:
        if not self._windows:
            return 0.0
        with self._lock:
            now = self._clock()
            start = now
            for window, limit, times in self._windows:
                while times and times[0] <= now - window:
                    times.popleft()
                if times:
                    start = max(start, times[-1])
                if len(times) >= limit:
                    start = max(start, times[-limit] + window)
            for _window, _limit, times in self._windows:
                times.append(start)
            return max(0.0, start - now)


def server_requested_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait, from ``Retry-After`` (delta seconds or HTTP date)
    or ``X-RateLimit-Reset`` (epoch seconds; small values are taken as a delta)."""
    now = time.time() if now is None else now
    value = header(headers, "Retry-After")
    if value is not None:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - now)
    value = header(headers, "X-RateLimit-Reset") or header(headers, "RateLimit-Reset")
    if value is not None:
        try:
            reset = float(value.strip())
        except ValueError:
            return None
        if reset > 1e9:  # epoch seconds
            return max(0.0, reset - now)
        return max(0.0, reset)
    return None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A response header (requests' and httpx's header maps are case-insensitive)."""
    try:
        return headers.get(name)
    except AttributeError:
        return None


@dataclass
class TransportStats:
    """What the clients did under this policy: requests by status, retries and time waited
    (operators put it in their summaries). Thread-safe."""

    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, status: int | str) -> None:
        with self._lock:
            self.requests += 1
            key = str(status)
            self.statuses[key] = self.statuses.get(key, 0) + 1

    def retried(self, wait: float) -> None:
        with self._lock:
            self.retries += 1
            self.waited_seconds += wait

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "waited_seconds": round(self.waited_seconds, 3),
            "statuses": dict(self.statuses),
        }


@dataclass(frozen=True)
class TransportSettings:
    """Transport options a user can set in any of our connections' extra."""

    timeouts: Timeouts = Timeouts()
    policy: RetryPolicy = RetryPolicy()
    rate_per_second: float | None = None
    rate_per_hour: int | None = None
    verify: bool | str = True
    allow_insecure_http: bool = False

    def rate_limiter(self, clock: Callable[[], float] = time.monotonic) -> RateLimiter | None:
        if not self.rate_per_second and not self.rate_per_hour:
            return None
        return RateLimiter(self.rate_per_second, self.rate_per_hour, clock=clock)
