"""Every example DAG parses, and runs end to end with dag.test() against the simulator."""

from __future__ import annotations

import json
import time

import pytest

from tests.support import EXAMPLE_DAGS, load_example_dag


def tries(dag_run) -> dict[str, int]:
    return {ti.task_id: ti.try_number for ti in dag_run.get_task_instances()}


def xcom(dag_run, task_id: str, key: str = "return_value"):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
        ).first()
        assert row is not None, f"no XCom {key!r} from {task_id}"
        value = row.value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


@pytest.mark.parametrize("name", sorted(path.stem for path in EXAMPLE_DAGS.glob("*.py")))
def test_every_example_dag_parses(name):
    dag = load_example_dag(name)
    assert dag.dag_id == name
    assert dag.tasks and all(task.doc_md or task.task_id for task in dag.tasks)


@pytest.mark.parametrize("mode", ["deferrable", "poke", "reschedule"])
def test_sensor_example_waits_for_a_job(mode, sdrs_password_connection):
    sim = sdrs_password_connection.simulator
    job_id = sim.add_job(init_seconds=0.3, run_seconds=1.0, sub_jobs=2, clock_from_first_poll=True)
    dag = load_example_dag("sdrs_job_sensor")
    sensor = dag.get_task("wait_for_job")
    sensor.poke_interval = 0.2
    sensor.deferrable = mode == "deferrable"
    sensor.mode = "reschedule" if mode == "reschedule" else "poke"
    dag_run = dag.test(run_conf={"job_id": job_id})
    assert str(dag_run.state) == "success", states(dag_run)
    job = xcom(dag_run, "wait_for_job")
    assert job["job_id"] == job_id and job["status"] == "SUCCESS"
    assert "ended SUCCESS" in xcom(dag_run, "report")
    assert sim.job_polls(job_id) >= 2
    assert sim.counters["token_requests"] == 1
    assert xcom(dag_run, "wait_for_job", key="_link_SdrsConsoleLink") == f"{sim.url}/console/sdrs/?region=eu-de"


def test_sensor_example_fails_the_run_when_the_job_fails(sdrs_connection):
    job_id = sdrs_connection.simulator.add_job(
        outcome="FAIL", run_seconds=0.5, error_code="SDRS.1830", clock_from_first_poll=True
    )
    dag = load_example_dag("sdrs_job_sensor")
    dag.get_task("wait_for_job").poke_interval = 0.2
    dag_run = dag.test(run_conf={"job_id": job_id})
    assert str(dag_run.state) == "failed"
    assert states(dag_run)["wait_for_job"] == "failed"
    assert states(dag_run)["report"] == "upstream_failed"


# -- sdrs_dr_drill -------------------------------------------------------------------------------------


@pytest.fixture
def drill_sim(sdrs_connection, monkeypatch):
    monkeypatch.setenv("SDRS_EXAMPLE_POLL_SECONDS", "0.1")
    sim = sdrs_connection.simulator
    sim.resources.durations = (0.2, 0.8)
    return sim


def run_drill(sim, tmp_path, **conf):
    group_id = sim.add_group(status="protected", name="erp")
    dag = load_example_dag("sdrs_dr_drill")
    dag_run = dag.test(
        run_conf={"server_group_id": group_id, "target_rto_seconds": 600, "report_dir": str(tmp_path), **conf}
    )
    reports = sorted(tmp_path.glob("*.json"))
    report = json.loads(reports[0].read_text()) if reports else None
    return group_id, dag_run, report


def test_dr_drill_creates_checks_measures_cleans_up_and_reports(drill_sim, tmp_path):
    group_id, dag_run, report = run_drill(drill_sim, tmp_path)
    assert str(dag_run.state) == "success", states(dag_run)
    created = xcom(dag_run, "create_drill")
    drill_id = xcom(dag_run, "create_drill", key="drill_id")
    assert created["drill_id"] == drill_id and created["status"] == "SUCCESS"
    assert xcom(dag_run, "check_drill")["status"] == "available"
    assert drill_sim.resource_status("drill", drill_id) is None  # cleaned up
    assert drill_sim.resources.submissions == {"createDisasterRecoveryDrill": 1, "deleteDisasterRecoveryDrill": 1}
    assert drill_sim.resource_status("group", group_id) == "protected"

    assert report is not None and report == xcom(dag_run, "publish_report")
    assert report["outcome"] == "passed" and report["drill_id"] == drill_id and report["rto_met"] is True
    assert 0.5 < report["recovery_seconds"] < 600
    assert report["create_job"]["job_id"] == created["job_id"] and report["cleanup"] == "drill deleted"
    markdown = (tmp_path / (sorted(tmp_path.glob("*.json"))[0].stem + ".md")).read_text()
    assert "| Outcome | PASSED |" in markdown and drill_id in markdown

    link = xcom(dag_run, "create_drill", key="_link_SdrsConsoleLink")
    assert link == f"{drill_sim.url}/console/sdrs/?region=eu-de"


