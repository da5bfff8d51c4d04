"""Both transports give one answer to the same wire, and a careless connection fails clearly.

Each test runs on the blocking path (``requests``) and the asynchronous one (asyncio) and talks HTTP over
loopback: to the simulator, or to a small raw server where the point is bytes no well-behaved server sends
(a 1xx answer, a negative ``Content-Length``, a NUL in a header, duplicated headers, a body without a length
that trickles past the timeout). Connection fields that cannot work (a CA directory, a file without
certificates, a line break or a non-ASCII character in a value sent in a header) are refused by the settings
with an ``SdrsConfigError`` naming the field, and the trigger always fires exactly one event.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sdrs.exceptions import (
    SdrsApiError,
    SdrsConfigError,
    SdrsConnectionError,
    SdrsError,
    SdrsValidationError,
)
from airflow_provider_sdrs.hooks.sdrs import SdrsHook
from airflow_provider_sdrs.models import SdrsJob, SdrsJobStatus
from airflow_provider_sdrs.testing.simulator import connection_for
from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger
from tests.support import LoopbackServer, TlsFront, certificates, first_payload, use_connection

PATHS = ["requests", "asyncio"]
JOB_ID = "0000000062db92d70162db9d200f000a"
DOC = json.dumps({"job_id": JOB_ID, "status": "RUNNING"}).encode()
SECRET_KEY = "raw-server-secret-key-0001"


def outcome(path: str, job_id: str = JOB_ID, conn_id: str = "sdrs_default", **kwargs: Any) -> Any:
    """What one read gives on ``path``: the job, or the SdrsError it raised (anything else propagates)."""
    hook = SdrsHook(conn_id, **{"retry_limit": 0, **kwargs})
    try:
        if path == "requests":
            return hook.get_job(job_id)
        return asyncio.run(hook.aget_job(job_id))
    except SdrsError as error:
        return error
    finally:
        hook.close()


def trigger_event(conn_id: str, job_id: str = JOB_ID) -> dict[str, Any]:
    trigger = SdrsJobTrigger(job_id, sdrs_conn_id=conn_id, poll_interval=0.01, max_poll_failures=1, poll_retry_limit=0)
    return asyncio.run(asyncio.wait_for(first_payload(trigger), 30))


# -- a raw loopback server: bytes no well-behaved HTTP server sends -------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer(LoopbackServer):
    """Answers each connection on a loopback port with ``handler``, on its own thread and loop."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.connections = 0

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            if length:
                await asyncio.wait_for(reader.readexactly(length), 10)
            await asyncio.wait_for(self.handler(reader, writer), 30)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


