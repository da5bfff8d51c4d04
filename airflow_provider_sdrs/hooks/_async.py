"""Runs core exchanges over aiohttp, with client sessions per event loop and endpoint, and TLS/proxy setup."""

from __future__ import annotations

import asyncio
import sys
import weakref
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from airflow_provider_sdrs._core.body import (
    CHUNK_SIZE,
    BodyCorrupt,
    BodyReader,
    BodyTooLarge,
    body_limit,
    unusable,
    wire_headers,
)
from airflow_provider_sdrs._core.deadline import NO_DEADLINE, Deadline, deadline_passed, too_late_to_send
from airflow_provider_sdrs._core.exchange import IamToken, iam_exchange
from airflow_provider_sdrs._core.http import (
    HttpRequest,
    HttpResponse,
    TransportFailure,
    read_head,
)
from airflow_provider_sdrs._core.logs import Log
from airflow_provider_sdrs._core.process import TOKEN_CACHE, register
from airflow_provider_sdrs._core.retry import RetryPolicy
from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs._core.steps import NeedToken, Send, Sleep, Steps, T
from airflow_provider_sdrs._core.trust import tls_context
from airflow_provider_sdrs.exceptions import SdrsError

if sys.version_info >= (3, 11):
    # A timer on the running task, where wait_for would start a task per wait.
    _timeout = asyncio.timeout
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as _timeout

AsyncTokenSource = Callable[[IamToken | None, Deadline], Awaitable[IamToken]]

# Connections kept open per endpoint: bounds the sockets a triggerer opens to one endpoint, however many
# waits it holds.
POOL_SIZE = 64

SessionKey = tuple[Any, ...]


class _Lease:
    """A client session for one endpoint, the hooks holding it, and its free connection slots.

    Waiting for a slot happens before a request's timeout starts, so the queue in front of a slow
    endpoint costs its own waits time, never their request timeouts or the waits on other endpoints.
    """

    __slots__ = ("session", "slots", "users")

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.slots = asyncio.Semaphore(POOL_SIZE)
        self.users = 0


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: the unit of connection pooling."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class SessionPool:
    """Client sessions shared by every hook on an event loop: one per endpoint, proxy and TLS settings.

    A black-hole endpoint fills only its own session's connections. A session lives as long as some hook
    holds it; the last one out closes it.
    """

    def __init__(self) -> None:
        self._leases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[SessionKey, _Lease]] = (
            weakref.WeakKeyDictionary()
        )

    @staticmethod
    def origins(settings: SdrsSettings) -> list[str]:
        """The endpoints a hook with ``settings`` talks to: SDRS, and IAM for password authentication."""
        found = [origin_of(settings.endpoint)]
        if settings.auth_type == "password" and origin_of(settings.iam_endpoint) not in found:
            found.append(origin_of(settings.iam_endpoint))
        return found

    @staticmethod
    def key(settings: SdrsSettings, origin: str) -> SessionKey:
        return (origin, settings.proxy, settings.verify)

    def acquire(self, settings: SdrsSettings) -> dict[str, _Lease]:
        """The sessions for every endpoint of ``settings``, by origin."""
        loop = asyncio.get_running_loop()
        leases = self._leases.setdefault(loop, {})
        held: dict[str, _Lease] = {}
        for origin in self.origins(settings):
            key = self.key(settings, origin)
            lease = leases.get(key)
            if lease is None or lease.session.closed:
                lease = _Lease(_new_session(settings))
                leases[key] = lease
            lease.users += 1
            held[origin] = lease
        return held

    async def release(self, settings: SdrsSettings) -> None:
        loop = asyncio.get_running_loop()
        leases = self._leases.get(loop, {})
        for origin in self.origins(settings):
            key = self.key(settings, origin)
            lease = leases.get(key)
            if lease is None:
                continue
            lease.users -= 1
            if lease.users <= 0:
                del leases[key]
                await lease.session.close()

    def open_sessions(self) -> int:
        """How many sessions are open on the running loop (for tests and benchmarks)."""
        loop = asyncio.get_running_loop()
        return sum(1 for lease in self._leases.get(loop, {}).values() if not lease.session.closed)

    def clear(self) -> None:
        """Forget every session, on every loop: the pool's part of ``reset_process_caches``."""
        self._leases.clear()

    def __len__(self) -> int:
        """Sessions held, on every loop."""
        return sum(len(leases) for leases in list(self._leases.values()))


