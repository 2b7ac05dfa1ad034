"""The two clients that run the attempt loop (:mod:`~airflow_provider_contacts.http.loop`).

:class:`Transport` (blocking, one pooled ``requests.Session``, imported on first use) and
:class:`AsyncTransport` (``httpx.AsyncClient``, for triggers: every wait is an ``asyncio.sleep``)
carry out the loop's actions - send, sleep, run exclusively - and decide nothing themselves.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_contacts.exceptions import ContactsHTTPError
from airflow_provider_contacts.http.errors import ErrorMapper, map_httpx_exception, map_requests_exception
from airflow_provider_contacts.http.logging import install_log_filters
from airflow_provider_contacts.http.loop import AttemptLoop, Send, Sleep, Steps
from airflow_provider_contacts.http.plan import Call, Stepper

if TYPE_CHECKING:
    import asyncio

    import httpx
    import requests


def read_body(response: requests.Response) -> bytes:
    """The whole body of a streamed answer, read by urllib3 in one call and decoded as its
    ``Content-Encoding`` says: what ``response.content`` gives, without its 10 KB pieces through
    several layers of generators (a Mautic batch answer of 200 contacts is 1.4 MB: measured
    2.1 ms of CPU per answer that way, 0.9 ms in one read, requests 2.34 / urllib3 2.8). urllib3's
    errors come out as the requests exceptions ``.content`` raises for them (a body cut short,
    a bad encoding, a read timeout), and the connection goes back to the pool once read."""
    from requests import exceptions as rx
    from urllib3 import exceptions as ux

    try:
        body = response.raw.read(decode_content=True)
    except ux.ProtocolError as exc:
        raise rx.ChunkedEncodingError(exc) from exc
    except ux.DecodeError as exc:
        raise rx.ContentDecodingError(exc) from exc
    except ux.ReadTimeoutError as exc:
        raise rx.ConnectionError(exc) from exc
    except ux.SSLError as exc:
        raise rx.SSLError(exc) from exc
    response._content_consumed = True  # type: ignore[attr-defined]  # .iter_content() replays _content
    return body or b""


# ---- the blocking client ------------------------------------------------------------------------
class Transport(AttemptLoop):
    """Blocking client on one pooled ``requests.Session``."""

    def __init__(self, base_url: str, *, sleep: Callable[[float], Any] = time.sleep, **kw: Any) -> None:
        super().__init__(base_url, **kw)
        self.sleep = sleep
        self._session: requests.Session | None = None
        self._verify: bool | str = self.verify
        self._exclusive = threading.Lock()

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests
            from requests.adapters import HTTPAdapter

            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # the environment (proxies and NO_PROXY, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE when
            # verify_ssl is true) is read once for the connection's host, not on every request
            # (requests re-reads os.environ twice per request: ~0.5 ms of CPU each time); and no
            # ~/.netrc: the connection's credentials are the only ones ever sent
            environment = session.merge_environment_settings(self.base_url, {}, None, self.verify, None)
            session.trust_env = False
            session.proxies = environment["proxies"]
            self._verify = environment["verify"] if environment["verify"] is not None else True
            session.verify = self._verify
            install_log_filters()
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def request(
        self, method: str, path: str, *, error_mapper: ErrorMapper | None = None, **call: Any
    ) -> requests.Response:
        """Send one logical request (several attempts if needed); return the 2xx/3xx response
        or raise a :class:`~airflow_provider_contacts.exceptions.ContactsHTTPError`. ``call``:
        the other fields of :class:`~airflow_provider_contacts.http.plan.Call` (``params``,
        ``json``, ``idempotent``...)."""
        return self.send(Call(method, path, **call), error_mapper)

    def send(self, call: Call, error_mapper: ErrorMapper | None = None) -> requests.Response:
        return self._run(self.exchange(call, error_mapper))

    def get_json(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw).json()

    def _run(self, steps: Steps) -> Any:
        run = Stepper(steps)
        for action in run:
            if isinstance(action, Send):
                run.answer = self._send_once(action.call)
            elif isinstance(action, Sleep):
                run.answer = self.sleep(action.seconds)
            else:
                with self._exclusive:
                    run.answer = self._run(action.steps)
        return run.result

    def _send_once(self, call: Call) -> requests.Response | ContactsHTTPError:
        import requests

        session = self.session  # built on first use, with the environment's settings
        try:
            response = session.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                data=call.data,
                headers=call.headers,
                timeout=(self.timeouts.connect, self.timeouts.read),
                allow_redirects=False,
                verify=self._verify,  # verify_ssl, or the environment's CA bundle when it is true
                stream=True,  # the body is read below, in one call
            )
        except requests.RequestException as exc:
            return map_requests_exception(exc, call.path, self.timeouts)
        try:
            response._content = read_body(response)
        except requests.RequestException as exc:
            response.close()
            return map_requests_exception(exc, call.path, self.timeouts)
        return response


# ---- the async client ---------------------------------------------------------------------------
class AsyncTransport(AttemptLoop):
    """Non-blocking client on ``httpx.AsyncClient`` for triggers: the same attempt loop, and
    every wait is an ``asyncio.sleep``. Create and use it inside the running event loop."""

    def __init__(
        self, base_url: str, *, sleep: Callable[[float], Awaitable[Any] | None] | None = None, **kw: Any
    ) -> None:
        super().__init__(base_url, **kw)
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None
        self._exclusive: asyncio.Lock | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                verify=self.verify,
                timeout=httpx.Timeout(self.timeouts.read, connect=self.timeouts.connect),
                limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
                follow_redirects=False,
            )
            install_log_filters()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def request(
        self, method: str, path: str, *, error_mapper: ErrorMapper | None = None, **call: Any
    ) -> httpx.Response:
        """As :meth:`Transport.request`, without blocking."""
        return await self.send(Call(method, path, **call), error_mapper)

    async def send(self, call: Call, error_mapper: ErrorMapper | None = None) -> httpx.Response:
        return await self._run(self.exchange(call, error_mapper))

    async def get_json(self, path: str, **kw: Any) -> Any:
        return (await self.request("GET", path, **kw)).json()

    async def _run(self, steps: Steps) -> Any:
        run = Stepper(steps)
        for action in run:
            if isinstance(action, Send):
                run.answer = await self._send_once(action.call)
            elif isinstance(action, Sleep):
                await self._wait(action.seconds)
                run.answer = None
            else:
                async with self._lock():
                    run.answer = await self._run(action.steps)
        return run.result

    def _lock(self) -> asyncio.Lock:
        if self._exclusive is None:
            import asyncio

            self._exclusive = asyncio.Lock()
        return self._exclusive

    async def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._sleep is not None:
            result = self._sleep(seconds)
            if inspect.isawaitable(result):
                await result
            return
        import asyncio

        await asyncio.sleep(seconds)

    async def _send_once(self, call: Call) -> httpx.Response | ContactsHTTPError:
        import httpx

        try:
            return await self.client.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                data=call.data,
                headers=dict(call.headers),
            )
        except httpx.HTTPError as exc:
            return map_httpx_exception(exc, call.path, self.timeouts)