def answering(raw: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()

    return handler


@pytest.fixture
def raw_server(monkeypatch) -> Iterator[Callable[..., RawServer]]:
    """Starts a raw server with a handler and points ``sdrs_default`` at it (AK/SK, project id set)."""
    servers: list[RawServer] = []

    def start(handler: Handler, **extra: Any) -> RawServer:
        server = RawServer(handler).__enter__()
        servers.append(server)
        url = f"http://127.0.0.1:{server.port}"
        connection = {
            "conn_type": "sdrs",
            "host": url,
            "login": "AKRAWSERVER0001",
            "password": SECRET_KEY,
            "extra": {"project_id": "0" * 32, "iam_endpoint": f"{url}/v3", "timeout": 3, **extra},
        }
        use_connection(monkeypatch, "sdrs_default", connection)
        return server

    yield start
    for server in servers:
        server.__exit__()


def kind_of(result: Any) -> str:
    """``job``, ``api <status>``, or the transport failure's kind (``protocol error``, ``timeout error``...)."""
    if isinstance(result, SdrsJob):
        return "job"
    if isinstance(result, SdrsApiError):
        return f"api {result.status}"
    assert isinstance(result, SdrsConnectionError), repr(result)
    text = str(result)
    return next((kind for kind in ("protocol", "timeout", "reset", "connect") if f"{kind} error" in text), text)


# -- one wire, one answer ------------------------------------------------------------------------------


def _head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode("latin-1")


_LENGTH = f"Content-Length: {len(DOC)}"
ODD_ANSWERS: dict[str, tuple[bytes, str]] = {
    # A 1xx answer cannot end a response; interim ones before the real answer are skipped, as HTTP says.
    "101 as the answer": (_head("101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"), "protocol"),
    "103 then 200": (_head("103 Early Hints", "Link: </x>") + _head("200 OK", _LENGTH) + DOC, "job"),
    "102 twice then 200": (_head("102 Processing") * 2 + _head("200 OK", _LENGTH) + DOC, "job"),
    "status 000": (_head("000 Zero", "Content-Length: 0"), "protocol"),
    "status 1000": (_head("1000 Big", "Content-Length: 0"), "protocol"),
    "negative Content-Length": (_head("200 OK", "Content-Length: -1", "Connection: close") + DOC, "protocol"),
    "Content-Length with chunked": (
        _head("200 OK", "Content-Length: 5", "Transfer-Encoding: chunked")
        + b"%x\r\n" % len(DOC)
        + DOC
        + b"\r\n0\r\n\r\n",
        "protocol",
    ),
    "Content-Length listed twice": (_head("200 OK", f"{_LENGTH}, {len(DOC)}") + DOC, "protocol"),
    "Content-Length sent twice": (_head("200 OK", _LENGTH, _LENGTH) + DOC, "protocol"),
    "NUL in a header": (_head("200 OK", "X-Request-Id: a\x00b", _LENGTH) + DOC, "protocol"),
    "escape in a header": (_head("200 OK", "X-Request-Id: a\x1b[31mb", _LENGTH) + DOC, "protocol"),
    "bad chunk size": (_head("200 OK", "Transfer-Encoding: chunked") + b"zz\r\nabc\r\n0\r\n\r\n", "protocol"),
    "not HTTP at all": (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" * 10, "protocol"),
    # The bounds of a head, the same on both: 99 fields, 64 KiB a field, 16 interim answers.
    "100 header fields": (_head("200 OK", _LENGTH, *[f"X-F{i}: v" for i in range(99)]) + DOC, "protocol"),
    "a 70 KB header field": (_head("200 OK", _LENGTH, "X-Big: " + "a" * 70_000) + DOC, "protocol"),
    "17 interim answers": (_head("102 Processing") * 17 + _head("200 OK", _LENGTH) + DOC, "protocol"),
    "99 header fields": (_head("200 OK", _LENGTH, *[f"X-F{i}: v" for i in range(98)]) + DOC, "job"),
    "16 interim answers": (_head("102 Processing") * 16 + _head("200 OK", _LENGTH) + DOC, "job"),
    # A body without a length ends with the connection.
    "no length, then close": (_head("200 OK", "Connection: close") + DOC, "job"),
    "HTTP/1.0": (b"HTTP/1.0 200 OK\r\n" + _LENGTH.encode() + b"\r\n\r\n" + DOC, "job"),
    "body cut short": (_head("200 OK", f"Content-Length: {len(DOC) + 10}") + DOC, "reset"),
    "two gzip encodings": (
        _head(
            "200 OK", "Content-Encoding: gzip", "Content-Encoding: gzip", f"Content-Length: {len(gzip.compress(DOC))}"
        )
        + gzip.compress(DOC),
        "protocol",
    ),
}


@pytest.mark.parametrize("case", list(ODD_ANSWERS))
def test_an_odd_answer_ends_the_same_way_on_both_transports(case, raw_server):
    raw, expected = ODD_ANSWERS[case]
    raw_server(answering(raw))

    results = {path: kind_of(outcome(path)) for path in PATHS}

    assert results == {"requests": expected, "asyncio": expected}


def test_a_header_sent_twice_reads_the_same_on_both_transports(raw_server):
    body = json.dumps({"error_code": "SDRS.0001", "error_msg": "x"}).encode()
    raw_server(
        answering(_head("500 X", "X-Request-Id: first", "X-Request-Id: second", f"Content-Length: {len(body)}") + body)
    )

    results = {path: str(outcome(path)) for path in PATHS}

    assert results["requests"] == results["asyncio"]
    assert "first, second" in results["asyncio"]


def test_a_body_without_length_trickling_past_the_timeout_is_a_timeout_on_both_transports(raw_server):
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head("200 OK", "Content-Type: application/json", "Connection: close") + DOC)
        for _ in range(50):  # 10 s of whitespace, far past the 1 s timeout
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.write(b" ")

    raw_server(trickle, timeout=1)
    for path in PATHS:
        started = time.monotonic()
        result = outcome(path)
        took = time.monotonic() - started

        assert kind_of(result) == "timeout", (path, result)
        assert took < 2 * 1 + 1, (path, took)  # within twice the timeout, plus slack for a busy machine


@pytest.mark.parametrize("path", PATHS)
def test_endless_trailers_are_refused_long_before_the_timeout(path, raw_server):
    async def trailer_bomb(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head("200 OK", "Transfer-Encoding: chunked") + b"%x\r\n" % len(DOC) + DOC + b"\r\n0\r\n")
        writer.write(b"X-Trailer: ")
        for _ in range(20 * 16):  # 20 MB of one trailer field that never ends, sent at once
            writer.write(b"a" * 65536)
            await writer.drain()
        await asyncio.sleep(10)

    raw_server(trailer_bomb, timeout=5)
    started = time.monotonic()

    result = outcome(path)

    # Held whole until it ends, the field would grow with every byte until the timeout. (urllib3 bounds
    # trailer lines itself and calls the answer broken.)
    assert kind_of(result) == ("protocol" if path == "asyncio" else "reset"), result
    assert time.monotonic() - started < 4


# -- a kept-alive connection -------------------------------------------------------------------------------


def read_twice(path: str) -> list[Any]:
    """Two reads of the job through one hook, so that the second may reuse the first's connection."""
    hook = SdrsHook("sdrs_default", retry_limit=0)

    async def both() -> list[Any]:
        async with hook:
            return [await _caught(hook.aget_job(JOB_ID)) for _ in range(2)]

    try:
        if path == "requests":
            return [_caught_now(lambda: hook.get_job(JOB_ID)) for _ in range(2)]
        return asyncio.run(both())
    finally:
        hook.close()


async def _caught(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except SdrsError as error:
        return error


def _caught_now(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except SdrsError as error:
        return error


ANSWER = _head("200 OK", _LENGTH) + DOC
SURPLUS = {
    "a whole second answer": _head("200 OK", _LENGTH) + DOC,
    "the start of a second answer": _head("200 OK", "Content-Length: 5000") + b'{"job_id": "',
}


@pytest.mark.parametrize("surplus", list(SURPLUS))
@pytest.mark.parametrize("path", PATHS)
def test_bytes_after_an_answer_retire_its_connection(path, surplus, raw_server):
    async def answer_and_more(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(ANSWER + SURPLUS[surplus])
        while True:  # the next requests on this connection, if the client sends any, get proper answers
            await reader.readuntil(b"\r\n\r\n")
            writer.write(ANSWER)

    server = raw_server(answer_and_more)

    results = [kind_of(result) for result in read_twice(path)]

    # Reused, the connection would hand the second read the surplus (or the rest of the answer as the
    # surplus's body): the read would time out or see a foreign document.
    assert results == ["job", "job"]
    if path == "asyncio":
        # Retired at once (the blocking path drops bytes that came with an answer along with its buffer).
        assert server.connections == 2


def test_a_read_on_a_kept_alive_connection_the_server_dropped_is_sent_again_on_a_new_one(raw_server):
    dropped: list[int] = []

    async def answer_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(ANSWER)  # keep-alive, as HTTP/1.1 is by default
        await reader.readuntil(b"\r\n\r\n")  # the next request arrives, and the server drops it
        dropped.append(server.connections)
        transport = writer.transport
        if isinstance(transport, asyncio.Transport):
            transport.abort()

    server = raw_server(answer_then_drop)

    results = [kind_of(result) for result in read_twice("asyncio")]

    # With no retries allowed, only the transport's own second try can save the second read: a request
    # that got no byte of an answer on a reused connection is sent once more (RFC 9112, 9.3.1), if it is
    # idempotent.
    assert results == ["job", "job"]
    assert dropped == [1] and server.connections == 2


# -- deadlines -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("deadline", [math.nan, math.inf, -math.inf, "soon", True])
@pytest.mark.parametrize("path", PATHS)
def test_an_unusable_deadline_is_refused_naming_it_before_anything_is_sent(path, deadline, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    hook = SdrsHook(retry_limit=2, retry_delay=0.01)

    with pytest.raises(SdrsValidationError) as raised:
        if path == "requests":
            hook.get_job(job_id, deadline=deadline)
        else:
            asyncio.run(hook.aget_job(job_id, deadline=deadline))

    assert raised.value.field == "deadline"
    assert sim.records == []


def test_both_transports_word_a_passed_deadline_the_same_way(sdrs_connection):
    from airflow_provider_sdrs._core import reads
    from airflow_provider_sdrs._core.deadline import Deadline
    from airflow_provider_sdrs._core.exchange import build_api_request

    sim = sdrs_connection.simulator
    hook = SdrsHook(retry_limit=0)
    request = build_api_request(
        hook._settings, reads.job(sim.add_job()).call, project_id=hook._settings.project_id, token=None
    )
    gone = Deadline(time.time() - 1)

    blocking = hook._transport.send(request, gone)

    async def on_the_loop() -> Any:
        async with hook:
            assert hook._async_transport is not None
            return await hook._async_transport.send(request, gone)

    asynchronous = asyncio.run(on_the_loop())
    hook.close()
    assert blocking == asynchronous
    assert "deadline passed" in asynchronous.detail
    assert sim.records == []


# -- a careless connection is a clear config error, on both transports and in the trigger ---------------


def _ca_problems(tmp_path: Path) -> dict[str, str]:
    not_pem = tmp_path / "not-pem.pem"
    not_pem.write_text("not a certificate\n")
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    directory = tmp_path / "certs"
    directory.mkdir()
    return {"directory": str(directory), "not PEM": str(not_pem), "broken PEM": str(broken)}


@pytest.mark.parametrize("problem", ["directory", "not PEM", "broken PEM"])
def test_a_ca_bundle_that_is_not_a_file_of_certificates_names_extra_verify(problem, monkeypatch, tmp_path):
    verify = _ca_problems(tmp_path)[problem]
    connection = connection_for("https://127.0.0.1:9", verify=verify, timeout=2)
    use_connection(monkeypatch, "sdrs_ca", connection)

    for path in PATHS:
        result = outcome(path, conn_id="sdrs_ca")
        assert isinstance(result, SdrsConfigError), (path, result)
        assert result.field == "extra.verify"
    event = trigger_event("sdrs_ca")
    assert event["status"] == "error"
    assert "sdrs_ca" in event["message"] and "extra.verify" in event["message"]


HEADER_FIELDS = [
    ("aksk", "login", "AKPROBE\n0001"),
    ("aksk", "login", "AKPROBE\r\nX-Evil: 1"),
    ("aksk", "login", "AKPROBE\x000001"),
    ("aksk", "login", "AKPROBE\u20ac0001"),
    ("aksk", "password", "secret-key\n-second-line"),
    ("aksk", "security_token", "tok-line1\ntok-line2-SECRET"),
    ("aksk", "security_token", "tok\u20acen-1234-SECRET"),
    ("password", "domain_name", "domain\r\nX-Evil: 1"),
    ("password", "project_name", "eu-de\x00"),
]


@pytest.mark.parametrize(("auth", "field", "value"), HEADER_FIELDS)
def test_a_character_a_header_cannot_carry_names_the_field(auth, field, value, sdrs_simulator, monkeypatch):
    connection = connection_for(sdrs_simulator.url, auth, sdrs_simulator.credentials)
    if field in ("login", "password"):
        connection[field] = value
    else:
        connection["extra"][field] = value
    use_connection(monkeypatch, "sdrs_chars", connection)

    messages = []
    for path in PATHS:
        result = outcome(path, job_id=sdrs_simulator.add_job(), conn_id="sdrs_chars")
        assert isinstance(result, SdrsConfigError), (path, result)
        assert field in result.field
        messages.append(str(result))
    event = trigger_event("sdrs_chars")

    assert messages[0] == messages[1]
    assert event["status"] == "error" and "sdrs_chars" in event["message"] and field in event["message"]
    assert sdrs_simulator.records == []
    if field in ("password", "security_token"):
        assert all(value not in text and "SECRET" not in text for text in (*messages, event["message"]))


# -- the trigger always fires one event -----------------------------------------------------------------


def test_an_unexpected_failure_still_fires_one_scrubbed_error_event(sdrs_connection, monkeypatch, capsys):
    sim = sdrs_connection.simulator
    job_id = sim.add_job()
    secret = sim.credentials.secret_key

    from airflow_provider_sdrs._core.reads import Read

    def broken(self, answer: dict[str, Any]) -> SdrsJob:
        raise RuntimeError(f"boom via http://user:proxy-pass@proxy.example.com\nforged line {secret} " + "x" * 5000)

    monkeypatch.setattr(Read, "result", broken)
    trigger = SdrsJobTrigger(job_id, poll_interval=0.01, max_poll_failures=1, poll_retry_limit=0)

    async def every_event() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(asyncio.wait_for(every_event(), 30))

    assert len(events) == 1
    event = events[0]
    assert event["status"] == "error" and event["job_id"] == job_id
    message = event["message"]
    assert "sdrs_default" in message and job_id in message and "RuntimeError" in message
    assert secret not in message and "proxy-pass" not in message and "\n" not in message
    assert len(message) < 1000
    logged = capsys.readouterr()
    text = logged.out + logged.err
    assert "failed unexpectedly" in text and "Traceback" in text


# -- TLS session keys stay in memory ---------------------------------------------------------------------


@pytest.mark.parametrize("verify", ["pinned", "off"])
@pytest.mark.parametrize("auth", ["aksk", "password"])
@pytest.mark.parametrize("path", PATHS)
def test_sslkeylogfile_gets_no_tls_keys(path, auth, verify, sdrs_simulator, monkeypatch, tmp_path):
    ca, cert, key = certificates(tmp_path)
    keylog = tmp_path / "keys.log"
    with TlsFront(sdrs_simulator.port, cert, key) as front:
        # Set once the front's own context exists: only the client's sessions are in question.
        monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
        url = f"https://127.0.0.1:{front.port}"
        # The IAM token request goes over TLS too, with the password in its body.
        connection = connection_for(
            url, auth, sdrs_simulator.credentials, verify=str(ca) if verify == "pinned" else False
        )
        use_connection(monkeypatch, "sdrs_tls", connection)

        job = outcome(path, job_id=sdrs_simulator.add_job(init_seconds=0, run_seconds=0), conn_id="sdrs_tls")

    assert isinstance(job, SdrsJob) and job.status is SdrsJobStatus.SUCCESS, job
    assert not keylog.exists() or keylog.read_bytes() == b""
