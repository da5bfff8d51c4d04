"""The provider on a distributed Airflow: CeleryExecutor with two Celery workers and two triggerers.

Redis is the broker; PostgreSQL is the metadata database and Celery's result backend. DAG runs are started
and read through Airflow's REST API; the trigger table tells which triggerer held a wait; the process tree of
each worker tells which one runs a try; the simulator tells what SDRS saw. The tests lose a worker and then a
triggerer, so they run in this order.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import time
from importlib.metadata import version
from typing import Any

import psutil
import pytest

from tests.e2e import test_deployment as local_suite
from tests.e2e.deployment import REPO, Deployment, wait_for

pytestmark = pytest.mark.e2e

MAPPED = "sdrs_e2e_mapped_waits"
BLOCKING = "sdrs_e2e_blocking_failover"
WAITS = 100
#: Each job is INIT, then RUNNING, for these seconds from its first read (the sensor's, in the worker), so
#: every wait is deferred well before its job ends.
JOB_INIT_SECONDS, JOB_RUN_SECONDS = 3, 17
#: Where the figures of the hundred waits go; docs/scale-out.json is the committed measurement.
MEASUREMENT = os.environ.get("SDRS_SCALE_OUT_OUT") or str(REPO / ".e2e-artifacts" / "scale-out.json")


def mapped_task_instances(deployment: Deployment, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = deployment.api(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
            params={"task_id": task_id, "limit": 50, "offset": len(found)},
        )["task_instances"]
        found += page
        if not page:
            return found


def trigger_holders(deployment: Deployment, dag_id: str, run_id: str) -> list[tuple[int, int]]:
    """(map index, TriggererJob id) of each of the run's waits that a triggerer holds now."""
    assert deployment.postgres is not None
    return deployment.postgres.query(
        "SELECT ti.map_index, t.triggerer_id FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id "
        f"WHERE ti.dag_id = '{dag_id}' AND ti.run_id = '{run_id}' AND t.triggerer_id IS NOT NULL"
    )


def executions_by_worker(deployment: Deployment, dag_id: str, run_id: str) -> dict[str, int]:
    """How many task executions of the run each Celery worker received, from its own log."""
    return {
        name: sum(
            1
            for line in deployment.processes[name].log().splitlines()
            if "Executing workload in Celery" in line and dag_id in line and run_id in line
        )
        for name in deployment.layout.workers
    }


