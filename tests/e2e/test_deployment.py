"""The provider in a real deployment: scheduler, LocalExecutor, two triggerers, API server, PostgreSQL.

DAG runs are triggered and inspected through Airflow's REST API only; the simulator tells what SDRS saw.
The triggerer failover test kills a triggerer, so it runs last.
"""

from __future__ import annotations

import signal
import time

import pytest

from .deployment import Deployment, wait_for

pytestmark = pytest.mark.e2e

DRILL = "sdrs_dr_drill"
SENSOR = "sdrs_job_sensor"


def new_group(deployment: Deployment, status: str = "protected") -> str:
    return deployment.sim("POST", "/_sim/groups", {"status": status, "name": f"erp-{time.monotonic_ns()}"})["id"]


def submissions(deployment: Deployment) -> dict[str, int]:
    return deployment.sim("GET", "/_sim/resources")["submissions"]


def test_dr_drill_runs_through_the_triggerer_and_exposes_xcom_and_links(deployment: Deployment, tmp_path):
    before = submissions(deployment)
    group_id = new_group(deployment)
    run_id = deployment.trigger(
        DRILL, {"server_group_id": group_id, "target_rto_seconds": 600, "report_dir": str(tmp_path)}
    )
    state, seen = deployment.watch_run(DRILL, run_id)
    assert state == "success", seen
    assert "deferred" in seen["create_drill"] and "deferred" in seen["delete_drill"], seen

    drill_id = deployment.xcom(DRILL, run_id, "create_drill", "drill_id")
    created = deployment.xcom(DRILL, run_id, "create_drill")
    assert created["drill_id"] == drill_id and created["status"] == "SUCCESS"
    assert deployment.xcom(DRILL, run_id, "create_drill", "job_id") == created["job_id"]
    report = deployment.xcom(DRILL, run_id, "publish_report")
    assert report["outcome"] == "passed" and report["drill_id"] == drill_id and report["cleanup"] == "drill deleted"
    assert (tmp_path / next(p.name for p in tmp_path.glob("*.md"))).read_text().count(drill_id) >= 1

    expected = f"{deployment.sim_url}/console/sdrs/?region=eu-de"
    for task_id in ("create_drill", "delete_drill"):
        assert deployment.links(DRILL, run_id, task_id) == {"SDRS console": expected}

    after = submissions(deployment)
    for job_type in ("createDisasterRecoveryDrill", "deleteDisasterRecoveryDrill"):
        assert after.get(job_type, 0) - before.get(job_type, 0) == 1
    assert drill_id not in deployment.sim("GET", "/_sim/resources")["drills"]


def test_deferrable_sensor_dag_waits_in_the_triggerer(deployment: Deployment):
    job_id = deployment.sim("POST", "/_sim/jobs", {"init_seconds": 3, "run_seconds": 7, "sub_jobs": 2})["job_id"]
    run_id = deployment.trigger(SENSOR, {"job_id": job_id})
    state, seen = deployment.watch_run(SENSOR, run_id)
    assert state == "success", seen
    assert "deferred" in seen["wait_for_job"], seen
    job = deployment.xcom(SENSOR, run_id, "wait_for_job")
    assert job["job_id"] == job_id and job["status"] == "SUCCESS"
    assert deployment.links(SENSOR, run_id, "wait_for_job")["SDRS console"].endswith("/sdrs/?region=eu-de")


def test_a_failed_drill_job_fails_the_task_once_with_the_sdrs_code_in_its_log(deployment: Deployment, tmp_path):
    group_id = new_group(deployment)
    deployment.sim("POST", "/_sim/fail_next", {"job_type": "createDisasterRecoveryDrill"})
    run_id = deployment.trigger(DRILL, {"server_group_id": group_id, "report_dir": str(tmp_path)})
    state, seen = deployment.watch_run(DRILL, run_id)
    assert state == "failed"
    tis = deployment.task_states(DRILL, run_id)
    assert tis["create_drill"]["state"] == "failed" and tis["create_drill"]["try_number"] == 1, tis["create_drill"]
    assert "up_for_retry" not in seen["create_drill"]
    log = deployment.task_log(DRILL, run_id, "create_drill")
    assert "SDRS.0206" in log and "createDisasterRecoveryDrill" in log
    assert tis["delete_drill"]["state"] == "success"  # the broken drill is still cleaned up
    assert deployment.xcom(DRILL, run_id, "publish_report") is None  # it failed the run after writing
    assert "failed" in next(tmp_path.glob("*.json")).read_text()


def test_a_burst_of_transient_faults_does_not_change_the_outcome(deployment: Deployment):
    job_id = deployment.sim("POST", "/_sim/jobs", {"init_seconds": 3, "run_seconds": 7})["job_id"]
    deployment.sim("POST", "/_sim/faults", {"kind": "status", "status": 503, "target": "job", "count": 3})
    deployment.sim("POST", "/_sim/faults", {"kind": "reset", "target": "job", "count": 2})
    run_id = deployment.trigger(SENSOR, {"job_id": job_id})
    state, seen = deployment.watch_run(SENSOR, run_id)
    assert state == "success", seen
    assert deployment.task_states(SENSOR, run_id)["wait_for_job"]["try_number"] == 1
    stats = deployment.sim("GET", "/_sim/stats")
    assert stats.get("job:503", 0) >= 3


