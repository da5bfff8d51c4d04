"""Runs core exchanges on asyncio: connection pools per event loop and endpoint, and the IAM token source."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_sdrs._core.deadline import NO_DEADLINE, Deadline, deadline_passed, too_late_to_send
from airflow_provider_sdrs._core.exchange import IamToken, iam_exchange
from airflow_provider_sdrs._core.http import HttpRequest, HttpResponse, TransportFailure
from airflow_provider_sdrs._core.logs import Log
from airflow_provider_sdrs._core.process import TOKEN_CACHE, register
from airflow_provider_sdrs._core.retry import RetryPolicy
from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs._core.steps import NeedToken, Send, Sleep, Steps, T
from airflow_provider_sdrs._core.trust import tls_context
from airflow_provider_sdrs.exceptions import SdrsError
from airflow_provider_sdrs.hooks._wire import ConnectionPool, Route, timeout_after

AsyncTokenSource = Callable[[IamToken | None, Deadline], Awaitable[IamToken]]

# Connections kept open per endpoint: bounds the sockets a triggerer opens to one endpoint, however many
# waits it holds.
POOL_SIZE = 64

PoolKey = tuple[Any, ...]


class _Lease:
    """The connection pool for one endpoint and the hooks holding it."""

    __slots__ = ("pool", "users")

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.users = 0


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: the unit of connection pooling."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class EndpointPools:
    """Connection pools shared by every hook on an event loop: one per endpoint, proxy and TLS settings.

    A black-hole endpoint fills only its own pool's connections. A pool lives as long as some hook holds
    it; the last one out closes it.
    """

    def __init__(self) -> None:
        self._leases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[PoolKey, _Lease]] = (
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
    def key(settings: SdrsSettings, origin: str) -> PoolKey:
        return (origin, settings.proxy, settings.verify)

    def acquire(self, settings: SdrsSettings) -> dict[str, _Lease]:
        """The pools for every endpoint of ``settings``, by origin."""
        loop = asyncio.get_running_loop()
        leases = self._leases.setdefault(loop, {})
        held: dict[str, _Lease] = {}
        for origin in self.origins(settings):
            key = self.key(settings, origin)
            lease = leases.get(key)
            if lease is None or lease.pool.closed:
                lease = _Lease(_new_pool(settings, origin))
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
                lease.pool.close()

    def open_pools(self) -> int:
        """How many pools are open on the running loop (for tests and benchmarks)."""
        loop = asyncio.get_running_loop()
        return sum(1 for lease in self._leases.get(loop, {}).values() if not lease.pool.closed)

    def clear(self) -> None:
        """Forget every pool, on every loop: the pools' part of ``reset_process_caches``."""
        self._leases.clear()

    def __len__(self) -> int:
        """Pools held, on every loop."""
        return sum(len(leases) for leases in list(self._leases.values()))


POOLS = register("pools", EndpointPools())


def _new_pool(settings: SdrsSettings, origin: str) -> ConnectionPool:
    # Our own TLS context, also for verify=false: one from ssl.create_default_context would read
    # SSLKEYLOGFILE, and an explicit bundle keeps SSL_CERT_FILE and the OpenSSL paths out of the trust.
    # Nothing else comes from the environment either: no proxy variables, no netrc, no cookies.
    return ConnectionPool(Route.of(origin, settings.proxy), tls_context(settings), POOL_SIZE)


class AsyncTransport:
    """Sends the core's requests on the running event loop, through the pools a hook holds."""

    def __init__(self, leases: dict[str, _Lease], settings: SdrsSettings) -> None:
        self.leases = leases
        self.settings = settings

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
            raise RuntimeError(f"no connection pool for {origin}")
        return found

    async def send(self, request: HttpRequest, deadline: Deadline = NO_DEADLINE) -> HttpResponse | TransportFailure:
        pool = self._lease(request.url).pool
        settings = self.settings
        budget = deadline.clip(settings.timeout)
        if budget <= 0:
            return too_late_to_send()
        slots = pool.slots
        try:
            if deadline.at is None or not slots.locked():
                # A free slot is taken at once; only a queue needs the deadline's watch.
                await slots.acquire()
            else:
                async with timeout_after(deadline.remaining() or 0.0):
                    await slots.acquire()
                # The time spent in the queue comes off the request's.
                budget = deadline.clip(settings.timeout)
        except asyncio.TimeoutError:
            origin = origin_of(request.url)
            return TransportFailure("connect", f"the deadline passed while waiting for a free connection to {origin}")
        try:
            if budget <= 0:
                return too_late_to_send()
            return await pool.request(request, settings.max_response_bytes, budget)
        finally:
            slots.release()


async def adrive(steps: Steps[T], transport: AsyncTransport, get_token: AsyncTokenSource | None = None) -> T:
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
        transport: AsyncTransport,
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
                async with timeout_after(left):
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
    transport: AsyncTransport,
    policy: RetryPolicy,
    log: Log,
    on_new_token: Callable[[IamToken], None],
) -> AsyncTokenSource:
    """A token source for :func:`adrive`: one IAM request per credentials at a time, per loop."""
    return _TokenSource(settings, transport, policy, log, on_new_token)
