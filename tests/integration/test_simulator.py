"""The simulator itself: its declared routes, the gateway's 404 for the rest, and its independence.

Requests are signed with the reference signer (huaweicloudsdkcore), not the provider's, so that these
tests hold the simulator to the documented algorithm on its own.
"""

from __future__ import annotations

import ast
import json
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

import airflow_provider_sdrs.testing.simulator as simulator_package
from airflow_provider_sdrs.testing.simulator import SdrsSimulator
from airflow_provider_sdrs.testing.simulator.routes import SDRS_ROUTES

NOT_FOUND = {"error_code": "APIGW.0101", "error_msg": "The API does not exist or has not been published."}


def call(
    sim: SdrsSimulator, method: str, path: str, body: Any = None, *, signed: bool = True, query: str = ""
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else b""
    host = f"{sim.host}:{sim.port}"
    headers = {"Host": host, "Content-Type": "application/json"}
    if signed:
        headers["X-Sdk-Date"] = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        headers["X-Project-Id"] = sim.credentials.project_id
        request = SdkRequest(
            method=method,
            schema="http",
            host=host,
            resource_path=path,
            query_params=[tuple(pair.split("=", 1)) for pair in query.split("&") if pair],
            header_params=dict(headers),
            body=data.decode() if data else "",
        )
        Signer(BasicCredentials(ak=sim.credentials.access_key, sk=sim.credentials.secret_key)).sign(request)
        headers["Authorization"] = request.header_params["Authorization"]
    url = f"{sim.url}{path}" + (f"?{query}" if query else "")
    http_request = urllib.request.Request(url, data=data or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(http_request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_every_declared_route_is_reachable(sdrs_simulator: SdrsSimulator):
    sim = sdrs_simulator
    project = f"/v1/{sim.credentials.project_id}"
    job_id = sim.add_job()
    group = sim.add_group(status="protected")
    spare = sim.add_group(status="available", name="spare")
    drill = sim.add_drill(group)
    new_group = {
        "server_group": {
            "name": "g2",
            "source_availability_zone": "eu-de-01",
            "target_availability_zone": "eu-de-02",
            "domain_id": "d",
            "source_vpc_id": "v",
        }
    }
    token_request = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": sim.credentials.user,
                        "password": sim.credentials.password,
                        "domain": {"name": sim.credentials.domain},
                    }
                },
            },
            "scope": {"project": {"id": sim.credentials.project_id}},
        }
    }
    # (method, path template) -> (path, body, status, a key the answer has)
    samples: dict[tuple[str, str], tuple[str, Any, int, str]] = {
        ("POST", "{prefix:.*}/v3/auth/tokens{slash:/*}"): ("/v3/auth/tokens", token_request, 201, "token"),
        ("GET", "/v1/{project_id}/jobs/{job_id}"): (f"{project}/jobs/{job_id}", None, 200, "job_id"),
        ("GET", "/v1/{project_id}/sdrs/quotas"): (f"{project}/sdrs/quotas", None, 200, "quota"),
        ("GET", "/v1/{project_id}/server-groups"): (f"{project}/server-groups", None, 200, "server_groups"),
        ("POST", "/v1/{project_id}/server-groups"): (f"{project}/server-groups", new_group, 200, "job_id"),
        ("GET", "/v1/{project_id}/server-groups/{group_id}"): (
            f"{project}/server-groups/{group}",
            None,
            200,
            "server_group",
        ),
        ("POST", "/v1/{project_id}/server-groups/{group_id}/action"): (
            f"{project}/server-groups/{spare}/action",
            {"start-server-group": {}},
            200,
            "job_id",
        ),
        ("GET", "/v1/{project_id}/disaster-recovery-drills"): (
            f"{project}/disaster-recovery-drills",
            None,
            200,
            "disaster_recovery_drills",
        ),
        ("POST", "/v1/{project_id}/disaster-recovery-drills"): (
            f"{project}/disaster-recovery-drills",
            {"disaster_recovery_drill": {"name": "d2", "server_group_id": group}},
            200,
            "job_id",
        ),
        ("GET", "/v1/{project_id}/disaster-recovery-drills/{drill_id}"): (
            f"{project}/disaster-recovery-drills/{drill}",
            None,
            200,
            "disaster_recovery_drill",
        ),
        ("DELETE", "/v1/{project_id}/disaster-recovery-drills/{drill_id}"): (
            f"{project}/disaster-recovery-drills/{drill}",
            None,
            200,
            "job_id",
        ),
        ("GET", "/v1/{project_id}/task-center/failure-jobs"): (
            f"{project}/task-center/failure-jobs",
            None,
            200,
            "failure_jobs",
        ),
        # The drill's deletion is still running, so the group cannot go: the route answers SDRS's refusal.
        ("DELETE", "/v1/{project_id}/server-groups/{group_id}"): (
            f"{project}/server-groups/{group}",
            None,
            400,
            "error",
        ),
    }
    catch_all = SDRS_ROUTES[-1]
    assert set(samples) == {(route.method, route.path) for route in SDRS_ROUTES if route is not catch_all}
    for route in SDRS_ROUTES:
        if route is catch_all:
            continue
        path, body, status, key = samples[route.method, route.path]
        answer_status, answer = call(sim, route.method, path, body)
        assert (answer_status, key in answer) == (status, True), (route.path, answer)
        assert sim.records[-1].route == route.name
    assert sim.resource_status("drill", drill) == "deleting"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/{project}/nothing-here"),
        ("PUT", "/v1/{project}/server-groups"),
        ("POST", "/v1/{project}/jobs/{job}"),
        ("GET", "/v1/{project}/jobs/{job}/extra"),
        ("GET", "/v1/{project}/server-groups/{group}/action"),
        ("GET", "/v1/{project}"),
    ],
)
def test_a_project_path_no_route_declares_is_authenticated_then_not_found(sdrs_simulator, method, path):
    sim = sdrs_simulator
    path = path.format(project=sim.credentials.project_id, job=sim.add_job(), group=sim.add_group())
    assert call(sim, method, path, signed=False)[0] == 401
    status, body = call(sim, method, path)
    assert status == 404
    assert {key: body[key] for key in NOT_FOUND} == NOT_FOUND
    assert sim.records[-1].route == "api"


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", "/v2/jobs"), ("GET", "/v3/auth/tokens")])
def test_a_path_outside_the_api_is_not_found_without_authentication(sdrs_simulator, method, path):
    status, body = call(sdrs_simulator, method, path, signed=False)
    assert status == 404
    assert {key: body[key] for key in NOT_FOUND} == NOT_FOUND
    assert sdrs_simulator.records[-1].route == "other"


