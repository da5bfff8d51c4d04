"""The sans-IO core as tables, with no HTTP at all: the wait decisions, the wait itself, the operation specs,
the exceptions and the two drivers of the one step vocabulary."""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import pickle
import time
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_sdrs._core import operations, reads
from airflow_provider_sdrs._core.exchange import api_exchange
from airflow_provider_sdrs._core.http import HttpResponse, TransportFailure
from airflow_provider_sdrs._core.retry import RetryPolicy
from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs._core.steps import NeedToken, Send, Sleep
from airflow_provider_sdrs._waiting import JobWatch, ResourceWatch, wait
from airflow_provider_sdrs.exceptions import (
    SdrsApiError,
    SdrsAuthError,
    SdrsConfigError,
    SdrsConnectionError,
    SdrsJobNotFoundError,
    SdrsResourceNotFoundError,
    SdrsValidationError,
    SdrsWaitTimeout,
    SdrsWaitTimeoutError,
)
from airflow_provider_sdrs.models import SdrsJob

JOB = "0123456789abcdef0123456789abcdef"
GROUP = "fedcba9876543210fedcba9876543210"
LOG = logging.getLogger("sdrs-core-tables")


def job(status: str) -> SdrsJob:
    return SdrsJob.from_api({"job_id": JOB, "status": status, "job_type": "failoverProtectionGroupNoCG"})


def not_found() -> SdrsJobNotFoundError:
    return SdrsJobNotFoundError(JOB, status=404, code="SDRS.0408", message="Null job")


def unavailable() -> SdrsApiError:
    return SdrsApiError(status=503, code="SDRS.0013", message="Internal error")


def refused() -> SdrsAuthError:
    return SdrsAuthError(status=401, code="APIGW.0301", message="Incorrect IAM authentication information")


def group(status: str | None) -> dict[str, Any]:
    return {"id": GROUP, "status": status}


# -- one decision per poll --------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    watch: dict[str, Any]
    outcome: Any
    verdict: str | None  # the event's status (":reason" when it has one), or None to poll again
    failures: int = 0


JOB_ROWS = [
    Row("a running job: poll again", {}, job("RUNNING"), None),
    Row("an unknown status: poll again", {}, job("PAUSED"), None),
    Row("success ends the wait", {}, job("SUCCESS"), "success"),
    Row("fail ends the wait as failed", {}, job("FAIL"), "failed"),
    Row("a read resets the failed polls", {"failures": 2}, job("RUNNING"), None, 0),
    Row("not found within the grace: poll again", {}, not_found(), None),
    Row("not found past the grace: unknown", {"not_found_grace": 0.0}, not_found(), "error:not_found"),
    Row("not found after a sighting: a failed poll", {"seen": True}, not_found(), None, 1),
    Row("a failed poll below the limit", {}, unavailable(), None, 1),
    Row("the last failed poll gives up", {"failures": 2}, unavailable(), "error", 3),
    Row("refused credentials give up at once", {}, refused(), "error"),
    Row("a bad connection gives up at once", {}, SdrsConfigError("host", "is missing"), "error"),
    Row("a bad argument gives up at once", {}, SdrsValidationError("job_id", "is bad"), "error"),
]

RESOURCE_ROWS = [
    Row("still in progress: poll again", {}, group("failing-over"), None),
    Row("left the statuses: ended", {}, group("failed-over"), "success"),
    Row("a failed status has left them too", {}, group("error-failing-over"), "success"),
    Row("no status reported: ended, the operator decides", {}, {"id": GROUP}, "success"),
    Row("gone: ended", {}, SdrsResourceNotFoundError(status=400, code="SDRS.1013", message="gone"), "success"),
    Row("a failed poll below the limit", {}, unavailable(), None, 1),
    Row("the last failed poll gives up", {"failures": 2}, unavailable(), "error", 3),
    Row("refused credentials give up at once", {}, refused(), "error"),
]


def _verdict(payload: dict[str, Any] | None) -> str | None:
    if payload is None:
        return None
    return payload["status"] + (f":{payload['reason']}" if payload.get("reason") else "")


@pytest.mark.parametrize("row", JOB_ROWS, ids=[row.name for row in JOB_ROWS])
def test_what_a_job_poll_means(row):
    watch = JobWatch(LOG, job_id=JOB, **row.watch)
    assert _verdict(watch.judge(row.outcome)) == row.verdict
    assert watch.failures == row.failures