SESSIONS = register("sessions", SessionPool())


def _new_session(settings: SdrsSettings) -> aiohttp.ClientSession:
    # Our own TLS context, also for verify=false: aiohttp's contexts come from ssl.create_default_context,
    # which reads SSLKEYLOGFILE; an explicit bundle keeps SSL_CERT_FILE and the OpenSSL paths out of the trust.
    connector = aiohttp.TCPConnector(limit=POOL_SIZE, ssl=tls_context(settings), ttl_dns_cache=300)
    # trust_env off: no ~/.netrc, no proxy or CA variables; no cookie jar: SDRS needs none, and one jar
    # would carry a cookie from one connection's answer into another connection's requests. Bodies are
    # decompressed by the core's size-limited reader, not by aiohttp.
    return aiohttp.ClientSession(
        connector=connector, auto_decompress=False, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
    )


class AiohttpTransport:
    def __init__(self, leases: dict[str, _Lease], settings: SdrsSettings) -> None:
        self.leases = leases
        self.settings = settings
        # Per request, not per session: hooks with different timeouts share the session.
        self.timeout = aiohttp.ClientTimeout(total=settings.timeout)
        # Parsed URLs of this transport's requests: a wait asks for the same one on every poll.
        self._urls: dict[str, URL] = {}

    def _url(self, text: str) -> URL:
        url = self._urls.get(text)
        if url is None:
            if len(self._urls) >= 64:  # a hook's calls touch a few URLs; a long-lived one must not grow
                self._urls.clear()
            url = self._urls[text] = URL(text, encoded=True)
        return url

    def _lease(self, url: str) -> _Lease:
        # A prefix match against the one or two endpoints held: no URL parsing per request.
        for origin, lease in self.leases.items():
            size = len(origin)
            if url[:size].lower() == origin and url[size : size + 1] in ("/", "?", ""):
                return lease
        # A host whose lower-case form differs in length (such as "İ"): match the parsed origin.
        origin = origin_of(url)
        found = self.leases.get(origin)
        if found is None:  # pragma: no cover - the core only builds requests to the connection's endpoints
            raise RuntimeError(f"no session for {origin}")
        return found

    async def send(self, request: HttpRequest, deadline: Deadline = NO_DEADLINE) -> HttpResponse | TransportFailure:
        lease = self._lease(request.url)
        budget = deadline.clip(self.settings.timeout)
        if budget <= 0:
            return too_late_to_send()
        left = deadline.remaining()
        slots = lease.slots
        try:
            if left is None or not slots.locked():
                # A free slot is taken at once; only a queue needs the deadline's watch.
                await slots.acquire()
            else:
                async with _timeout(left):
                    await slots.acquire()
                # The time spent in the queue comes off the request's.
                budget = deadline.clip(self.settings.timeout)
        except asyncio.TimeoutError:
            origin = origin_of(request.url)
            return TransportFailure("connect", f"the deadline passed while waiting for a free connection to {origin}")
        try:
            return await self._send(lease.session, request, budget)
        finally:
            slots.release()

    async def _send(
        self, session: aiohttp.ClientSession, request: HttpRequest, budget: float
    ) -> HttpResponse | TransportFailure:
        if budget <= 0:
            return too_late_to_send()
        timeout = self.timeout if budget == self.settings.timeout else aiohttp.ClientTimeout(total=budget)
        try:
            url = self._url(request.url)
            # The total timeout covers connecting, sending and reading the whole body.
            async with session.request(
                request.method,
                url,
                headers=wire_headers(request.headers),
                data=request.body,
                proxy=self.settings.proxy,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                # Latin-1, as http.client decodes them: both transports then see the same text.
                pairs = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in response.raw_headers]
                headers, problem = read_head(response.status, pairs)
                if problem is not None:
                    response.close()
                    return TransportFailure("protocol", problem)
                try:
                    limit, clip = body_limit(response.status, self.settings.max_response_bytes)
                    length = headers.get("content-length")
                    plain = "content-encoding" not in headers and response.status not in (204, 304)
                    if plain and length is not None and int(length) <= limit:
                        # A plain body of a declared size within the limit: read whole, in one call.
                        body = await response.content.readexactly(int(length))
                        return HttpResponse(response.status, headers, body)
                    reader = BodyReader(limit, headers.get("content-encoding"), clip=clip)
                    async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                        reader.feed(chunk)
                        if reader.done:
                            response.close()  # the rest is not wanted: drop the connection
                            break
                    body = reader.finish()
                except (BodyTooLarge, BodyCorrupt) as error:
                    response.close()
                    return unusable(response.status, headers, error)
                return HttpResponse(response.status, headers, body)
        except aiohttp.ClientConnectorError as exc:
            return TransportFailure("connect", f"{type(exc).__name__}: {exc}")
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            return TransportFailure("timeout", f"no complete answer within {budget:g} s ({type(exc).__name__})")
        except asyncio.IncompleteReadError as exc:
            return TransportFailure("reset", f"the answer broke off after {len(exc.partial)} of {exc.expected} bytes")
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError) as exc:
            return TransportFailure("reset", f"{type(exc).__name__}: {exc}")
        except aiohttp.ClientError as exc:
            return TransportFailure("protocol", f"{type(exc).__name__}: {exc}")


