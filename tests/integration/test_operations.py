"""The hook's DR operations against the simulator's protection groups and drills, over HTTP."""

from __future__ import annotations

import time

import pytest

from airflow_provider_sdrs.exceptions import (
    SdrsConnectionError,
    SdrsPreconditionError,
    SdrsResourceNotFoundError,
    SdrsValidationError,
)
from airflow_provider_sdrs.hooks.sdrs import SdrsHook
from airflow_provider_sdrs.models import SdrsJobStatus


@pytest.fixture
def sim(sdrs_connection):
    simulator = sdrs_connection.simulator
    simulator.resources.durations = (0.05, 0.2)
    return simulator


@pytest.fixture
def hook():
    return SdrsHook(retry_delay=0.01)


def wait_for(hook: SdrsHook, job_id: str):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = hook.get_job(job_id)
        if job.is_terminal:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end")


@pytest.mark.parametrize(
    ("start", "operation", "during", "after", "job_type"),
    [
        ("available", "start_protection", "starting", "protected", "startProtectionGroupNoCG"),
        ("protected", "stop_protection", "stopping", "available", "stopProtectionGroupNoCG"),
        ("protected", "failover", "failing-over", "failed-over", "failoverProtectionGroupNoCG"),
        ("protected", "planned_failover", "reversing", "protected", "reverseProtectionGroupNoCG"),
        ("failed-over", "reprotect", "reprotecting", "protected", "reprotectProtectionGroupNoCG"),
    ],
)
def test_group_operations_follow_the_documented_state_machine(sim, hook, start, operation, during, after, job_type):
    group_id = sim.add_group(status=start)
    job_id = getattr(hook, operation)(group_id)
    assert hook.get_protection_group(group_id)["status"] == during
    job = wait_for(hook, job_id)
    assert job.status is SdrsJobStatus.SUCCESS and job.job_type == job_type
    assert job.entities["server_group_id"] == group_id
    assert hook.get_protection_group(group_id)["status"] == after


def test_planned_failover_sets_the_priority_station(sim, hook):
    group_id = sim.add_group()
    wait_for(hook, hook.planned_failover(group_id, priority_station="target"))
    assert hook.get_protection_group(group_id)["priority_station"] == "target"
    with pytest.raises(SdrsValidationError, match="priority_station"):
        hook.planned_failover(group_id, priority_station="elsewhere")


def test_drill_lifecycle(sim, hook):
    group_id = sim.add_group(status="protected")
    job = wait_for(hook, hook.create_drill(group_id, "weekly-drill", drill_vpc_id="vpc-drill-1"))
    drill_id = job.entities["disaster_recovery_drill_id"]
    drill = hook.get_drill(drill_id)
    assert drill["status"] == "available" and drill["name"] == "weekly-drill" and drill["drill_vpc_id"] == "vpc-drill-1"
    assert [d["id"] for d in hook.list_drills(group_id)] == [drill_id]
    assert hook.list_drills(sim.add_group()) == []
    wait_for(hook, hook.delete_drill(drill_id))
    with pytest.raises(SdrsResourceNotFoundError, match=r"SDRS\.1902"):
        hook.get_drill(drill_id)


def test_protection_group_create_and_delete(sim, hook):
    job = wait_for(
        hook,
        hook.create_protection_group(
            name="pg-1",
            source_availability_zone="eu-de-01",
            target_availability_zone="eu-de-02",
            domain_id="0a1b2c3d",
            source_vpc_id="vpc-1",
        ),
    )
    group_id = job.entities["server_group_id"]
    assert hook.get_protection_group(group_id)["status"] == "available"
    wait_for(hook, hook.delete_protection_group(group_id))
    with pytest.raises(SdrsResourceNotFoundError, match=r"SDRS\.1013"):
        hook.get_protection_group(group_id)


