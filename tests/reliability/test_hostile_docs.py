"""Faithful to the SDRS API reference: created ids, documented preconditions, names and parameter errors.

Every test talks HTTP to the simulator, whose resource model follows the same pages of the reference:
"Creating a DR Drill", "Creating a Protection Group", "Deleting a Protection Group" and the error-code table.
Operators run through ``execute`` and, when deferrable, through the real trigger and ``execute_complete``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_sdrs._core.exchange import ApiCall
from airflow_provider_sdrs._core.operations import resource_name
from airflow_provider_sdrs.exceptions import (
    SdrsApiError,
    SdrsJobFailedError,
    SdrsOperationNotAllowedError,
    SdrsParameterError,
    SdrsPreconditionError,
    SdrsValidationError,
)
from airflow_provider_sdrs.operators.sdrs import (
    SdrsCreateDrillOperator,
    SdrsCreateProtectionGroupOperator,
    SdrsDeleteDrillOperator,
    SdrsDeleteProtectionGroupOperator,
)
from tests.support import TaskInstanceStandIn, first_payload, load_example_dag

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

MODES = pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferrable"])
# "Creating a DR Drill": the protection group's status "must be available, protected, failed-over,
# error-starting, error-stopping, error-reversing, error-reprotecting, or error-failing-over".
DRILL_ALLOWED = [
    "available",
    "protected",
    "failed-over",
    "error-starting",
    "error-stopping",
    "error-reversing",
    "error-reprotecting",
    "error-failing-over",
]
DRILL_REFUSED = [
    "creating",
    "deleting",
    "error",
    "error-deleting",
    "starting",
    "stopping",
    "reprotecting",
    "reversing",
    "failing-over",
]
GROUP_BUSY = ["creating", "starting", "stopping", "reprotecting", "reversing", "failing-over"]
# Names the reference forbids that fit in 64 characters (so the old length check let them through).
FORBIDDEN_NAMES = [
    "drill weekly",
    "drill/1",
    "dr\u00fcll",
    "\u00e9" * 33,  # 33 characters, 66 bytes
    "drill\nforged log line",
    "drill;1",
    "<drill>",
    "drill@1",
    " drill",
]


def run(operator, ti: TaskInstanceStandIn | None = None) -> tuple[Any, TaskInstanceStandIn]:
    ti = ti or TaskInstanceStandIn()
    context: Any = {"ti": ti}
    try:
        return operator.execute(context), ti
    except TaskDeferred as deferred:
        assert deferred.method_name == "execute_complete"
        payload = asyncio.run(first_payload(deferred.trigger))
        return operator.execute_complete(context, event=payload), ti


@pytest.fixture
def sim(sdrs_connection):
    simulator = sdrs_connection.simulator
    simulator.resources.durations = (0.05, 0.15)
    return simulator


def _fast(**kwargs: Any) -> dict[str, Any]:
    return {"poll_interval": 0.05, "poll_retry_delay": 0.01, **kwargs}


def create_drill(group_id: str, name: str = "drill-weekly", **kwargs: Any) -> SdrsCreateDrillOperator:
    return SdrsCreateDrillOperator(task_id="create_drill", server_group_id=group_id, name=name, **_fast(**kwargs))


def create_group(name: str = "pg-new", **kwargs: Any) -> SdrsCreateProtectionGroupOperator:
    return SdrsCreateProtectionGroupOperator(
        task_id="create_group",
        name=name,
        source_availability_zone="eu-de-01",
        target_availability_zone="eu-de-02",
        domain_id="d3f1a1b2c3d4e5f6a7b8c9d0e1f2a3b4",
        source_vpc_id="9d0e1f2a-3b4c-5d6e-7f80-91a2b3c4d5e6",
        **_fast(**kwargs),
    )


def drill_ids(sim, group_id: str, name: str) -> list[str]:
    drills = sim.resources.drills.values()
    return [d.id for d in drills if d.fields["server_group_id"] == group_id and d.fields["name"] == name]


def submissions(sim) -> int:
    return sum(sim.resources.submissions.values())


def api_requests(sim) -> list[tuple[str, str]]:
    return [(r.method, r.raw_path) for r in sim.records if r.route in ("api", "job")]


# -- 3: the id of what a creation job created ---------------------------------------------------------------


@MODES
def test_a_drill_job_without_the_drill_id_finds_the_drill_by_name_and_the_cleanup_deletes_that_drill(
    sim, deferrable, capsys
):
    sim.resources.omit_created_ids = True
    group_id = sim.add_group(status="protected", name="erp")
    other_group = sim.add_group(status="protected", name="crm")
    neighbour = sim.add_drill(group_id, name="drill-monthly")
    namesake = sim.add_drill(other_group, name="drill-weekly")

    result, ti = run(create_drill(group_id, deferrable=deferrable))

    (new_drill,) = drill_ids(sim, group_id, "drill-weekly")
    assert "disaster_recovery_drill_id" not in result["entities"]
    assert result["status"] == "SUCCESS" and result["submitted"] is True
    assert ti.xcom["drill_id"] == result["drill_id"] == new_drill
    assert "found by its name 'drill-weekly'" in result["id_lookup"] and new_drill in result["id_lookup"]
    out = capsys.readouterr().out
    assert "did not name the new DR drill" in out and new_drill in out

    run(SdrsDeleteDrillOperator(task_id="cleanup", drill_id=ti.xcom["drill_id"], **_fast(deferrable=deferrable)))
    assert sim.resource_status("drill", new_drill) is None
    assert sim.resource_status("drill", neighbour) == "available"
    assert sim.resource_status("drill", namesake) == "available"


@MODES
def test_a_failed_drill_job_without_the_drill_id_still_hands_the_broken_drill_to_the_cleanup(sim, deferrable):
    sim.resources.omit_created_ids = True
    sim.resources.fail_next("createDisasterRecoveryDrill")
    group_id = sim.add_group(status="protected")
    ti = TaskInstanceStandIn()
    with pytest.raises(SdrsJobFailedError):
        run(create_drill(group_id, deferrable=deferrable), ti)
    (broken,) = drill_ids(sim, group_id, "drill-weekly")
    assert "disaster_recovery_drill_id" not in sim.job_document(ti.xcom["job_id"])["entities"]
    assert sim.resource_status("drill", broken) == "error"
    assert ti.xcom["drill_id"] == broken

    run(SdrsDeleteDrillOperator(task_id="cleanup", drill_id=ti.xcom["drill_id"], **_fast()))
    assert sim.resource_status("drill", broken) is None


@MODES
def test_a_drill_that_cannot_be_found_by_name_is_said_in_the_log_and_the_result(sim, deferrable, capsys):
    sim.resources.omit_created_ids = True
    group_id = sim.add_group(status="protected")
    # A listing that never shows the drill: nothing to find.
    sim.add_fault("reshape", target="api", count=-1, add={"disaster_recovery_drills": []})
    result, ti = run(create_drill(group_id, deferrable=deferrable))
    assert result["status"] == "SUCCESS" and result["drill_id"] is None and "drill_id" not in ti.xcom
    assert "has no DR drill named 'drill-weekly'" in result["id_lookup"]
    assert f"protection group {group_id}" in result["id_lookup"]
    out = capsys.readouterr().out
    assert "has no DR drill named 'drill-weekly'" in out and "warning" in out


def test_two_drills_of_that_name_are_not_guessed_between(sim):
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

    group_id = sim.add_group(status="protected")
    first = sim.add_drill(group_id, name="drill-weekly")
    second = sim.add_drill(group_id, name="drill-weekly")
    operator = create_drill(group_id)
    job = {"job_id": "0" * 32, "status": "SUCCESS", "entities": {"server_group_id": group_id}}
    found, note = operator.find_created(SdrsHook(), job)
    assert found == {"drill_id": None}
    assert note is not None and "2 DR drills named 'drill-weekly'" in note
    assert first in note and second in note


@MODES
def test_a_group_job_without_the_group_id_finds_the_group_by_name(sim, deferrable, capsys):
    sim.resources.omit_created_ids = True
    sim.add_group(status="available", name="pg-other")
    result, ti = run(create_group(deferrable=deferrable))
    (new_group,) = [g.id for g in sim.resources.groups.values() if g.fields["name"] == "pg-new"]
    assert "server_group_id" not in result["entities"]
    assert ti.xcom["server_group_id"] == result["server_group_id"] == new_group
    assert new_group in result["id_lookup"]
    assert "did not name the new protection group" in capsys.readouterr().out
    assert sim.resource_status("group", new_group) == "available"


def test_the_dr_drill_example_cleans_up_a_drill_its_job_did_not_name(sdrs_connection, monkeypatch, tmp_path):
    monkeypatch.setenv("SDRS_EXAMPLE_POLL_SECONDS", "0.1")
    sim = sdrs_connection.simulator
    sim.resources.durations = (0.2, 0.8)
    sim.resources.omit_created_ids = True
    group_id = sim.add_group(status="protected", name="erp")
    dag_run = load_example_dag("sdrs_dr_drill").test(
        run_conf={"server_group_id": group_id, "target_rto_seconds": 600, "report_dir": str(tmp_path)}
    )
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success", states
    (report_file,) = tmp_path.glob("*.json")
    report = json.loads(report_file.read_text())
    assert report["drill_id"] and report["cleanup"] == "drill deleted"
    assert "disaster_recovery_drill_id" not in sim.job_document(report["create_job"]["job_id"])["entities"]
    assert sim.resources.submissions == {"createDisasterRecoveryDrill": 1, "deleteDisasterRecoveryDrill": 1}
    assert sim.resource_status("drill", report["drill_id"]) is None and sim.resources_view()["drills"] == {}


# -- 20: the documented preconditions ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [s for s in DRILL_ALLOWED if s != "protected"])
def test_a_drill_is_submitted_in_every_group_status_the_reference_allows(sim, status):
    group_id = sim.add_group(status=status)
    result, ti = run(create_drill(group_id))
    assert result["submitted"] is True and result["status"] == "SUCCESS"
    assert sim.resource_status("drill", ti.xcom["drill_id"]) == "available"
    assert sim.resources.submissions == {"createDisasterRecoveryDrill": 1}


@pytest.mark.parametrize("status", DRILL_REFUSED)
def test_a_drill_is_refused_before_submitting_with_the_documented_statuses(sim, status):
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

    group_id = sim.add_group(status=status)
    with pytest.raises(SdrsOperationNotAllowedError) as refusal:
        run(create_drill(group_id))
    message = str(refusal.value)
    assert f"protection group {group_id} is {status}" in message and "nothing was submitted" in message
    assert all(allowed in message for allowed in DRILL_ALLOWED), message
    assert submissions(sim) == 0 and not any(method == "POST" for method, _ in api_requests(sim))
    # The simulator refuses it as well.
    with pytest.raises(SdrsPreconditionError) as sdrs_refusal:
        SdrsHook(retry_delay=0.01).create_drill(group_id, "drill-weekly")
    assert sdrs_refusal.value.code == "SDRS.1002"


@pytest.mark.parametrize("status", [s for s in DRILL_ALLOWED if s != "protected"])
def test_the_simulator_creates_drills_in_every_documented_group_status(sim, status):
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

    group_id = sim.add_group(status=status)
    assert SdrsHook(retry_delay=0.01).create_drill(group_id, "drill-weekly")
    assert sim.resources.submissions == {"createDisasterRecoveryDrill": 1}


@pytest.mark.parametrize(
    "status",
    [
        "protected",
        "failed-over",
        "error-starting",
        "error-stopping",
        "error-reversing",
        "error-reprotecting",
        "error-failing-over",
    ],
)
def test_an_empty_group_is_deleted_whatever_its_settled_status(sim, status):
    group_id = sim.add_group(status=status)
    result, _ = run(SdrsDeleteProtectionGroupOperator(task_id="delete", server_group_id=group_id, **_fast()))
    assert result["submitted"] is True and result["status"] == "SUCCESS"
    assert sim.resource_status("group", group_id) is None


@pytest.mark.parametrize(
    ("contents", "words", "code"),
    [
        ({"protected_instance_num": 2}, "2 protected instances", "SDRS.1001"),
        ({"replication_num": 1}, "1 replication pair", "SDRS.1010"),
        ({"drills": 1}, "1 DR drill", "SDRS.1003"),
    ],
    ids=["protected instances", "replication pairs", "drills"],
)
def test_a_group_with_contents_is_refused_before_deleting_with_the_documented_reason(sim, contents, words, code):
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

    counts = {key: value for key, value in contents.items() if key != "drills"}
    group_id = sim.add_group(status="available", **counts)
    if contents.get("drills"):
        sim.add_drill(group_id)
    with pytest.raises(SdrsOperationNotAllowedError) as refusal:
        run(SdrsDeleteProtectionGroupOperator(task_id="delete", server_group_id=group_id, **_fast()))
    message = str(refusal.value)
    assert "without protected instances, replication pairs or DR drills" in message
    assert f"has {words}" in message and "nothing was submitted" in message
    assert submissions(sim) == 0 and not any(method == "DELETE" for method, _ in api_requests(sim))
    # The simulator refuses it too, with the code of the error-code table.
    with pytest.raises(SdrsPreconditionError) as sdrs_refusal:
        SdrsHook(retry_delay=0.01).delete_protection_group(group_id)
    assert sdrs_refusal.value.code == code
    assert sim.resource_status("group", group_id) == "available"


@pytest.mark.parametrize("status", GROUP_BUSY)
def test_a_group_in_the_middle_of_another_operation_is_not_deleted(sim, status):
    group_id = sim.add_group(status=status)
    with pytest.raises(SdrsOperationNotAllowedError) as refusal:
        run(SdrsDeleteProtectionGroupOperator(task_id="delete", server_group_id=group_id, **_fast()))
    message = str(refusal.value)
    assert f"is {status}" in message and "protected" in message.split("needs", 1)[1]
    assert submissions(sim) == 0


def test_contents_that_appear_between_the_read_and_the_deletion_give_the_documented_reason(sim, monkeypatch):
    group_id = sim.add_group(status="available")
    operator = SdrsDeleteProtectionGroupOperator(task_id="delete", server_group_id=group_id, **_fast())
    read = operator.read

    def stale_read(hook):
        document = read(hook)
        if not sim.resources.drills:
            sim.add_drill(group_id)  # someone starts a drill meanwhile
        return document

    monkeypatch.setattr(operator, "read", stale_read)
    with pytest.raises(SdrsOperationNotAllowedError) as refusal:
        run(operator)
    message = str(refusal.value)
    assert "SDRS refused it with SDRS.1003" in message and "still has DR drills" in message
    assert submissions(sim) == 0


# -- 21: names and parameter errors ----------------------------------------------------------------------


@pytest.mark.parametrize("name", FORBIDDEN_NAMES)
@pytest.mark.parametrize("kind", ["drill", "group"])
def test_a_name_the_reference_forbids_fails_for_good_before_any_request(sim, kind, name):
    group_id = sim.add_group(status="protected", name="erp")
    operator = create_drill(group_id, name=name) if kind == "drill" else create_group(name=name)
    with pytest.raises(AirflowFailException) as refusal:
        run(operator)
    message = str(refusal.value)
    assert "name" in message and "at most 64 bytes" in message and "SDRS.0202" in message
    assert "\n" not in message
    assert sim.records == [] and submissions(sim) == 0


def test_a_description_the_reference_forbids_fails_before_any_request(sim):
    for description in ("<b>bold</b>", "\u00e9" * 33):
        with pytest.raises(AirflowFailException, match="description"):
            run(create_group(description=description))
    assert sim.records == []


def test_the_name_rule_is_the_documented_one():
    assert resource_name("a" * 64) == "a" * 64
    assert resource_name("Drill_2026.11-29") == "Drill_2026.11-29"
    with pytest.raises(SdrsValidationError) as long_name:
        resource_name("a" * 65, "name")
    assert long_name.value.field == "name" and "65 bytes" in str(long_name.value)
    with pytest.raises(SdrsValidationError) as bad_character:
        resource_name("drill weekly", "name")
    assert "' ' at position 5 is not allowed" in str(bad_character.value)


@MODES
@pytest.mark.parametrize("code", ["SDRS.0202", "SDRS.0201", "SDRS.0204"])
def test_a_parameter_error_from_sdrs_fails_the_task_without_retries(sim, deferrable, code):
    group_id = sim.add_group(status="protected")
    sim.add_fault("status", target="submit", status=400, code=code, count=-1)
    with pytest.raises(SdrsParameterError) as refusal:
        run(create_drill(group_id, deferrable=deferrable))
    assert isinstance(refusal.value, AirflowFailException) and isinstance(refusal.value, SdrsApiError)
    assert refusal.value.code == code and code in str(refusal.value)
    assert [method for method, _ in api_requests(sim)].count("POST") == 1


def _create_drill_call(group_id: str, name: str) -> ApiCall:
    # Past the provider's own check, to hear what SDRS itself answers.
    body = {"disaster_recovery_drill": {"server_group_id": group_id, "name": name}}
    return ApiCall("POST", ("disaster-recovery-drills",), "create DR drill", body=body, idempotent=False)


@pytest.mark.parametrize("name", ["drill weekly", "\u00e9" * 33, "x" * 65])
def test_the_simulator_refuses_a_forbidden_name_with_sdrs_0202_on_both_paths(sim, name):
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

    group_id = sim.add_group(status="protected")
    with pytest.raises(SdrsParameterError) as blocking:
        SdrsHook(retry_delay=0.01)._call(_create_drill_call(group_id, name))

    async def deferred() -> None:
        async with SdrsHook(retry_delay=0.01) as hook:
            await hook._acall(_create_drill_call(group_id, name))

    with pytest.raises(SdrsParameterError) as non_blocking:
        asyncio.run(deferred())
    for error in (blocking.value, non_blocking.value):
        assert error.status == 400 and error.code == "SDRS.0202" and isinstance(error, AirflowFailException)
    assert sim.resources.drills == {} and submissions(sim) == 0


@pytest.mark.parametrize("path", ["blocking", "non-blocking"])
def test_a_parameter_error_is_final_for_a_request_but_a_failed_poll_for_a_job_read(sim, path):
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

    group_id = sim.add_group(status="protected")
    job_id = sim.add_job()
    sim.add_fault("status", target="any", status=400, code="SDRS.0201", count=2)

    async def both() -> list[BaseException]:
        async with SdrsHook(retry_delay=0.01) as hook:
            return list(
                await asyncio.gather(
                    hook._acall(_create_drill_call(group_id, "drill-weekly")),
                    hook.aget_job(job_id),
                    return_exceptions=True,
                )
            )

    if path == "blocking":
        hook = SdrsHook(retry_delay=0.01)
        errors: list[BaseException] = []
        for attempt in (lambda: hook._call(_create_drill_call(group_id, "drill-weekly")), lambda: hook.get_job(job_id)):
            with pytest.raises(SdrsApiError) as caught:
                attempt()
            errors.append(caught.value)
    else:
        errors = asyncio.run(both())
    submitted, polled = errors
    assert isinstance(submitted, SdrsParameterError) and isinstance(submitted, AirflowFailException)
    assert isinstance(polled, SdrsApiError) and polled.code == "SDRS.0201"
    assert not isinstance(polled, (SdrsParameterError, AirflowFailException))


@MODES
def test_a_parameter_error_ends_a_submission_but_a_wait_whose_polls_get_one_carries_on(sim, deferrable):
    group_id = sim.add_group(status="protected")
    sim.add_fault("status", target="submit", status=400, code="SDRS.0202", count=1)
    with pytest.raises(SdrsParameterError):
        run(create_drill(group_id, deferrable=deferrable))
    sim.add_fault("status", target="job", status=400, code="SDRS.0202", count=2)
    result, ti = run(create_drill(group_id, deferrable=deferrable, max_poll_failures=3))
    assert result["status"] == "SUCCESS" and sim.resource_status("drill", ti.xcom["drill_id"]) == "available"


@MODES
def test_a_listing_that_ignores_its_group_filter_never_hands_over_another_groups_drill(sim, deferrable):
    mine = sim.add_group(status="protected", name="pg-mine")
    other = sim.add_group(status="protected", name="pg-other")
    foreign = sim.add_drill(other, name="drill-weekly")
    # Every drill listing answers with the other group's drill of the same name, whatever the filter.
    listing = {"disaster_recovery_drills": [{"id": foreign, "name": "drill-weekly", "server_group_id": other}]}
    sim.add_fault("reshape", target="api", count=-1, add=listing)
    result, ti = run(create_drill(mine, deferrable=deferrable))
    assert result["submitted"] is True and result["status"] == "SUCCESS"
    assert ti.xcom["drill_id"] == result["drill_id"] != foreign
    created = [d for d in sim.resources.drills.values() if d.fields["server_group_id"] == mine]
    assert [d.id for d in created] == [result["drill_id"]]
