"""The simulator: scripting, the request pipeline, and serving on a thread or on the running loop.

Every request goes the way the cloud takes it: the declared route it matches (:mod:`.routes`), a fault
that hits it (:mod:`.faults`), the gateway's authentication (:mod:`.gateway`), then the handler; the
answer is counted by route name and status.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from airflow_provider_sdrs.testing.simulator import control
from airflow_provider_sdrs.testing.simulator.credentials import SimulatorCredentials, connection_for
from airflow_provider_sdrs.testing.simulator.faults import (
    AFTER_ANSWER_KINDS,
    HOSTILE_DOCUMENT_KINDS,
    TRANSPORT_KINDS,
    Fault,
    FaultBook,
    echo,
    hostile_document,
    json_body,
    plain_answer,
    reshaped,
)
from airflow_provider_sdrs.testing.simulator.gateway import authenticate
from airflow_provider_sdrs.testing.simulator.iam import TokenStore
from airflow_provider_sdrs.testing.simulator.jobs import new_job_id
from airflow_provider_sdrs.testing.simulator.model import SdrsModel
from airflow_provider_sdrs.testing.simulator.resources import ResourceModel
from airflow_provider_sdrs.testing.simulator.responses import error, route_not_found
from airflow_provider_sdrs.testing.simulator.routes import SDRS_ROUTES, UNMATCHED, Handler, Route, first_match
from airflow_provider_sdrs.testing.simulator.transport import add_cookie, transport_fault


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
    :param keep_records: keep every request in :attr:`records`; a long benchmark turns it off and reads
        only the counters.
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
        keep_records: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self._defaults = (credentials or SimulatorCredentials(), token_ttl, unknown_job_status, clock_offset)
        self.credentials, self.token_ttl, self.unknown_job_status, self.clock_offset = self._defaults
        self.keep_records = keep_records
        self.model = SdrsModel()
        self.faults = FaultBook()
        self.tokens = TokenStore()
        self.counters: Counter[str] = Counter()
        self._added_routes: list[Route[Handler]] = []
        self._routes: tuple[Route[Handler], ...] = SDRS_ROUTES
        self._records_lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._peers: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._startup_error: BaseException | None = None

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
        return self.model.add_job(
            job_id,
            outcome=outcome,
            init_seconds=init_seconds,
            run_seconds=run_seconds,
            job_type=job_type,
            entities=entities,
            error_code=error_code,
            fail_reason=fail_reason,
            sub_jobs=sub_jobs,
            lifecycle=lifecycle,
            clock_from_first_poll=clock_from_first_poll,
        )

    @property
    def resources(self) -> ResourceModel:
        """The protection groups and DR drills, and how their operations behave (durations, failures)."""
        return self.model.resources

    def add_group(self, *, status: str = "protected", name: str = "group-1", **fields: Any) -> str:
        """Create a protection group in ``status`` at once (no job); returns its id."""
        return self.model.add_group(status=status, name=name, **fields)

    def set_group(self, group_id: str, *, status: str | None = None, **fields: Any) -> None:
        """Put a protection group into ``status`` at once (``error-failing-over``, say), and/or set fields of
        its document (``replication_status``, ``progress``); an operation in progress on it is forgotten."""
        self.model.set_group(group_id, status=status, **fields)

    def add_drill(self, server_group_id: str, *, status: str = "available", name: str = "drill-1") -> str:
        """Create a DR drill in ``status`` at once (no job); returns its id."""
        return self.model.add_drill(server_group_id, status=status, name=name)

    def resource_status(self, kind: str, resource_id: str) -> str | None:
        """The status of a ``group`` or ``drill`` now, or ``None`` once it is gone."""
        return self.model.resource_status(kind, resource_id)

    def poll_job(self, job_id: str) -> dict[str, Any] | None:
        """The job's document as ``GET /v1/{project_id}/jobs/{job_id}`` answers it now, ``None`` if unknown.

        It counts as a poll (:meth:`job_polls`) and starts the clock of a ``clock_from_first_poll`` job,
        as a read through the API does; an added route that serves jobs in another shape calls it.
        """
        return self.model.poll_job(job_id)

    def job_document(self, job_id: str) -> dict[str, Any]:
        """The job's document now, without counting a poll."""
        return self.model.job_document(job_id)

    def job_polls(self, job_id: str) -> int:
        return self.model.job_polls(job_id)

    def resources_view(self) -> dict[str, Any]:
        """Groups and drills by id with their statuses, and submissions by job type."""
        return self.model.resources_view()

    def add_fault(self, kind: str, **options: Any) -> Fault:
        """Inject a fault; see :class:`Fault` for the options."""
        return self.faults.add(Fault(kind=kind, **options))

    def clear_faults(self) -> None:
        self.faults.clear()

    def revoke_tokens(self) -> None:
        """Make every IAM token issued so far invalid, as an expiry or revocation would."""
        self.tokens.revoke_all()

    def reset(self) -> None:
        """Forget jobs, faults, tokens, records and counters; restore the settings it was built with.

        Routes added with :meth:`add_route` stay.
        """
        self.model.reset()
        self.faults.reset()
        self.tokens.revoke_all()
        with self._records_lock:
            self._records.clear()
            self._peers.clear()
            self.counters.clear()
        self.credentials, self.token_ttl, self.unknown_job_status, self.clock_offset = self._defaults

    # -- extension -------------------------------------------------------------------------------------

    def add_route(self, method: str, path: str, handler: Handler, *, name: str) -> None:
        """Serve ``method path`` with ``handler``, before the SDRS routes (so it may replace one).

        ``path`` is a template as in :mod:`.routes` (``/runs/{run_id}``); ``handler`` is
        ``async def handler(simulator, request, params) -> aiohttp response``, with the path's parameters
        in ``params``. The route needs no authentication; its requests are counted and recorded under
        ``name``, and faults whose target is ``any`` or ``api`` hit them. For example, the benchmark
        serves the simulator's jobs in dbt Cloud's shape::

            async def dbt_run(sim, request, params):
                document = sim.poll_job(f"{int(params['run_id']):032x}")
                ...

            sim.add_route("GET", "/api/v2/accounts/{account}/runs/{run_id}/", dbt_run, name="dbt")
        """
        self._added_routes.insert(0, Route(method.upper(), path, handler, name=name))
        self._routes = (*self._added_routes, *SDRS_ROUTES)

    @staticmethod
    def control_routes() -> dict[str, str]:
        """The ``/_sim/`` endpoints, for tests that run Airflow in other processes."""
        return control.describe()

    # -- what it saw -------------------------------------------------------------------------------------

    @property
    def records(self) -> list[RequestRecord]:
        """Every request received (method, raw path, route, status, peer, headers)."""
        with self._records_lock:
            return list(self._records)

    @property
    def connections_seen(self) -> int:
        """Distinct client TCP connections that sent at least one request."""
        with self._records_lock:
            return len(self._peers)

    def stats(self) -> dict[str, int]:
        """The counters (requests by route, and by route and status; token requests) and connections seen."""
        with self._records_lock:
            return {**self.counters, "connections": len(self._peers)}

    # -- connection helpers ------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """Whether it is serving (its port is bound)."""
        return self._started.is_set()

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
        app.on_response_prepare.append(add_cookie)
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

    # -- the request pipeline -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = urlsplit(request.raw_path).path
        if path.startswith(control.PREFIX):
            return await control.dispatch(self, request, path)
        found = first_match(self._routes, request.method, path)
        route, params = found if found is not None else (None, {})
        name = route.name if route is not None else UNMATCHED
        fault = self.faults.take(name, params.get("job_id"), request.method)
        if fault is not None and fault.kind not in AFTER_ANSWER_KINDS:
            injected = await self._inject(request, fault, route, params)
            if injected is not None:
                self._record(request, name, injected.status)
                return injected
        response = await self._answer(request, route, params)
        if fault is not None and fault.kind == "reshape" and 200 <= response.status < 300:
            response = reshaped(response, fault)
        self._record(request, name, response.status)
        if fault is not None and fault.kind == "lost_answer" and request.transport is not None:
            request.transport.abort()
        return response

    async def _answer(
        self, request: web.Request, route: Route[Handler] | None, params: dict[str, str]
    ) -> web.StreamResponse:
        """The answer without faults: the gateway's check, then the route's handler."""
        if route is None:
            return route_not_found()
        if route.authenticated:
            project_id = params["project_id"]
            refused = authenticate(
                request,
                project_id,
                await request.read(),
                credentials=self.credentials,
                tokens=self.tokens,
                clock_offset=self.clock_offset,
            )
            if refused is not None:
                return refused
            if project_id != self.credentials.project_id:
                return error(403, "SDRS.0002", f"The project {project_id!r} is not accessible with these credentials.")
        return await route.handler(self, request, params)

    async def _inject(
        self, request: web.Request, fault: Fault, route: Route[Handler] | None, params: dict[str, str]
    ) -> web.StreamResponse | None:
        """The fault's answer, or ``None`` when the request is then answered as usual."""
        kind = fault.kind
        if kind in TRANSPORT_KINDS:
            return await transport_fault(request, fault)
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
        if kind == "other_job":
            return await self._other_answer(request, fault, route, params)
        if kind == "echo":
            return await echo(request, fault)
        if kind in HOSTILE_DOCUMENT_KINDS:
            return hostile_document(self.model.polled_or_running(params.get("job_id")), fault)
        return plain_answer(fault)

    async def _other_answer(
        self, request: web.Request, fault: Fault, route: Route[Handler] | None, params: dict[str, str]
    ) -> web.StreamResponse | None:
        """The usual answer to a read of one job, group or drill, but about another one (``other_job``)."""
        reads_one = {"job_id", "group_id", "drill_id"} & params.keys()
        if request.method != "GET" or route is None or not route.authenticated or not reads_one:
            return None
        response = await self._answer(request, route, params)
        document = json_body(response) if response.status == 200 else None
        if document is None:
            return response
        other = fault.other_id or str(uuid.uuid4())
        if "job_id" in params:
            known = self.model.other_job_document(other)
            if known is not None:
                return web.json_response(known)
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

    def _record(self, request: web.Request, route: str, status: int) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peer_text = f"{peer[0]}:{peer[1]}" if peer else "?"
        with self._records_lock:
            self._peers.add(peer_text)
            self.counters[f"{route}:{status}"] += 1
            self.counters[route] += 1
            if self.keep_records:
                self._records.append(
                    RequestRecord(
                        request.method, request.raw_path, route, status, peer_text, dict(request.headers), time.time()
                    )
                )
