"""How long the Disaster recovery page's data answer (``GET /sdrs/api/posture``) takes: 50 protection groups
on 3 SDRS connections (three simulators), with drill reports of past runs in the metadata database.

Through Airflow's own API server app (plugins mounted, simple auth manager, a signed-in admin), in process::

    .venv/bin/python benchmarks/ui_posture.py                  # 20 cold and 50 cached answers
    .venv/bin/python benchmarks/ui_posture.py --latency 0.3    # every SDRS request takes 0.3 s more

Cold: the SDRS answer cache is emptied before each request, so each costs a list of groups and a list of
drills per connection. Cached: the answers are reused (30 s by default). Targets: cached <= 1 s, cold <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GROUPS = 50
CONNECTIONS = 3


def _prepare_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="sdrs-ui-bench-"))
    os.environ.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "example_dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        SDRS_EXAMPLE_POLL_SECONDS="0.1",
    )
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return home


def _figures(label: str, seconds: list[float], target: float) -> None:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    verdict = "ok" if p95 <= target else "OVER TARGET"
    print(
        f"{label:<8} n={len(seconds):<3} median {statistics.median(seconds) * 1000:7.1f} ms   "
        f"p95 {p95 * 1000:7.1f} ms   max {max(seconds) * 1000:7.1f} ms   target {target:.0f} s: {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", type=int, default=20, help="cold answers to time")
    parser.add_argument("--cached", type=int, default=50, help="cached answers to time")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every SDRS request")
    parser.add_argument("--drill-runs", type=int, default=3, help="drill DAG runs recorded first")
    options = parser.parse_args()

    home = _prepare_home()
    sys.path.insert(0, str(REPO))
    from contextlib import ExitStack

    from airflow_provider_sdrs.testing.simulator import SdrsSimulator
    from airflow_provider_sdrs.ui import sdrs_reads
    from tests.support import airflow_api

    with ExitStack() as stack:
        sims = [stack.enter_context(SdrsSimulator(keep_records=False)) for _ in range(CONNECTIONS)]
        names = []
        for index, sim in enumerate(sims):
            conn_id = f"sdrs_bench_{index}"
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = sim.connection_json("aksk")
            names.append(conn_id)
            sim.resources.durations = (0.1, 0.3)
        os.environ["AIRFLOW__SDRS__UI_CONNECTIONS"] = ",".join(names)
        groups = [
            sims[n % CONNECTIONS].add_group(status="protected", name=f"bench-{n:02d}", protected_instance_num=4)
            for n in range(GROUPS)
        ]
        for n, group_id in enumerate(groups[:10]):
            sims[n % CONNECTIONS].resources.add_drill(group_id, name=f"kept-{n}")

        # Drill reports in the metadata database, as the drill DAG leaves them.
        if options.drill_runs:
            import importlib.util

            os.environ["AIRFLOW_CONN_SDRS_DEFAULT"] = sims[0].connection_json("aksk")
            spec = importlib.util.spec_from_file_location("bench_drill", REPO / "example_dags" / "sdrs_dr_drill.py")
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            started = time.perf_counter()
            for _ in range(options.drill_runs):
                module.dag.test(run_conf={"server_group_id": groups[0], "report_dir": str(home / "reports")})
            print(f"recorded {options.drill_runs} drill runs in {time.perf_counter() - started:.1f} s")

        if options.latency:
            for sim in sims:
                sim.add_fault(kind="delay", delay=options.latency, target="api", count=-1)

        with airflow_api(home) as api:
            headers = api.login("admin")

            def answer() -> float:
                started = time.perf_counter()
                response = api.client.get("/sdrs/api/posture", headers=headers)
                elapsed = time.perf_counter() - started
                document = response.json()
                shown = sum(len(card["groups"]) for card in document["connections"])
                assert response.status_code == 200 and shown == GROUPS, (response.status_code, shown)
                assert not any(card["error"] for card in document["connections"])
                return elapsed

            answer()  # imports and first database queries
            cold = []
            for _ in range(options.cold):
                sdrs_reads.CACHE.clear()
                cold.append(answer())
            cached = [answer() for _ in range(options.cached)]

    print(
        f"{GROUPS} protection groups on {CONNECTIONS} connections, SDRS latency {options.latency * 1000:.0f} ms "
        f"added per request, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    _figures("cold", cold, 3.0)
    _figures("cached", cached, 1.0)


if __name__ == "__main__":
    main()
