"""Every example DAG parses, and runs end to end with dag.test() against the simulator."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def xcom(dag_run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == "return_value",
            )
        ).first()
        assert row is not None, f"no XCom from {task_id}"
        value = row.value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


@pytest.mark.parametrize("name", sorted(path.stem for path in EXAMPLES.glob("*.py")))
def test_every_example_dag_parses(name):
    dag = load(name)
    assert dag.dag_id == name
    assert dag.tasks and all(task.doc_md or task.task_id for task in dag.tasks)


@pytest.mark.parametrize("mode", ["deferrable", "poke", "reschedule"])
def test_sensor_example_waits_for_a_job(mode, sdrs_password_connection):
    sim = sdrs_password_connection.simulator
    job_id = sim.add_job(init_seconds=0.3, run_seconds=1.0, sub_jobs=2, clock_from_first_poll=True)
    dag = load("sdrs_job_sensor")
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


def test_sensor_example_fails_the_run_when_the_job_fails(sdrs_connection):
    job_id = sdrs_connection.simulator.add_job(
        outcome="FAIL", run_seconds=0.5, error_code="SDRS.1830", clock_from_first_poll=True
    )
    dag = load("sdrs_job_sensor")
    dag.get_task("wait_for_job").poke_interval = 0.2
    dag_run = dag.test(run_conf={"job_id": job_id})
    assert str(dag_run.state) == "failed"
    assert states(dag_run)["wait_for_job"] == "failed"
    assert states(dag_run)["report"] == "upstream_failed"
