"""The one attempt loop, without I/O.

:meth:`AttemptLoop.exchange` is one logical request written once: a generator that yields what
to do next - :class:`Send` a request, :class:`Sleep` so many seconds, run some steps
:class:`Exclusive`-ly (an auth refresh) - and receives each send's response (or the
:class:`~airflow_provider_contacts.exceptions.ContactsHTTPError` the client made of its own
exception). It holds every decision: rate limit, signing each attempt, redirects, error
mapping, the one renewal of credentials on a 401, retries and their waits
(:mod:`~airflow_provider_contacts.http.policy`), statistics and logging. The clients in
:mod:`~airflow_provider_contacts.http.client` only carry the actions out.

Logs name the method, the path (never the query string) and the status: no bodies, no personal
data, no credentials.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Union
from urllib.parse import urljoin, urlsplit

from airflow_provider_contacts.exceptions import (
    AuthenticationError,
    ContactsConfigError,
    ContactsError,
    ContactsHTTPError,
    RedirectRefusedError,
)
from airflow_provider_contacts.http.auth import Auth, AuthFlow
from airflow_provider_contacts.http.errors import (
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    ErrorMapper,
    ResponseLike,
    check_base_url,
    default_error_mapper,
    redirect_refusal,
    shown,
    write_redirect_refusal,
)
from airflow_provider_contacts.http.plan import Call
from airflow_provider_contacts.http.policy import (
    RateLimiter,
    RetryPolicy,
    Timeouts,
    TransportStats,
    header,
    server_requested_wait,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

USER_AGENT = "airflow-provider-contacts"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


# ---- what the attempt loop asks a client to do ------------------------------------------------
@dataclass(frozen=True)
class Send:
    """Send this request once (its ``path`` is the absolute URL); answer with the response,
    or with the ContactsHTTPError made of the client's exception."""

    call: Call


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Exclusive:
    """Run these steps while no other exclusive steps of this client run (an auth refresh:
    concurrent requests wait for one token instead of each fetching their own)."""

    steps: Steps


Action = Union[Send, Sleep, Exclusive]  # noqa: UP007 (a runtime alias; `|` needs 3.10 classes)
Steps = Generator[Action, Any, Any]


@dataclass
class _Attempts:
    """The budget of one logical request."""

    method: str
    path: str  # without the query string: what errors and logs show
    idempotent: bool
    started: float
    count: int = 0


