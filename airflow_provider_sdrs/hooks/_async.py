"""Runs core exchanges over aiohttp, with one client session per event loop and TLS/proxy setup."""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import Callable
from typing import Any
from urllib.request import getproxies_environment, proxy_bypass

import aiohttp
from yarl import URL

from airflow_provider_sdrs._core.exchange import (
    Exchange,
    IamToken,
    NeedToken,
    Send,
    Sleep,
    iam_exchange,
    token_failure,
)
from airflow_provider_sdrs._core.http import HttpRequest, HttpResponse, TransportFailure
from airflow_provider_sdrs._core.logs import Log
from airflow_provider_sdrs._core.retry import RetryPolicy
from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs._core.tokens import TOKEN_CACHE
from airflow_provider_sdrs.exceptions import SdrsError

# Connections kept open per session: bounds the sockets a triggerer opens, however many waits it holds.
POOL_SIZE = 64

SessionKey = tuple[Any, ...]


class _Lease:
    __slots__ = ("session", "users")

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.users = 0


class SessionPool:
    """Client sessions shared by every hook on an event loop, by TLS and proxy settings.

    A session lives as long as some hook holds it; the last one out closes it.
    """

    def __init__(self) -> None:
        self._leases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[SessionKey, _Lease]] = (
            weakref.WeakKeyDictionary()
        )

    @staticmethod
    def key(settings: SdrsSettings) -> SessionKey:
        return (settings.verify, settings.proxy)

    def acquire(self, settings: SdrsSettings) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        leases = self._leases.setdefault(loop, {})
        key = self.key(settings)
        lease = leases.get(key)
        if lease is None or lease.session.closed:
            lease = _Lease(_new_session(settings))
            leases[key] = lease
        lease.users += 1
        return lease.session

    async def release(self, settings: SdrsSettings) -> None:
        loop = asyncio.get_running_loop()
        leases = self._leases.get(loop, {})
        key = self.key(settings)
        lease = leases.get(key)
        if lease is None:
            return
        lease.users -= 1
        if lease.users <= 0:
            del leases[key]
            await lease.session.close()

    def open_sessions(self) -> int:
        """How many sessions are open on the running loop (for tests and benchmarks)."""
        loop = asyncio.get_running_loop()
        return sum(1 for lease in self._leases.get(loop, {}).values() if not lease.session.closed)


SESSIONS = SessionPool()


def _ssl(settings: SdrsSettings) -> ssl.SSLContext | bool:
    if settings.verify is False:
        return False
    if isinstance(settings.verify, str):
        return ssl.create_default_context(cafile=settings.verify)
    return True


def _new_session(settings: SdrsSettings) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=POOL_SIZE, ssl=_ssl(settings), ttl_dns_cache=300)
    # trust_env would read ~/.netrc and the proxy variables in a worker thread on every request;
    # environment proxies are resolved once per host by the transport instead.
    return aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False)


_ENVIRONMENT_PROXIES: dict[tuple[str, str | None, int | None], str | None] = {}


def _environment_proxy(url: URL) -> str | None:
    """The proxy the environment (HTTPS_PROXY, NO_PROXY...) sets for ``url``, read once per host."""
    key = (url.scheme, url.host, url.port)
    if key not in _ENVIRONMENT_PROXIES:
        bypass = url.host is None or proxy_bypass(url.host)
        _ENVIRONMENT_PROXIES[key] = None if bypass else getproxies_environment().get(url.scheme)
    return _ENVIRONMENT_PROXIES[key]


class AiohttpTransport:
    def __init__(self, session: aiohttp.ClientSession, settings: SdrsSettings) -> None:
        self.session = session
        self.settings = settings
        # Per request, not per session: hooks with different timeouts share the session.
        self.timeout = aiohttp.ClientTimeout(total=settings.timeout)

    async def run(self, exchange: Exchange, get_token: Callable[[IamToken | None], Any] | None = None) -> Any:
        """Drive ``exchange`` over this transport."""
        return await run_async(exchange, self, get_token)

    def _proxy(self, url: URL) -> str | None:
        return self.settings.proxy or _environment_proxy(url)

    async def send(self, request: HttpRequest) -> HttpResponse | TransportFailure:
        try:
            url = URL(request.url, encoded=True)
            async with self.session.request(
                request.method,
                url,
                headers=dict(request.headers),
                data=request.body,
                proxy=self._proxy(url),
                timeout=self.timeout,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                headers = {name.lower(): value for name, value in response.headers.items()}
                return HttpResponse(response.status, headers, body)
        except aiohttp.ClientConnectorError as exc:
            return TransportFailure("connect", f"{type(exc).__name__}: {exc}")
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            return TransportFailure("timeout", f"no answer within {self.settings.timeout:g} s ({type(exc).__name__})")
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError) as exc:
            return TransportFailure("reset", f"{type(exc).__name__}: {exc}")
        except aiohttp.ClientError as exc:
            return TransportFailure("protocol", f"{type(exc).__name__}: {exc}")


async def run_async(
    exchange: Exchange,
    transport: AiohttpTransport,
    get_token: Callable[[IamToken | None], Any] | None = None,
) -> Any:
    """Drive ``exchange`` to its result on the running event loop."""
    result: Any = None
    try:
        while True:
            step = exchange.send(result)
            if isinstance(step, Send):
                result = await transport.send(step.request)
            elif isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                result = None
            elif isinstance(step, NeedToken):
                if get_token is None:
                    raise RuntimeError("this exchange needs no token")
                try:
                    result = await get_token(step.stale)
                except SdrsError as error:
                    raise token_failure(error, step) from None
            else:  # pragma: no cover - the core yields nothing else
                raise TypeError(f"unknown step {step!r}")
    except StopIteration as done:
        return done.value


def async_token(
    settings: SdrsSettings,
    transport: AiohttpTransport,
    policy: RetryPolicy,
    log: Log,
    on_new_token: Callable[[IamToken], None],
) -> Callable[[IamToken | None], Any]:
    """A token source for :func:`run_async`: one IAM request per credentials at a time, per loop."""
    key = settings.token_key

    async def get_token(stale: IamToken | None) -> IamToken:
        if stale is None:
            token = TOKEN_CACHE.get(key)
            if token is not None:
                return token
        async with TOKEN_CACHE.loop_lock(key):
            if stale is not None:
                TOKEN_CACHE.discard(key, stale)
            token = TOKEN_CACHE.get(key)
            if token is None:
                log.info("Requesting an IAM token for user %r at %s", settings.login, settings.iam_endpoint)
                token = await run_async(iam_exchange(settings, policy, log), transport)
                on_new_token(token)
                TOKEN_CACHE.put(key, token)
            return token

    return get_token
