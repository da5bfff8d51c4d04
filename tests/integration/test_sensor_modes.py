"""One scenario table, three modes: a job must end the same way in poke, reschedule and deferrable mode."""

from __future__ import annotations

import threading
import time

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
)

from airflow_provider_sdrs.exceptions import SdrsError, SdrsJobFailedError, SdrsJobUnknownError
from airflow_provider_sdrs.sensors.sdrs import SdrsJobSensor
from tests.support import MODES, TaskInstanceStandIn, first_event, run_sensor  # noqa: F401


@pytest.mark.parametrize("mode", MODES)
def test_success_returns_the_job(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0.1, run_seconds=0.3, sub_jobs=2, clock_from_first_poll=True)
    result = run_sensor(mode, job_id)
    assert result["job_id"] == job_id and result["status"] == "SUCCESS"
    assert len(result["entities"]["sub_jobs"]) == 2
    assert sim.job_polls(job_id) >= 2


@pytest.mark.parametrize("mode", MODES)
def test_job_failure_is_final_and_says_why(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(
        outcome="FAIL",
        run_seconds=0.2,
        sub_jobs=2,
        error_code="SDRS.1830",
        fail_reason="replication still synchronising",
        clock_from_first_poll=True,
    )
    with pytest.raises(SdrsJobFailedError) as info:
        run_sensor(mode, job_id)
    assert isinstance(info.value, AirflowFailException)
    for text in (job_id, "SDRS.1830", "replication still synchronising", "Failed sub-jobs"):
        assert text in str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_job_that_never_ends_times_out(mode, sdrs_connection):
    job_id = sdrs_connection.simulator.add_job(lifecycle=[("RUNNING", 0)])
    with pytest.raises(AirflowSensorTimeout):
        run_sensor(mode, job_id, timeout=0.5)


@pytest.mark.parametrize("mode", MODES)
def test_soft_fail_skips_on_timeout(mode, sdrs_connection):
    job_id = sdrs_connection.simulator.add_job(lifecycle=[("INIT", 0)])
    with pytest.raises(AirflowSkipException):
        run_sensor(mode, job_id, timeout=0.4, soft_fail=True)


@pytest.mark.parametrize("mode", MODES)
def test_transient_faults_are_ridden_out(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0.3, clock_from_first_poll=True)
    sim.add_fault("status", status=503, count=3, job_id=job_id)
    sim.add_fault("reset", count=1, job_id=job_id)
    assert run_sensor(mode, job_id)["status"] == "SUCCESS"


@pytest.mark.parametrize("mode", MODES)
def test_a_poll_that_keeps_failing_is_a_retryable_error_not_a_job_failure(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.add_fault("status", status=503, count=-1, job_id=job_id)
    with pytest.raises(SdrsError) as info:
        run_sensor(mode, job_id, poll_retry_limit=1, max_poll_failures=2)
    assert not isinstance(info.value, (AirflowFailException, SdrsJobFailedError))
    assert "HTTP 503" in str(info.value) and job_id in str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_an_unknown_job_fails_clearly_after_the_grace_period(mode, sdrs_connection):
    started = time.monotonic()
    with pytest.raises(SdrsJobUnknownError) as info:
        run_sensor(mode, "0000000062db92d70162db9d200f000a")
    assert time.monotonic() - started >= 0.25
    assert isinstance(info.value, AirflowFailException)
    assert "0000000062db92d70162db9d200f000a" in str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_fresh_job_that_appears_within_the_grace_period_is_waited_on(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = "0123456789abcdef0123456789abcdef"
    threading.Timer(0.15, lambda: sim.add_job(job_id, init_seconds=0, run_seconds=0)).start()
    assert run_sensor(mode, job_id)["status"] == "SUCCESS"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("job_id", ["../x", "a b", "", "ü"])
def test_a_malformed_job_id_fails_without_retry_and_without_requests(mode, job_id, sdrs_connection):
    with pytest.raises(AirflowFailException, match="job_id"):
        run_sensor(mode, job_id)
    assert sdrs_connection.simulator.records == []


def test_deferrable_sensor_does_not_defer_when_the_job_already_ended(sdrs_connection):
    job_id = sdrs_connection.simulator.add_job(init_seconds=0, run_seconds=0)
    sensor = SdrsJobSensor(task_id="wait", job_id=job_id, deferrable=True, poke_interval=1)
    assert sensor.execute({"ti": TaskInstanceStandIn()})["status"] == "SUCCESS"


def test_deferrable_defaults_to_the_airflow_setting(monkeypatch):
    import importlib

    import airflow_provider_sdrs.sensors.sdrs as module

    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    try:
        reloaded = importlib.reload(module)
        assert reloaded.SdrsJobSensor(task_id="t", job_id="abc").deferrable is True
    finally:
        monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE")
        importlib.reload(module)


def test_deferrable_sensor_whose_first_poll_fails_hands_the_wait_to_the_triggerer(sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0.3, clock_from_first_poll=True)
    # More faults than one poll's retries: the pre-deferral poll fails, the trigger then rides it out.
    sim.add_fault("status", status=503, count=3, job_id=job_id)
    assert run_sensor("deferrable", job_id, poll_retry_limit=1)["status"] == "SUCCESS"
    assert sim.counters["job:503"] == 3


def test_deferrable_sensor_with_refused_credentials_fails_before_deferring(sdrs_connection):
    import dataclasses

    from airflow_provider_sdrs.exceptions import SdrsAuthError

    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.credentials = dataclasses.replace(sim.credentials, secret_key="rotated-secret-key")
    with pytest.raises(SdrsAuthError):
        run_sensor("deferrable", job_id)