@pytest.mark.parametrize("row", RESOURCE_ROWS, ids=[row.name for row in RESOURCE_ROWS])
def test_what_a_resource_poll_means(row):
    watch = ResourceWatch(LOG, resource=reads.GROUP, resource_id=GROUP, during=frozenset({"failing-over"}), **row.watch)
    payload = watch.judge(row.outcome)
    assert _verdict(payload) == row.verdict
    assert watch.failures == row.failures
    if payload is not None and payload["status"] == "success":
        assert payload["resource_id"] == GROUP and payload["resource"] == reads.GROUP
        assert payload["document"] == (row.outcome if isinstance(row.outcome, dict) else None)


# -- the wait, as steps --------------------------------------------------------------------------------------


def scripted(*outcomes: Any):
    """A read that returns (or raises) the next outcome; it yields nothing, as a cached answer would."""
    queue = list(outcomes)

    def read():
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
        yield  # pragma: no cover - makes this a generator

    return read


def run_wait(watch, read, *, sleep: bool = False, **kwargs) -> tuple[Any, list[Any]]:
    steps = wait(watch, read, **kwargs)
    seen = []
    try:
        step = next(steps)
        while True:
            seen.append(step)
            if sleep:
                time.sleep(step.seconds)
            step = steps.send(None)
    except StopIteration as done:
        return done.value, seen


@pytest.mark.parametrize(
    ("until", "outcomes", "verdict", "sleeps"),
    [
        ("end", [job("RUNNING"), unavailable(), job("SUCCESS")], "success", 2),
        ("poll", [job("RUNNING")], None, 0),
        ("poll", [unavailable()], None, 0),
        ("sighting", [unavailable(), not_found(), job("RUNNING")], None, 2),
        ("sighting", [job("FAIL")], "failed", 0),
    ],
)
def test_the_wait_hands_back_when_its_mode_says(until, outcomes, verdict, sleeps):
    payload, steps = run_wait(
        JobWatch(LOG, job_id=JOB), scripted(*outcomes), poll_interval=7.0, end_time=time.time() + 60, until=until
    )
    assert _verdict(payload) == verdict
    assert steps == [Sleep(7.0)] * sleeps


def test_a_wait_past_its_deadline_times_out_before_reading():
    payload, steps = run_wait(JobWatch(LOG, job_id=JOB), scripted(), poll_interval=1.0, end_time=time.time() - 1)
    assert payload["status"] == "timeout" and steps == []


def test_the_last_pause_of_a_wait_ends_at_its_deadline():
    _, steps = run_wait(
        JobWatch(LOG, job_id=JOB),
        scripted(job("RUNNING"), job("RUNNING")),
        poll_interval=60.0,
        end_time=time.time() + 0.2,
        sleep=True,
    )
    assert len(steps) == 1 and 0 < steps[0].seconds <= 0.2


# -- one spec per DR operation ---------------------------------------------------------------------------

ALL_GROUP_STATUSES = sorted(operations.GROUP_STATUSES)
# From the SDRS API reference: where each operation may start, what it goes through and where it ends.
DECISIONS = {
    "start_protection": {"submit": {"available", "error-starting"}, "wait": {"starting"}, "done": {"protected"}},
    "stop_protection": {"submit": {"protected", "error-stopping"}, "wait": {"stopping"}, "done": {"available"}},
    "failover": {
        "submit": {"protected", "error-failing-over", "error-reversing"},
        "wait": {"failing-over"},
        "done": {"failed-over"},
    },
    "reprotect": {"submit": {"failed-over", "error-reprotecting"}, "wait": {"reprotecting"}, "done": {"protected"}},
    "planned_failover": {"submit": {"protected", "error-reversing"}, "wait": {"reversing"}, "done": set()},
}


@pytest.mark.parametrize("name", sorted(DECISIONS))
@pytest.mark.parametrize("status", ALL_GROUP_STATUSES)
def test_what_a_group_operation_does_in_each_status(name, status):
    expected = next((decision for decision, statuses in DECISIONS[name].items() if status in statuses), "refuse")
    assert operations.OPERATIONS[name].decide(status) == expected


