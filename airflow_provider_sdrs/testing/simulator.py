"""A local SDRS: the IAM token endpoint, the API gateway's authentication and SDRS jobs, over real HTTP.

It serves what the provider talks to, the way the cloud does it:

* ``POST /v3/auth/tokens``: project-scoped IAM tokens for its one user (HTTP 201, ``X-Subject-Token``);
* the gateway's authentication of every ``/v1/...`` request: a valid ``X-Auth-Token``, or an
  SDK-HMAC-SHA256 signature that it recomputes from the request as received, with the 15-minute
  ``X-Sdk-Date`` window; failures answer 401 as the gateway does;
* ``GET /v1/{project_id}/jobs/{job_id}``: jobs that move through scripted statuses over time, with
  sub-jobs, ``error_code``, ``fail_reason`` and begin/end times;
* ``GET /v1/{project_id}/sdrs/quotas``: a cheap authenticated read, used by connection tests;
* fault injection, for every request or only some: error statuses, throttling with ``Retry-After``,
  delays, dropped connections, malformed or empty bodies, HTML error pages, revoked tokens.

Use it in-process (``with SdrsSimulator() as sim:``), from pytest (the ``sdrs_simulator`` fixture), or as
a server: ``python -m airflow_provider_sdrs.testing.simulator --port 8080``. Other processes can drive it
through ``/_sim/...`` (see :meth:`SdrsSimulator.control_routes`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import secrets
import signal
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web

from airflow_provider_sdrs._core import signing
from airflow_provider_sdrs.testing.resources import ResourceModel

PROJECT_ID = "0123456789abcdef0123456789abcdef"
NULL_JOB_CODE = "SDRS.0408"
SKEW_LIMIT = 15 * 60


@dataclass(frozen=True)
class SimulatorCredentials:
    """The credentials the simulator accepts. None of them is a real secret."""

    access_key: str = "SIMULATORACCESSKEY0001"
    secret_key: str = "simulator-secret-key"
    user: str = "sdrs-operator"
    password: str = "simulator-password"
    domain: str = "sdrs-simulated-domain"
    project_id: str = PROJECT_ID
    project_name: str = "eu-de"
    security_token: str | None = None


@dataclass
class Fault:
    """A failure to inject, ``count`` times, into the requests it matches.

    :param kind: ``status`` (answer ``status`` with an SDRS error body), ``throttle`` (429, with
        ``Retry-After: retry_after`` when given), ``html`` (``status`` with an HTML page), ``reset``
        (drop the connection without answering), ``delay`` (wait ``delay`` seconds, then answer
        normally), ``malformed`` (200 with broken JSON), ``empty`` (200 with no body), ``revoke_tokens``
        (revoke every IAM token, then authenticate as usual, so a token request gets a 401),
        ``lost_answer`` (act on the request as usual, then drop the connection instead of answering: the
        client cannot tell whether SDRS acted), ``reshape`` (answer as usual, without the keys in ``drop`` and
        with the keys of ``add``: a job document that changed shape), ``gateway_404`` (HTTP 404 from the API
        gateway with code ``code`` or ``APIGW.0101``: a route the gateway does not know right now, which says
        nothing about the job), ``other_job`` (a job read answered with the document of another job: job
        ``other_id`` when the simulator has it, else this job's document under the id ``other_id`` or a
        fresh one with fresh entity ids; a protection group or DR drill read answered with the document of
        ``other_id`` or a fresh id).
        Hostile documents, answered instead of the job (or the request's) document: ``echo`` (HTTP ``status``
        with an error body whose message echoes the request's headers and body, as a WAF or debug page
        does: the token, the security token and an IAM request's password come back), ``non_finite`` (the
        job document with ``number``, such as ``NaN``, ``Infinity`` or ``1e999``, in its entities),
        ``deep`` (the job document with an entity nested ``depth`` levels deep), ``huge_sub_jobs`` (the job
        document with ``sub_jobs`` sub-jobs), ``control_chars`` (the job document with CR/LF, ANSI escapes and
        other control characters in ``job_type``, ``error_code``, ``fail_reason`` and a sub-job, and a
        ``fail_reason`` of ``text_size`` characters).
    :param target: ``job`` (job reads), ``iam`` (token requests), ``api`` (every ``/v1`` request),
        ``submit`` (``/v1`` requests that change something: POST, PUT, DELETE) or ``any``.
    :param job_id: only requests for this job.
    :param count: how many matching requests it hits; ``-1`` for all of them until cleared.
    :param probability: the chance that it hits a matching request (drawn from the simulator's seeded
        random generator, so a run can be repeated).
    :param other_id: for ``other_job``, the id of the other job, group or drill.
    :param after: how many matching requests it lets through before it hits (for example to fail a
        job read once the job was seen).
    :param number: for ``non_finite``, the literal put in the document.
    :param depth: for ``deep``, how many arrays are nested.
    :param sub_jobs: for ``huge_sub_jobs``, how many sub-jobs the document lists.
    :param text_size: for ``control_chars``, the length of ``fail_reason``.
    :param size: bytes of the body of ``oversized`` and ``gzip_bomb`` (after decompression), and of
        ``trickle`` when not 0.
    :param part: what ``trickle`` sends slowly: ``headers`` or ``body``.
    :param body_status: the HTTP status of ``oversized``, ``gzip_bomb`` and ``trickle`` answers.
    :param cookie: the ``Set-Cookie`` value of ``set_cookie``.

    Hostile transports: ``oversized`` (a body of ``size`` bytes, streamed lazily: a JSON object, or an HTML
    page when ``body_status`` is an error), ``gzip_bomb`` (a gzip body that inflates to ``size`` bytes,
    compressed as it is sent), ``trickle`` (a complete answer whose ``part`` comes one byte every
    ``delay`` seconds), ``black_hole`` (read the request and never answer, for ``delay`` seconds or until
    the client hangs up; 300 s when ``delay`` is 0), ``set_cookie`` (answer as usual, with
    ``Set-Cookie: cookie``). Each stops as soon as the client hangs up.
    """

    kind: str
    target: str = "job"
    job_id: str | None = None
    count: int = 1
    status: int = 503
    code: str | None = None
    retry_after: str | None = None
    delay: float = 0.0
    drop: tuple[str, ...] = ()
    add: dict[str, Any] | None = None
    probability: float = 1.0
    other_id: str | None = None
    after: int = 0
    number: str = "NaN"
    depth: int = 100_000
    sub_jobs: int = 100_000
    text_size: int = 1_000_000
    size: int = 0
    part: str = "body"
    body_status: int = 200
    cookie: str = "sdrs-simulated-session=abc123; Path=/"

    KINDS = (
        "status",
        "throttle",
        "html",
        "reset",
        "delay",
        "malformed",
        "empty",
        "revoke_tokens",
        "lost_answer",
        "reshape",
        "gateway_404",
        "other_job",
        "echo",
        "non_finite",
        "deep",
        "huge_sub_jobs",
        "control_chars",
        "oversized",
        "gzip_bomb",
        "trickle",
        "black_hole",
        "set_cookie",
    )
    TARGETS = ("job", "iam", "api", "submit", "any")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"fault kind must be one of {self.KINDS}, got {self.kind!r}")
        if self.target not in self.TARGETS:
            raise ValueError(f"fault target must be one of {self.TARGETS}, got {self.target!r}")

    def matches(self, route: str, job_id: str | None, method: str = "GET") -> bool:
        if self.count == 0:
            return False
        if self.target == "any":
            hit = True
        elif self.target == "api":
            hit = route != "iam"
        elif self.target == "submit":
            hit = route == "api" and method in ("POST", "PUT", "DELETE")
        else:
            hit = self.target == route
        return hit and (self.job_id is None or self.job_id == job_id)


@dataclass
class SimJob:
    """A scripted job: ``lifecycle`` is a list of (status, seconds) from creation; the last one lasts."""

    job_id: str
    job_type: str
    lifecycle: list[tuple[str, float]]
    entities: dict[str, Any]
    created: float
    error_code: str | None = None
    fail_reason: str | None = None
    sub_jobs: list[SimJob] = field(default_factory=list)
    polls: int = 0
    clock_from_first_poll: bool = False

    def poll(self, now: float) -> dict[str, Any]:
        if self.polls == 0 and self.clock_from_first_poll:
            self.restart(now)
        self.polls += 1
        return self.document(now)

    def restart(self, now: float) -> None:
        self.created = now
        for sub in self.sub_jobs:
            sub.restart(now)

    def state_at(self, now: float) -> tuple[str, float | None]:
        """The status at ``now`` and, if that status is terminal, when it was reached."""
        elapsed = now - self.created
        mark = 0.0
        for index, (status, seconds) in enumerate(self.lifecycle):
            last = index == len(self.lifecycle) - 1
            if last or elapsed < mark + seconds:
                terminal_since = self.created + mark if status in ("SUCCESS", "FAIL") else None
                return status, terminal_since
            mark += seconds
        raise AssertionError("unreachable")  # pragma: no cover

    def document(self, now: float) -> dict[str, Any]:
        status, ended = self.state_at(now)
        entities = dict(self.entities)
        if self.sub_jobs:
            entities["sub_jobs"] = [sub.document(now) for sub in self.sub_jobs]
        failed = status == "FAIL"
        return {
            "job_id": self.job_id,
            "job_type": self.job_type,
            "status": status,
            "entities": entities,
            "begin_time": _iso(self.created),
            "end_time": _iso(ended) if ended is not None else None,
            "error_code": self.error_code if failed else None,
            "fail_reason": self.fail_reason if failed else None,
        }


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_job_id() -> str:
    """A 32-hex-character id like the ones SDRS issues."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class RequestRecord:
    method: str
    raw_path: str
    route: str
    status: int
    peer: str
    headers: Mapping[str, str]
    at: float