@pytest.mark.parametrize(
    ("status", "operation", "code"),
    [
        ("available", "failover", "SDRS.1002"),
        ("failed-over", "stop_protection", "SDRS.1002"),
        ("reversing", "delete_protection_group", "SDRS.1002"),
        ("starting", "start_protection", "SDRS.1002"),
    ],
)
def test_refused_in_the_wrong_state_is_a_precondition_error(sim, hook, status, operation, code):
    group_id = sim.add_group(status=status)
    with pytest.raises(SdrsPreconditionError) as info:
        getattr(hook, operation)(group_id)
    assert info.value.code == code and status in str(info.value)
    assert sim.resource_status("group", group_id) == status


def test_a_drill_blocks_failover_and_group_deletion(sim, hook):
    group_id = sim.add_group(status="protected")
    sim.add_drill(group_id)
    with pytest.raises(SdrsPreconditionError, match=r"SDRS\.1003"):
        hook.failover(group_id)


def test_a_drill_being_created_cannot_be_deleted(sim, hook):
    drill_id = sim.add_drill(sim.add_group(), status="creating")
    with pytest.raises(SdrsPreconditionError, match=r"SDRS\.1913"):
        hook.delete_drill(drill_id)


def test_a_failed_job_leaves_the_group_in_its_error_state(sim, hook):
    group_id = sim.add_group(status="protected")
    sim.resources.fail_next("failoverProtectionGroupNoCG")
    job = wait_for(hook, hook.failover(group_id))
    assert job.status is SdrsJobStatus.FAIL and job.error_code
    assert hook.get_protection_group(group_id)["status"] == "error-failing-over"


def test_unknown_resources_are_not_found_errors(sim, hook):
    missing = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    for call in (hook.get_protection_group, hook.failover, hook.get_drill, hook.delete_drill):
        with pytest.raises(SdrsResourceNotFoundError):
            call(missing)


def test_a_submission_is_not_resent_after_it_may_have_reached_sdrs(sim, hook):
    group_id = sim.add_group(status="protected")
    sim.add_fault("reset", target="api", count=1)
    with pytest.raises(SdrsConnectionError) as info:
        hook.failover(group_id)
    assert info.value.may_have_started and "read the resource's state" in str(info.value)
    assert sim.resources.submissions["failoverProtectionGroupNoCG"] == 0  # the reset came before SDRS acted
    assert sim.counters["api"] == 1


def test_a_throttled_submission_is_resent(sim, hook):
    group_id = sim.add_group(status="protected")
    sim.add_fault("throttle", target="api", count=2, retry_after="0")
    wait_for(hook, hook.failover(group_id))
    assert sim.resources.submissions["failoverProtectionGroupNoCG"] == 1


def test_a_submission_that_failed_on_the_server_is_not_resent(sim, hook):
    group_id = sim.add_group(status="protected")
    sim.add_fault("status", target="api", status=503, count=1)
    with pytest.raises(Exception, match="HTTP 503"):
        hook.failover(group_id)
    assert sim.counters["api"] == 1


@pytest.mark.parametrize("bad", ["../x", "a/b", "", None, "x" * 65])
def test_bad_resource_ids_are_refused_before_any_request(sim, hook, bad):
    for call in (hook.failover, hook.get_protection_group, hook.get_drill, hook.delete_drill):
        with pytest.raises(SdrsValidationError):
            call(bad)
    with pytest.raises(SdrsValidationError):
        hook.create_drill(bad, "drill")
    assert sim.records == []


def test_control_api_scripts_resources_for_other_processes(sim, hook):
    import json
    import urllib.request

    def control(method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{sim.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read() or b"{}")

    group_id = control("POST", "/_sim/groups", {"status": "protected", "name": "erp"})["id"]
    control("POST", "/_sim/durations", {"init": 0.01, "run": 0.05})
    control("POST", "/_sim/fail_next", {"job_type": "failoverProtectionGroupNoCG"})
    job = wait_for(hook, hook.failover(group_id))
    assert job.status is SdrsJobStatus.FAIL
    view = control("GET", "/_sim/resources")
    assert view["groups"][group_id]["status"] == "error-failing-over"
    assert view["submissions"] == {"failoverProtectionGroupNoCG": 1}
