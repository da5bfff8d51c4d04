"""Event-driven DR in the deployment: a group watcher starts sdrs_group_watch; a failover's asset event starts
sdrs_failover_followup. Everything is checked through Airflow's REST API."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .deployment import Deployment, wait_for

pytestmark = pytest.mark.e2e

WATCH = "sdrs_group_watch"
FOLLOWUP = "sdrs_failover_followup"
RUNBOOK = "sdrs_planned_failover"
#: SDRS_EXAMPLE_WATCH_SECONDS in the deployment: the watcher's poll interval.
WATCH_SECONDS = 5.0
#: The group the example DAGs' assets name (SDRS_EXAMPLE_GROUP_ID's default).
EXAMPLE_GROUP = "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1"


def runs(deployment: Deployment, dag_id: str) -> list[dict[str, Any]]:
    return deployment.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]


def upstream_events(deployment: Deployment, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    answer = deployment.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents")
    return answer["asset_events"]


def parsed(deployment: Deployment, dag_id: str) -> None:
    wait_for(lambda: deployment.api("GET", f"/api/v2/dags/{dag_id}"), f"DAG {dag_id} to be parsed", 120)


def watcher_running(deployment: Deployment) -> bool:
    assert deployment.postgres is not None
    rows = deployment.postgres.query(
        "SELECT id FROM trigger WHERE classpath LIKE '%SdrsProtectionGroupEventTrigger' AND triggerer_id IS NOT NULL"
    )
    return bool(rows)


def test_a_group_entering_error_failing_over_starts_the_group_watch_within_two_poll_intervals(
    deployment: Deployment,
):
    parsed(deployment, WATCH)
    wait_for(lambda: watcher_running(deployment), "the group watcher to run in a triggerer", 120)
    name = f"watched-{time.monotonic_ns()}"
    group_id = deployment.sim("POST", "/_sim/groups", {"status": "protected", "name": name})["id"]
    time.sleep(WATCH_SECONDS + 1)  # the watcher has seen the group protected
    known = {run["dag_run_id"] for run in runs(deployment, WATCH)}
    try:
        deployment.sim("POST", f"/_sim/groups/{group_id}", {"status": "error-failing-over"})
        changed = time.monotonic()

        def started_for_my_group() -> str | None:
            for run in runs(deployment, WATCH):
                if run["dag_run_id"] in known:
                    continue
                for event in upstream_events(deployment, WATCH, run["dag_run_id"]):
                    payload = (event.get("extra") or {}).get("payload") or {}
                    if payload.get("server_group_id") == group_id:
                        return run["dag_run_id"]
            return None

        run_id = wait_for(started_for_my_group, "sdrs_group_watch to start for the broken group", 60, every=0.25)
        elapsed = time.monotonic() - changed
        print(f"sdrs_group_watch started {elapsed:.1f} s after the group broke (poll interval {WATCH_SECONDS:.0f} s)")
        assert elapsed <= 2 * WATCH_SECONDS, elapsed

        (event,) = [
            e
            for e in upstream_events(deployment, WATCH, run_id)
            if (e.get("extra") or {}).get("payload", {}).get("server_group_id") == group_id
        ]
        payload = event["extra"]["payload"]
        assert (payload["previous_status"], payload["status"]) == ("protected", "error-failing-over")
        assert payload["observed_at"] and payload["sdrs_conn_id"] == "sdrs_default"

        state, seen = deployment.watch_run(WATCH, run_id)
        assert state == "success", seen
        report = deployment.xcom(WATCH, run_id, "write_report")
        assert [g["server_group_id"] for g in report["groups"]] == [group_id]
        assert report["groups"][0]["group"]["status"] == "error-failing-over"

        # Airflow 3.3's triggerer gives the watcher an asset state store: the statuses seen outlive a restart.
        assert deployment.postgres is not None
        remembered = deployment.postgres.query(
            "SELECT value FROM asset_state_store WHERE key = 'sdrs_group_statuses:sdrs_default:*'"
        )
        assert len(remembered) == 1 and group_id in remembered[0][0] and "error-failing-over" in remembered[0][0]

        # Staying broken fires nothing more: one transition, one run.
        time.sleep(2 * WATCH_SECONDS)
        assert started_for_my_group() == run_id
        later = [r for r in runs(deployment, WATCH) if r["dag_run_id"] not in known and r["dag_run_id"] != run_id]
        assert all(
            (e.get("extra") or {}).get("payload", {}).get("server_group_id") != group_id
            for r in later
            for e in upstream_events(deployment, WATCH, r["dag_run_id"])
        )
    finally:
        deployment.sim("POST", f"/_sim/groups/{group_id}", {"status": "protected"})


def test_a_planned_failover_run_starts_the_followup_with_the_operations_extra(deployment: Deployment):
    parsed(deployment, FOLLOWUP)
    deployment.sim("POST", "/_sim/groups", {"status": "protected", "name": "example", "group_id": EXAMPLE_GROUP})
    run_id = deployment.trigger(RUNBOOK, {"server_group_id": EXAMPLE_GROUP, "mode": "planned"})
    state, seen = deployment.watch_run(RUNBOOK, run_id)
    assert state == "success", seen
    job_id = deployment.xcom(RUNBOOK, run_id, "planned_failover", "job_id")
    assert job_id

    def followup_of_this_failover() -> tuple[str, dict[str, Any]] | None:
        for run in runs(deployment, FOLLOWUP):
            for event in upstream_events(deployment, FOLLOWUP, run["dag_run_id"]):
                if (event.get("extra") or {}).get("job_id") == job_id:
                    return run["dag_run_id"], event
        return None

    followup_id, event = wait_for(followup_of_this_failover, "sdrs_failover_followup to start", 60)
    extra = event["extra"]
    assert extra["operation"] == "planned_failover" and extra["submitted"] is True
    assert extra["resource_status"] == "protected" and extra["priority_station"] == "target"
    assert extra["server_group_id"] == EXAMPLE_GROUP and extra["duration_seconds"] > 0
    assert event["source_dag_id"] == RUNBOOK and event["source_run_id"] == run_id

    state, seen = deployment.watch_run(FOLLOWUP, followup_id)
    assert state == "success", seen
    record = deployment.xcom(FOLLOWUP, followup_id, "record_failover")
    assert record["job_id"] == job_id and record["production_site"] == "target"