def test_a_job_read_for_another_project_is_refused(sdrs_simulator):
    sim = sdrs_simulator
    other = "f" * 32
    date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    host = f"{sim.host}:{sim.port}"
    request = SdkRequest(
        method="GET",
        schema="http",
        host=host,
        resource_path=f"/v1/{other}/jobs/{sim.add_job()}",
        query_params=[],
        header_params={"Host": host, "X-Sdk-Date": date},
        body="",
    )
    Signer(BasicCredentials(ak=sim.credentials.access_key, sk=sim.credentials.secret_key)).sign(request)
    headers = {**request.header_params}
    http_request = urllib.request.Request(f"{sim.url}{request.resource_path}", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(http_request, timeout=10)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["error"]["code"] == "SDRS.0002"


def test_an_added_route_comes_first_and_is_counted_under_its_name():
    async def status_only(simulator, request, params):
        document = simulator.poll_job(params["job_id"])
        return web.json_response({"status": document["status"] if document else None})

    with SdrsSimulator() as sim:
        sim.add_route("GET", "/v1/{project_id}/jobs/{job_id}", status_only, name="plain-job")
        job_id = sim.add_job(run_seconds=60)
        status, body = call(sim, "GET", f"/v1/{sim.credentials.project_id}/jobs/{job_id}", signed=False)
        assert (status, body) == (200, {"status": "INIT"})
        assert sim.job_polls(job_id) == 1
        assert sim.stats()["plain-job:200"] == 1
        sim.reset()
        assert call(sim, "GET", f"/v1/{sim.credentials.project_id}/jobs/{job_id}", signed=False) == (
            200,
            {"status": None},
        )


def test_the_simulator_imports_nothing_from_the_provider():
    """It is an independent oracle: a shared parser or state table would let one misreading pass twice."""
    package = Path(simulator_package.__file__).parent
    own = "airflow_provider_sdrs.testing.simulator"
    for source in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                if name.startswith("airflow_provider_sdrs"):
                    assert name == own or name.startswith(own + "."), f"{source.name} imports {name}"
