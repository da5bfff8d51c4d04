"""The handlers of the SDRS and IAM routes (see :data:`.routes.SDRS_ROUTES`).

Each is ``async def handler(simulator, request, params)``; by the time an authenticated one runs, the
gateway has let the request through and the project is the simulator's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from airflow_provider_sdrs.testing.simulator import iam
from airflow_provider_sdrs.testing.simulator.jobs import NULL_JOB_CODE
from airflow_provider_sdrs.testing.simulator.resources import Answer, ResourceModel
from airflow_provider_sdrs.testing.simulator.responses import error, route_not_found

if TYPE_CHECKING:
    from airflow_provider_sdrs.testing.simulator.server import SdrsSimulator


async def issue_token(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    sim.counters["token_requests"] += 1
    return await iam.issue_token(request, sim.credentials, sim.tokens, ttl=sim.token_ttl, clock_offset=sim.clock_offset)


async def get_job(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    document = sim.poll_job(params["job_id"])
    if document is None:
        return error(sim.unknown_job_status, NULL_JOB_CODE, "Null job.")
    return web.json_response(document)


async def get_quotas(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return web.json_response({"quota": {"resources": [{"type": "server_groups", "used": 0, "quota": 10, "min": 0}]}})


async def not_found(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return route_not_found()


async def list_groups(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return await _resources(sim, request, lambda model, body: model.list_groups(request.query))


async def create_group(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return await _resources(sim, request, lambda model, body: model.create_group(body))


async def get_group(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return await _resources(sim, request, lambda model, body: model.get_group(params["group_id"]))


async def delete_group(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return await _resources(sim, request, lambda model, body: model.delete_group(params["group_id"]))


async def group_action(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return await _resources(sim, request, lambda model, body: model.group_action(params["group_id"], body))


async def list_drills(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return await _resources(sim, request, lambda model, body: model.list_drills(request.query))


async def list_failure_jobs(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return await _resources(sim, request, lambda model, body: model.list_failure_jobs(request.query))


async def create_drill(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return await _resources(sim, request, lambda model, body: model.create_drill(body))


async def get_drill(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return await _resources(sim, request, lambda model, body: model.get_drill(params["drill_id"]))


async def delete_drill(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return await _resources(sim, request, lambda model, body: model.delete_drill(params["drill_id"]))


async def _resources(
    sim: SdrsSimulator, request: web.Request, operation: Callable[[ResourceModel, Any], Answer]
) -> web.StreamResponse:
    """Run ``operation`` on the groups and drills with the request's JSON body (``None`` when empty)."""
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        return error(400, "SDRS.0201", "The request body is not valid JSON.")
    status, document = sim.model.resources_answer(lambda model: operation(model, body))
    return web.json_response(document, status=status)
