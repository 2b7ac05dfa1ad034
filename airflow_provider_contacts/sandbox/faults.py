"""Fault injection for the sandbox: rates of 429 / 5xx / dropped responses, added latency, and
a deterministic sequence ("the next three matching requests answer 503").

Actions:
* ``429`` - the vendor's rate-limit answer (headers as the vendor sends them);
* ``500``..``599`` - a server error in the vendor's error shape;
* ``drop`` - the connection is cut before the request is processed;
* ``drop_after`` - the request IS processed (state changes) and then the connection is cut
  before the client reads the answer: the case that makes naive retries apply a change twice;
* ``{"latency_ms": N}`` - the answer is delayed;
* ``{"status": 301|302|303|307|308, "location": URL}`` - the vendor redirects (a moved API, a
  load balancer, or a hostile proxy sending the client elsewhere). ``{path}`` and ``{query}``
  in the URL are replaced by the request's path and ``?query`` (empty when there is none), so
  ``"http://127.0.0.2:8000{path}{query}"`` sends the client to the same path on another host
  and ``"{path}{query}"`` to the same URL on this one.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass
class FaultConfig:
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    status_5xx: int = 503
    rate_drop: float = 0.0
    rate_drop_after: float = 0.0
    latency_ms: int = 0
    retry_after: float = 1.0
    #: restrict injection to these vendors (None = all) / paths containing one of these strings
    vendors: list[str] | None = None
    paths: list[str] | None = None
    methods: list[str] | None = None
    #: actions applied, in order, to the next matching requests (before any rate)
    sequence: list[Any] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown fault settings: {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        config = cls(**data)
        for name in ("rate_429", "rate_5xx", "rate_drop", "rate_drop_after"):
            value = getattr(config, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        config.sequence = [normalise_action(a) for a in config.sequence]
        return config

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalise_action(action: Any) -> dict[str, Any]:
    if isinstance(action, int) or (isinstance(action, str) and action.isdigit()):
        return {"status": int(action)}
    if action in ("drop", "drop_after"):
        return {"drop": action}
    if isinstance(action, dict) and set(action) <= {
        "status",
        "drop",
        "latency_ms",
        "retry_after",
        "location",
    }:
        action = dict(action)
        if "location" in action:
            action.setdefault("status", 302)
            if action["status"] not in REDIRECT_STATUSES or not isinstance(action["location"], str):
                raise ValueError(
                    f"bad redirect fault {action!r}: status must be one of "
                    f"{', '.join(map(str, sorted(REDIRECT_STATUSES)))} and location a URL"
                )
        return action
    raise ValueError(
        f"bad fault action {action!r}: use a status (429, 503...), 'drop', 'drop_after', "
        '{"latency_ms": N} or {"status": 302, "location": URL}'
    )


def redirect_location(template: str, path: str, query: str) -> str:
    """The ``Location`` of a redirect fault for a request to ``path`` with ``query``."""
    return template.replace("{path}", path).replace("{query}", f"?{query}" if query else "")


class FaultInjector:
    """Thread-safe decision maker. ``decide`` returns None or an action dict."""

    def __init__(self, config: FaultConfig | None = None, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.config = config or FaultConfig()
        self.injected = 0

    def set(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config

    def _matches(self, vendor: str, method: str, path: str) -> bool:
        c = self.config
        if c.vendors is not None and vendor not in c.vendors:
            return False
        if c.methods is not None and method.upper() not in [m.upper() for m in c.methods]:
            return False
        if c.paths is not None and not any(p in path for p in c.paths):
            return False
        return True

    def decide(self, vendor: str, method: str, path: str) -> dict[str, Any] | None:
        with self._lock:
            c = self.config
            if not self._matches(vendor, method, path):
                return None
            action: dict[str, Any] | None = None
            if c.sequence:
                action = c.sequence.pop(0)
            else:
                roll = self._rng.random()
                edge = 0.0
                for rate, act in (
                    (c.rate_429, {"status": 429}),
                    (c.rate_5xx, {"status": c.status_5xx}),
                    (c.rate_drop, {"drop": "drop"}),
                    (c.rate_drop_after, {"drop": "drop_after"}),
                ):
                    edge += rate
                    if roll < edge:
                        action = dict(act)
                        break
                if action is None and c.latency_ms:
                    action = {"latency_ms": c.latency_ms}
            if action is not None:
                if c.latency_ms and "latency_ms" not in action:
                    action["latency_ms"] = c.latency_ms
                action.setdefault("retry_after", c.retry_after)
                if "status" in action or "drop" in action:
                    self.injected += 1
            return action
