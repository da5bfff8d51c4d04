"""The asynchronous path's request framing and routes, without a network: what goes on the wire, and where."""

from __future__ import annotations

import asyncio
import base64
import ssl

import pytest

from airflow_provider_sdrs._core.http import HttpRequest, HttpResponse, TransportFailure
from airflow_provider_sdrs.hooks._wire import Connection, ConnectionPool, Route, request_bytes

HEADERS = {"Host": "sdrs.example.com", "X-Auth-Token": "t"}


@pytest.mark.parametrize(
    ("origin", "proxy", "expected"),
    [
        ("https://sdrs.example.com", None, Route("https", "sdrs.example.com", 443)),
        ("http://127.0.0.1:8080", None, Route("http", "127.0.0.1", 8080)),
        ("https://[::1]:8443", None, Route("https", "::1", 8443)),
        (
            "https://sdrs.example.com",
            "http://proxy.example.com:3128",
            Route("https", "sdrs.example.com", 443, "http", "proxy.example.com", 3128),
        ),
        (
            "http://sdrs.example.com",
            "https://proxy.example.com",
            Route("http", "sdrs.example.com", 80, "https", "proxy.example.com", 443),
        ),
    ],
)
def test_a_route_goes_to_the_endpoint_or_its_proxy(origin, proxy, expected):
    assert Route.of(origin, proxy) == expected


def test_proxy_credentials_are_decoded_once_into_basic_authorization():
    route = Route.of("https://sdrs.example.com", "http://us%40er:p%3Ass%2Fw@proxy.example.com:3128")

    assert route.proxy_authorization == "Basic " + base64.b64encode(b"us@er:p:ss/w").decode()


@pytest.mark.parametrize(
    ("route", "netloc"),
    [
        (Route("https", "sdrs.example.com", 443), "sdrs.example.com"),
        (Route("https", "sdrs.example.com", 8443), "sdrs.example.com:8443"),
        (Route("http", "::1", 80), "[::1]"),
    ],
)
def test_netloc_leaves_out_the_default_port(route, netloc):
    assert route.netloc == netloc


def test_a_get_is_a_request_line_and_fields_with_no_length():
    data = request_bytes(
        HttpRequest("GET", "https://sdrs.example.com/v1/p/jobs/j", HEADERS),
        "/v1/p/jobs/j",
        Route.of("https://sdrs.example.com", None),
    )

    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"GET /v1/p/jobs/j HTTP/1.1"
    assert b"Host: sdrs.example.com" in lines and b"X-Auth-Token: t" in lines
    assert b"Accept-Encoding: gzip, deflate" in lines  # the encodings the body reader decodes
    assert not [line for line in lines if line.lower().startswith(b"content-length")]
    assert body == b""


@pytest.mark.parametrize(("body", "length"), [(b'{"a": 1}', b"8"), (None, b"0")])
def test_a_post_declares_its_length_even_when_empty(body, length):
    data = request_bytes(
        HttpRequest("POST", "https://h/v3/auth/tokens", HEADERS, body), "/v3/auth/tokens", Route.of("https://h", None)
    )

    assert b"\r\nContent-Length: " + length + b"\r\n" in data
    assert data.endswith(b"\r\n\r\n" + (body or b""))


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\rb"])
def test_a_field_with_a_line_break_is_refused(value):
    with pytest.raises(ValueError, match="line break"):
        request_bytes(
            HttpRequest("GET", "https://h/x", {**HEADERS, "X-Request-Id": value}), "/x", Route.of("https://h", None)
        )


def test_proxy_authorization_goes_only_to_a_forwarding_proxy():
    forwarding = Route.of("http://sdrs.example.com", "http://u:p@proxy:3128")
    tunnelling = Route.of("https://sdrs.example.com", "http://u:p@proxy:3128")
    request = HttpRequest("GET", "http://sdrs.example.com/x", HEADERS)

    # Through a tunnel the endpoint sees the request: the proxy's credentials went with CONNECT only.
    assert b"Proxy-Authorization: Basic " in request_bytes(request, "/x", forwarding)
    assert b"Proxy-Authorization" not in request_bytes(request, "/x", tunnelling)


