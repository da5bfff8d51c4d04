"""The provider on a distributed Airflow: CeleryExecutor with two Celery workers and two triggerers.

Redis is the broker; PostgreSQL is the metadata database and Celery's result backend. DAG runs are started
and read through Airflow's REST API; the trigger table tells which triggerer held a wait; the process tree of
each worker tells which one runs a try; the simulator tells what SDRS saw. The tests lose a worker and then a
triggerer, so they run in this order.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import psutil
import pytest

from tests.e2e import test_deployment as local_suite
from tests.e2e.deployment import Deployment, wait_for

pytestmark = pytest.mark.e2e

MAPPED = "sdrs_e2e_mapped_waits"
BLOCKING = "sdrs_e2e_blocking_failover"
WAITS = 100
#: Seconds the deployment is watched idle first, to tell what the waits cost from what the processes spend anyway.
IDLE_SECONDS = 10
#: Each job is INIT, then RUNNING, for these seconds from its first read (the sensor's, in the worker), so
#: every wait is deferred well before its job ends.
JOB_INIT_SECONDS, JOB_RUN_SECONDS = 3, 17
#: A failover is INIT, then RUNNING, this long: it outlasts the lost try, Airflow's finding it without
#: heartbeat (20 s) and the start of its retry.
FAILOVER_INIT_SECONDS, FAILOVER_RUN_SECONDS = 2, 60


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


def test_a_hundred_mapped_deferrable_waits_succeed_spread_over_both_triggerers(
    deployment: Deployment, measurement: dict[str, Any]
):
    job_ids = [
        deployment.sim(
            "POST",
            "/_sim/jobs",
            {"init_seconds": JOB_INIT_SECONDS, "run_seconds": JOB_RUN_SECONDS, "clock_from_first_poll": True},
        )["job_id"]
        for _ in range(WAITS)
    ]
    meters = ("scheduler", *deployment.triggerer_jobs, *deployment.layout.workers, "dag-processor", "api-server")
    idle_from = {name: deployment.processes[name].cpu_seconds() for name in meters}
    time.sleep(IDLE_SECONDS)
    cpu_before = {name: deployment.processes[name].cpu_seconds() for name in meters}
    idle_per_second = {name: (cpu_before[name] - idle_from[name]) / IDLE_SECONDS for name in meters}
    stats_before = deployment.sim("GET", "/_sim/stats")
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
    cpu = {name: deployment.processes[name].cpu_seconds() - cpu_before[name] for name in meters}
    above_idle = {name: cpu[name] - idle_per_second[name] * elapsed for name in meters}
    stats = deployment.sim("GET", "/_sim/stats")
    tokens = stats.get("token_requests", 0) - stats_before.get("token_requests", 0)
    job_reads = stats.get("job", 0) - stats_before.get("job", 0)

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

    trigger_polls = job_reads - worker_processes  # each try's first read is in its worker
    measurement["hundred_waits"] = {
        "waits": WAITS,
        "job_seconds_from_first_read": JOB_INIT_SECONDS + JOB_RUN_SECONDS,
        "poll_interval_seconds": 2,
        "end_to_end_seconds": round(elapsed, 1),
        "all_deferred_after_seconds": None if all_deferred_after is None else round(all_deferred_after, 1),
        "first_wait_started": min(ti["start_date"] for ti in waits),
        "last_wait_ended": max(ti["end_date"] for ti in waits),
        "triggers_per_triggerer": per_triggerer,
        "task_executions_per_worker": per_worker,
        "iam_token_requests": tokens,
        "worker_task_processes_that_polled": worker_processes,
        "job_reads": job_reads,
        "trigger_polls": trigger_polls,
        "cpu_seconds": {name: round(seconds, 1) for name, seconds in cpu.items()},
        "idle_cpu_seconds_per_second": {name: round(rate, 3) for name, rate in idle_per_second.items()},
        "cpu_seconds_above_idle": {name: round(seconds, 1) for name, seconds in above_idle.items()},
        "triggerer_cpu_us_per_trigger_poll_above_idle": round(
            sum(above_idle[name] for name in deployment.triggerer_jobs) / max(trigger_polls, 1) * 1e6
        ),
        "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }


def test_a_blocking_failover_whose_worker_is_killed_is_retried_on_the_other_worker(
    deployment: Deployment, measurement: dict[str, Any]
):
    """kill -9 of the worker that waits for a failover: the retry, on the other worker, finds the group
    failing over, waits for the failover in progress and succeeds; SDRS saw one failover."""
    deployment.sim("POST", "/_sim/durations", {"init": FAILOVER_INIT_SECONDS, "run": FAILOVER_RUN_SECONDS})
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
        killed_at = time.monotonic()
        wait_for(lambda: not psutil.pid_exists(first["pid"]), "the killed worker's task runner to be gone", 10)
        assert local_suite.submissions(deployment)["failoverProtectionGroupNoCG"] - before == 1

        # Airflow finds the try without heartbeat, fails it and retries it on the worker that is left.
        second = wait_for(lambda: running_try(2), "the retry to run while the failover is still in progress", 120)
        assert deployment.worker_holding(second["pid"]) == survivor, second
        retried_after = time.monotonic() - killed_at

        state, seen = deployment.watch_run(BLOCKING, run_id, timeout=180)
        assert state == "success", seen
        ti = deployment.task_states(BLOCKING, run_id)["failover"]
        assert ti["try_number"] == 2, ti
        result = deployment.xcom(BLOCKING, run_id, "failover")
        assert result["submitted"] is False and result["resource_status"] == "failed-over", result
        retry_log = deployment.task_log(BLOCKING, run_id, "failover", try_number=2)
        assert f"{group_id} is failing-over: an earlier" in retry_log and "still in progress" in retry_log
        assert group_status() == "failed-over"
        assert local_suite.submissions(deployment)["failoverProtectionGroupNoCG"] - before == 1
        measurement["worker_lost"] = {
            "retry_running_seconds_after_kill": round(retried_after, 1),
            "run_seconds_after_kill": round(time.monotonic() - killed_at, 1),
            "failover_job_seconds": FAILOVER_INIT_SECONDS + FAILOVER_RUN_SECONDS,
        }
    finally:
        deployment.sim("POST", "/_sim/durations", {"init": 2, "run": 8})


def test_killing_the_triggerer_that_runs_a_wait_hands_it_to_the_other_one(deployment: Deployment, tmp_path):
    """The LocalExecutor suite's triggerer loss, with the drill's worker steps on Celery workers."""
    local_suite.test_killing_the_triggerer_that_runs_a_wait_hands_it_to_the_other_one(deployment, tmp_path)
