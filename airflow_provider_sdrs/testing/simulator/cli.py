"""The command line: ``python -m airflow_provider_sdrs.testing.simulator --port 8080 [--job SPEC]...``.

It serves until SIGINT or SIGTERM and prints the ``AIRFLOW_CONN_SDRS_DEFAULT`` that reaches it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import Any

from airflow_provider_sdrs.testing.simulator.server import SdrsSimulator


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
        while not simulator.started:
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