@pytest.mark.parametrize(
    ("proxy", "target"),
    [
        (None, "/v1/p/jobs?limit=2"),
        ("http://proxy:3128", "http://sdrs.example.com/v1/p/jobs?limit=2"),  # absolute form, for the proxy
    ],
)
def test_the_request_target_is_origin_form_or_absolute_form_through_a_forwarding_proxy(proxy, target):
    async def target_of() -> str:
        pool = ConnectionPool(Route.of("http://sdrs.example.com", proxy), ssl.create_default_context(), 4)
        return pool.target("http://sdrs.example.com/v1/p/jobs?limit=2")

    assert asyncio.run(target_of()) == target


def test_a_head_request_is_refused_since_its_answer_s_framing_would_be_misread():
    with pytest.raises(ValueError, match="HEAD"):
        request_bytes(HttpRequest("HEAD", "https://h/x", HEADERS), "/x", Route.of("https://h", None))


# -- one connection, driven by hand: the answer's bytes in, the result out ------------------------------


class _Wire(asyncio.Transport):
    """A transport that keeps what is written and whether it was aborted."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.aborted = False

    def write(self, data) -> None:  # type: ignore[no-untyped-def]
        self.written += bytes(data)

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted


async def _exchanging() -> tuple[Connection, _Wire, asyncio.Task]:
    connection, wire = Connection(), _Wire()
    connection.connection_made(wire)
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(connection.exchange(b"GET /x HTTP/1.1\r\n\r\n", 4096, loop.time() + 5, 5))
    await asyncio.sleep(0)  # the request is written; the task waits for the answer
    assert wire.written.startswith(b"GET /x ")
    return connection, wire, task


def test_a_request_cancelled_in_the_step_its_answer_arrives_closes_its_connection():
    async def main() -> tuple[Connection, _Wire]:
        connection, wire, task = await _exchanging()
        connection.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return connection, wire

    connection, wire = asyncio.run(main())

    # Kept, it would sit outside the pool, open, for as long as the process lives.
    assert connection.closed and wire.aborted


@pytest.mark.parametrize(("error", "expected"), [(None, "job"), (ConnectionResetError("reset by peer"), "reset")])
def test_a_body_without_length_ends_only_with_a_clean_close(error, expected):
    async def main() -> object:
        connection, _, task = await _exchanging()
        connection.data_received(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"job_id": ')
        connection.data_received(b'"j"}')
        connection.connection_lost(error)
        return await task

    result = asyncio.run(main())

    if expected == "job":
        assert isinstance(result, HttpResponse) and result.body == b'{"job_id": "j"}'
    else:
        assert isinstance(result, TransportFailure) and result.kind == "reset" and "reset by peer" in result.detail


def test_a_kept_alive_answer_leaves_its_connection_ready_for_the_next_request():
    async def main() -> tuple[object, Connection]:
        connection, _, task = await _exchanging()
        connection.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        return await task, connection

    result, connection = asyncio.run(main())

    assert isinstance(result, HttpResponse) and result.body == b"{}"
    assert not connection.closed and connection.idle_since > 0


@pytest.mark.parametrize(("idle_seconds", "reused"), [(1.0, True), (16.0, False)])
def test_a_connection_idle_past_the_keepalive_is_closed_not_reused(idle_seconds, reused):
    async def main() -> tuple[object, Connection, _Wire]:
        pool = ConnectionPool(Route.of("http://sdrs.example.com", None), ssl.create_default_context(), 4)
        connection, wire = Connection(), _Wire()
        connection.connection_made(wire)
        now = asyncio.get_running_loop().time()
        connection.idle_since = now - idle_seconds
        pool._idle.append(connection)
        return pool._idle_connection(now), connection, wire

    taken, connection, wire = asyncio.run(main())

    # A server or a middlebox may have dropped a connection idle that long: a request on it would be lost.
    assert (taken is connection) is reused
    assert wire.aborted is not reused


def test_a_route_s_repr_keeps_the_proxy_credentials_out():
    route = Route.of("https://sdrs.example.com", "http://user:proxy-secret@proxy:3128")

    assert route.proxy_authorization is not None
    assert route.proxy_authorization.split()[1] not in repr(route) and "proxy-secret" not in repr(route)
