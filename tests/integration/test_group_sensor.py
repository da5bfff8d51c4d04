"""SdrsProtectionGroupSensor: one scenario table, three modes, against the simulator's state machines."""

from __future__ import annotations

import threading
import time

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
)

from airflow_provider_sdrs.exceptions import SdrsError, SdrsResourceStatusError, SdrsValidationError
from airflow_provider_sdrs.sensors.sdrs import SdrsProtectionGroupSensor
from tests.support import MODES, run_as_airflow


def run_group_sensor(mode: str, group_id: str, *, timeout: float = 5.0, **kwargs):
    """Run the sensor as Airflow would in ``mode``; return its result and task instance, or raise its error."""
    template = SdrsProtectionGroupSensor(
        task_id="wait_for_group",
        server_group_id=group_id,
        poke_interval=0.05,
        timeout=timeout,
        mode="reschedule" if mode == "reschedule" else "poke",
        deferrable=mode == "deferrable",
        **{"poll_retry_delay": 0.01, **kwargs},
    )
    return run_as_airflow(template, mode)


def later(seconds: float, action) -> None:
    threading.Timer(seconds, action).start()


@pytest.mark.parametrize("mode", MODES)
def test_waits_for_protection_to_be_enabled(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="available")
    later(0.15, lambda: sim.model.resources_answer(lambda r: r.group_action(group_id, {"start-server-group": {}})))
    document, ti = run_group_sensor(mode, group_id)
    assert document["id"] == group_id and document["status"] == "protected"
    assert sim.resource_status("group", group_id) == "protected"
    if mode == "deferrable":
        assert [t.reach for t in ti.deferrals] == [["protected"]]


@pytest.mark.parametrize("mode", MODES)
def test_a_group_already_there_ends_at_once(mode, sdrs_connection):
    group_id = sdrs_connection.simulator.add_group(status="protected")
    document, ti = run_group_sensor(mode, group_id)
    assert document["status"] == "protected" and ti.deferrals == []


@pytest.mark.parametrize("mode", MODES)
def test_one_of_several_statuses(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="reversing")
    later(0.15, lambda: sim.set_group(group_id, status="failed-over"))
    document, _ = run_group_sensor(mode, group_id, statuses=["protected", "failed-over"])
    assert document["status"] == "failed-over"


@pytest.mark.parametrize("mode", MODES)
def test_initial_synchronisation_by_replication_status(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected", replication_status="inactive", progress=40)
    later(0.15, lambda: sim.set_group(group_id, replication_status="active", progress=100))
    document, _ = run_group_sensor(mode, group_id, wait_for_sync=True)
    assert document["replication_status"] == "active"


@pytest.mark.parametrize("mode", MODES)
def test_initial_synchronisation_by_progress_when_no_replication_status(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected", progress=99)
    later(0.15, lambda: sim.set_group(group_id, progress=100))
    document, _ = run_group_sensor(mode, group_id, statuses=None, wait_for_sync=True)
    assert document["progress"] == 100


@pytest.mark.parametrize("mode", MODES)
def test_replication_status_inactive_beats_a_progress_of_100(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected", replication_status="inactive", progress=100)
    with pytest.raises(AirflowSensorTimeout):
        run_group_sensor(mode, group_id, wait_for_sync=True, timeout=0.4)


@pytest.mark.parametrize("mode", MODES)
def test_an_error_status_fails_at_once_and_is_not_retried(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected")
    sim.resources.fail_next("failoverProtectionGroupNoCG")
    sim.model.resources_answer(lambda r: r.group_action(group_id, {"failover-server-group": {}}))
    started = time.monotonic()
    with pytest.raises(SdrsResourceStatusError) as info:
        run_group_sensor(mode, group_id, statuses="failed-over", timeout=30)
    assert time.monotonic() - started < 10
    assert isinstance(info.value, AirflowFailException)
    assert info.value.status == "error-failing-over" and "error-failing-over" in str(info.value)
    assert group_id in str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_an_error_status_waited_for_is_a_success(mode, sdrs_connection):
    group_id = sdrs_connection.simulator.add_group(status="error-starting")
    document, _ = run_group_sensor(mode, group_id, statuses=["error-starting"])
    assert document["status"] == "error-starting"


@pytest.mark.parametrize("mode", MODES)
def test_a_group_that_is_gone_fails_without_retry(mode, sdrs_connection):
    with pytest.raises(SdrsResourceStatusError, match="gone"):
        run_group_sensor(mode, "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1")


@pytest.mark.parametrize("mode", MODES)
def test_times_out(mode, sdrs_connection):
    group_id = sdrs_connection.simulator.add_group(status="available")
    with pytest.raises(AirflowSensorTimeout):
        run_group_sensor(mode, group_id, timeout=0.4)


@pytest.mark.parametrize("mode", MODES)
def test_soft_fail_skips_on_timeout(mode, sdrs_connection):
    group_id = sdrs_connection.simulator.add_group(status="available")
    with pytest.raises(AirflowSkipException):
        run_group_sensor(mode, group_id, timeout=0.4, soft_fail=True)


@pytest.mark.parametrize("mode", MODES)
def test_transient_faults_are_ridden_out(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="starting")
    sim.add_fault("status", status=503, count=3, target="api")
    later(0.2, lambda: sim.set_group(group_id, status="protected"))
    document, _ = run_group_sensor(mode, group_id, poll_retry_limit=1, max_poll_failures=5)
    assert document["status"] == "protected"


@pytest.mark.parametrize("mode", MODES)
def test_failed_polls_are_a_retryable_error_not_a_status_failure(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="starting")
    sim.add_fault("status", status=503, count=-1, target="api")
    with pytest.raises(SdrsError) as info:
        run_group_sensor(mode, group_id, poll_retry_limit=1, max_poll_failures=2)
    assert not isinstance(info.value, (AirflowFailException, SdrsResourceStatusError))
    assert "HTTP 503" in str(info.value) and group_id in str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_malformed_group_id_fails_without_requests(mode, sdrs_connection):
    with pytest.raises(AirflowFailException, match="server_group_id"):
        run_group_sensor(mode, "../x")
    assert sdrs_connection.simulator.records == []


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"statuses": []}, "statuses"),
        ({"statuses": None}, "statuses"),
        ({"statuses": [""]}, "statuses"),
        ({"statuses": 3}, "statuses"),
        ({"wait_for_sync": "yes"}, "wait_for_sync"),
        ({"poke_interval": float("nan")}, "poke_interval"),
    ],
)
def test_bad_arguments_name_the_field(arguments, field):
    with pytest.raises(SdrsValidationError, match=field):
        SdrsProtectionGroupSensor(task_id="t", server_group_id="g", **arguments)
