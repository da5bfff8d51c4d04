"""Every DR operator against the simulator over HTTP: success, job failure, precondition, already done, re-run.

Operators run through ``execute`` (and, when deferrable, the real trigger then ``execute_complete``, as
``dag.test()`` and the triggerer do). The task instance is a small recorder of XCom pushes; the example
DAG tests run the same operators inside Airflow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_sdrs.exceptions import (
    SdrsConnectionError,
    SdrsJobFailedError,
    SdrsOperationNotAllowedError,
)
from airflow_provider_sdrs.links.sdrs import SdrsConsoleLink
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
from tests.support import TaskInstanceStandIn, run_operator

# As the task runner and the triggerer would run it.
run = run_operator


def requests_seen(sim) -> int:
    return sum(sim.counters[route] for route in ("api", "job", "iam", "other"))


@pytest.fixture
def sim(sdrs_connection):
    simulator = sdrs_connection.simulator
    simulator.resources.durations = (0.05, 0.15)
    return simulator


@dataclass
class Case:
    """One operator: how to set up its resource, and what success leaves behind."""

    name: str
    job_type: str
    start: str  # status of the resource before a successful run
    target: str | None  # status after it; None: gone
    wrong: str  # a status that does not allow the operation
    in_progress: str  # the transitional status it goes through

    def setup(self, sim, status: str | None) -> dict[str, str]:
        """Create the resource in ``status`` (None: do not create it); return the ids the operator needs."""
        if self.name == "create_group":
            if status is not None:
                sim.add_group(status=status, name="pg-new")
            return {}
        if self.name in ("create_drill", "delete_drill"):
            group_id = sim.add_group(status="protected")
            if self.name == "create_drill":
                if status is not None:
                    sim.add_drill(group_id, status=status, name="drill-weekly")
                return {"server_group_id": group_id}
            drill_id = sim.add_drill(group_id, status=status or "available")
            return {"drill_id": drill_id, "server_group_id": group_id}
        return {"server_group_id": sim.add_group(status=status or self.start)}

    def operator(self, ids: dict[str, str], **kwargs: Any):
        common = {"task_id": self.name, "poll_interval": 0.05, "poll_retry_delay": 0.01, **kwargs}
        if self.name == "create_group":
            return SdrsCreateProtectionGroupOperator(
                name="pg-new",
                source_availability_zone="eu-de-01",
                target_availability_zone="eu-de-02",
                domain_id="d3f1a1b2c3d4e5f6a7b8c9d0e1f2a3b4",
                source_vpc_id="9d0e1f2a-3b4c-5d6e-7f80-91a2b3c4d5e6",
                **common,
            )
        if self.name == "create_drill":
            return SdrsCreateDrillOperator(server_group_id=ids["server_group_id"], name="drill-weekly", **common)
        if self.name == "delete_drill":
            return SdrsDeleteDrillOperator(drill_id=ids["drill_id"], **common)
        classes = {
            "start_protection": SdrsStartProtectionOperator,
            "stop_protection": SdrsStopProtectionOperator,
            "failover": SdrsFailoverOperator,
            "reprotect": SdrsReprotectOperator,
            "delete_group": SdrsDeleteProtectionGroupOperator,
        }
        if self.name == "planned_failover":
            return SdrsPlannedFailoverOperator(server_group_id=ids["server_group_id"], **common)
        return classes[self.name](server_group_id=ids["server_group_id"], **common)

    def status_now(self, sim, ids: dict[str, str], result: dict[str, Any] | None = None) -> str | None:
        if self.name == "create_group":
            group_id = (result or {}).get("server_group_id")
            return sim.resource_status("group", group_id) if group_id else None
        if self.name == "create_drill":
            drill_id = (result or {}).get("drill_id")
            return sim.resource_status("drill", drill_id) if drill_id else None
        if self.name == "delete_drill":
            return sim.resource_status("drill", ids["drill_id"])
        return sim.resource_status("group", ids["server_group_id"])


CASES = [
    Case("start_protection", "startProtectionGroupNoCG", "available", "protected", "failed-over", "starting"),
    Case("stop_protection", "stopProtectionGroupNoCG", "protected", "available", "failed-over", "stopping"),
    Case("failover", "failoverProtectionGroupNoCG", "protected", "failed-over", "available", "failing-over"),
    Case("planned_failover", "reverseProtectionGroupNoCG", "protected", "protected", "failed-over", "reversing"),
    Case("reprotect", "reprotectProtectionGroupNoCG", "failed-over", "protected", "available", "reprotecting"),
    Case("delete_group", "deleteProtectionGroupNoCG", "available", None, "starting", "deleting"),
    Case("create_group", "createProtectionGroupNoCG", "", "available", "error", "creating"),
    Case("create_drill", "createDisasterRecoveryDrill", "", "available", "error", "creating"),
    Case("delete_drill", "deleteDisasterRecoveryDrill", "available", None, "creating", "deleting"),
]
IDS = [case.name for case in CASES]


def _creates(case: Case) -> bool:
    return case.name.startswith("create")


@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferrable"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_success_submits_once_waits_and_returns_the_job_and_ids(sim, case, deferrable):
    ids = case.setup(sim, None if _creates(case) else case.start)
    result, ti = run(case.operator(ids, deferrable=deferrable))

    assert result["submitted"] is True
    assert result["status"] == "SUCCESS" and result["job_type"] == case.job_type
    assert ti.xcom["job_id"] == result["job_id"]
    assert sim.resources.submissions == {case.job_type: 1}
    assert case.status_now(sim, ids, result) == case.target
    if case.name == "create_drill":
        assert result["drill_id"] == result["entities"]["disaster_recovery_drill_id"] == ti.xcom["drill_id"]
    if case.name == "create_group":
        assert result["server_group_id"] == result["entities"]["server_group_id"] == ti.xcom["server_group_id"]
    if case.name == "planned_failover":
        assert sim.resources.groups[ids["server_group_id"]].fields["priority_station"] == "target"
    link = ti.xcom[SdrsConsoleLink().xcom_key]
    assert link == f"{sim.url}/console/sdrs/?region=eu-de"


@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferrable"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_failed_job_fails_the_task_for_good_with_the_sdrs_error(sim, case, deferrable):
    ids = case.setup(sim, None if _creates(case) else case.start)
    sim.resources.fail_next(case.job_type)
    operator = case.operator(ids, deferrable=deferrable)
    with pytest.raises(SdrsJobFailedError) as failure:
        run(operator)
    message = str(failure.value)
    assert "SDRS.0206" in message and case.job_type in message and "Failed sub-jobs" in message
    # Not retried by Airflow: running the wait again cannot change a failed job.
    from airflow.providers.common.compat.sdk import AirflowFailException

    assert isinstance(failure.value, AirflowFailException)
    assert sim.resources.submissions == {case.job_type: 1}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_resource_in_the_wrong_state_gets_a_clear_error_and_nothing_is_submitted(sim, case):
    ids = case.setup(sim, case.wrong)
    with pytest.raises(SdrsOperationNotAllowedError) as refusal:
        run(case.operator(ids))
    message = str(refusal.value)
    assert f"is {case.wrong}" in message and "needs" in message and "nothing was submitted" in message
    assert sum(sim.resources.submissions.values()) == 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_already_in_the_target_state_succeeds_without_submitting(sim, case):
    if case.target is None:
        ids = case.setup(sim, case.start)
        run(case.operator(ids))  # make it gone first
        sim.resources.submissions.clear()
    elif case.name == "planned_failover":
        ids = {"server_group_id": sim.add_group(status="protected", priority_station="target")}
    else:
        ids = case.setup(sim, case.target)
    result, ti = run(case.operator(ids))
    assert result["submitted"] is False and result["job_id"] is None and "job_id" not in ti.xcom
    assert result["resource_status"] == case.target
    assert sum(sim.resources.submissions.values()) == 0
    if _creates(case):
        key = "drill_id" if case.name == "create_drill" else "server_group_id"
        assert result[key] and ti.xcom[key] == result[key]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_rerun_after_success_submits_nothing(sim, case, capsys):
    ids = case.setup(sim, None if _creates(case) else case.start)
    first, _ = run(case.operator(ids))
    second, _ = run(case.operator(ids))
    assert first["submitted"] is True and second["submitted"] is False
    assert sim.resources.submissions == {case.job_type: 1}
    if _creates(case):
        key = "drill_id" if case.name == "create_drill" else "server_group_id"
        assert second[key] == first[key]


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferrable"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_retry_after_a_lost_answer_waits_for_the_started_operation_instead_of_submitting_again(
    sim, case, deferrable, monkeypatch
):
    ids = case.setup(sim, None if _creates(case) else case.start)
    sim.resources.durations = (0.2, 0.4)
    sim.add_fault("lost_answer", target="submit", count=1)
    with pytest.raises(SdrsConnectionError) as lost:
        run(case.operator(ids))
    assert lost.value.may_have_started
    assert sim.resources.submissions == {case.job_type: 1}

    if deferrable:
        # Deferrable means no worker slot is held: the wait for the operation in progress must not sleep here.
        def no_sleep_in_the_worker(seconds: float) -> None:
            raise AssertionError(f"the worker slept {seconds} s while the operation was in progress")

        monkeypatch.setattr("time.sleep", no_sleep_in_the_worker)
    operator = case.operator(ids)
    operator.deferrable = deferrable
    result, ti = run(operator)  # the task's retry
    assert result["submitted"] is False
    assert sim.resources.submissions == {case.job_type: 1}
    assert case.status_now(sim, ids, result) == case.target
    assert [type(trigger).__name__ for trigger in ti.deferrals] == (["SdrsResourceTrigger"] if deferrable else [])


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferrable"])
def test_a_retry_that_finds_the_earlier_operation_failed_says_so_and_submits_nothing(sim, deferrable):
    group_id = sim.add_group(status="available")
    sim.resources.durations = (0.2, 0.4)
    sim.resources.fail_next("startProtectionGroupNoCG")
    sim.add_fault("lost_answer", target="submit", count=1)
    with pytest.raises(SdrsConnectionError):
        run(SdrsStartProtectionOperator(task_id="start", server_group_id=group_id, poll_interval=0.05))
    ti = TaskInstanceStandIn()
    with pytest.raises(SdrsOperationNotAllowedError, match="has failed") as failure:
        run(
            SdrsStartProtectionOperator(
                task_id="start", server_group_id=group_id, poll_interval=0.05, deferrable=deferrable
            ),
            ti,
        )
    assert failure.value.status == "error-starting"
    assert len(ti.deferrals) == (1 if deferrable else 0)
    assert sim.resources.submissions == {"startProtectionGroupNoCG": 1}


def test_a_missing_group_is_named_and_nothing_is_sent_beyond_the_read(sim):
    with pytest.raises(SdrsOperationNotAllowedError, match="protection group 0123abcd does not exist"):
        run(SdrsFailoverOperator(task_id="failover", server_group_id="0123abcd"))
    assert sum(sim.resources.submissions.values()) == 0


@pytest.mark.parametrize("bad", ["../groups", "a/b", "", "x" * 65, "id with space"])
def test_a_malformed_id_fails_the_task_without_retries_and_sends_nothing(sim, bad):
    from airflow.providers.common.compat.sdk import AirflowFailException

    with pytest.raises(AirflowFailException, match="server_group_id"):
        run(SdrsStartProtectionOperator(task_id="start", server_group_id=bad))
    assert requests_seen(sim) == 0


def test_a_drill_of_a_missing_group_is_refused_for_good(sim):
    with pytest.raises(SdrsOperationNotAllowedError, match="protection group 0123abcd does not exist"):
        run(SdrsCreateDrillOperator(task_id="drill", server_group_id="0123abcd", name="d"))
    assert sum(sim.resources.submissions.values()) == 0


def test_a_drill_needs_a_group_in_a_status_that_allows_drills(sim):
    group_id = sim.add_group(status="failing-over")
    with pytest.raises(SdrsOperationNotAllowedError, match=f"protection group {group_id} is failing-over"):
        run(SdrsCreateDrillOperator(task_id="drill", server_group_id=group_id, name="d"))
    assert sum(sim.resources.submissions.values()) == 0


def test_precondition_raced_at_submission_time_becomes_the_same_clear_error(sim, monkeypatch):
    group_id = sim.add_group(status="available")
    operator = SdrsStartProtectionOperator(task_id="start", server_group_id=group_id)
    read = operator.read

    def stale_read(hook):
        # Someone else starts protection between the operator's read and its submission.
        document = read(hook)
        if sim.resources.groups[group_id].status == "available":
            sim.resources.groups[group_id].status = "stopping"
        return document

    monkeypatch.setattr(operator, "read", stale_read)
    with pytest.raises(SdrsOperationNotAllowedError, match=r"SDRS refused it with SDRS\.1002"):
        run(operator)


def test_without_waiting_the_job_id_and_drill_id_come_back_at_once(sim):
    group_id = sim.add_group(status="protected")
    result, ti = run(
        SdrsCreateDrillOperator(task_id="drill", server_group_id=group_id, name="d", wait_for_completion=False)
    )
    assert result["submitted"] is True and result["status"] in ("INIT", "RUNNING")
    assert ti.xcom["drill_id"] == result["drill_id"] == result["entities"]["disaster_recovery_drill_id"]
    assert sim.resource_status("drill", result["drill_id"]) == "creating"


def test_a_wait_that_times_out_is_retryable_and_the_retry_does_not_resubmit(sim):
    from airflow.providers.common.compat.sdk import AirflowFailException

    from airflow_provider_sdrs.exceptions import SdrsWaitTimeoutError

    group_id = sim.add_group(status="protected")
    sim.resources.durations = (0.1, 1.5)
    operator = SdrsFailoverOperator(task_id="failover", server_group_id=group_id, poll_interval=0.05, timeout=0.3)
    with pytest.raises(SdrsWaitTimeoutError) as timeout:
        run(operator)
    assert not isinstance(timeout.value, AirflowFailException)
    result, _ = run(SdrsFailoverOperator(task_id="failover", server_group_id=group_id, poll_interval=0.05))
    assert result["submitted"] is False and result["resource_status"] == "failed-over"
    assert sim.resources.submissions == {"failoverProtectionGroupNoCG": 1}


def test_delete_drill_skips_cleanly_when_no_drill_was_ever_created(sim):
    from airflow.providers.common.compat.sdk import AirflowSkipException

    for missing in (None, "", "None"):
        with pytest.raises(AirflowSkipException):
            run(SdrsDeleteDrillOperator(task_id="cleanup", drill_id=missing, ignore_missing_id=True))
    from airflow.providers.common.compat.sdk import AirflowFailException

    with pytest.raises(AirflowFailException, match="drill_id"):
        run(SdrsDeleteDrillOperator(task_id="cleanup", drill_id=None))
    assert requests_seen(sim) == 0


def test_on_call_logs_tell_what_was_submitted_and_each_status_change(sim, capsys):
    group_id = sim.add_group(status="protected")
    run(SdrsFailoverOperator(task_id="failover", server_group_id=group_id, poll_interval=0.05))
    out = capsys.readouterr().out
    assert f"Submitting 'fail over' for protection group {group_id} (status protected)" in out
    assert "submitted, job" in out
    for status in ("INIT", "RUNNING", "SUCCESS"):
        assert f"is {status}" in out
    assert "sub-job" in out


def test_console_url_template_deep_links_and_a_bad_template_names_the_field(sim, sdrs_connection, monkeypatch):
    import json
    import os

    from airflow_provider_sdrs.exceptions import SdrsConfigError

    conn = json.loads(os.environ["AIRFLOW_CONN_SDRS_DEFAULT"])
    conn["extra"]["console_url"] = "https://console.example.com/sdrs/?region={region}#/drill/{resource_id}"
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(conn))
    group_id = sim.add_group(status="protected")
    drill_id = sim.add_drill(group_id)
    _, ti = run(SdrsDeleteDrillOperator(task_id="cleanup", drill_id=drill_id, poll_interval=0.05))
    assert ti.xcom[SdrsConsoleLink().xcom_key] == f"https://console.example.com/sdrs/?region=eu-de#/drill/{drill_id}"

    conn["extra"]["console_url"] = "https://console.example.com/{secret_key}"
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(conn))
    with pytest.raises(SdrsConfigError, match=r"extra\.console_url.*secret_key"):
        run(SdrsDeleteDrillOperator(task_id="cleanup", drill_id=drill_id))


def test_a_blocking_wait_reads_the_job_once_per_poll_interval(sim):
    group_id = sim.add_group(status="protected")
    sim.resources.durations = (0.05, 0.1)
    result, _ = run(SdrsFailoverOperator(task_id="failover", server_group_id=group_id, poll_interval=0.6))
    assert result["status"] == "SUCCESS"
    # One read at once (still running), one after the interval (ended): no extra read before the wait.
    assert sim.job_polls(result["job_id"]) == 2


def test_one_deadline_covers_the_wait_for_an_operation_in_progress_and_everything_after_it(sim):
    from airflow_provider_sdrs.exceptions import SdrsWaitTimeoutError

    group_id = sim.add_group(status="protected")
    sim.resources.durations = (0.1, 30)
    sim.add_fault("lost_answer", target="submit", count=1)
    with pytest.raises(SdrsConnectionError):
        run(SdrsFailoverOperator(task_id="failover", server_group_id=group_id, poll_interval=0.05))

    operator = SdrsFailoverOperator(
        task_id="failover", server_group_id=group_id, poll_interval=0.05, timeout=1.0, deferrable=True
    )
    ti = TaskInstanceStandIn()
    started = time.time()
    with pytest.raises(SdrsWaitTimeoutError):
        run(operator, ti)
    (trigger,) = ti.deferrals
    assert type(trigger).__name__ == "SdrsResourceTrigger" and trigger.statuses == ["failing-over"]
    assert started + 1.0 <= trigger.end_time < started + 1.2  # the task's own timeout, counted from its start
    assert time.time() - started < 2.0
    assert sim.resources.submissions == {"failoverProtectionGroupNoCG": 1}
