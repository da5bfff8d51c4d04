"""Hostile transports: answers too big, compressed into bombs, trickled, never sent, or with cookies.

Each stops as soon as the client hangs up, so a client that gives up in time costs the server nothing.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from airflow_provider_sdrs.testing.simulator.faults import Fault

# A typed request key where aiohttp has them (3.12+), a plain string before.
_COOKIE_KEY: Any = web.RequestKey("sdrs_simulator_set_cookie", str) if hasattr(web, "RequestKey") else "set_cookie"
_BLACK_HOLE_SECONDS = 300.0
_STREAM_CHUNK = 64 * 1024


async def transport_fault(request: web.Request, fault: Fault) -> web.StreamResponse | None:
    """The hostile-transport faults; each stops as soon as the client hangs up."""
    kind = fault.kind
    if kind == "set_cookie":
        request[_COOKIE_KEY] = fault.cookie
        return None
    if kind == "black_hole":
        await _hold(request, fault.delay or _BLACK_HOLE_SECONDS)
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=599)
    if kind == "oversized":
        return await _stream_body(request, fault, _padded(fault.size, fault.body_status), compress=False)
    if kind == "gzip_bomb":
        return await _stream_body(request, fault, _padded(fault.size, fault.body_status), compress=True)
    if kind == "trickle":
        return await _trickle(request, fault)
    return None


def _hung_up(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


async def _hold(request: web.Request, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not _hung_up(request):
        await asyncio.sleep(0.05)


def _frame(status: int) -> tuple[bytes, bytes]:
    if status >= 400:
        return b"<html><head><title>Error</title></head><body><p>", b"</p></body></html>"
    return b'{"status": "RUNNING", "padding": "', b'"}'


def _padded_size(size: int, status: int) -> int:
    head, tail = _frame(status)
    return max(size, len(head) + len(tail))


def _padded(size: int, status: int) -> Iterator[bytes]:
    """``size`` bytes of a JSON object (or an HTML page for an error status), produced chunk by chunk."""
    head, tail = _frame(status)
    yield head
    left = _padded_size(size, status) - len(head) - len(tail)
    block = b"a" * _STREAM_CHUNK
    while left > 0:
        yield block[: min(left, _STREAM_CHUNK)]
        left -= _STREAM_CHUNK
    yield tail


async def _stream_body(
    request: web.Request, fault: Fault, parts: Iterator[bytes], *, compress: bool
) -> web.StreamResponse:
    content_type = "text/html" if fault.body_status >= 400 else "application/json"
    response = web.StreamResponse(status=fault.body_status, headers={"Content-Type": content_type})
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS) if compress else None
    if deflate is not None:
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.content_length = _padded_size(fault.size, fault.body_status)
    await response.prepare(request)
    try:
        for part in parts:
            if _hung_up(request):
                return response
            data = deflate.compress(part) if deflate is not None else part
            if data:
                await response.write(data)
        if deflate is not None:
            await response.write(deflate.flush())
        await response.write_eof()
    except ConnectionError:
        pass  # the client stopped reading, as it should
    return response


async def _trickle(request: web.Request, fault: Fault) -> web.StreamResponse:
    body = b"".join(_padded(fault.size, fault.body_status)) if fault.size else b'{"status": "RUNNING"}'
    reason = "OK" if fault.body_status < 400 else "Error"
    head = (
        f"HTTP/1.1 {fault.body_status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    slow, fast = (head, body) if fault.part == "headers" else (body, head)
    transport = request.transport
    if transport is None:
        return web.Response(status=599)
    if fault.part != "headers":
        transport.write(fast)
    for index in range(len(slow)):
        if transport.is_closing():
            return web.Response(status=599)
        transport.write(slow[index : index + 1])
        await asyncio.sleep(fault.delay)
    if fault.part == "headers":
        transport.write(fast)
    transport.close()
    return web.Response(status=599)


async def add_cookie(request: web.Request, response: web.StreamResponse) -> None:
    cookie = request.get(_COOKIE_KEY)
    if cookie:
        response.headers["Set-Cookie"] = cookie