@pytest.mark.parametrize(
    ("status", "station", "decision"),
    [("protected", "target", "done"), ("protected", "source", "submit"), ("error-reversing", "target", "submit")],
)
def test_a_planned_failover_to_the_site_already_in_production_is_done(status, station, decision):
    document = {"status": status, "priority_station": "target"}
    spec = operations.PLANNED_FAILOVER
    assert spec.decide(status, document, spec.check(server_group_id=GROUP, priority_station=station)) == decision


def test_deletions_are_done_when_the_resource_is_gone_and_creations_start_from_nothing():
    assert operations.DELETE_GROUP.decide(None) == operations.DELETE_DRILL.decide(None) == "done"
    assert operations.CREATE_GROUP.decide(None) == operations.CREATE_DRILL.decide(None) == "submit"
    assert operations.DELETE_GROUP.decide("failing-over") == "refuse"


def test_each_spec_gives_its_request():
    call = operations.PLANNED_FAILOVER.request(server_group_id=GROUP, priority_station="source")
    assert (call.method, call.path, call.body, call.idempotent) == (
        "POST",
        ("server-groups", GROUP, "action"),
        {"reverse-server-group": {"priority_station": "source"}},
        False,
    )
    drill = operations.CREATE_DRILL.request(server_group_id=GROUP, name="weekly")
    assert drill.body == {"disaster_recovery_drill": {"server_group_id": GROUP, "name": "weekly"}}
    created = operations.CREATE_GROUP.request(
        name="g", source_availability_zone="az1", target_availability_zone="az2", domain_id=GROUP, source_vpc_id=GROUP
    )
    assert created.body["server_group"]["dr_type"] == "migration" and "description" not in created.body["server_group"]


@pytest.mark.parametrize(
    ("spec", "arguments", "field"),
    [
        (operations.PLANNED_FAILOVER, {"server_group_id": GROUP, "priority_station": "elsewhere"}, "priority_station"),
        (operations.FAILOVER, {"server_group_id": "../x"}, "server_group_id"),
        (operations.FAILOVER, {}, "server_group_id"),
        (operations.FAILOVER, {"server_group_id": GROUP, "force": True}, "force"),
        (operations.CREATE_DRILL, {"server_group_id": GROUP, "name": "a b"}, "name"),
        (operations.CREATE_DRILL, {"server_group_id": GROUP, "name": "ok", "drill_vpc_id": "?"}, "drill_vpc_id"),
    ],
)
def test_a_spec_refuses_bad_arguments_naming_the_field(spec, arguments, field):
    with pytest.raises(SdrsValidationError) as error:
        spec.request(**arguments)
    assert error.value.field == field


def test_the_hook_submits_each_operation_with_a_method_of_the_specs_name_and_arguments():
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

    for name, spec in operations.OPERATIONS.items():
        method = getattr(SdrsHook, name)
        parameters = [p for p in inspect.signature(method).parameters if p != "self"]
        assert parameters in ([param.name for param in spec.params], ["spec"]), name


def test_each_operator_is_its_spec_and_submits_through_the_hook_method_it_names():
    from airflow_provider_sdrs.operators import sdrs as module

    operators = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, module.SdrsBaseOperator) and value.__name__.startswith("Sdrs")
    ]
    specs = {cls.operation.name for cls in operators if cls is not module.SdrsBaseOperator}
    assert specs == set(operations.OPERATIONS)

    calls = []

    class Hook:
        def __getattr__(self, name):
            return lambda **arguments: calls.append((name, arguments)) or JOB

    operator = module.SdrsPlannedFailoverOperator(task_id="t", server_group_id=GROUP, priority_station="source")
    assert operator.submit(Hook()) == JOB
    assert calls == [("planned_failover", {"server_group_id": GROUP, "priority_station": "source"})]


def test_priority_station_is_checked_in_one_place_for_the_hook_and_the_operator():
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook
    from airflow_provider_sdrs.operators.sdrs import SdrsPlannedFailoverOperator

    with pytest.raises(SdrsValidationError) as by_hook:
        SdrsHook().planned_failover(GROUP, "elsewhere")
    with pytest.raises(SdrsValidationError) as by_operator:
        SdrsPlannedFailoverOperator(task_id="t", server_group_id=GROUP, priority_station="elsewhere").validate()
    assert str(by_hook.value) == str(by_operator.value)


# -- exceptions are built complete -----------------------------------------------------------------------