def test_a_hundred_mapped_deferrable_waits_succeed_spread_over_both_triggerers(deployment: Deployment):
    job_ids = [
        deployment.sim(
            "POST",
            "/_sim/jobs",
            {"init_seconds": JOB_INIT_SECONDS, "run_seconds": JOB_RUN_SECONDS, "clock_from_first_poll": True},
        )["job_id"]
        for _ in range(WAITS)
    ]
    meters = ("scheduler", *deployment.triggerer_jobs, *deployment.layout.workers, "dag-processor", "api-server")
    cpu_before = {name: deployment.processes[name].cpu_seconds() for name in meters}
    tokens_before = deployment.sim("GET", "/_sim/stats").get("token_requests", 0)
    load_before = os.getloadavg()

    started = time.monotonic()
    run_id = deployment.trigger(MAPPED, {"job_ids": job_ids})
    holders: dict[int, int] = {}  # map index -> the triggerer that held its wait (first seen)
    all_deferred_after: float | None = None
    deadline = started + 300
    while True:
        for map_index, triggerer in trigger_holders(deployment, MAPPED, run_id):
            holders.setdefault(map_index, triggerer)
        if all_deferred_after is None and len(holders) == WAITS:
            all_deferred_after = time.monotonic() - started
        state = deployment.api("GET", f"/api/v2/dags/{MAPPED}/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            break
        assert time.monotonic() < deadline, f"the run of {WAITS} waits did not end in 300 s; held: {len(holders)}"
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    cpu = {name: round(deployment.processes[name].cpu_seconds() - cpu_before[name], 1) for name in meters}
    tokens = deployment.sim("GET", "/_sim/stats").get("token_requests", 0) - tokens_before

    waits = mapped_task_instances(deployment, MAPPED, run_id, "wait")
    assert state == "success", {ti["map_index"]: ti["state"] for ti in waits if ti["state"] != "success"}
    assert len(waits) == WAITS and all(ti["state"] == "success" for ti in waits)
    assert all(ti["try_number"] == 1 for ti in waits)
    # Every wait was held by a triggerer, and both triggerers held some of them.
    assert len(holders) == WAITS, sorted(set(range(WAITS)) - set(holders))
    per_triggerer = {
        name: sum(1 for held_by in holders.values() if held_by == job)
        for name, job in deployment.triggerer_jobs.items()
    }
    assert all(count > 0 for count in per_triggerer.values()), per_triggerer
    # Both workers ran tries (each wait runs twice in a worker: up to its deferral, then from its event).
    per_worker = executions_by_worker(deployment, MAPPED, run_id)
    assert all(count > 0 for count in per_worker.values()), per_worker
    # Password auth: one IAM token per process that talks to SDRS. A worker runs each try in a process of its
    # own (the try's first poll needs a token; its resumption reads only the event); each triggerer runs all
    # the waits it holds in one process.
    worker_processes = sum(ti["try_number"] for ti in waits)
    assert tokens <= worker_processes + len(deployment.triggerer_jobs), (tokens, worker_processes)

    starts = sorted(ti["start_date"] for ti in waits)
    ends = sorted(ti["end_date"] for ti in waits)
    figures = {
        "waits": WAITS,
        "job_seconds_from_first_read": JOB_INIT_SECONDS + JOB_RUN_SECONDS,
        "trigger_poll_seconds": 2,
        "end_to_end_seconds": round(elapsed, 1),
        "all_deferred_after_seconds": None if all_deferred_after is None else round(all_deferred_after, 1),
        "first_wait_started": starts[0],
        "last_wait_ended": ends[-1],
        "triggers_per_triggerer": per_triggerer,
        "task_executions_per_worker": per_worker,
        "iam_token_requests": tokens,
        "worker_task_processes_that_polled": worker_processes,
        "cpu_seconds": cpu,
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "cores": psutil.cpu_count(),
        "python": platform.python_version(),
        "airflow": version("apache-airflow"),
        "celery_provider": version("apache-airflow-providers-celery"),
        "worker_concurrency": deployment.layout.worker_concurrency,
        "parallelism": int(deployment.env["AIRFLOW__CORE__PARALLELISM"]),
    }
    print("\n" + json.dumps(figures, indent=2))
    os.makedirs(os.path.dirname(MEASUREMENT), exist_ok=True)
    with open(MEASUREMENT, "w") as out:
        json.dump(figures, out, indent=2)
        out.write("\n")


def test_a_blocking_failover_whose_worker_is_killed_is_retried_on_the_other_worker(deployment: Deployment):
    """kill -9 of the worker that waits for a failover: the retry, on the other worker, finds the group
    failing over, waits for the failover in progress and succeeds; SDRS saw one failover."""
    deployment.sim("POST", "/_sim/durations", {"init": 2, "run": 60})
    try:
        before = local_suite.submissions(deployment).get("failoverProtectionGroupNoCG", 0)
        group_id = local_suite.new_group(deployment)
        run_id = deployment.trigger(BLOCKING, {"server_group_id": group_id})

        def group_status() -> str:
            return deployment.sim("GET", "/_sim/resources")["groups"][group_id]["status"]

        def running_try(try_number: int) -> dict[str, Any] | None:
            ti = deployment.task_states(BLOCKING, run_id)["failover"]
            running = ti["state"] == "running" and ti["try_number"] == try_number and ti["pid"]
            return ti if running and group_status() == "failing-over" else None

        first = wait_for(lambda: running_try(1), "the failover to be submitted and waited for in a worker", 120)
        victim = deployment.worker_holding(first["pid"])
        assert victim is not None, first
        survivor = next(name for name in deployment.layout.workers if name != victim)
        time.sleep(2)  # a few polls of the job
        deployment.processes[victim].kill(signal.SIGKILL)
        wait_for(lambda: not psutil.pid_exists(first["pid"]), "the killed worker's task runner to be gone", 10)
        assert local_suite.submissions(deployment)["failoverProtectionGroupNoCG"] - before == 1

        # Airflow finds the try without heartbeat, fails it and retries it on the worker that is left.
        second = wait_for(lambda: running_try(2), "the retry to run while the failover is still in progress", 120)
        assert deployment.worker_holding(second["pid"]) == survivor, second

        state, seen = deployment.watch_run(BLOCKING, run_id, timeout=180)
        assert state == "success", seen
        ti = deployment.task_states(BLOCKING, run_id)["failover"]
        assert ti["try_number"] == 2, ti
        result = deployment.xcom(BLOCKING, run_id, "failover")
        assert result["submitted"] is False and result["resource_status"] == "failed-over", result
        assert group_status() == "failed-over"
        assert local_suite.submissions(deployment)["failoverProtectionGroupNoCG"] - before == 1
    finally:
        deployment.sim("POST", "/_sim/durations", {"init": 2, "run": 8})


def test_killing_the_triggerer_that_runs_a_wait_hands_it_to_the_other_one(deployment: Deployment, tmp_path):
    """The LocalExecutor suite's triggerer loss, with the drill's worker steps on Celery workers."""
    local_suite.test_killing_the_triggerer_that_runs_a_wait_hands_it_to_the_other_one(deployment, tmp_path)