class AttemptLoop:
    """What both clients share: settings, statistics and :meth:`exchange`."""

    def __init__(
        self,
        base_url: str,
        *,
        conn_id: str = "?",
        headers: Mapping[str, str] | None = None,
        auth: Auth | None = None,
        timeouts: Timeouts = Timeouts(),
        policy: RetryPolicy = RetryPolicy(),
        rate_limiter: RateLimiter | None = None,
        verify: bool | str = True,
        allow_insecure_http: bool = False,
        error_mapper: ErrorMapper = default_error_mapper,
        hint: Callable[[ContactsHTTPError], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http, conn_id=conn_id)
        self.conn_id = conn_id
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self.auth = auth or Auth()
        self.timeouts = timeouts
        self.policy = policy
        self.rate_limiter = rate_limiter
        self.verify = verify
        self.error_mapper = error_mapper
        #: what to fix, for an error about to be raised (the hook's words: the transport knows
        #: no vendor, its extras or its Test Connection)
        self.hint = hint
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()
        self.stats = TransportStats()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            reason = redirect_refusal(self.base_url, path)
            if reason is not None:
                raise ContactsConfigError(
                    f"refusing to send a request to {shown(path)}: not the connection's host ({reason})",
                    conn_id=self.conn_id,
                )
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    # ---- the attempt loop -------------------------------------------------------------------
    def exchange(self, call: Call, error_mapper: ErrorMapper | None = None, *, signed: bool = True) -> Steps:
        """Steps of one logical request; returns the 2xx/3xx response or raises a
        :class:`~airflow_provider_contacts.exceptions.ContactsHTTPError`. ``signed=False`` for
        the requests an auth object makes for itself."""
        method = call.method.upper()
        idempotent = call.idempotent if call.idempotent is not None else method in IDEMPOTENT_METHODS
        attempts = _Attempts(method, _path_only(call.path), idempotent, self.clock())
        mapper = error_mapper or self.error_mapper
        url, params, hops, renewed = self.url(call.path), call.params, 0, False
        while True:
            attempts.count += 1
            if self.rate_limiter is not None:
                wait = self.rate_limiter.reserve()
                if wait > 0:
                    yield Sleep(wait)
            outgoing = replace(
                call, method=method, path=url, params=params, headers={**self.headers, **call.headers}
            )
            if signed:
                outgoing = yield from self._signed(outgoing)
            response = yield from self._attempt(outgoing, attempts)
            if isinstance(response, ContactsHTTPError):
                yield Sleep(self._next_wait(attempts, response, None))
                continue
            target = self._redirect(url, response, hops, attempts)
            if target is not None:  # not an attempt; the Location carries its own query
                url, params, hops = target, None, hops + 1
                attempts.count -= 1
                continue
            err = mapper(response)
            if err is None:
                return response
            if signed and not renewed and self._renewed(err, attempts):
                renewed = True
                continue
            yield Sleep(self._next_wait(attempts, err, response.headers))

    def _attempt(self, call: Call, attempts: _Attempts) -> Steps:
        started = self.clock()
        response = yield Send(call)
        if isinstance(response, ContactsHTTPError):
            self.stats.count("error")
            return response
        self.stats.count(response.status_code)
        log.debug(
            "%s: %s %s -> %s in %.0f ms",
            self.conn_id,
            attempts.method,
            attempts.path,
            response.status_code,
            (self.clock() - started) * 1000,
        )
        return response

    def _signed(self, call: Call) -> Steps:
        flow = self.auth.refresh_flow()
        if flow is not None:
            yield Exclusive(self._auth_steps(flow))
        return self.auth.sign(call)

    def _auth_steps(self, flow: AuthFlow) -> Steps:
        """The requests of an auth refresh, each through the attempt loop, unsigned."""
        try:
            wanted = next(flow)
            while True:
                response = yield from self.exchange(wanted, signed=False)
                wanted = flow.send(response)
        except StopIteration:
            return None
        except ContactsError as err:
            err.conn_id = err.conn_id or self.conn_id
            raise

    def _renewed(self, err: ContactsHTTPError, attempts: _Attempts) -> bool:
        """A 401 the auth renewed its credentials for: the request is repeated once, whatever
        its idempotency (a 401 means the server did not process it), as the same attempt."""
        if not isinstance(err, AuthenticationError) or not self.auth.renew(err):
            return False
        attempts.count -= 1
        log.info(
            "%s: %s %s -> 401; credentials renewed, repeating once",
            self.conn_id,
            attempts.method,
            attempts.path,
        )
        return True

    def _redirect(self, url: str, response: ResponseLike, hops: int, attempts: _Attempts) -> str | None:
        """The URL to request next when ``response`` is a redirect the client may follow;
        None when it is not a redirect. Raises :class:`RedirectRefusedError` (nothing is sent)
        for any other redirect."""
        status = response.status_code
        location = header(response.headers, "Location") if status in REDIRECT_STATUSES else None
        if not location:
            return None
        target = urljoin(url, location.strip())
        reason = redirect_refusal(self.base_url, target)
        if reason is None and hops >= MAX_REDIRECTS:
            reason = f"more than {MAX_REDIRECTS} redirects"
        reason = reason or write_redirect_refusal(attempts.method, status)
        if reason is not None:
            raise RedirectRefusedError(
                f"the API redirected to {shown(target)}; not followed: {reason}. Credentials are "
                f"only sent to the connection's host ({shown(self.base_url)}): if the API moved, "
                "set the connection's host to its new address",
                status=status,
                conn_id=self.conn_id,
                method=attempts.method,
                path=attempts.path,
            )
        log.info(
            "%s: %s %s -> %s; following the redirect to %s",
            self.conn_id,
            attempts.method,
            attempts.path,
            status,
            urlsplit(target).path,
        )
        return target

    def _next_wait(
        self, attempts: _Attempts, err: ContactsHTTPError, headers: Mapping[str, str] | None
    ) -> float:
        """Seconds to wait before the next attempt; raises ``err`` when we must stop."""
        policy = self.policy
        err.conn_id, err.method, err.path = self.conn_id, attempts.method, attempts.path
        if not policy.may_retry(err, attempts.idempotent):
            if err.status is None and not err.not_sent and policy.may_retry(err, True):
                err.message += (
                    f"; not sent again: a {attempts.method} is not idempotent and it reached the "
                    "server, which may have applied it (check the vendor before running it again)"
                )
            raise self._hinted(err)
        requested = server_requested_wait(headers, self.wall_clock()) if headers else None
        if requested is not None:
            err.retry_after = requested
        where = f"{self.conn_id}: {attempts.method} {attempts.path}"
        if attempts.count >= policy.max_attempts:
            log.warning("%s failed after %d attempts: %s", where, attempts.count, err.message)
            raise self._hinted(err)
        wait = requested if requested is not None else policy.backoff(attempts.count, self.rng)
        if wait > policy.max_wait or self.clock() - attempts.started + wait > policy.max_total_seconds:
            log.warning("%s: the next wait (%.1f s) does not fit the retry budget; giving up", where, wait)
            raise self._hinted(err)
        self.stats.retried(wait)
        log.info(
            "%s -> %s; retry %d of %d in %.2f s",
            where,
            err.status if err.status is not None else type(err).__name__,
            attempts.count,
            policy.max_attempts - 1,
            wait,
        )
        return wait

    def _hinted(self, err: ContactsHTTPError) -> ContactsHTTPError:
        """``err`` with the fix the hook names for it (a 401: the credentials to check; a 429:
        the rate-limit extra of the connection type); a hint that fails leaves the error as it is."""
        if self.hint is not None and err.hint is None:
            try:
                err.hint = self.hint(err)
            except Exception as problem:  # the error being raised matters more than its hint
                log.debug("%s: no hint for %s: %s", self.conn_id, type(err).__name__, problem)
        return err


def _path_only(path: str) -> str:
    return urlsplit(path).path or path.split("?", 1)[0]
