"""Hostile waits: gateway 404s, answers about other jobs, failed polls in every mode, bad numbers, lost connections.

Every wait runs against the simulator over HTTP, in every mode it applies to: the sensor in poke, reschedule
and deferrable mode (trigger events and the sensor resuming), the operators waiting in the worker and in
the triggerer, and a real reschedule run through ``dag.test()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_sdrs._core.errors import api_error, is_retryable
from airflow_provider_sdrs._core.http import HttpResponse
from airflow_provider_sdrs._waiting import result_from_event
from airflow_provider_sdrs.exceptions import (
    SdrsApiError,
    SdrsJobFailedError,
    SdrsJobNotFoundError,
    SdrsJobUnknownError,
    SdrsPollError,
    SdrsValidationError,
)
from airflow_provider_sdrs.hooks.sdrs import SdrsHook
from airflow_provider_sdrs.operators.sdrs import (
    SdrsCreateDrillOperator,
    SdrsCreateProtectionGroupOperator,
    SdrsDeleteDrillOperator,
    SdrsDeleteProtectionGroupOperator,
    SdrsFailoverOperator,
    SdrsPlannedFailoverOperator,
    SdrsReprotectOperator,
    SdrsStartProtectionOperator,
    SdrsStopProtectionOperator,
)
from airflow_provider_sdrs.sensors.sdrs import SdrsJobSensor
from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

from tests.support import MODES, TaskInstanceStandIn, first_event, first_payload, run_sensor

OPERATOR_MODES = ["blocking", "deferrable"]
FAST = {"poll_retry_limit": 0, "poll_retry_delay": 0.01}
NULL_JOB = {"kind": "status", "status": 500, "code": "SDRS.0408"}
GATEWAY_404 = {"kind": "gateway_404"}


def running(sim) -> str:
    """A job that stays RUNNING until :func:`ends_once_served` ends it."""
    return sim.add_job(lifecycle=[("RUNNING", 0)])


@contextlib.contextmanager
def ends_once_served(sim, job_id: str, fault) -> Iterator[None]:
    """End ``job_id`` (SUCCESS) once ``fault`` served all its failures, so none is skipped on a slow machine."""
    done = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + 30
        while fault.count > 0 and time.monotonic() < deadline:
            if done.wait(0.01):
                return
        sim.add_job(job_id, init_seconds=0, run_seconds=0)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=5)


def add_fault(sim, spec: dict[str, Any], **options: Any):
    spec = dict(spec)
    return sim.add_fault(spec.pop("kind"), **spec, **options)


def run_operator(operator, mode: str) -> tuple[Any, TaskInstanceStandIn]:
    """Run an operator as Airflow would; the result or the error is the task's, XCom is in the TI."""
    ti = TaskInstanceStandIn()
    context: Any = {"ti": ti}
    operator.deferrable = mode == "deferrable"
    try:
        return operator.execute(context), ti
    except TaskDeferred as deferred:
        payload = asyncio.run(first_payload(deferred.trigger))
        return operator.execute_complete(context, event=payload), ti


def run_operator_keeping_ti(operator, mode: str) -> tuple[Any, TaskInstanceStandIn]:
    """Like :func:`run_operator`, but an error comes back as the result, so XCom can be inspected."""
    ti = TaskInstanceStandIn()
    context: Any = {"ti": ti}
    operator.deferrable = mode == "deferrable"
    try:
        try:
            return operator.execute(context), ti
        except TaskDeferred as deferred:
            payload = asyncio.run(first_payload(deferred.trigger))
            return operator.execute_complete(context, event=payload), ti
    except Exception as error:
        return error, ti


def read_job(path: str, job_id: str, **hook_kwargs: Any):
    hook = SdrsHook(retry_delay=0.01, **hook_kwargs)
    if path == "sync":
        return hook.get_job(job_id)

    async def read():
        async with hook:
            return await hook.aget_job(job_id)

    return asyncio.run(read())


@pytest.fixture
def sim(sdrs_connection):
    simulator = sdrs_connection.simulator
    # Long enough for a few reads of a running job, even on a busy machine.
    simulator.resources.durations = (0.0, 1.5)
    return simulator


