"""HTTP/1.1 on asyncio for the asynchronous path: pooled keep-alive connections, answers parsed by llhttp.

A request is one write of prepared bytes and one future, resolved by the parser's callbacks: nothing per
request that the core does not use (no request or response objects, trace hooks, cookie jar, redirect or
stream machinery). ``httptools`` is the binding of llhttp, the parser of Node.js and of aiohttp's C
extension; it frames every answer strictly (conflicting lengths, a broken chunk size, a control character
in a header are errors).

The same rules as the blocking path hold here:

* only the connection decides: no proxy or CA variable, no netrc, no cookie is ever read or kept;
* a head is bounded (field size, field count, interim answers) and a body is read by the core's
  :class:`~airflow_provider_sdrs._core.body.BodyReader` within its limit, decompression included;
* one timeout covers connecting, sending and the whole answer, so a trickling server cannot stretch it;
* a connection is reused only after a complete answer that allows it, and never after bytes nobody asked
  for (a second answer, garbage): those close it, so no answer is ever read as another request's.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import sys
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import httptools

from airflow_provider_sdrs._core.body import BodyCorrupt, BodyReader, BodyTooLarge, body_limit, unusable, wire_headers
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

if sys.version_info >= (3, 11):
    # A timer on the running task, where wait_for would start a task per wait.
    timeout_after = asyncio.timeout
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout as timeout_after

# The most a head can take within the field bounds (the status line counted as one more field); also the
# most an answer may spend on chunk framing and trailers.
_MAX_HEAD_BYTES = (MAX_FIELDS + 1) * (MAX_FIELD_BYTES + 2)
# An idle connection older than this is closed, not reused: a server or a middlebox may have dropped it
# meanwhile (aiohttp's default too).
KEEPALIVE_SECONDS = 15.0
# A proxy's answer to CONNECT is a status line and a few fields.
_MAX_TUNNEL_HEAD = 16384
# A request with one of these methods may be sent again on a fresh connection when a reused one turns out
# dead before answering: the server cannot have acted on it twice in a harmful way.
_IDEMPOTENT = frozenset({"GET", "OPTIONS", "PUT", "DELETE"})

Result = HttpResponse | TransportFailure


@dataclass(frozen=True)
class Route:
    """Where a pool's connections go: the endpoint, and the proxy in front of it if any."""

    scheme: str
    host: str
    port: int
    proxy_scheme: str | None = None
    proxy_host: str = ""
    proxy_port: int = 0
    # ``Basic ...`` when the proxy URL carries credentials: a secret, kept out of the repr.
    proxy_authorization: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, origin: str, proxy: str | None) -> Route:
        """The route to ``origin`` (``scheme://host[:port]``) through ``proxy`` (a validated proxy URL)."""
        parts = urlsplit(origin)
        secure = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if secure else 80)
        if not proxy:
            return cls(parts.scheme, host, port)
        via = urlsplit(proxy)
        authorization = None
        if via.username is not None:
            pair = f"{unquote(via.username)}:{unquote(via.password or '')}".encode()
            authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        proxy_port = via.port or (443 if via.scheme == "https" else 80)
        return cls(parts.scheme, host, port, via.scheme, via.hostname or "", proxy_port, authorization)

    @property
    def netloc(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def forwards(self) -> bool:
        """Whether requests go to the proxy in absolute form (plain HTTP), rather than through a tunnel."""
        return self.proxy_scheme is not None and self.scheme == "http"


def request_bytes(request: HttpRequest, target: str, route: Route) -> bytes:
    """The request as sent: request line, fields (the core's, plus framing) and body.

    :raises ValueError: a field carries a line break (the core never builds one; this keeps it so), or the
        method is HEAD, whose answer's framing the parser would not know.
    """
    if request.method == "HEAD":
        raise ValueError("HEAD requests are not supported")
    fields = wire_headers(request.headers)
    lines = [f"{request.method} {target} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in fields.items())
    if request.body is not None or request.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(request.body or b'')}")
    if route.forwards and route.proxy_authorization:
        lines.append(f"Proxy-Authorization: {route.proxy_authorization}")
    if any("\n" in line or "\r" in line for line in lines):
        raise ValueError("a request header carries a line break")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data + request.body if request.body else data


class Connection(asyncio.Protocol):
    """One keep-alive connection; serves one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Result] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tunnel: bytearray | None = None
        self._tunnel_waiter: asyncio.Future[bytes] | None = None
        self._max_body = 0
        self._start(0)

    # -- one exchange ---------------------------------------------------------------------------------

    def _start(self, interim: int) -> None:
        """Forget the answer being read: a new request, or the final answer after an interim one."""
        self._interim = interim
        self._status = 0
        self._pairs: list[tuple[str, str]] = []
        # Bytes of this answer that were not body: its head, chunk framing and trailers.
        self._framing_bytes = 0
        self._chunks = 0
        self._head_done = False
        self._headers: dict[str, str] = {}
        self._reader: BodyReader | None = None
        self._received = False
        self._reusable = False
        self._reads_to_close = False

    async def exchange(self, data: bytes, max_body: int, until: float, budget: float) -> Result:
        """Send ``data`` and read the answer, all by ``until`` (event-loop time)."""
        loop = asyncio.get_running_loop()
        self._start(0)
        self._max_body = max_body
        waiter = self._waiter = loop.create_future()
        self._timer = loop.call_at(until, self._time_out, budget)
        try:
            if self.transport is None or self.closed:
                return TransportFailure("reset", "the connection closed before the request was sent")
            self.transport.write(data)
            return await waiter
        except BaseException:
            # Cancelled, possibly in the very step its answer came: the connection's state is unknown.
            self._reusable = False
            raise
        finally:
            self._waiter = None
            self._timer.cancel()
            self._timer = None
            if self._reusable and not self.closed:
                self.idle_since = loop.time()
            else:
                self.close()

    @property
    def answered_nothing(self) -> bool:
        """Whether no byte of an answer arrived during the last exchange."""
        return not self._received

    def _finish(self, result: Result, reusable: bool = False) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._reusable = reusable
            waiter.set_result(result)

    def _fail(self, kind: FailureKind, detail: str) -> None:
        self._finish(TransportFailure(kind, detail))
        self.close()

    def _time_out(self, budget: float) -> None:
        self._fail("timeout", f"no complete answer within {budget:g} s")

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._tunnel is not None:
            self._tunnel_data(self._tunnel, data)
            return
        waiter = self._waiter
        if waiter is None or waiter.done():
            # Bytes no request asked for: this connection can no longer tell one answer from the next.
            self._reusable = False
            self.close()
            return
        self._received = True
        self._framing_bytes += len(data)  # on_body takes the body's share back out
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("protocol", "the answer switches to another protocol")
            return
        except httptools.HttpParserError as error:
            self._fail("protocol", f"the answer is not valid HTTP ({error})")
            return
        # The parser holds a field whole until it ends, trailers included: what is not body stays bounded.
        if self._framing_bytes > _MAX_HEAD_BYTES + 32 * self._chunks and not waiter.done():
            self._fail("protocol", f"the answer's head, chunk framing or trailers pass {_MAX_HEAD_BYTES} bytes")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        tunnel = self._tunnel_waiter
        if tunnel is not None and not tunnel.done():
            tunnel.set_exception(ConnectionResetError("the proxy closed the connection"))
        if self._waiter is None or self._waiter.done():
            return
        if exc is None and self._head_done and self._reader is not None and self._reads_to_close:
            # A body without a length ends when the connection does.
            self._complete(self._reader)
            return
        reason = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        if not self._received:
            self._fail("reset", f"the server closed the connection without an answer{reason}")
        else:
            self._fail("reset", f"the answer broke off{reason}")

    # -- parser callbacks -----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._waiter is None or self._waiter.done():
            # A second answer to one request: whatever follows it can no longer be told apart.
            self._reusable = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            return
        if len(self._pairs) >= MAX_FIELDS:
            self._fail("protocol", f"the answer has more than {MAX_FIELDS} header fields")
        elif len(name) + len(value) + 2 > MAX_FIELD_BYTES:
            self._fail("protocol", f"an answer's header field is longer than {MAX_FIELD_BYTES} bytes")
        else:
            # Latin-1, as http.client decodes them: both transports then see the same text.
            self._pairs.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if self._waiter is None or self._waiter.done():
            return
        status = self._parser.get_status_code()
        self._status = status
        self._head_done = True
        if 100 <= status < 200 and status != 101:
            return  # interim: its end starts the final answer
        headers, problem = read_head(status, self._pairs)
        if problem is not None:
            self._fail("protocol", problem)
            return
        self._headers = headers
        limit, clip = body_limit(status, self._max_body)
        try:
            self._reader = BodyReader(limit, headers.get("content-encoding"), clip=clip)
        except BodyCorrupt as error:
            self._finish(unusable(status, headers, error))
            self.close()
            return
        self._reads_to_close = (
            "content-length" not in headers and "transfer-encoding" not in headers and status not in (204, 304)
        )

    def on_chunk_header(self) -> None:
        self._chunks += 1

    def on_body(self, chunk: bytes) -> None:
        self._framing_bytes -= len(chunk)
        reader = self._reader
        if reader is None or self._waiter is None or self._waiter.done():
            return
        try:
            reader.feed(chunk)
        except (BodyTooLarge, BodyCorrupt) as error:
            self._finish(unusable(self._status, self._headers, error))
            self.close()
            return
        if reader.done:
            # Clipped: the rest is not wanted; the connection goes with it.
            self._complete(reader)
            self.close()

    def on_message_complete(self) -> None:
        if self._waiter is None or self._waiter.done():
            return
        if self._reader is None:
            # The end of an interim answer.
            if self._interim + 1 > MAX_INTERIM_ANSWERS:
                self._fail("protocol", f"the server sent more than {MAX_INTERIM_ANSWERS} interim answers")
                return
            self._start(self._interim + 1)
            self._received = True
            return
        self._complete(self._reader, reusable=self._parser.should_keep_alive())

    def _complete(self, reader: BodyReader, reusable: bool = False) -> None:
        try:
            body = reader.finish()
        except BodyCorrupt as error:
            self._finish(unusable(self._status, self._headers, error))
            self.close()
            return
        self._finish(HttpResponse(self._status, self._headers, body), reusable)

    # -- a tunnel through a proxy ---------------------------------------------------------------------

    async def open_tunnel(self, route: Route) -> None:
        """Ask the proxy for a tunnel to the endpoint (CONNECT), and wait for its 2xx answer.

        :raises ConnectionError: the proxy refused, or did not answer with HTTP.
        """
        if self.transport is None:
            raise ConnectionError("the connection to the proxy closed")
        self._tunnel = bytearray()
        waiter = self._tunnel_waiter = asyncio.get_running_loop().create_future()
        authority = route.netloc if route.port != 443 else f"{route.netloc}:443"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if route.proxy_authorization:
            lines.append(f"Proxy-Authorization: {route.proxy_authorization}")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            head = await waiter
        finally:
            self._tunnel = None
            self._tunnel_waiter = None
        status_line = head.split(b"\r\n", 1)[0]
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].startswith(b"2"):
            shown = status_line[:80].decode("latin-1").encode("unicode_escape").decode("ascii")
            raise ConnectionError(f"the proxy refused the tunnel: {shown!r}")

    def _tunnel_data(self, buffer: bytearray, data: bytes) -> None:
        waiter = self._tunnel_waiter
        if waiter is None or waiter.done():
            return
        buffer.extend(data)
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            if end + 4 != len(buffer):
                # The endpoint cannot speak before the client does (TLS): anything more is the proxy's noise.
                waiter.set_exception(ConnectionError("the proxy sent more than its answer"))
            else:
                waiter.set_result(bytes(buffer))
        elif len(buffer) > _MAX_TUNNEL_HEAD:
            waiter.set_exception(ConnectionError("the proxy's answer is too long"))


class ConnectionPool:
    """Keep-alive connections to one endpoint (through one proxy), at most ``size`` of them in use.

    Waiting for a free slot happens before a request's timeout starts (see :meth:`acquire_slot`), so the
    queue in front of a slow endpoint costs its own waits time, never their request timeouts or the
    waits on other endpoints.
    """

    def __init__(self, route: Route, tls: ssl.SSLContext, size: int) -> None:
        self.route = route
        self.tls = tls
        self.slots = asyncio.Semaphore(size)
        self.closed = False
        self._idle: list[Connection] = []
        self._targets: dict[str, str] = {}

    def target(self, url: str) -> str:
        """The request target of ``url``: its path and query, or the whole URL for a forwarding proxy."""
        found = self._targets.get(url)
        if found is None:
            if len(self._targets) >= 64:  # a hook's calls touch a few URLs; a long-lived pool must not grow
                self._targets.clear()
            parts = urlsplit(url)
            found = url if self.route.forwards else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            self._targets[url] = found
        return found

    async def request(self, request: HttpRequest, max_body: int, budget: float) -> Result:
        """Send ``request`` and read its answer within ``budget`` seconds; the caller holds a slot."""
        loop = asyncio.get_running_loop()
        until = loop.time() + budget
        try:
            data = request_bytes(request, self.target(request.url), self.route)
        except ValueError as error:
            return TransportFailure("connect", str(error))
        retry = request.method in _IDEMPOTENT
        while True:
            connection = self._idle_connection(loop.time())
            if connection is None:
                opened = await self._open(until)
                if isinstance(opened, TransportFailure):
                    return opened
                connection = opened
                retry = False
            result = await connection.exchange(data, max_body, until, budget)
            if not connection.closed:
                if self.closed:
                    connection.close()  # its pool was closed meanwhile: nobody would take it again
                else:
                    self._idle.append(connection)
            elif (
                retry
                and isinstance(result, TransportFailure)
                and result.kind == "reset"
                and connection.answered_nothing
                and loop.time() < until
            ):
                # A reused connection the server had closed meanwhile: once more, on a fresh one.
                retry = False
                continue
            return result

    def _idle_connection(self, now: float) -> Connection | None:
        idle = self._idle
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < KEEPALIVE_SECONDS:
                return connection
            connection.close()
        return None

    async def _open(self, until: float) -> Connection | TransportFailure:
        loop = asyncio.get_running_loop()
        route = self.route
        via_proxy = route.proxy_scheme is not None
        host, port = (route.proxy_host, route.proxy_port) if via_proxy else (route.host, route.port)
        # The connection's own trust, for the proxy as for the endpoint.
        first_tls = self.tls if (route.proxy_scheme if via_proxy else route.scheme) == "https" else None
        tunnel = via_proxy and route.scheme == "https"
        if tunnel and first_tls is not None and sys.version_info < (3, 11):
            # asyncio runs TLS inside TLS from Python 3.11 on.
            return TransportFailure("connect", "an https proxy in front of an https endpoint needs Python 3.11+")
        connection: Connection | None = None
        try:
            async with timeout_after(max(0.0, until - loop.time())):
                transport, connection = await loop.create_connection(
                    Connection, host, port, ssl=first_tls, server_hostname=host if first_tls else None
                )
                if tunnel:
                    await connection.open_tunnel(route)
                    upgraded = await loop.start_tls(transport, connection, self.tls, server_hostname=route.host)
                    if upgraded is None:
                        raise ConnectionError("the tunnel closed during the TLS handshake")
                    connection.transport = upgraded  # type: ignore[assignment]
        except asyncio.TimeoutError:
            if connection is not None:
                connection.close()
            where = f"the proxy {route.proxy_host}" if via_proxy else route.host
            return TransportFailure("connect", f"no connection to {where} within the request's timeout")
        except OSError as error:  # refused, unreachable, DNS, TLS (ssl.SSLError), a refused tunnel
            if connection is not None:
                connection.close()
            return TransportFailure("connect", f"{type(error).__name__}: {error}")
        except Exception as error:  # whatever else asyncio or the TLS layer raised: still no connection
            if connection is not None:
                connection.close()
            return TransportFailure("connect", f"{type(error).__name__}: {error}")
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        return connection

    def close(self) -> None:
        """Close every idle connection; the pool serves no further request."""
        self.closed = True
        while self._idle:
            self._idle.pop().close()