def test_an_amended_error_is_a_new_error_built_complete():
    first = SdrsConnectionError("SDRS get job x failed: reset", operation="get job x", may_have_started=True)
    final = first.amended(attempts=3, context=("needed to get job x",))
    assert str(first) == "SDRS get job x failed: reset" and first.attempts == 1
    assert str(final) == "SDRS get job x failed: reset (after 3 attempts); needed to get job x"
    assert (final.attempts, final.may_have_started, final.operation) == (3, True, "get job x")
    api = not_found().amended(attempts=2)
    assert isinstance(api, SdrsJobNotFoundError) and api.job_id == JOB and api.code == "SDRS.0408"
    assert str(api).endswith("(after 2 attempts)")


@pytest.mark.parametrize(
    "error",
    [not_found().amended(attempts=2), SdrsConnectionError("down", attempts=2), SdrsConfigError("host", "is missing")],
)
def test_errors_copy_and_pickle_whole(error):
    for clone in (copy.deepcopy(error), pickle.loads(pickle.dumps(error))):
        assert type(clone) is type(error) and str(clone) == str(error) and vars(clone) == vars(error)


def test_the_public_errors_live_in_exceptions_and_the_old_timeout_name_still_works():
    import airflow_provider_sdrs._waiting as waiting
    from airflow_provider_sdrs import exceptions

    assert SdrsWaitTimeout is SdrsWaitTimeoutError
    for name in ("SdrsPollError", "SdrsJobUnknownError", "SdrsWaitTimeoutError"):
        assert getattr(exceptions, name).__module__ == "airflow_provider_sdrs.exceptions"
        assert getattr(waiting, name).__module__ == "airflow_provider_sdrs.exceptions"


# -- one step vocabulary, two drivers ----------------------------------------------------------------------


def _settings(auth: str) -> SdrsSettings:
    extra: dict[str, Any] = {"project_id": JOB}
    if auth == "password":
        extra.update(auth_type="password", domain_name="d", iam_endpoint="https://iam.example.com/v3")
    return SdrsSettings.from_fields(
        conn_id="c", host="https://sdrs.example.com", port=None, login="AK", password="SK-secret", extra=extra
    )


class Transport:
    """Answers from a script, recording what was asked."""

    def __init__(self, *answers: HttpResponse | TransportFailure) -> None:
        self.answers = list(answers)
        self.sent: list[str] = []

    def send(self, request, deadline):
        self.sent.append(request.url)
        return self.answers.pop(0)


class AsyncTransport(Transport):
    async def send(self, request, deadline):  # type: ignore[override]
        return Transport.send(self, request, deadline)


def _ok(document: dict[str, Any]) -> HttpResponse:
    import json

    return HttpResponse(200, {"content-type": "application/json"}, json.dumps(document).encode())


def _both_drivers(make_steps, answers, get_token=None) -> list[Any]:
    from airflow_provider_sdrs.hooks._async import adrive
    from airflow_provider_sdrs.hooks._sync import drive

    results = []
    for driver in ("blocking", "asyncio"):
        try:
            if driver == "blocking":
                results.append(drive(make_steps(), Transport(*answers), get_token))
            else:

                async def token(stale, deadline):
                    return get_token(stale, deadline)

                results.append(
                    asyncio.run(adrive(make_steps(), AsyncTransport(*answers), token if get_token else None))
                )
        except Exception as error:
            results.append(f"{type(error).__name__}: {error}")
    return results


def test_both_drivers_run_a_read_to_the_same_result():
    read = reads.job(JOB)
    settings = _settings("aksk")

    def steps():
        exchange = api_exchange(settings, read.call, RetryPolicy(retry_limit=2, retry_delay=0.0), LOG)
        return reads.read_steps(exchange, read)

    answers = [TransportFailure("reset", "gone"), _ok({"job_id": JOB, "status": "SUCCESS"})]
    blocking, asynchronous = _both_drivers(steps, answers)
    assert blocking == asynchronous and blocking.status.is_success


def test_a_failed_token_request_is_thrown_into_the_steps_which_name_the_call_that_needed_it():
    read = reads.job(JOB)
    settings = _settings("password")

    def no_token(stale, deadline):
        raise SdrsAuthError(status=401, code=None, message="IAM refused the credentials")

    def steps():
        return api_exchange(settings, read.call, RetryPolicy(retry_limit=0), LOG)

    first = next(steps())
    assert isinstance(first, NeedToken) and first.operation == f"get job {JOB}"
    blocking, asynchronous = _both_drivers(steps, [], no_token)
    assert blocking == asynchronous
    assert blocking.startswith("SdrsAuthError") and blocking.endswith(f"; needed to get job {JOB}")


