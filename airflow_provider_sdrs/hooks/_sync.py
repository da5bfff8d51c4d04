"""Runs core exchanges over ``requests``.

The session trusts nothing from the worker's environment (no ``~/.netrc``, proxy or CA variables), keeps
no cookies, reads bodies through the core's size limit, and bounds each request as a whole: a watchdog
shuts the socket when the time is up, however slowly the server trickles its headers or body.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Callable
from http.cookiejar import CookiePolicy
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import InvalidChunkLength, NewConnectionError

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
    MAX_FIELD_BYTES,
    MAX_FIELDS,
    MAX_INTERIM_ANSWERS,
    FailureKind,
    HttpRequest,
    HttpResponse,
    TransportFailure,
    read_head,
)
from airflow_provider_sdrs._core.logs import Log
from airflow_provider_sdrs._core.process import TOKEN_CACHE
from airflow_provider_sdrs._core.retry import RetryPolicy
from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs._core.steps import NeedToken, Send, Sleep, Steps, T
from airflow_provider_sdrs._core.trust import ca_bundle, tls_context
from airflow_provider_sdrs.exceptions import SdrsError

TokenSource = Callable[[IamToken | None, Deadline], IamToken]


class _NoCookies(CookiePolicy):
    """SDRS needs no cookies; one kept from an answer could travel with another connection's requests."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        return False


class _Watchdog:
    """Shuts the socket of one request down once its time is up, from a timer thread."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sock = sock
            fired = self.fired
        if fired:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sock = self._sock
        if sock is not None:
            _shut(sock)

    def disarm(self) -> None:
        """The request is over: a late timer must not shut a connection that is back in the pool."""
        self._timer.cancel()
        with self._lock:
            self._sock = None


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for TLS sockets: it wakes a read blocked in another thread.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCH = threading.local()


def _watch_socket(sock: socket.socket | None) -> None:
    watchdog: _Watchdog | None = getattr(_WATCH, "current", None)
    if watchdog is not None:
        watchdog.attach(sock)


class _FinalResponse(http.client.HTTPResponse):
    """Skips interim 1xx answers (up to :data:`MAX_INTERIM_ANSWERS`), as the asynchronous path does;
    ``http.client`` itself skips only 100 Continue and would take a 103 Early Hints for the answer.

    101 Switching Protocols is a final answer, refused later like any other 1xx answer that ends a response.
    """

    def _read_status(self) -> tuple[str, int, str]:
        for _ in range(MAX_INTERIM_ANSWERS + 1):
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if status in (100, 101) or not 100 <= status < 200:
                return version, status, reason  # begin() skips 100 Continue itself
            self._skip_headers()
        raise http.client.HTTPException(f"more than {MAX_INTERIM_ANSWERS} interim answers")

    def _skip_headers(self) -> None:
        for _ in range(MAX_FIELDS + 1):
            line = self.fp.readline(MAX_FIELD_BYTES + 1)
            if len(line) > MAX_FIELD_BYTES:
                raise http.client.LineTooLong("header line")
            if line in (b"\r\n", b"\n", b""):
                return
        raise http.client.HTTPException(f"got more than {MAX_FIELDS} headers")


class _WatchedHTTPConnection(HTTPConnection):
    response_class = _FinalResponse

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch_socket(sock)  # before any TLS handshake, which a server can trickle too
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_socket(self.sock)  # a connection reused from the pool
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    response_class = _FinalResponse

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch_socket(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_socket(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOL_CLASSES = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections report their sockets to the request's watchdog, and whose TLS uses the
    connection's own context: urllib3 would build one that honours ``SSLKEYLOGFILE``.
    """

    # Kept when a hook is copied (an operator resumed from a deferral): the pools are rebuilt from it.
    __attrs__ = [*HTTPAdapter.__attrs__, "_settings"]

    def __init__(self, settings: SdrsSettings) -> None:
        self._settings = settings
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, ssl_context=tls_context(self._settings), **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        context = tls_context(self._settings)
        proxy_kwargs.setdefault("ssl_context", context)
        proxy_kwargs.setdefault("proxy_ssl_context", context)
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager


