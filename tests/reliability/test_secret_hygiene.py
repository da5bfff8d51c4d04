"""Secrets never leave the connection: not in trigger kwargs, events, XCom, rendered fields, logs or errors.

Distinctive values are set for the secret key, the IAM password, the security token and (issued by the
simulator) the IAM token; then every example DAG runs under dag.test() (deferrals included), a job fails,
credentials are refused and a connection test fails. None of the values may show up anywhere but in the
requests' signature and token headers (and the IAM request body, which must carry the password).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from typing import Any

import pytest

from airflow_provider_sdrs.exceptions import SdrsError
from airflow_provider_sdrs.hooks.sdrs import SdrsHook
from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger
from tests.support import first_payload, load_example_dag

SECRET_KEY = "SKhygiene7f3a9c1e5b2d"
PASSWORD = "PWhygiene2b8d4f6a0c1e"
SECURITY_TOKEN = "SThygiene9e1c3a5b7d0f"
AUTH_HEADERS = {"authorization", "x-auth-token", "x-security-token"}


def redact(value: Any) -> Any:
    try:
        from airflow.sdk._shared.secrets_masker import redact as _redact
    except ImportError:  # Airflow 3.1
        from airflow.sdk.execution_time.secrets_masker import redact as _redact  # type: ignore[no-redef]
    return _redact(value)


def stored_rows(dag_runs) -> list[str]:
    """Every XCom, rendered template field and trigger row the runs left in the metadata database."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.trigger import Trigger
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    texts: list[str] = []
    with create_session() as session:
        for dag_run in dag_runs:
            for row in session.scalars(
                select(XComModel).where(XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id)
            ):
                texts.append(f"xcom {row.task_id}.{row.key}={row.value!r}")
            for rendered in session.scalars(
                select(RenderedTaskInstanceFields).where(
                    RenderedTaskInstanceFields.dag_id == dag_run.dag_id,
                    RenderedTaskInstanceFields.run_id == dag_run.run_id,
                )
            ):
                texts.append(f"rendered {rendered.task_id}={json.dumps(rendered.rendered_fields, default=str)}")
        for trigger in session.scalars(select(Trigger)):
            texts.append(f"trigger {trigger.classpath} {trigger.kwargs!r}")
    return texts


@pytest.fixture
def sim(sdrs_simulator, monkeypatch):
    sdrs_simulator.credentials = dataclasses.replace(
        sdrs_simulator.credentials, secret_key=SECRET_KEY, password=PASSWORD, security_token=SECURITY_TOKEN
    )
    sdrs_simulator.resources.durations = (0.2, 0.6)
    monkeypatch.setenv("SDRS_EXAMPLE_POLL_SECONDS", "0.1")
    return sdrs_simulator


def use(monkeypatch, sim, auth_type: str, **overrides: Any) -> None:
    from airflow_provider_sdrs._core.process import reset_process_caches

    reset_process_caches()
    connection = json.loads(sim.connection_json(auth_type))
    connection.update(overrides)
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(connection))