def test_dr_drill_over_its_rto_fails_the_run_but_still_cleans_up_and_reports(drill_sim, tmp_path):
    drill_sim.resources.durations = (0.5, 1.5)
    _, dag_run, report = run_drill(drill_sim, tmp_path, target_rto_seconds=1)
    assert str(dag_run.state) == "failed"
    assert states(dag_run) == {
        "create_drill": "success",
        "check_drill": "success",
        "measure_recovery": "failed",
        "delete_drill": "success",
        "publish_report": "failed",
    }
    assert report is not None and report["outcome"] == "failed" and report["rto_met"] is None
    assert report["cleanup"] == "drill deleted"
    assert tries(dag_run)["measure_recovery"] == 1  # a missed RTO is final, not retried
    assert drill_sim.resource_status("drill", report["drill_id"]) is None


def test_dr_drill_whose_job_fails_deletes_the_broken_drill_and_reports_the_failure(drill_sim, tmp_path):
    drill_sim.resources.fail_next("createDisasterRecoveryDrill")
    _, dag_run, report = run_drill(drill_sim, tmp_path)
    assert str(dag_run.state) == "failed"
    got = states(dag_run)
    assert got["create_drill"] == "failed" and got["delete_drill"] == "success", got
    assert got["check_drill"] == "upstream_failed" and got["publish_report"] == "failed"
    assert report is not None and report["outcome"] == "failed" and report["cleanup"] == "drill deleted"
    assert drill_sim.resource_status("drill", report["drill_id"]) is None
    assert drill_sim.resources.submissions["createDisasterRecoveryDrill"] == 1
    assert tries(dag_run)["create_drill"] == 1  # a failed job is final, not retried


# -- sdrs_planned_failover -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "ran", "skipped", "submitted"),
    [
        ("planned", "planned_failover", "failover", {"reverseProtectionGroupNoCG": 1}),
        (
            "unplanned",
            "failover",
            "planned_failover",
            {"failoverProtectionGroupNoCG": 1, "reprotectProtectionGroupNoCG": 1},
        ),
    ],
)
def test_failover_runbook(drill_sim, mode, ran, skipped, submitted):
    group_id = drill_sim.add_group(status="protected", name="erp")
    dag_run = load_example_dag("sdrs_planned_failover").test(run_conf={"server_group_id": group_id, "mode": mode})
    got = states(dag_run)
    assert str(dag_run.state) == "success", got
    assert got[ran] == "success" and got[skipped] == "skipped" and got["reprotect"] == "success"
    assert drill_sim.resources.submissions == submitted
    assert drill_sim.resource_status("group", group_id) == "protected"
    assert xcom(dag_run, "reprotect")["submitted"] is (mode == "unplanned")
    if mode == "planned":
        assert drill_sim.resources.groups[group_id].fields["priority_station"] == "target"


def test_failover_runbook_stops_before_submitting_when_the_group_is_not_ready(drill_sim):
    group_id = drill_sim.add_group(status="available", name="erp")
    dag_run = load_example_dag("sdrs_planned_failover").test(run_conf={"server_group_id": group_id, "mode": "planned"})
    assert str(dag_run.state) == "failed"
    assert states(dag_run)["preflight"] == "failed"
    assert sum(drill_sim.resources.submissions.values()) == 0


# -- event-driven: sdrs_failover_followup, sdrs_group_watch ----------------------------------------------

EXAMPLE_GROUP = "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1"