def test_a_send_step_carries_its_deadline():
    from airflow_provider_sdrs._core.deadline import Deadline

    read = reads.job(JOB)
    limit = Deadline(time.time() + 30)
    step = next(api_exchange(_settings("aksk"), read.call, RetryPolicy(), LOG, limit))
    assert isinstance(step, Send) and step.deadline == limit


def test_an_operator_resumed_with_an_event_about_another_resource_refuses_it_before_any_read():
    from airflow_provider_sdrs.exceptions import SdrsPollError
    from airflow_provider_sdrs.operators.sdrs import SdrsFailoverOperator

    operator = SdrsFailoverOperator(task_id="failover", server_group_id=GROUP, deferrable=True)
    other = {"status": "success", "resource": reads.GROUP, "resource_id": JOB, "message": "", "document": None}
    with pytest.raises(SdrsPollError, match="while protection group"):
        operator.execute_resumed(
            {"ti": None}, event=other, end_time=time.time() + 60, waited_out="failing-over", waited_on=GROUP
        )


@pytest.mark.parametrize(
    "statuses", [None, "failing-over", [], [""], [1], (status for status in ["failing-over"]), {"failing-over"}]
)
def test_a_resource_trigger_takes_any_collection_of_statuses_and_names_a_bad_one(statuses):
    from airflow_provider_sdrs.triggers.sdrs import SdrsResourceTrigger

    arguments = {"resource": reads.GROUP, "resource_id": GROUP, "statuses": statuses}
    if isinstance(statuses, (set, type(status for status in []))):
        assert SdrsResourceTrigger(**arguments).statuses == ["failing-over"]
        return
    with pytest.raises(SdrsValidationError) as error:
        SdrsResourceTrigger(**arguments)
    assert error.value.field == "statuses"


@pytest.mark.parametrize("resource", [["x"], None, "server_group"])
def test_a_resource_trigger_names_a_bad_resource_kind(resource):
    from airflow_provider_sdrs.triggers.sdrs import SdrsResourceTrigger

    with pytest.raises(SdrsValidationError) as error:
        SdrsResourceTrigger(resource=resource, resource_id=GROUP, statuses=["failing-over"])
    assert error.value.field == "resource"


def test_a_resource_trigger_round_trips_through_its_serialization():
    from airflow_provider_sdrs.triggers.sdrs import SdrsResourceTrigger

    trigger = SdrsResourceTrigger(
        resource=reads.DRILL, resource_id=GROUP, statuses=["deleting"], poll_interval=3, end_time=time.time() + 9
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_sdrs.triggers.sdrs.SdrsResourceTrigger"
    assert SdrsResourceTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_the_old_private_home_of_the_wait_timeout_still_imports():
    from airflow_provider_sdrs._waiting import SdrsWaitTimeout as old

    assert old is SdrsWaitTimeoutError


def test_a_wait_polls_no_more_once_its_deadline_passed_so_a_timeout_is_a_timeout():
    reads_made = []

    def read():
        reads_made.append(time.time())
        return job("RUNNING")
        yield  # pragma: no cover - makes this a generator

    payload, _ = run_wait(
        JobWatch(LOG, job_id=JOB, max_poll_failures=1), read, poll_interval=0.05, end_time=time.time() + 0.2, sleep=True
    )
    assert payload["status"] == "timeout"
    assert all(moment < reads_made[0] + 0.2 for moment in reads_made)


@pytest.mark.parametrize(
    ("document", "synchronised"),
    [
        ({"replication_status": "active"}, True),
        ({"replication_status": "inactive", "progress": 100}, False),
        ({"progress": 100}, True),
        ({"progress": 100.0}, True),
        ({"progress": 99.5}, False),
        ({"progress": True}, False),
        ({"progress": "100"}, False),
        ({"progress": float("nan")}, False),
        ({}, False),
        (None, False),
    ],
)
def test_initial_synchronisation_is_read_from_the_documented_fields(document, synchronised):
    from airflow_provider_sdrs._waiting import is_synchronised

    assert is_synchronised(document) is synchronised