def test_no_secret_leaves_the_connection(sim, monkeypatch, capsys, tmp_path):
    seen: list[str] = []
    runs = []

    # Every example DAG, the deferrable ones included; password auth, so an IAM token is issued and used.
    use(monkeypatch, sim, "password")
    group_id = sim.add_group(status="protected", name="erp")
    runs.append(
        load_example_dag("sdrs_dr_drill").test(run_conf={"server_group_id": group_id, "report_dir": str(tmp_path)})
    )
    runs.append(
        load_example_dag("sdrs_planned_failover").test(run_conf={"server_group_id": group_id, "mode": "unplanned"})
    )
    # AK/SK with a security token: a deferred sensor whose job fails.
    use(monkeypatch, sim, "aksk")
    failing = sim.add_job(outcome="FAIL", run_seconds=0.5, clock_from_first_poll=True)
    sensor_dag = load_example_dag("sdrs_job_sensor")
    runs.append(sensor_dag.test(run_conf={"job_id": failing}))
    assert [str(run.state) for run in runs] == ["success", "success", "failed"]

    tokens = list(sim.tokens)
    assert tokens, "the password runs should have been issued an IAM token"
    values = [SECRET_KEY, PASSWORD, SECURITY_TOKEN, *tokens]

    # A trigger's serialized kwargs and repr, and the event it fires.
    trigger = SdrsJobTrigger(job_id=sim.add_job(run_seconds=0.2), poll_interval=0.05)
    seen += [repr(trigger.serialize()), repr(trigger)]

    seen.append(repr(asyncio.run(first_payload(trigger))))

    # Refused credentials, and a failing connection test, for both schemes.
    for auth_type in ("aksk", "password"):
        use(monkeypatch, sim, auth_type, password="wrong-" + PASSWORD)
        with pytest.raises(SdrsError) as refused:
            SdrsHook(retry_delay=0.01).get_job("0123456789abcdef0123456789abcdef")
        seen.append(str(refused.value))
        ok, message = SdrsHook(retry_delay=0.01).test_connection()
        assert not ok
        seen.append(message)
    # An unreachable endpoint.
    use(monkeypatch, sim, "aksk", host="http://127.0.0.1:9")
    ok, message = SdrsHook(retry_limit=0).test_connection()
    assert not ok
    seen.append(message)

    seen += stored_rows(runs)
    captured = capsys.readouterr()
    seen += [captured.out, captured.err]
    home = os.environ["AIRFLOW_HOME"]
    for folder, _, files in os.walk(os.path.join(home, "logs")):
        for name in files:
            with open(os.path.join(folder, name), errors="replace") as handle:
                seen.append(handle.read())
    # What SDRS saw: nothing secret outside the auth headers of its API requests.
    for record in sim.records:
        if record.route == "iam":
            continue
        seen.append(record.raw_path)
        seen += [f"{k}: {v}" for k, v in record.headers.items() if k.lower() not in AUTH_HEADERS]

    everything = "\n".join(seen)
    assert "SDRS job" in everything and "disaster_recovery_drill_id" in everything  # the haystack is real
    for value in values:
        assert value not in everything, f"a secret ({value[:6]}...) leaked"
        assert redact(value) != value, "the secret is not registered with Airflow's secret masker"


def test_tls_verification_is_on_by_default_and_turning_it_off_warns(sdrs_connection, monkeypatch, capsys):
    assert SdrsHook()._settings.verify is True
    connection = json.loads(os.environ["AIRFLOW_CONN_SDRS_DEFAULT"])
    connection["extra"]["verify"] = "false"
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(connection))
    assert SdrsHook()._settings.verify is False
    assert "turns TLS certificate verification off" in capsys.readouterr().out


def test_the_disaster_recovery_pages_show_no_secret(sim, monkeypatch, tmp_path):
    """The posture page, the job tab and their JSON, for a password connection (an IAM token is issued), an
    AK/SK one with a security token, and one whose secret SDRS refuses."""
    from airflow_provider_sdrs.ui import sdrs_reads
    from tests.support import airflow_api

    use(monkeypatch, sim, "password")
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_AKSK", sim.connection_json("aksk"))
    wrong = json.loads(sim.connection_json("aksk"))
    wrong["password"] = "wrong-" + SECRET_KEY
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_WRONG", json.dumps(wrong))
    monkeypatch.setenv("AIRFLOW__SDRS__UI_CONNECTIONS", "sdrs_default,sdrs_aksk,sdrs_wrong")
    group_id = sim.add_group(status="protected", name="erp-hygiene")
    runs = [load_example_dag("sdrs_dr_drill").test(run_conf={"server_group_id": group_id, "report_dir": str(tmp_path)})]
    sim.resources.fail_next("createDisasterRecoveryDrill")
    runs.append(
        load_example_dag("sdrs_dr_drill").test(run_conf={"server_group_id": group_id, "report_dir": str(tmp_path)})
    )
    assert [str(run.state) for run in runs] == ["success", "failed"]
    sdrs_reads.CACHE.clear()

    seen: list[str] = []
    with airflow_api(tmp_path) as api:
        headers = api.login("admin")
        for path in ("/sdrs/posture", "/sdrs/api/posture"):
            seen.append(api.client.get(path, headers=headers).text)
        for run in runs:
            for ti in run.get_task_instances():
                params = {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "map_index": -1}
                for path in ("/sdrs/job", "/sdrs/api/job"):
                    seen.append(api.client.get(path, params=params, headers=headers).text)
    sdrs_reads.CACHE.clear()

    everything = "\n".join(seen)
    # The haystack is real: groups through both good connections, the refusal, a failed job's sub-jobs.
    assert everything.count("erp-hygiene") >= 2 and "SDRS could not be read" in everything
    assert '<tr class="sub-job">' in everything and "createDisasterRecoveryDrill" in everything
    tokens = list(sim.tokens)
    assert tokens, "the password connection should have been issued an IAM token"
    for value in [SECRET_KEY, PASSWORD, SECURITY_TOKEN, *tokens]:
        assert value not in everything, f"a secret ({value[:6]}...) leaked into a page"