# -- 1. a 404 after the job was seen is a failed poll; only SDRS codes say "no such job" ------------------


def test_only_sdrs_codes_say_the_job_does_not_exist():
    def mapped(status: int, body: bytes):
        return api_error(HttpResponse(status, {}, body), operation="get job j1", job_id="j1")

    bare = mapped(404, b"")
    gateway = mapped(404, b'{"error_code":"APIGW.0101","error_msg":"The API does not exist"}')
    html = mapped(404, b"<html><body>404 Not Found</body></html>")
    sdrs_404 = mapped(404, b'{"error":{"code":"SDRS.0408","message":"Null job"}}')
    other_sdrs_404 = mapped(404, b'{"error":{"code":"SDRS.0013","message":"no such job"}}')
    null_job_500 = mapped(500, b'{"error":{"code":"SDRS.0408","message":"Null job"}}')
    for error in (bare, gateway, html):
        assert type(error) is SdrsApiError and error.status == 404
        # The hook does not retry a 404 itself; a wait reads again after its poll interval.
        assert not is_retryable(error)
    assert gateway.code == "APIGW.0101"
    for error in (sdrs_404, other_sdrs_404, null_job_500):
        assert isinstance(error, SdrsJobNotFoundError) and "j1" in str(error)


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_gateway_404_is_an_api_error_not_a_missing_job_and_is_sent_once(path, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job()
    sim.add_fault("gateway_404", job_id=job_id)
    with pytest.raises(SdrsApiError) as info:
        read_job(path, job_id)
    assert not isinstance(info.value, SdrsJobNotFoundError)
    assert info.value.status == 404 and info.value.code == "APIGW.0101"
    assert sim.counters["job:404"] == 1


@pytest.mark.parametrize("fault", [GATEWAY_404, NULL_JOB], ids=["gateway_404", "null_job"])
@pytest.mark.parametrize("mode", MODES)
def test_not_found_after_the_job_was_seen_is_a_failed_poll(mode, fault, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = running(sim)
    served = add_fault(sim, fault, job_id=job_id, after=1)
    with ends_once_served(sim, job_id, served):
        result = run_sensor(mode, job_id, not_found_grace=0, **FAST)
    assert result["job_id"] == job_id and result["status"] == "SUCCESS"
    assert sim.counters["job:404"] + sim.counters["job:500"] == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_job_never_seen_is_still_unknown_after_the_grace(mode, sdrs_connection):
    with pytest.raises(SdrsJobUnknownError) as info:
        run_sensor(mode, "0000000062db92d70162db9d200f000a", not_found_grace=0.2, **FAST)
    assert isinstance(info.value, AirflowFailException)


@pytest.mark.parametrize("mode", MODES)
def test_gateway_404s_never_make_a_job_unknown_they_are_failed_polls(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.add_fault("gateway_404", job_id=job_id, count=-1)
    with pytest.raises(SdrsPollError) as info:
        run_sensor(mode, job_id, not_found_grace=0, max_poll_failures=3, **FAST)
    assert not isinstance(info.value, AirflowFailException)  # retryable: the job may be fine
    assert "APIGW.0101" in str(info.value)
    assert sim.counters["job:404"] == 3


@pytest.mark.parametrize("fault", [GATEWAY_404, NULL_JOB], ids=["gateway_404", "null_job"])
@pytest.mark.parametrize("mode", OPERATOR_MODES)
def test_operators_ride_out_a_not_found_after_the_job_was_seen(mode, fault, sim):
    group = sim.add_group(status="available")
    add_fault(sim, fault, after=1)  # the first read of the new job sees it
    operator = SdrsStartProtectionOperator(
        task_id="start", server_group_id=group, poll_interval=0.05, timeout=20, not_found_grace=0, **FAST
    )
    result, _ = run_operator(operator, mode)
    assert result["status"] == "SUCCESS" and result["job_type"]
    assert sim.resource_status("group", group) == "protected"


def test_the_trigger_of_a_job_seen_before_deferral_treats_not_found_as_a_failed_poll(sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = running(sim)
    served = sim.add_fault("status", status=500, code="SDRS.0408", job_id=job_id, count=1)
    trigger = SdrsJobTrigger(job_id, poll_interval=0.05, not_found_grace=0, job_seen=True, **FAST)
    assert SdrsJobTrigger(**trigger.serialize()[1]).job_seen is True
    with ends_once_served(sim, job_id, served):
        event = asyncio.run(first_event(trigger))
    assert event.payload["status"] == "success"


# -- 2. an answer about another job, group or drill is a bad answer --------------------------------------


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_read_answered_with_another_jobs_document_is_refused_naming_both(path, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job()
    other = sim.add_job(outcome="FAIL", init_seconds=0, run_seconds=0)
    sim.add_fault("other_job", job_id=job_id, other_id=other)
    with pytest.raises(SdrsApiError) as info:
        read_job(path, job_id)
    assert job_id in str(info.value) and other in str(info.value)
    assert not isinstance(info.value, SdrsJobNotFoundError)


def test_group_and_drill_reads_answered_about_another_id_are_refused(sdrs_connection):
    sim = sdrs_connection.simulator
    group = sim.add_group(status="protected")
    drill = sim.add_drill(group)
    hook = SdrsHook(retry_delay=0.01)
    assert hook.get_protection_group(group)["id"] == group
    sim.add_fault("other_job", target="api", other_id="11111111-2222-3333-4444-555555555555")
    with pytest.raises(SdrsApiError) as info:
        hook.get_protection_group(group)
    assert group in str(info.value) and "11111111-2222-3333-4444-555555555555" in str(info.value)
    sim.add_fault("other_job", target="api")
    with pytest.raises(SdrsApiError, match=drill):
        hook.get_drill(drill)
    assert hook.get_drill(drill)["id"] == drill


@pytest.mark.parametrize("mode", MODES)
def test_another_jobs_failure_is_a_failed_poll_not_a_failed_job(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    other = sim.add_job(outcome="FAIL", init_seconds=0, run_seconds=0)
    sim.add_fault("other_job", job_id=job_id, other_id=other, count=-1)
    with pytest.raises(SdrsPollError) as info:
        run_sensor(mode, job_id, max_poll_failures=3, **FAST)
    assert not isinstance(info.value, (SdrsJobFailedError, AirflowFailException))
    assert job_id in str(info.value) and other in str(info.value)
    assert sim.job_polls(job_id) == 3


@pytest.mark.parametrize("mode", MODES)
def test_answers_about_another_job_are_ridden_out_when_they_stop(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = running(sim)
    other = sim.add_job(init_seconds=0, run_seconds=0)
    served = sim.add_fault("other_job", job_id=job_id, other_id=other, count=2)
    with ends_once_served(sim, job_id, served):
        result = run_sensor(mode, job_id, max_poll_failures=3, **FAST)
    assert result["job_id"] == job_id and result["status"] == "SUCCESS"


def test_a_trigger_event_about_another_job_is_refused():
    job = {"job_id": "bbbb", "status": "SUCCESS", "entities": {"disaster_recovery_drill_id": "foreign"}}
    with pytest.raises(SdrsPollError):
        result_from_event({"status": "success", "job_id": "aaaa", "message": "", "job": job})


def _drill_operator(group: str) -> SdrsCreateDrillOperator:
    return SdrsCreateDrillOperator(
        task_id="drill", server_group_id=group, name="drill-1", poll_interval=0.05, timeout=20, **FAST
    )


@pytest.mark.parametrize("mode", OPERATOR_MODES)
def test_create_drill_never_pushes_another_jobs_drill_id(mode, sim):
    group = sim.add_group(status="protected")
    foreign = sim.add_job(
        init_seconds=0, run_seconds=0, entities={"disaster_recovery_drill_id": "f0f0f0f0-0000-4000-8000-000000000000"}
    )
    sim.add_fault("other_job", other_id=foreign, count=-1)
    error, ti = run_operator_keeping_ti(_drill_operator(group), mode)
    assert isinstance(error, SdrsPollError) and not isinstance(error, AirflowFailException)
    assert "f0f0f0f0-0000-4000-8000-000000000000" not in json.dumps(ti.xcom)
    assert ti.xcom.get("job_id") and ti.xcom["job_id"] != foreign


@pytest.mark.parametrize("mode", OPERATOR_MODES)
def test_create_drill_pushes_its_own_drill_once_the_other_answers_stop(mode, sim):
    group = sim.add_group(status="protected")
    foreign = sim.add_job(
        init_seconds=0, run_seconds=0, entities={"disaster_recovery_drill_id": "f0f0f0f0-0000-4000-8000-000000000000"}
    )
    sim.add_fault("other_job", other_id=foreign, count=2)
    result, ti = run_operator(_drill_operator(group), mode)
    drills = sim.resources_view()["drills"]
    assert list(drills) == [result["drill_id"]] and ti.xcom["drill_id"] == result["drill_id"]
    assert "f0f0f0f0-0000-4000-8000-000000000000" not in json.dumps(ti.xcom)


def test_an_operator_reading_another_group_submits_nothing(sim):
    group = sim.add_group(status="available")
    sim.add_fault("other_job", target="api", count=-1)
    operator = SdrsStartProtectionOperator(task_id="start", server_group_id=group, poll_interval=0.05, **FAST)
    with pytest.raises(SdrsApiError, match=group):
        run_operator(operator, "blocking")
    assert sim.resources_view()["submissions"] == {}


# -- 5. one rule for failed polls in every mode ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_one_failed_poll_does_not_end_the_wait(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = running(sim)
    served = sim.add_fault("status", status=503, job_id=job_id, after=1)
    with ends_once_served(sim, job_id, served):
        result = run_sensor(mode, job_id, **FAST)
    assert result["status"] == "SUCCESS"
    assert sim.counters["job:503"] == 1


@pytest.mark.parametrize("mode", MODES)
def test_max_poll_failures_in_a_row_end_the_wait_retryably(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.add_fault("status", status=503, job_id=job_id, after=1, count=-1)
    with pytest.raises(SdrsPollError) as info:
        run_sensor(mode, job_id, max_poll_failures=4, **FAST)
    assert not isinstance(info.value, (SdrsJobFailedError, AirflowFailException))
    assert "4 times in a row" in str(info.value)
    assert sim.counters["job:503"] == 4


@pytest.mark.parametrize("mode", OPERATOR_MODES)
def test_operators_end_retryably_after_max_poll_failures(mode, sim):
    group = sim.add_group(status="available")
    sim.add_fault("status", status=503, after=1, count=-1)
    operator = SdrsStartProtectionOperator(
        task_id="start", server_group_id=group, poll_interval=0.05, timeout=20, max_poll_failures=2, **FAST
    )
    with pytest.raises(SdrsPollError) as info:
        run_operator(operator, mode)
    assert not isinstance(info.value, (SdrsJobFailedError, AirflowFailException))
    assert sim.counters["job:503"] == 2


def test_the_deferrable_sensor_hands_its_failed_first_poll_to_the_trigger(sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.add_fault("status", status=503, job_id=job_id, count=-1)
    sensor = SdrsJobSensor(task_id="w", job_id=job_id, deferrable=True, poke_interval=0.05, max_poll_failures=3, **FAST)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"ti": TaskInstanceStandIn()})
    kwargs = deferred.value.trigger.serialize()[1]
    assert kwargs["poll_failures"] == 1 and kwargs["job_seen"] is False
    event = asyncio.run(first_event(SdrsJobTrigger(**kwargs)))
    assert event.payload["status"] == "error" and "3 times in a row" in event.payload["message"]
    assert sim.counters["job:503"] == 3


def _reschedule_run(job_id: str, **sensor_attributes: Any):
    """Run the example DAG ``sdrs_job_sensor`` with ``dag.test()``, its sensor in reschedule mode."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "example_dags" / "sdrs_job_sensor.py"
    spec = importlib.util.spec_from_file_location("example_sdrs_job_sensor_rescheduled", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    for task in dag.tasks:
        task.retries = 0
    sensor = dag.get_task("wait_for_job")
    attributes = {
        "mode": "reschedule",
        "deferrable": False,
        "poke_interval": 0.2,
        "timeout": 60.0,
        "not_found_grace": 0.0,
        "poll_retry_limit": 0,
        "poll_retry_delay": 0.01,
        **sensor_attributes,
    }
    for name, value in attributes.items():
        setattr(sensor, name, value)
    dag_run = dag.test(run_conf={"job_id": job_id})
    return dag_run, {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503, "count": 2},
        {"kind": "status", "status": 503, "count": 1},
        NULL_JOB,
        GATEWAY_404,
    ],
    ids=["two_503_in_a_row", "one_503", "null_job", "gateway_404"],
)
def test_a_real_reschedule_run_rides_out_failed_polls_after_the_job_was_seen(fault, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    faulty = add_fault(sim, fault, job_id=job_id, after=2)  # the job was seen, and the sensor rescheduled once
    with ends_once_served(sim, job_id, faulty):
        dag_run, states = _reschedule_run(job_id, max_poll_failures=3)
    assert str(dag_run.state) == "success", states
    assert faulty.count == 0 and faulty.after == 0  # every failure was served before the job ended


def test_a_real_reschedule_run_counts_failed_polls_in_a_row(sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.add_fault("status", status=503, job_id=job_id, after=2, count=-1)
    _, states = _reschedule_run(job_id, max_poll_failures=3)
    assert states["wait_for_job"] == "failed", states
    assert sim.counters["job:503"] == 3


# -- 17. every numeric argument is checked when the object is built ----------------------------------------

NAN, INF = math.nan, math.inf
BAD_SECONDS = [NAN, INF, -INF, -1, -0.5, True, "10", None]
BAD_COUNTS = [NAN, INF, -INF, -1, 2.5, True, "3", None]
# A pause between polls so short that it is a busy loop against SDRS.
BAD_INTERVALS = [*BAD_SECONDS, 0, 0.001]


def _operators() -> list[tuple[type, dict[str, Any]]]:
    group = {"server_group_id": "g1"}
    return [
        (SdrsStartProtectionOperator, group),
        (SdrsStopProtectionOperator, group),
        (SdrsFailoverOperator, group),
        (SdrsReprotectOperator, group),
        (SdrsPlannedFailoverOperator, group),
        (SdrsDeleteProtectionGroupOperator, group),
        (
            SdrsCreateProtectionGroupOperator,
            {
                "name": "g",
                "source_availability_zone": "eu-de-01",
                "target_availability_zone": "eu-de-02",
                "domain_id": "d1",
                "source_vpc_id": "v1",
            },
        ),
        (SdrsCreateDrillOperator, {"server_group_id": "g1", "name": "d"}),
        (SdrsDeleteDrillOperator, {"drill_id": "d1"}),
    ]


def _builders() -> list[tuple[str, Any, str, list[Any]]]:
    """(constructor id, build(argument, value), argument, bad values)."""
    cases: list[tuple[str, Any, str, list[Any]]] = []
    hook_args = {"retry_limit": BAD_COUNTS, "retry_delay": BAD_SECONDS, "timeout": [NAN, INF, -INF, -1, 0, True, "10"]}
    for arg, bad in hook_args.items():
        cases.append(("SdrsHook", lambda a, v: SdrsHook(**{a: v}), arg, bad))
    sensor_args = {
        "poke_interval": BAD_INTERVALS,
        "timeout": [NAN, INF, -INF, -1, True, "10"],
        "not_found_grace": BAD_SECONDS,
        "poll_retry_limit": BAD_COUNTS,
        "poll_retry_delay": BAD_SECONDS,
        "max_poll_failures": [*BAD_COUNTS, 0],
    }
    for arg, bad in sensor_args.items():
        cases.append(("SdrsJobSensor", lambda a, v: SdrsJobSensor(task_id="s", job_id="j1", **{a: v}), arg, bad))
    trigger_args = {
        "poll_interval": BAD_INTERVALS,
        "end_time": [NAN, INF, -INF, -1, True, "10"],
        "max_poll_failures": [*BAD_COUNTS, 0],
        "not_found_grace": BAD_SECONDS,
        "poll_retry_limit": BAD_COUNTS,
        "poll_retry_delay": BAD_SECONDS,
        "poll_failures": BAD_COUNTS,
    }
    for arg, bad in trigger_args.items():
        cases.append(("SdrsJobTrigger", lambda a, v: SdrsJobTrigger("j1", **{a: v}), arg, bad))
    operator_args = {
        "poll_interval": BAD_INTERVALS,
        "timeout": [NAN, INF, -INF, -1, 0, True, "10", None, timedelta(seconds=-1)],
        "not_found_grace": BAD_SECONDS,
        "poll_retry_limit": BAD_COUNTS,
        "poll_retry_delay": BAD_SECONDS,
        "max_poll_failures": [*BAD_COUNTS, 0],
    }
    for cls, required in _operators():
        for arg, bad in operator_args.items():
            build = lambda a, v, cls=cls, required=required: cls(task_id="o", **required, **{a: v})  # noqa: E731
            cases.append((cls.__name__, build, arg, bad))
    return cases


BAD_NUMBER_CASES = [
    pytest.param(build, arg, value, id=f"{name}-{arg}-{value!r}")
    for name, build, arg, bad in _builders()
    for value in bad
]


@pytest.mark.parametrize(("build", "arg", "value"), BAD_NUMBER_CASES)
def test_a_bad_number_is_refused_when_the_object_is_built_naming_the_argument(build, arg, value):
    with pytest.raises(SdrsValidationError) as info:
        build(arg, value)
    assert info.value.field == arg and arg in str(info.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda: SdrsHook(timeout=None, retry_limit=0, retry_delay=0),
        lambda: SdrsHook(timeout=5, retry_limit=3.0, retry_delay=0.5),
        lambda: SdrsJobSensor(
            task_id="s", job_id="j1", poke_interval=timedelta(seconds=5), timeout=0, max_poll_failures=1
        ),
        lambda: SdrsJobTrigger("j1", poll_interval=0.01, end_time=None, not_found_grace=0, poll_retry_limit=0),
        lambda: SdrsStartProtectionOperator(
            task_id="o", server_group_id="g1", poll_interval=0.01, timeout=timedelta(hours=1), poll_retry_delay=0
        ),
    ],
)
def test_sensible_numbers_are_accepted(build):
    built = build()
    if isinstance(built, SdrsJobTrigger):
        assert SdrsJobTrigger(**built.serialize()[1]).serialize() == built.serialize()


# -- 18b. a trigger whose connection cannot be loaded fires an error event naming it ------------------------


def test_a_trigger_whose_connection_was_deleted_fires_an_error_event_naming_it(sdrs_connection):
    job_id = sdrs_connection.simulator.add_job()
    trigger = SdrsJobTrigger(job_id, sdrs_conn_id="sdrs_deleted_connection", poll_interval=0.05)
    event = asyncio.run(first_event(trigger))
    assert event.payload["status"] == "error" and event.payload["job_id"] == job_id
    assert "sdrs_deleted_connection" in event.payload["message"]
    json.dumps(event.payload)
    sensor = SdrsJobSensor(task_id="w", job_id=job_id, sdrs_conn_id="sdrs_deleted_connection")
    with pytest.raises(SdrsPollError, match="sdrs_deleted_connection"):
        sensor.execute_complete({}, event.payload)


def test_a_trigger_whose_connection_fails_to_load_fires_an_error_event_naming_it(sdrs_connection, monkeypatch):
    async def broken(self):
        raise RuntimeError("the secrets backend is down")

    monkeypatch.setattr(SdrsHook, "_alookup", broken)
    trigger = SdrsJobTrigger(sdrs_connection.simulator.add_job(), poll_interval=0.05)
    event = asyncio.run(first_event(trigger))
    assert event.payload["status"] == "error"
    assert "sdrs_default" in event.payload["message"] and "secrets backend is down" in event.payload["message"]