def new_session(settings: SdrsSettings) -> requests.Session:
    """A session that takes authentication, proxy and trust from the connection only."""
    session = requests.Session()
    session.trust_env = False
    session.cookies = RequestsCookieJar(policy=_NoCookies())
    session.verify = ca_bundle(settings)
    session.proxies = {"http": settings.proxy, "https": settings.proxy} if settings.proxy else {}
    adapter = _WatchedAdapter(settings)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class RequestsTransport:
    """One ``requests.Session`` (and so one connection pool per endpoint) per hook."""

    def __init__(self, settings: SdrsSettings) -> None:
        self.settings = settings
        self.session = new_session(settings)

    def send(self, request: HttpRequest, deadline: Deadline = NO_DEADLINE) -> HttpResponse | TransportFailure:
        budget = deadline.clip(self.settings.timeout)
        if budget <= 0:
            return too_late_to_send()
        watchdog = _Watchdog(budget)
        _WATCH.current = watchdog
        try:
            return self._send(request, budget, watchdog)
        finally:
            _WATCH.current = None
            watchdog.disarm()

    def _send(self, request: HttpRequest, budget: float, watchdog: _Watchdog) -> HttpResponse | TransportFailure:
        too_slow = TransportFailure("timeout", f"no complete answer within {budget:g} s")
        try:
            response = self.session.request(
                request.method,
                request.url,
                headers=wire_headers(request.headers),
                data=request.body,
                timeout=budget,
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.ConnectTimeout as exc:
            return TransportFailure("connect", f"{type(exc).__name__}: {exc}")
        except requests.exceptions.SSLError as exc:
            return too_slow if watchdog.fired else TransportFailure("connect", f"TLS error: {exc}")
        except requests.exceptions.ReadTimeout as exc:
            return TransportFailure("timeout", f"no answer within {budget:g} s: {exc}")
        except requests.exceptions.ConnectionError as exc:
            if watchdog.fired:
                return too_slow
            return TransportFailure(_connection_error_kind(exc), f"{type(exc).__name__}: {exc}")
        except requests.exceptions.RequestException as exc:
            return too_slow if watchdog.fired else TransportFailure("protocol", f"{type(exc).__name__}: {exc}")
        pairs = list(response.raw.headers.items())
        headers, problem = read_head(response.status_code, pairs)
        if problem is not None:
            response.close()
            return TransportFailure("protocol", problem)
        complete = False
        try:
            limit, clip = body_limit(response.status_code, self.settings.max_response_bytes)
            reader = BodyReader(limit, headers.get("content-encoding"), clip=clip)
            for chunk in response.raw.stream(CHUNK_SIZE, decode_content=False):
                reader.feed(chunk)
                if reader.done:
                    break
            else:
                complete = True
            watchdog.disarm()
            if watchdog.fired:
                # The socket was shut mid-body: a body without a length then looks complete, but is not.
                complete = False
                return too_slow
            body = reader.finish()
        except (BodyTooLarge, BodyCorrupt) as error:
            return unusable(response.status_code, headers, error)
        except Exception as exc:  # whatever the socket or urllib3 raised mid-body
            if watchdog.fired:
                return too_slow
            return TransportFailure(_body_error_kind(exc), f"the answer broke off: {type(exc).__name__}: {exc}")
        finally:
            watchdog.disarm()
            if complete:
                response.raw.release_conn()  # read to the end: the connection can serve the next request
            response.close()
        return HttpResponse(response.status_code, headers, body)

    def close(self) -> None:
        self.session.close()


def _cause(exc: BaseException) -> BaseException | None:
    """The ``http.client`` or urllib3 error under a ``requests`` or urllib3 wrapper, if any."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        seen += 1
        if isinstance(current, (http.client.HTTPException, InvalidChunkLength)):
            return current
        inner = [arg for arg in current.args if isinstance(arg, BaseException)]
        current = inner[-1] if inner else getattr(current, "reason", None)
    return None


def _connection_error_kind(exc: requests.exceptions.ConnectionError) -> FailureKind:
    """``connect`` when the request never left, ``protocol`` for an answer that is not HTTP, else ``reset``.

    The asynchronous path reports a bad status line or oversized headers as a protocol error; so must this one.
    """
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, NewConnectionError):
        return "connect"
    cause = _cause(exc)
    if cause is not None and not isinstance(cause, (http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return "protocol"
    return "reset"


def _body_error_kind(exc: BaseException) -> FailureKind:
    """A broken chunk length is a malformed answer (as on the asynchronous path); a body cut short is a reset."""
    return "protocol" if isinstance(_cause(exc), InvalidChunkLength) else "reset"


def drive(steps: Steps[T], transport: RequestsTransport, get_token: TokenSource | None = None) -> T:
    """Perform ``steps`` (an exchange, a read or a whole wait), blocking, and return their result.

    The blocking twin of :func:`airflow_provider_sdrs.hooks._async.adrive`: it must stay as small.
    """
    result: Any = None
    failure: SdrsError | None = None
    while True:
        try:
            step = steps.send(result) if failure is None else steps.throw(failure)
        except StopIteration as done:
            return done.value
        result = failure = None
        kind = type(step)
        if kind is Send:
            result = transport.send(step.request, step.deadline)  # type: ignore[union-attr]
        elif kind is Sleep:
            time.sleep(step.seconds)  # type: ignore[union-attr]
        elif kind is NeedToken:
            if get_token is None:
                raise RuntimeError("these steps need an IAM token, and the connection uses none")
            try:
                result = get_token(step.stale, step.deadline)  # type: ignore[union-attr]
            except SdrsError as error:
                failure = error
        else:  # pragma: no cover - the core yields nothing else
            raise TypeError(f"unknown step {step!r}")


def sync_token(
    settings: SdrsSettings,
    transport: RequestsTransport,
    policy: RetryPolicy,
    log: Log,
    on_new_token: Callable[[IamToken], None],
) -> TokenSource:
    """A token source for :func:`drive` backed by the process-wide cache."""
    key = settings.token_key

    def get_token(stale: IamToken | None, deadline: Deadline = NO_DEADLINE) -> IamToken:
        lock = TOKEN_CACHE.thread_lock(key)
        left = deadline.remaining()
        if not lock.acquire(timeout=-1 if left is None else left):
            raise deadline_passed("wait for an IAM token")
        try:
            if stale is not None:
                TOKEN_CACHE.discard(key, stale)
            token = TOKEN_CACHE.get(key)
            if token is None:
                log.info("Requesting an IAM token for user %r at %s", settings.login, settings.iam_endpoint)
                token = drive(iam_exchange(settings, policy, log, deadline), transport)
                on_new_token(token)
                TOKEN_CACHE.put(key, token)
            return token
        finally:
            lock.release()

    return get_token