class SdrsSimulator:
    """A local SDRS over HTTP on loopback.

    :param host: address to listen on (loopback by default).
    :param port: port; 0 picks a free one.
    :param credentials: what it accepts.
    :param token_ttl: lifetime of the IAM tokens it issues, seconds.
    :param unknown_job_status: HTTP status for a job it does not know; the body always carries
        ``SDRS.0408`` "Null job", which the SDRS error table lists with HTTP 500.
    :param clock_offset: seconds added to the simulator's clock when it checks ``X-Sdk-Date`` and when it
        states the ``issued_at`` and ``expires_at`` of IAM tokens (to play a gateway and an IAM whose clock
        differs from the client's).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        credentials: SimulatorCredentials | None = None,
        token_ttl: float = 24 * 3600.0,
        unknown_job_status: int = 500,
        clock_offset: float = 0.0,
    ) -> None:
        self.host = host
        self.port = port
        self._defaults = (credentials or SimulatorCredentials(), token_ttl, unknown_job_status, clock_offset)
        self._random = random.Random(20261128)
        self.credentials, self.token_ttl, self.unknown_job_status, self.clock_offset = self._defaults
        self._lock = threading.RLock()
        self._jobs: dict[str, SimJob] = {}
        self._faults: list[Fault] = []
        self._tokens: dict[str, float] = {}
        self._records: list[RequestRecord] = []
        self.resources = self._new_resources()
        self._peers: set[str] = set()
        self.counters: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._startup_error: BaseException | None = None
        self.keep_records = True

    # -- scripting ---------------------------------------------------------------------------------

    def add_job(
        self,
        job_id: str | None = None,
        *,
        outcome: str = "SUCCESS",
        init_seconds: float = 0.2,
        run_seconds: float = 1.0,
        job_type: str = "createDisasterRecoveryDrill",
        entities: dict[str, Any] | None = None,
        error_code: str | None = None,
        fail_reason: str | None = None,
        sub_jobs: int = 0,
        lifecycle: list[tuple[str, float]] | None = None,
        clock_from_first_poll: bool = False,
    ) -> str:
        """Create a job and return its id.

        By default it is ``INIT`` for ``init_seconds``, ``RUNNING`` for ``run_seconds``, then
        ``outcome``. ``lifecycle`` replaces that with any sequence of (status, seconds); the last
        status holds for ever (so ``[("RUNNING", 0)]`` never ends). With ``clock_from_first_poll`` the
        lifecycle starts when the job is first read rather than when it is created.
        """
        job_id = job_id or new_job_id()
        if outcome not in ("SUCCESS", "FAIL"):
            raise ValueError(f"outcome must be SUCCESS or FAIL, got {outcome!r}")
        if outcome == "FAIL":
            error_code = error_code or "SDRS.0206"
            fail_reason = fail_reason or "The replication of the protected instance failed."
        steps = lifecycle or [("INIT", init_seconds), ("RUNNING", run_seconds), (outcome, 0.0)]
        now = time.time()
        subs: list[SimJob] = []
        for index in range(sub_jobs):
            sub_fails = outcome == "FAIL" and index == sub_jobs - 1
            sub_steps = [(status, seconds * 0.9) for status, seconds in steps[:-1]]
            sub_steps.append(("FAIL" if sub_fails else "SUCCESS", 0.0))
            subs.append(
                SimJob(
                    job_id=new_job_id(),
                    job_type=job_type.replace("NoCG", "RepNoCG") if "NoCG" in job_type else job_type + "Sub",
                    lifecycle=sub_steps,
                    entities={k: v for k, v in (entities or {}).items() if k != "sub_jobs"},
                    created=now,
                    error_code=error_code if sub_fails else None,
                    fail_reason=fail_reason if sub_fails else None,
                )
            )
        job = SimJob(
            job_id=job_id,
            job_type=job_type,
            lifecycle=list(steps),
            entities=dict(entities) if entities is not None else {"server_group_id": str(uuid.uuid4())},
            created=now,
            error_code=error_code,
            fail_reason=fail_reason,
            sub_jobs=subs,
            clock_from_first_poll=clock_from_first_poll,
        )
        with self._lock:
            self._jobs[job_id] = job
        return job_id

    def _new_resources(self) -> ResourceModel:
        def job_status(job_id: str) -> str:
            return self._jobs[job_id].state_at(time.time())[0]

        return ResourceModel(add_job=self.add_job, job_status=job_status)

    def add_group(self, *, status: str = "protected", name: str = "group-1", **fields: Any) -> str:
        """Create a protection group in ``status`` at once (no job); returns its id."""
        with self._lock:
            return self.resources.add_group(status=status, name=name, **fields)

    def add_drill(self, server_group_id: str, *, status: str = "available", name: str = "drill-1") -> str:
        """Create a DR drill in ``status`` at once (no job); returns its id."""
        with self._lock:
            return self.resources.add_drill(server_group_id, status=status, name=name)

    def resource_status(self, kind: str, resource_id: str) -> str | None:
        """The status of a ``group`` or ``drill`` now, or ``None`` once it is gone."""
        with self._lock:
            self.resources.settle()
            table = self.resources.groups if kind == "group" else self.resources.drills
            resource = table.get(resource_id)
            return resource.status if resource else None

    def job_document(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            return self._jobs[job_id].document(time.time())

    def resources_view(self) -> dict[str, Any]:
        """Groups and drills by id with their statuses, and submissions by job type."""
        with self._lock:
            self.resources.settle()
            return {
                "groups": {key: {"status": r.status, **r.fields} for key, r in self.resources.groups.items()},
                "drills": {key: {"status": r.status, **r.fields} for key, r in self.resources.drills.items()},
                "submissions": dict(self.resources.submissions),
            }

    def job_polls(self, job_id: str) -> int:
        with self._lock:
            return self._jobs[job_id].polls

    def add_fault(self, kind: str, **options: Any) -> Fault:
        """Inject a fault; see :class:`Fault` for the options."""
        fault = Fault(kind=kind, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def revoke_tokens(self) -> None:
        """Make every IAM token issued so far invalid, as an expiry or revocation would."""
        with self._lock:
            self._tokens.clear()

    def reset(self) -> None:
        """Forget jobs, faults, tokens, records and counters; restore the settings it was built with."""
        with self._lock:
            self._jobs.clear()
            self._faults.clear()
            self._tokens.clear()
            self._records.clear()
            self._peers.clear()
            self.counters.clear()
            self.resources = self._new_resources()
            self.credentials, self.token_ttl, self.unknown_job_status, self.clock_offset = self._defaults
            self._random = random.Random(20261128)

    @property
    def records(self) -> list[RequestRecord]:
        """Every request received (method, raw path, route, status, peer, headers)."""
        with self._lock:
            return list(self._records)

    @property
    def connections_seen(self) -> int:
        """Distinct client TCP connections that sent at least one request."""
        with self._lock:
            return len(self._peers)

    # -- connection helpers ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if not self._started.is_set():
            raise RuntimeError("the simulator is not running")
        return f"http://{self.host}:{self.port}"

    def connection_dict(self, auth_type: str = "aksk", **extra_overrides: Any) -> dict[str, Any]:
        """An Airflow connection (as a dict) that reaches this simulator."""
        return connection_for(self.url, auth_type, self.credentials, **extra_overrides)

    def connection_json(self, auth_type: str = "aksk", **extra_overrides: Any) -> str:
        """The connection as JSON, the value for an ``AIRFLOW_CONN_<ID>`` environment variable."""
        return json.dumps(self.connection_dict(auth_type, **extra_overrides))

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SdrsSimulator:
        """Serve in a background thread; returns once the port is bound."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._serve_in_thread, name="sdrs-simulator", daemon=True)
        self._thread.start()
        self._started.wait(timeout=30)
        if self._startup_error is not None:
            raise RuntimeError(f"the SDRS simulator could not start: {self._startup_error}")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        self._thread = None
        self._started.clear()

    def __enter__(self) -> SdrsSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve_in_thread(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open())
        except BaseException as error:  # the caller waits on _started and reports this
            self._startup_error = error
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close())
            loop.close()

    async def _open(self) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_response_prepare.append(_add_cookie)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=2048, reuse_address=True)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        if self.port == 0 and sockets:
            self.port = sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def serve_forever(self) -> None:
        """Serve on the running event loop until cancelled (used by the command line)."""
        self._loop = asyncio.get_running_loop()
        await self._open()
        self._started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await self._close()

    # -- HTTP --------------------------------------------------------------------------------------

    def _record(self, request: web.Request, route: str, status: int) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peer_text = f"{peer[0]}:{peer[1]}" if peer else "?"
        with self._lock:
            self._peers.add(peer_text)
            self.counters[f"{route}:{status}"] += 1
            self.counters[route] += 1
            if self.keep_records:
                self._records.append(
                    RequestRecord(
                        request.method, request.raw_path, route, status, peer_text, dict(request.headers), time.time()
                    )
                )

    def _take_fault(self, route: str, job_id: str | None, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(route, job_id, method) and (
                    fault.probability >= 1.0 or self._random.random() < fault.probability
                ):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    if fault.count > 0:
                        fault.count -= 1
                    return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = urlsplit(request.raw_path).path
        if path.startswith("/_sim/"):
            return await self._control(request, path)
        parts = path.split("/")
        route, job_id = "other", None
        if request.method == "POST" and path.rstrip("/").endswith("/v3/auth/tokens"):
            route = "iam"
        elif len(parts) >= 3 and parts[1] == "v1":
            route = "api"
            if len(parts) == 5 and parts[3] == "jobs":
                route, job_id = "job", parts[4]
        fault = self._take_fault(route, job_id, request.method)
        if fault is not None and fault.kind not in ("lost_answer", "reshape"):
            injected = await self._inject(request, fault)
            if injected is not None:
                self._record(request, route, injected.status)
                return injected
        if route == "iam":
            response = await self._issue_token(request)
        elif route in ("api", "job"):
            body = await request.read()
            response = self._authenticate(request, parts[2], body) or self._api(request, parts, job_id, body)
        else:
            response = _error(404, "APIGW.0101", "The API does not exist or has not been published.")
        if fault is not None and fault.kind == "reshape" and 200 <= response.status < 300:
            response = _reshaped(response, fault)
        self._record(request, route, response.status)
        if fault is not None and fault.kind == "lost_answer" and request.transport is not None:
            request.transport.abort()
        return response

    async def _inject(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        kind = fault.kind
        if kind in _TRANSPORT_KINDS:
            return await _transport_fault(request, fault)
        if kind == "delay":
            await asyncio.sleep(fault.delay)
            return None
        if kind == "revoke_tokens":
            self.revoke_tokens()
            return None
        if kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=599)
        if kind == "throttle":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return _error(429, "APIGW.0308", "The throttling threshold has been reached.", headers=headers)
        if kind == "html":
            page = f"<html><head><title>{fault.status} Bad Gateway</title></head><body><h1>{fault.status}</h1></body>"
            return web.Response(status=fault.status, text=page, content_type="text/html")
        if kind == "malformed":
            return web.Response(status=200, text='{"status": "RUNNING", "job_id": ', content_type="application/json")
        if kind == "empty":
            return web.Response(status=200, body=b"", content_type="application/json")
        if kind == "gateway_404":
            return _error(404, fault.code or "APIGW.0101", "The API does not exist or has not been published.")
        if kind == "other_job":
            return await self._other_answer(request, fault)
        if kind == "echo":
            return await _echo(request, fault)
        if kind in ("non_finite", "deep", "huge_sub_jobs", "control_chars"):
            return _hostile_document(self._hostile_base(request), fault)
        return _error(fault.status, fault.code or "SDRS.0013", "Internal error (injected by the simulator).")

    async def _other_answer(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        """The answer to ``request`` as usual, but about another job, group or drill (fault ``other_job``)."""
        path = urlsplit(request.raw_path).path
        parts = path.split("/")
        if request.method != "GET" or len(parts) < 5 or parts[1] != "v1":
            return None
        body = await request.read()
        refused = self._authenticate(request, parts[2], body)
        if refused is not None:
            return refused
        job_id = parts[4] if len(parts) == 5 and parts[3] == "jobs" else None
        response = self._api(request, parts, job_id, body)
        if response.status != 200 or not isinstance(response, web.Response) or response.body is None:
            return response
        document = json.loads(bytes(response.body))  # type: ignore[arg-type]
        other = fault.other_id or str(uuid.uuid4())
        if job_id is not None:
            with self._lock:
                known = self._jobs.get(other)
                if known is not None:
                    return web.json_response(known.document(time.time()))
            entities = document.get("entities") or {}
            for key, value in list(entities.items()):
                if key.endswith("_id") and isinstance(value, str):
                    entities[key] = str(uuid.uuid4())
            document["job_id"] = fault.other_id or new_job_id()
            return web.json_response(document)
        for key in ("server_group", "disaster_recovery_drill"):
            if isinstance(document.get(key), dict):
                document[key]["id"] = other
        return web.json_response(document)

    async def _issue_token(self, request: web.Request) -> web.Response:
        self.counters["token_requests"] += 1
        try:
            document = json.loads(await request.read())
            identity = document["auth"]["identity"]
            user = identity["password"]["user"]
            scope = document["auth"].get("scope", {}).get("project", {})
        except (ValueError, KeyError, TypeError):
            return _iam_error(400, "The request body is not a valid token request.")
        creds = self.credentials
        if identity.get("methods") != ["password"]:
            return _iam_error(400, "Only the password method is supported by the simulator.")
        if (
            user.get("name") != creds.user
            or user.get("password") != creds.password
            or (user.get("domain") or {}).get("name") != creds.domain
        ):
            return _iam_error(401, "The username or password is wrong.")
        if scope.get("id") not in (None, creds.project_id) or scope.get("name") not in (None, creds.project_name):
            return _iam_error(401, "The project in the scope does not exist or is not accessible.")
        token = "MIIsim" + secrets.token_urlsafe(48)
        issued = time.time()
        expires = issued + self.token_ttl
        with self._lock:
            self._tokens[token] = expires
        # IAM states the times by its own clock, which may differ from the client's.
        body = {
            "token": {
                "expires_at": _iso(expires + self.clock_offset),
                "issued_at": _iso(issued + self.clock_offset),
                "methods": ["password"],
                "project": {"id": creds.project_id, "name": creds.project_name, "domain": {"name": creds.domain}},
                "user": {"name": creds.user, "domain": {"name": creds.domain}},
            }
        }
        return web.json_response(body, status=201, headers={"X-Subject-Token": token})

    def _authenticate(self, request: web.Request, project_id: str, body: bytes) -> web.Response | None:
        """The gateway's check; ``None`` when the request may pass."""
        token = request.headers.get("X-Auth-Token")
        if token is not None:
            with self._lock:
                expires = self._tokens.get(token)
            if expires is None or expires < time.time():
                return _error(401, "APIGW.0301", "Incorrect IAM authentication information: token expired or invalid.")
            return None
        authorization = request.headers.get("Authorization")
        if not authorization:
            return _error(401, "APIGW.0301", "Incorrect IAM authentication information: no credentials.")
        fields = signing.parse_authorization(authorization)
        if fields is None:
            return _error(401, "APIGW.0301", "Incorrect IAM authentication information: unsupported Authorization.")
        creds = self.credentials
        if fields["Access"] != creds.access_key:
            return _error(401, "APIGW.0301", "Incorrect IAM authentication information: unknown access key.")
        names = fields["SignedHeaders"].split(";")
        if "host" not in names or "x-sdk-date" not in names:
            return _error(
                401, "APIGW.0301", "Incorrect IAM authentication information: host and x-sdk-date must be signed."
            )
        date = request.headers.get(signing.DATE_HEADER, "")
        try:
            sent = datetime.strptime(date, signing.DATE_FORMAT).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            return _error(401, "APIGW.0301", "Incorrect IAM authentication information: bad x-sdk-date.")
        if abs(time.time() + self.clock_offset - sent) > SKEW_LIMIT:
            return _error(
                401,
                "APIGW.0301",
                "Incorrect IAM authentication information: the request time differs from the server time by more "
                "than 15 minutes.",
            )
        if creds.security_token and request.headers.get("X-Security-Token") != creds.security_token:
            return _error(401, "APIGW.0301", "Incorrect IAM authentication information: bad security token.")
        missing = [name for name in names if name not in {key.lower() for key in request.headers}]
        if missing:
            return _error(401, "APIGW.0301", f"Incorrect IAM authentication information: missing {missing}.")
        signed = {name: request.headers[name] for name in names}
        raw = urlsplit(request.raw_path)
        query = parse_qsl(raw.query, keep_blank_values=True)
        canonical, _ = signing.canonical_request(request.method, raw.path, query, signed, body)
        expected = signing.signature(creds.secret_key, date, canonical)
        if not secrets.compare_digest(expected, fields["Signature"]):
            return _error(401, "APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail.")
        if request.headers.get("X-Project-Id", project_id) != project_id:
            return _error(403, "APIGW.0302", "The X-Project-Id header does not match the project in the path.")
        return None

    def _api(self, request: web.Request, parts: list[str], job_id: str | None, body: bytes) -> web.Response:
        creds = self.credentials
        if parts[2] != creds.project_id:
            return _error(403, "SDRS.0002", f"The project {parts[2]!r} is not accessible with these credentials.")
        tail = parts[3:]
        if request.method == "GET" and job_id is not None:
            with self._lock:
                job = self._jobs.get(job_id)
                if job is not None:
                    document = job.poll(time.time())
            if job is None:
                return _error(self.unknown_job_status, NULL_JOB_CODE, "Null job.")
            return web.json_response(document)
        if request.method == "GET" and tail == ["sdrs", "quotas"]:
            return web.json_response(
                {"quota": {"resources": [{"type": "server_groups", "used": 0, "quota": 10, "min": 0}]}}
            )
        try:
            payload = json.loads(body) if body.strip() else None
        except ValueError:
            return _error(400, "SDRS.0201", "The request body is not valid JSON.")
        with self._lock:
            status, answer = self.resources.handle(request.method, tail, dict(request.query), payload)
        return web.json_response(answer, status=status)

    def _hostile_base(self, request: web.Request) -> dict[str, Any]:
        """The document of the job the request reads (polled as usual), or a running job's if it has none."""
        parts = urlsplit(request.raw_path).path.split("/")
        job_id = parts[4] if len(parts) == 5 and parts[3] == "jobs" else new_job_id()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                return job.poll(time.time())
        now = _iso(time.time())
        return {
            "job_id": job_id,
            "job_type": "createDisasterRecoveryDrill",
            "status": "RUNNING",
            "entities": {},
            "begin_time": now,
            "end_time": None,
            "error_code": None,
            "fail_reason": None,
        }

    # -- control API for other processes -------------------------------------------------------------

    @staticmethod
    def control_routes() -> dict[str, str]:
        """The ``/_sim/`` endpoints, for tests that run Airflow in other processes."""
        return {
            "POST /_sim/jobs": "create a job; JSON body: the keyword arguments of add_job; answers {job_id}",
            "GET /_sim/jobs/{job_id}": "the job document and its poll count, without authentication",
            "POST /_sim/faults": "add a fault; JSON body: the fields of Fault",
            "POST /_sim/groups": "create a protection group at once; JSON body: status, name; answers {id}",
            "GET /_sim/resources": "groups and drills with their statuses, and submissions by job type",
            "POST /_sim/fail_next": "make the next jobs of a type fail; JSON body: job_type, times",
            "POST /_sim/durations": "seconds the jobs of group and drill operations spend in INIT and RUNNING; "
            "JSON body: init, run",
            "DELETE /_sim/faults": "clear the faults",
            "GET /_sim/stats": "counters: requests by route and status, token requests, connections",
            "POST /_sim/reset": "forget everything",
        }

    async def _control(self, request: web.Request, path: str) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        try:
            if path == "/_sim/jobs" and request.method == "POST":
                if isinstance(body.get("lifecycle"), list):
                    body["lifecycle"] = [tuple(step) for step in body["lifecycle"]]
                return web.json_response({"job_id": self.add_job(**body)}, status=201)
            if path.startswith("/_sim/jobs/") and request.method == "GET":
                job_id = path.rsplit("/", 1)[1]
                return web.json_response({"job": self.job_document(job_id), "polls": self.job_polls(job_id)})
            if path == "/_sim/groups" and request.method == "POST":
                return web.json_response({"id": self.add_group(**body)}, status=201)
            if path == "/_sim/resources" and request.method == "GET":
                return web.json_response(self.resources_view())
            if path == "/_sim/fail_next" and request.method == "POST":
                with self._lock:
                    self.resources.fail_next(str(body["job_type"]), int(body.get("times", 1)))
                return web.json_response({}, status=201)
            if path == "/_sim/durations" and request.method == "POST":
                with self._lock:
                    self.resources.durations = (float(body["init"]), float(body["run"]))
                return web.json_response({}, status=201)
            if path == "/_sim/faults" and request.method == "POST":
                return web.json_response(asdict(self.add_fault(**body)), status=201)
            if path == "/_sim/faults" and request.method == "DELETE":
                self.clear_faults()
                return web.json_response({})
            if path == "/_sim/stats" and request.method == "GET":
                with self._lock:
                    stats = dict(self.counters)
                    stats["connections"] = len(self._peers)
                return web.json_response(stats)
            if path == "/_sim/reset" and request.method == "POST":
                self.reset()
                return web.json_response({})
        except (TypeError, ValueError, KeyError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"error": "unknown control route"}, status=404)


def connection_for(
    url: str, auth_type: str = "aksk", credentials: SimulatorCredentials | None = None, **extra_overrides: Any
) -> dict[str, Any]:
    """An Airflow connection (as a dict) for a simulator serving at ``url``."""
    creds = credentials or SimulatorCredentials()
    extra: dict[str, Any] = {
        "auth_type": auth_type,
        "region": "eu-de",
        "iam_endpoint": f"{url}/v3",
        "console_url": f"{url}/console",
    }
    if auth_type == "aksk":
        login, password = creds.access_key, creds.secret_key
        extra["project_id"] = creds.project_id
        if creds.security_token:
            extra["security_token"] = creds.security_token
    else:
        login, password = creds.user, creds.password
        extra["domain_name"] = creds.domain
    extra.update(extra_overrides)
    return {"conn_type": "sdrs", "host": url, "login": login, "password": password, "extra": extra}


def _reshaped(response: web.StreamResponse, fault: Fault) -> web.Response:
    assert isinstance(response, web.Response) and response.body is not None
    document = json.loads(bytes(response.body))  # type: ignore[arg-type]
    for key in fault.drop:
        document.pop(key, None)
    document.update(fault.add or {})
    # The other headers stay: an IAM answer keeps its X-Subject-Token.
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return web.json_response(document, status=response.status, headers=headers)


async def _echo(request: web.Request, fault: Fault) -> web.Response:
    """An error page that quotes the request back: its headers, its body, and the headers form-encoded."""
    body = (await request.read()).decode("utf-8", errors="replace")
    lines = [f"{request.method} {request.raw_path}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    quoted = urlencode(list(request.headers.items()))
    text = "\n".join([*lines, "", body, "", f"headers={quoted}"])
    document = {"error": {"code": fault.code or "WAF.0403", "message": f"Request blocked. Your request was:\n{text}"}}
    return web.json_response(document, status=fault.status)


_PLACEHOLDER = "__sdrs_simulator_placeholder__"


def _hostile_document(document: dict[str, Any], fault: Fault) -> web.Response:
    """``document`` turned into one of the hostile answers of :class:`Fault`."""
    document = dict(document)
    entities = dict(document.get("entities") or {})
    literal = ""
    if fault.kind == "non_finite":
        entities["progress"] = _PLACEHOLDER
        literal = fault.number
    elif fault.kind == "deep":
        entities["nested"] = _PLACEHOLDER
        literal = "[" * fault.depth + "]" * fault.depth
    elif fault.kind == "huge_sub_jobs":
        status = document.get("status") or "RUNNING"
        failed = status == "FAIL"
        # As small as a sub-job can be, so that 100,000 of them fit in a few megabytes.
        subs: list[dict[str, Any]] = []
        for index in range(fault.sub_jobs):
            sub_status = ("FAIL" if index == fault.sub_jobs - 1 else "SUCCESS") if failed else status
            sub: dict[str, Any] = {"job_id": f"{index:x}", "status": sub_status}
            if sub_status == "FAIL":
                sub.update(error_code="SDRS.0206", fail_reason="The sub-job failed.")
            subs.append(sub)
        entities["sub_jobs"] = subs
    elif fault.kind == "control_chars":
        forged = (
            "\r\n[2026-01-01T00:00:00.000+0000] {sdrs.py:1} INFO - forged line\x1b[31m\x1b[2J\x00\x07\x7f\x85\u2028"
        )
        document["job_type"] = "createDisasterRecoveryDrill" + forged
        document["error_code"] = "SDRS.0206" + forged
        reason = "The drill failed." + forged
        document["fail_reason"] = reason + "x" * max(0, fault.text_size - len(reason))
        entities["sub_jobs"] = [
            {"job_id": "sub\nforged", "job_type": "drill" + forged, "status": "FAIL", "fail_reason": forged}
        ]
    document["entities"] = entities
    text = json.dumps(document, separators=(",", ":"))
    if literal:
        text = text.replace(json.dumps(_PLACEHOLDER), literal)
    return web.Response(status=200, text=text, content_type="application/json")


_TRANSPORT_KINDS = frozenset({"oversized", "gzip_bomb", "trickle", "black_hole", "set_cookie"})
# A typed request key where aiohttp has them (3.12+), a plain string before.
_COOKIE_KEY: Any = web.RequestKey("sdrs_simulator_set_cookie", str) if hasattr(web, "RequestKey") else "set_cookie"
_BLACK_HOLE_SECONDS = 300.0
_STREAM_CHUNK = 64 * 1024


async def _transport_fault(request: web.Request, fault: Fault) -> web.StreamResponse | None:
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


async def _add_cookie(request: web.Request, response: web.StreamResponse) -> None:
    cookie = request.get(_COOKIE_KEY)
    if cookie:
        response.headers["Set-Cookie"] = cookie


def _error(status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    request_id = hashlib.sha1(f"{time.time_ns()}".encode()).hexdigest()[:32]
    if code.startswith("APIGW"):
        body: dict[str, Any] = {"error_code": code, "error_msg": message, "request_id": request_id}
    else:
        body = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers={"X-Request-Id": request_id, **(headers or {})})


def _iam_error(status: int, message: str) -> web.Response:
    title = {400: "Bad Request", 401: "Unauthorized"}.get(status, "Error")
    return web.json_response({"error": {"code": status, "message": message, "title": title}}, status=status)


def _iter_jobs(specs: list[str]) -> Iterator[dict[str, Any]]:
    for spec in specs:
        options: dict[str, Any] = {}
        for item in spec.split(","):
            key, _, value = item.partition("=")
            if key in ("init_seconds", "run_seconds"):
                options[key] = float(value)
            elif key == "sub_jobs":
                options[key] = int(value)
            elif key == "clock_from_first_poll":
                options[key] = value.lower() in ("1", "true", "yes")
            elif key:
                options[key] = value
        yield options


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_sdrs.testing.simulator", description="Run a local SDRS simulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--job",
        action="append",
        default=[],
        metavar="SPEC",
        help="create a job at start, e.g. job_id=<32 hex>,run_seconds=20,outcome=SUCCESS,sub_jobs=2,"
        "clock_from_first_poll=true (repeatable)",
    )
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="SPEC",
        help="create a protection group at start, e.g. group_id=<uuid>,name=erp,status=protected (repeatable)",
    )
    parser.add_argument(
        "--resource-durations",
        default="0.2,1.0",
        metavar="INIT,RUN",
        help="seconds the jobs of group and drill operations spend in INIT and in RUNNING",
    )
    parser.add_argument("--token-ttl", type=float, default=24 * 3600.0, help="IAM token lifetime, seconds")
    args = parser.parse_args(argv)
    simulator = SdrsSimulator(args.host, args.port, token_ttl=args.token_ttl)
    try:
        init, run_time = (float(part) for part in args.resource_durations.split(","))
    except ValueError:
        parser.error(f"--resource-durations must be INIT,RUN in seconds, got {args.resource_durations!r}")
    simulator.resources.durations = (init, run_time)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        server = asyncio.create_task(simulator.serve_forever())
        while not simulator._started.is_set():
            if server.done():
                await server
            await asyncio.sleep(0.01)
        for options in _iter_jobs(args.job):
            print(f"job {simulator.add_job(**options)} created", flush=True)
        for spec in args.group:
            fields = dict(item.split("=", 1) for item in spec.split(",") if item)
            print(f"protection group {simulator.add_group(**fields)} created", flush=True)
        print(f"SDRS simulator listening on {simulator.url}", flush=True)
        print(f"AIRFLOW_CONN_SDRS_DEFAULT='{simulator.connection_json()}'", flush=True)
        await stop.wait()
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server

    asyncio.run(run())


if __name__ == "__main__":
    main()