def asset_events(uri: str) -> list[dict]:
    """The extras of the asset events Airflow stored for ``uri``, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id).where(AssetModel.uri == uri)
        ).all()
        return [dict(row.extra or {}) for row in sorted(rows, key=lambda row: row.id)]


def test_a_planned_failover_gives_its_asset_event_the_operation_and_the_followup_records_it(
    drill_sim, tmp_path, monkeypatch
):
    monkeypatch.setenv("SDRS_EXAMPLE_REPORT_DIR", str(tmp_path))
    drill_sim.add_group(status="protected", name="erp", group_id=EXAMPLE_GROUP)
    runbook = load_example_dag("sdrs_planned_failover")
    uri = runbook.get_task("planned_failover").outlets[0].uri
    before = len(asset_events(uri))
    dag_run = runbook.test(run_conf={"server_group_id": EXAMPLE_GROUP, "mode": "planned"})
    assert str(dag_run.state) == "success", states(dag_run)
    events = asset_events(uri)[before:]
    assert len(events) == 1, events
    (extra,) = events
    job_id = xcom(dag_run, "planned_failover", key="job_id")
    assert extra["operation"] == "planned_failover" and extra["job_id"] == job_id
    assert extra["submitted"] is True and extra["resource_status"] == "protected"
    assert extra["priority_station"] == "target" and extra["duration_seconds"] > 0

    # The downstream DAG, scheduled on that asset, with that extra (dag.test() cannot hand it an asset event).
    run = load_example_dag("sdrs_failover_followup").test(run_conf={"failover": extra})
    assert str(run.state) == "success", states(run)
    record = xcom(run, "record_failover")
    assert record["job_id"] == job_id and record["production_site"] == "target"
    assert record["group_status"] == "protected" and record["submitted"] is True
    assert json.loads((tmp_path / "failovers.jsonl").read_text().splitlines()[-1])["job_id"] == job_id


def test_the_followup_is_scheduled_on_the_runbooks_outlet():
    followup, runbook = load_example_dag("sdrs_failover_followup"), load_example_dag("sdrs_planned_failover")
    scheduled_on = {asset.uri for asset in followup.timetable.asset_condition.objects}
    outlets = [runbook.get_task(task_id).outlets for task_id in ("planned_failover", "failover")]
    produced = {asset.uri for assets in outlets for asset in assets}
    assert scheduled_on == produced and len(produced) == 1


def test_the_followup_skips_an_event_about_another_group(sdrs_connection):
    other = "0f0e0d0c-2a66-4f2c-9c23-c2b1b3c9e0a1"
    run = load_example_dag("sdrs_failover_followup").test(run_conf={"failover": {"server_group_id": other}})
    assert states(run) == {"failover_event": "skipped", "check_application": "skipped", "record_failover": "skipped"}
    assert sdrs_connection.simulator.records == []


def test_group_watch_gathers_the_broken_group_its_failed_jobs_and_last_drill(drill_sim, tmp_path, monkeypatch):
    monkeypatch.setenv("SDRS_EXAMPLE_REPORT_DIR", str(tmp_path))
    group_id = drill_sim.add_group(status="protected", name="erp")
    drill_sim.add_drill(group_id, name="drill-weekly")
    drill_sim.resources.durations = (0.0, 0.05)
    drill_sim.resources.fail_next("reprotectProtectionGroupNoCG")
    drill_sim.set_group(group_id, status="failed-over")
    drill_sim.model.resources_answer(lambda r: r.group_action(group_id, {"start-server-group": {}}))
    time.sleep(0.2)
    assert drill_sim.resource_status("group", group_id) == "error-reprotecting"

    run = load_example_dag("sdrs_group_watch").test(run_conf={"server_group_id": group_id})
    assert str(run.state) == "success", states(run)
    summary = xcom(run, "write_report")
    (report,) = summary["groups"]
    assert report["group"]["status"] == "error-reprotecting"
    assert [job["job_type"] for job in report["failed_jobs"]] == ["reprotectProtectionGroupNoCG"]
    assert report["last_drill"]["name"] == "drill-weekly"
    markdown = (tmp_path / summary["markdown"].rsplit("/", 1)[1]).read_text()
    assert group_id in markdown and "reprotectProtectionGroupNoCG" in markdown and "drill-weekly" in markdown


def test_group_watch_is_started_by_a_group_watcher():
    from airflow_provider_sdrs.triggers.sdrs import SdrsProtectionGroupEventTrigger

    (asset,) = load_example_dag("sdrs_group_watch").timetable.asset_condition.objects
    (watcher,) = asset.watchers
    assert isinstance(watcher.trigger, SdrsProtectionGroupEventTrigger)
    assert watcher.trigger.statuses == ["error-*"] and watcher.trigger.server_group_id is None
    assert asset.uri.endswith("/server-groups")