def test_a_deferrable_operator_that_finds_its_operation_in_progress_waits_for_it_in_the_triggerer(
    deployment: Deployment,
):
    """A failover whose answer was lost is still running when the task is cleared: the retry waits for it
    deferred (no worker slot), held by a triggerer, and submits nothing more."""
    failover = "sdrs_planned_failover"
    deployment.sim("POST", "/_sim/durations", {"init": 2, "run": 20})
    try:
        before = submissions(deployment).get("failoverProtectionGroupNoCG", 0)
        group_id = new_group(deployment)
        deployment.sim("POST", "/_sim/faults", {"kind": "lost_answer", "target": "submit", "count": 1})
        run_id = deployment.trigger(failover, {"server_group_id": group_id, "mode": "unplanned"})
        state, _ = deployment.watch_run(failover, run_id)
        assert state == "failed" and deployment.task_states(failover, run_id)["failover"]["state"] == "failed"
        assert submissions(deployment)["failoverProtectionGroupNoCG"] - before == 1

        # What on-call does after a lost answer: clear the task (and what follows it) to run it again.
        deployment.api(
            "POST",
            f"/api/v2/dags/{failover}/clearTaskInstances",
            json={
                "dry_run": False,
                "dag_run_id": run_id,
                "task_ids": ["failover"],
                "include_downstream": True,
                "only_failed": False,
                "reset_dag_runs": True,
            },
        )

        def resource_trigger() -> tuple[str, int] | None:
            assert deployment.postgres is not None
            rows = deployment.postgres.query(
                "SELECT t.classpath, t.triggerer_id FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id "
                f"WHERE ti.dag_id = '{failover}' AND ti.run_id = '{run_id}' AND ti.task_id = 'failover' "
                "AND ti.state = 'deferred' AND t.triggerer_id IS NOT NULL"
            )
            return rows[0] if rows else None

        classpath, holder = wait_for(resource_trigger, "the cleared failover to defer to a triggerer", 90)
        assert classpath.endswith("SdrsResourceTrigger")
        assert holder in deployment.triggerer_jobs.values()
        assert deployment.task_states(failover, run_id)["failover"]["state"] == "deferred"
        assert deployment.sim("GET", "/_sim/resources")["groups"][group_id]["status"] == "failing-over"

        state, seen = deployment.watch_run(failover, run_id, timeout=180)
        assert state == "success", seen
        result = deployment.xcom(failover, run_id, "failover")
        assert result["submitted"] is False and result["resource_status"] == "failed-over"
        assert submissions(deployment)["failoverProtectionGroupNoCG"] - before == 1
    finally:
        deployment.sim("POST", "/_sim/durations", {"init": 2, "run": 8})


def test_killing_the_triggerer_that_runs_a_wait_hands_it_to_the_other_one(deployment: Deployment, tmp_path):
    deployment.sim("POST", "/_sim/durations", {"init": 2, "run": 25})
    try:
        before = submissions(deployment)
        group_id = new_group(deployment)
        run_id = deployment.trigger(DRILL, {"server_group_id": group_id, "report_dir": str(tmp_path)})

        def running_trigger() -> tuple[int, int] | None:
            assert deployment.postgres is not None
            rows = deployment.postgres.query(
                "SELECT t.id, t.triggerer_id FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id "
                f"WHERE ti.dag_id = '{DRILL}' AND ti.run_id = '{run_id}' AND ti.task_id = 'create_drill' "
                "AND t.triggerer_id IS NOT NULL"
            )
            return rows[0] if rows else None

        trigger_id, owner_job = wait_for(running_trigger, "the create_drill trigger to be picked up", 60)
        owner = next(name for name, job in deployment.triggerer_jobs.items() if job == owner_job)
        other = next(name for name in deployment.triggerer_jobs if name != owner)
        time.sleep(2)  # let it poll a few times
        deployment.processes[owner].kill(signal.SIGKILL)

        def taken_over() -> bool:
            assert deployment.postgres is not None
            rows = deployment.postgres.query(f"SELECT triggerer_id FROM trigger WHERE id = {trigger_id}")
            return bool(rows) and rows[0][0] == deployment.triggerer_jobs[other]

        wait_for(taken_over, f"{other} to take the trigger over from {owner}", 60)
        state, seen = deployment.watch_run(DRILL, run_id, timeout=240)
        assert state == "success", seen
        after = submissions(deployment)
        assert after["createDisasterRecoveryDrill"] - before.get("createDisasterRecoveryDrill", 0) == 1
        assert after["deleteDisasterRecoveryDrill"] - before.get("deleteDisasterRecoveryDrill", 0) == 1
        assert deployment.task_states(DRILL, run_id)["create_drill"]["try_number"] == 1
    finally:
        deployment.sim("POST", "/_sim/durations", {"init": 2, "run": 8})
