"""``/_sim/...``: the simulator's control API, for tests that run Airflow in other processes.

It is no part of SDRS: no authentication, no faults, not counted. Bodies are JSON objects; a body that
is not JSON or a call with bad arguments answers 400 ``{"error": ...}``, a path it does not know 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiohttp import web

from airflow_provider_sdrs.testing.simulator.routes import Route, first_match

if TYPE_CHECKING:
    from airflow_provider_sdrs.testing.simulator.server import SdrsSimulator

PREFIX = "/_sim/"
#: ``handler(simulator, body, params) -> (HTTP status, JSON document)``
ControlHandler = Callable[["SdrsSimulator", Any, dict[str, str]], tuple[int, Any]]


def _add_job(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    if isinstance(body.get("lifecycle"), list):
        body["lifecycle"] = [tuple(step) for step in body["lifecycle"]]
    return 201, {"job_id": sim.add_job(**body)}


def _job(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    job_id = params["job_id"]
    return 200, {"job": sim.job_document(job_id), "polls": sim.job_polls(job_id)}


def _add_fault(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    return 201, asdict(sim.add_fault(**body))


def _add_group(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    return 201, {"id": sim.add_group(**body)}


def _set_group(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    sim.set_group(params["group_id"], **body)
    return 200, {"id": params["group_id"]}


def _resources(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    return 200, sim.resources_view()


def _fail_next(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    with sim.model.lock:
        sim.resources.fail_next(str(body["job_type"]), int(body.get("times", 1)))
    return 201, {}


def _durations(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    with sim.model.lock:
        sim.resources.durations = (float(body["init"]), float(body["run"]))
    return 201, {}


def _clear_faults(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    sim.clear_faults()
    return 200, {}


def _stats(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    return 200, sim.stats()


def _reset(sim: SdrsSimulator, body: Any, params: dict[str, str]) -> tuple[int, Any]:
    sim.reset()
    return 200, {}


CONTROL_ROUTES: tuple[Route[ControlHandler], ...] = (
    Route(
        "POST",
        "/_sim/jobs",
        _add_job,
        doc="create a job; JSON body: the keyword arguments of add_job; answers {job_id}",
    ),
    Route("GET", "/_sim/jobs/{job_id}", _job, doc="the job document and its poll count, without authentication"),
    Route("POST", "/_sim/faults", _add_fault, doc="add a fault; JSON body: the fields of Fault"),
    Route(
        "POST",
        "/_sim/groups",
        _add_group,
        doc="create a protection group at once; JSON body: status, name; answers {id}",
    ),
    Route(
        "POST",
        "/_sim/groups/{group_id}",
        _set_group,
        doc="put a protection group into a status at once and/or set fields of its document; "
        "JSON body: status, replication_status, progress...",
    ),
    Route(
        "GET", "/_sim/resources", _resources, doc="groups and drills with their statuses, and submissions by job type"
    ),
    Route("POST", "/_sim/fail_next", _fail_next, doc="make the next jobs of a type fail; JSON body: job_type, times"),
    Route(
        "POST",
        "/_sim/durations",
        _durations,
        doc="seconds the jobs of group and drill operations spend in INIT and RUNNING; JSON body: init, run",
    ),
    Route("DELETE", "/_sim/faults", _clear_faults, doc="clear the faults"),
    Route("GET", "/_sim/stats", _stats, doc="counters: requests by route and status, token requests, connections"),
    Route("POST", "/_sim/reset", _reset, doc="forget everything"),
)


def describe() -> dict[str, str]:
    return {f"{route.method} {route.path}": route.doc for route in CONTROL_ROUTES}


async def dispatch(sim: SdrsSimulator, request: web.Request, path: str) -> web.Response:
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        return web.json_response({"error": "the body is not JSON"}, status=400)
    found = first_match(CONTROL_ROUTES, request.method, path)
    if found is None:
        return web.json_response({"error": "unknown control route"}, status=404)
    route, params = found
    try:
        status, document = route.handler(sim, body, params)
    except (TypeError, ValueError, KeyError) as error:
        return web.json_response({"error": str(error)}, status=400)
    return web.json_response(document, status=status)