async def adrive(steps: Steps[T], transport: AiohttpTransport, get_token: AsyncTokenSource | None = None) -> T:
    """Perform ``steps`` (an exchange, a read or a whole wait) on the running event loop; return their result.

    The asyncio twin of :func:`airflow_provider_sdrs.hooks._sync.drive`: it must stay as small.
    """
    result: Any = None
    failure: SdrsError | None = None
    # A token still in the cache is handed over without a trip through the event loop.
    cached: Callable[[], IamToken | None] | None = getattr(get_token, "cached", None)
    while True:
        try:
            step = steps.send(result) if failure is None else steps.throw(failure)
        except StopIteration as done:
            return done.value
        result = failure = None
        kind = type(step)
        if kind is Send:
            result = await transport.send(step.request, step.deadline)  # type: ignore[union-attr]
        elif kind is Sleep:
            await asyncio.sleep(step.seconds)  # type: ignore[union-attr]
        elif kind is NeedToken:
            if get_token is None:
                raise RuntimeError("these steps need an IAM token, and the connection uses none")
            if cached is not None and step.stale is None:  # type: ignore[union-attr]
                result = cached()
                if result is not None:
                    continue
            try:
                result = await get_token(step.stale, step.deadline)  # type: ignore[union-attr]
            except SdrsError as error:
                failure = error
        else:  # pragma: no cover - the core yields nothing else
            raise TypeError(f"unknown step {step!r}")


class _TokenSource:
    """A token source for :func:`adrive`: one IAM request per credentials at a time, per loop."""

    def __init__(
        self,
        settings: SdrsSettings,
        transport: AiohttpTransport,
        policy: RetryPolicy,
        log: Log,
        on_new_token: Callable[[IamToken], None],
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.policy = policy
        self.log = log
        self.on_new_token = on_new_token
        self.key = settings.token_key

    def cached(self) -> IamToken | None:
        """The cached token, if it is still usable."""
        return TOKEN_CACHE.get(self.key)

    async def __call__(self, stale: IamToken | None, deadline: Deadline = NO_DEADLINE) -> IamToken:
        key = self.key
        if stale is None:
            token = TOKEN_CACHE.get(key)
            if token is not None:
                return token
        lock = TOKEN_CACHE.loop_lock(key)
        left = deadline.remaining()
        try:
            if left is None:
                await lock.acquire()
            else:
                # Another wait may be fetching the token for longer than this one may wait.
                async with _timeout(left):
                    await lock.acquire()
        except asyncio.TimeoutError:
            raise deadline_passed("wait for an IAM token") from None
        try:
            if stale is not None:
                TOKEN_CACHE.discard(key, stale)
            token = TOKEN_CACHE.get(key)
            if token is None:
                settings = self.settings
                self.log.info("Requesting an IAM token for user %r at %s", settings.login, settings.iam_endpoint)
                token = await adrive(iam_exchange(settings, self.policy, self.log, deadline), self.transport)
                self.on_new_token(token)
                TOKEN_CACHE.put(key, token)
            return token
        finally:
            lock.release()


def async_token(
    settings: SdrsSettings,
    transport: AiohttpTransport,
    policy: RetryPolicy,
    log: Log,
    on_new_token: Callable[[IamToken], None],
) -> AsyncTokenSource:
    """A token source for :func:`adrive`: one IAM request per credentials at a time, per loop."""
    return _TokenSource(settings, transport, policy, log, on_new_token)
