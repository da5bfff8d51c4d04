"""Hold N waits on SDRS jobs in one event loop, as a triggerer does, and compare with peers in the same run.

Contenders, each in a fresh process against one server process (``bench_server.py``):

* ``sdrs``      — ``SdrsJobTrigger`` with IAM password authentication (one connection for all waits);
* ``sdrs-aksk`` — ``SdrsJobTrigger`` with AK/SK request signing;
* ``dbt``       — ``DbtCloudRunJobTrigger`` of apache-airflow-providers-dbt-cloud, the closest peer, polling
  an equivalent endpoint (its hook builds ``https://`` URLs; the benchmark swaps the scheme for ``http://``
  and changes nothing else);
* ``floor``     — a bare aiohttp polling loop sharing one session: the cost of the HTTP round trip alone.

Printed per contender: client CPU µs per poll, RSS KB per waiting trigger, TCP connections opened, IAM token
requests, polls, correct outcomes; then the import cost of what a DAG file imports. Results go to
``benchmarks/results/`` (JSON) and ``docs/benchmark.png``.

Run: ``make bench`` (or ``python benchmarks/triggers.py --waits 1000 --job-seconds 20 --poll-interval 2``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONTENDERS = ("floor", "sdrs", "sdrs-aksk", "dbt")


# -- helpers shared by driver and clients -----------------------------------------------------------


def control(base: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- client process -----------------------------------------------------------------------------------


def client(args: argparse.Namespace) -> None:
    base = f"http://127.0.0.1:{args.port}"
    home = tempfile.mkdtemp(prefix="sdrs-bench-home-")
    os.environ.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
    )
    from airflow_provider_sdrs.testing.simulator import connection_for

    auth = "aksk" if args.contender == "sdrs-aksk" else "password"
    os.environ["AIRFLOW_CONN_SDRS_BENCH"] = json.dumps(connection_for(base, auth))
    os.environ["AIRFLOW_CONN_DBT_BENCH"] = json.dumps(
        {"conn_type": "dbt_cloud", "host": f"127.0.0.1:{args.port}", "login": "1", "password": "dbt-token"}
    )

    waits = run_contender(args, base)
    print(json.dumps(waits), flush=True)


async def floor_wait(session: Any, url: str, token: str, interval: float, end: float) -> str:
    while time.time() < end:
        async with session.get(url, headers={"X-Auth-Token": token}) as response:
            document = await response.json()
        if document["status"] in ("SUCCESS", "FAIL"):
            return "success" if document["status"] == "SUCCESS" else "failed"
        await asyncio.sleep(interval)
    return "timeout"


def make_triggers(args: argparse.Namespace, job_ids: list[str], end: float) -> list[Any]:
    if args.contender == "dbt":
        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudHook
        from airflow.providers.dbt.cloud.triggers.dbt import DbtCloudRunJobTrigger

        original = DbtCloudHook.get_request_url_params

        def plain_http(tenant: str, endpoint: str, include_related: Any = None, **kwargs: Any) -> Any:
            url, params = original(tenant, endpoint, include_related, **kwargs)
            return url.replace("https://", "http://", 1), params

        DbtCloudHook.get_request_url_params = staticmethod(plain_http)  # type: ignore[method-assign]
        return [
            DbtCloudRunJobTrigger(
                conn_id="dbt_bench",
                run_id=int(job_id, 16),
                account_id=1,
                end_time=end,
                poll_interval=args.poll_interval,
            )
            for job_id in job_ids
        ]
    from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger

    return [
        SdrsJobTrigger(job_id=job_id, sdrs_conn_id="sdrs_bench", poll_interval=args.poll_interval, end_time=end)
        for job_id in job_ids
    ]


def run_contender(args: argparse.Namespace, base: str) -> dict[str, Any]:
    import logging

    # A triggerer logs at INFO; send it where it costs what a file would, without flooding this output.
    logging.basicConfig(level=logging.INFO, handlers=[logging.FileHandler(os.devnull)], force=True)
    # One complete wait first, so that imports and connection set-up are not measured.
    warm_up = f"{10**9:032x}"
    control(base, "POST", "/_sim/jobs", {"job_id": warm_up, "init_seconds": 0, "run_seconds": 0})
    if args.contender != "floor":
        (trigger,) = make_triggers(args, [warm_up], time.time() + 30)

        async def finish() -> None:
            async for _ in trigger.run():
                return

        asyncio.run(finish())
        if args.contender.startswith("sdrs"):
            # Warm imports only: the measured waits start with no token and no connection looked up.
            from airflow_provider_sdrs._core.process import reset_process_caches

            reset_process_caches()

    job_ids = [f"{index + 1:032x}" for index in range(args.waits)]
    for job_id in job_ids:
        control(
            base,
            "POST",
            "/_sim/jobs",
            {"job_id": job_id, "init_seconds": 1.0, "run_seconds": args.job_seconds - 1.0, "sub_jobs": 0},
        )
    stats_before = control(base, "GET", "/_sim/stats")
    end = time.time() + args.job_seconds * 4
    outcomes: list[str] = []
    samples: list[int] = []

    async def main() -> None:
        nonlocal outcomes
        baseline = rss_kb()
        cpu_start = cpu_seconds()
        if args.contender == "floor":
            import aiohttp as client_lib

            token_doc = json.dumps(
                {
                    "auth": {
                        "identity": {
                            "methods": ["password"],
                            "password": {
                                "user": {
                                    "name": "sdrs-operator",
                                    "password": "simulator-password",
                                    "domain": {"name": "sdrs-simulated-domain"},
                                }
                            },
                        },
                        "scope": {"project": {"name": "eu-de"}},
                    }
                }
            )
            async with client_lib.ClientSession(connector=client_lib.TCPConnector(limit=64)) as session:
                async with session.post(f"{base}/v3/auth/tokens", data=token_doc) as response:
                    token = response.headers["X-Subject-Token"]
                project = "0123456789abcdef0123456789abcdef"
                tasks = [
                    asyncio.ensure_future(
                        floor_wait(session, f"{base}/v1/{project}/jobs/{job_id}", token, args.poll_interval, end)
                    )
                    for job_id in job_ids
                ]
                sampler = asyncio.ensure_future(sample(samples))
                outcomes = list(await asyncio.gather(*tasks))
                sampler.cancel()
        else:
            triggers = make_triggers(args, job_ids, end)

            async def first(trigger: Any) -> str:
                async for event in trigger.run():
                    return str(event.payload.get("status"))
                return "none"

            sampler = asyncio.ensure_future(sample(samples))
            outcomes = list(await asyncio.gather(*(first(trigger) for trigger in triggers)))
            sampler.cancel()
        result["cpu"] = cpu_seconds() - cpu_start
        result["baseline_rss_kb"] = baseline

    async def sample(into: list[int]) -> None:
        # Steady state: every wait is sleeping between polls.
        await asyncio.sleep(args.job_seconds / 2)
        into.append(rss_kb())

    result: dict[str, Any] = {}
    started = time.monotonic()
    if args.profile:
        import cProfile

        cProfile.runctx("asyncio.run(main())", globals(), {"asyncio": asyncio, "main": main}, args.profile)
    else:
        asyncio.run(main())
    wall = time.monotonic() - started
    stats = control(base, "GET", "/_sim/stats")
    route = "dbt" if args.contender == "dbt" else "job"
    polls = stats.get(route, 0) - stats_before.get(route, 0)
    return {
        "contender": args.contender,
        "waits": args.waits,
        "polls": polls,
        "cpu_us_per_poll": result["cpu"] / polls * 1e6 if polls else None,
        "rss_kb_per_wait": (samples[0] - result["baseline_rss_kb"]) / args.waits if samples else None,
        "tcp_connections": stats.get("connections", 0) - stats_before.get("connections", 0),
        "token_requests": stats.get("token_requests", 0) - stats_before.get("token_requests", 0),
        "correct": sum(1 for outcome in outcomes if outcome == "success"),
        "wall_seconds": wall,
    }


# -- import cost ------------------------------------------------------------------------------------


def import_ms(modules: list[str], runs: int = 7) -> float:
    """Best-of-``runs`` milliseconds to import ``modules`` after ``airflow.sdk`` in a fresh interpreter."""
    code = (
        "import time, airflow.sdk\n"
        "t = time.perf_counter()\n"
        + "".join(f"import {module}\n" for module in modules)
        + "print('MS', (time.perf_counter() - t) * 1000)\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": tempfile.mkdtemp(prefix="sdrs-bench-import-")}
    best = float("inf")
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        line = next(line for line in out.stdout.splitlines() if line.startswith("MS "))
        best = min(best, float(line.split()[1]))
    return best


# -- driver -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def driver(args: argparse.Namespace) -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, str(HERE / "bench_server.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: list[dict[str, Any]] = []
    try:
        for _ in range(100):
            try:
                control(base, "GET", "/_sim/stats")
                break
            except OSError:
                time.sleep(0.1)
        runs: dict[str, list[dict[str, Any]]] = {contender: [] for contender in args.contenders}
        # Interleaved, so that a slow spell of the machine hits every contender alike.
        for round_number in range(1, args.repeat + 1):
            for contender in args.contenders:
                control(base, "POST", "/_sim/reset")
                print(
                    f"round {round_number}/{args.repeat}, {contender}: {args.waits} waits, jobs of "
                    f"{args.job_seconds:g} s, poll every {args.poll_interval:g} s ...",
                    flush=True,
                )
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--client",
                        contender,
                        "--port",
                        str(port),
                        "--waits",
                        str(args.waits),
                        "--job-seconds",
                        str(args.job_seconds),
                        "--poll-interval",
                        str(args.poll_interval),
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
                if out.returncode != 0 or not lines:
                    print(out.stdout[-2000:], out.stderr[-4000:])
                    return 1
                runs[contender].append(json.loads(lines[-1]))
        for attempts in runs.values():
            ordered = sorted(attempts, key=lambda r: r["cpu_us_per_poll"] or 0)
            median = dict(ordered[len(ordered) // 2])
            median["cpu_us_per_poll_range"] = [ordered[0]["cpu_us_per_poll"], ordered[-1]["cpu_us_per_poll"]]
            median["rss_kb_per_wait_range"] = [
                min(r["rss_kb_per_wait"] for r in attempts),
                max(r["rss_kb_per_wait"] for r in attempts),
            ]
            results.append(median)
    finally:
        server.terminate()
        server.wait(timeout=10)

    imports = {
        "sdrs (sensor)": import_ms(["airflow_provider_sdrs.sensors.sdrs"]),
        "dbt (sensor + operator)": import_ms(
            ["airflow.providers.dbt.cloud.sensors.dbt", "airflow.providers.dbt.cloud.operators.dbt"]
        ),
    }
    report(results, imports, args)
    return 0


def report(results: list[dict[str, Any]], imports: dict[str, float], args: argparse.Namespace) -> None:
    by_name = {r["contender"]: r for r in results}
    header = (
        f"{'contender':<10} {'CPU µs/poll':>12} {'(range)':>11} {'RSS KB/wait':>12} {'TCP conns':>10} "
        f"{'tokens':>7} {'polls':>7} {'correct':>9}"
    )
    print(f"\nmedian of {args.repeat} run(s) per contender, by CPU per poll\n{header}")
    for r in results:
        cpu = f"{r['cpu_us_per_poll']:.0f}" if r["cpu_us_per_poll"] else "-"
        low, high = r.get("cpu_us_per_poll_range") or (0, 0)
        spread = f"{low:.0f}-{high:.0f}"
        rss = f"{r['rss_kb_per_wait']:.1f}" if r["rss_kb_per_wait"] is not None else "-"
        print(
            f"{r['contender']:<10} {cpu:>12} {spread:>11} {rss:>12} {r['tcp_connections']:>10} "
            f"{r['token_requests']:>7} {r['polls']:>7} {r['correct']:>5}/{r['waits']}"
        )
    verdicts = []
    if {"sdrs", "floor", "dbt"} <= by_name.keys():
        ours, floor, dbt = (by_name[k]["cpu_us_per_poll"] for k in ("sdrs", "floor", "dbt"))
        verdicts.append(
            f"CPU per poll: {ours / floor:.2f}x the floor with password auth (target <= 1.2x), "
            f"{dbt / ours:.1f}x below dbt (target >= 5x)"
        )
        if by_name.get("sdrs-aksk", {}).get("cpu_us_per_poll"):
            signed = by_name["sdrs-aksk"]["cpu_us_per_poll"]
            verdicts.append(f"CPU per poll with AK/SK signing: {signed / floor:.2f}x the floor (target <= 1.3x)")
        rss, floor_rss = by_name["sdrs"]["rss_kb_per_wait"], by_name["floor"]["rss_kb_per_wait"]
        verdicts.append(f"RSS per wait: {rss:.1f} KB, the floor's {floor_rss:.1f} KB (target: at or below the floor)")
        verdicts.append(
            f"IAM token requests for {args.waits} password-auth waits: {by_name['sdrs']['token_requests']} (target 1)"
        )
        verdicts.append(
            f"TCP connections (sdrs): {by_name['sdrs']['tcp_connections']} for {by_name['sdrs']['polls']}"
            " polls (pool size 64)"
        )
    for name, ms in imports.items():
        verdicts.append(f"import over airflow.sdk, {name}: {ms:.1f} ms")
    print("\n" + "\n".join(verdicts))

    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    record = {
        "args": vars(args),
        "results": results,
        "imports_ms": imports,
        "verdicts": verdicts,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    (out_dir / f"triggers-{stamp}.json").write_text(json.dumps(record, indent=2))
    plot(results, REPO / "docs" / "benchmark.png")


def plot(results: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    names = [r["contender"] for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(names, [r["cpu_us_per_poll"] or 0 for r in results], color="#3b7dd8")
    left.set_title("client CPU per poll (µs)")
    right.bar(names, [r["rss_kb_per_wait"] or 0 for r in results], color="#d8843b")
    right.set_title("RSS per waiting trigger (KB)")
    waits = results[0]["waits"] if results else 0
    fig.suptitle(f"{waits} concurrent waits in one event loop, 2-core machine")
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"plot written to {path.relative_to(REPO)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--job-seconds", type=float, default=20.0)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the median is reported")
    parser.add_argument("--client", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile", metavar="PATH", help="with --client: write a cProfile of the measured part")
    args = parser.parse_args()
    if args.client:
        args.contender = args.client
        client(args)
        return 0
    return driver(args)


if __name__ == "__main__":
    raise SystemExit(main())
