"""The benchmark's server: the SDRS simulator plus a dbt Cloud-style run endpoint over the same jobs.

``GET /api/v2/accounts/{account}/runs/{run_id}/`` answers ``{"data": {"status": ...}}`` with dbt's run
status codes for the simulator job whose id is ``f"{run_id:032x}"``, so every contender polls the
same jobs through one server process. Its requests count as route ``dbt`` in ``/_sim/stats``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

from airflow_provider_sdrs.testing.simulator import SdrsSimulator

DBT_STATUS = {"INIT": 1, "RUNNING": 3, "SUCCESS": 10, "FAIL": 20}


async def dbt_run(sim: SdrsSimulator, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    run_id = int(params["run_id"])
    document = sim.poll_job(f"{run_id:032x}")
    if document is None:
        return web.json_response({"status": {"code": 404}}, status=404)
    body = {"data": {"id": run_id, "status": DBT_STATUS[document["status"]]}}
    return web.Response(text=json.dumps(body), content_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Records of a million polls would grow the server, and the benchmark reads only the counters.
    server = SdrsSimulator(port=args.port, keep_records=False)
    # dbt's client asks with a trailing slash; without one is the same run.
    server.add_route("GET", "/api/v2/accounts/{account}/runs/{run_id}{slash:/?}", dbt_run, name="dbt")
    asyncio.run(server.serve_forever())


if __name__ == "__main__":
    main()
