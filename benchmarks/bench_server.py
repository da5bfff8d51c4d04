"""The benchmark's server: the SDRS simulator plus a dbt Cloud-style run endpoint over the same jobs.

``GET /api/v2/accounts/{account}/runs/{run_id}/`` answers ``{"data": {"status": ...}}`` with dbt's run
status codes for the simulator job whose id is ``f"{run_id:032x}"``, so every contender polls the
same jobs through one server process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from aiohttp import web

from airflow_provider_sdrs.testing.simulator import SdrsSimulator

DBT_STATUS = {"INIT": 1, "RUNNING": 3, "SUCCESS": 10, "FAIL": 20}


class BenchServer(SdrsSimulator):
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")
        if len(parts) == 6 and parts[:3] == ["api", "v2", "accounts"] and parts[4] == "runs":
            job_id = f"{int(parts[5]):032x}"
            with self._lock:
                job = self._jobs.get(job_id)
                document = job.poll(time.time()) if job is not None else None
            self._record(request, "dbt", 200 if document else 404)
            if document is None:
                return web.json_response({"status": {"code": 404}}, status=404)
            body = {"data": {"id": int(parts[5]), "status": DBT_STATUS[document["status"]]}}
            return web.Response(text=json.dumps(body), content_type="application/json")
        return await super()._handle(request)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = BenchServer(port=args.port)
    server.keep_records = False
    asyncio.run(server.serve_forever())


if __name__ == "__main__":
    main()
