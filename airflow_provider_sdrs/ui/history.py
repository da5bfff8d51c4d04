"""What Airflow's metadata database knows about SDRS work: drill reports, tasks in flight, failed tasks.

Every query is limited to the DAGs the signed-in user may read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_sdrs._core.text import safe

#: The XCom key under which a drill DAG publishes its report (``example_dags/sdrs_dr_drill.py``).
DRILL_REPORT_KEY = "drill_report"
#: SDRS tasks are those whose operator class name starts with this (the provider's operators and sensor).
SDRS_CLASS_PREFIX = "Sdrs"
IN_FLIGHT_STATES = ("running", "deferred", "up_for_reschedule")
REPORTS_READ = 500
FAILED_SHOWN = 50
IN_FLIGHT_SHOWN = 200


@dataclass
class SdrsTask:
    """One task instance of an SDRS operator or sensor, with the SDRS job it waits on when known."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    operator: str
    state: str
    try_number: int
    start_date: datetime | None
    end_date: datetime | None
    job_id: str | None = None
    conn_id: str = "sdrs_default"
    triggerer: str | None = None


def _text(value: Any, limit: int = 250) -> str | None:
    return None if value is None else safe(str(value), limit)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and abs(value) < 1e12 else None


def drill_reports(dag_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Drill reports by protection group id, newest first."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    readable = sorted(set(dag_ids))
    if not readable:
        return {}
    query: Any = (
        select(XComModel.dag_id, XComModel.run_id, XComModel.value, XComModel.timestamp)
        .where(XComModel.key == DRILL_REPORT_KEY, XComModel.dag_id.in_(readable))
        .order_by(XComModel.timestamp.desc())
        .limit(REPORTS_READ)
    )
    by_group: dict[str, list[dict[str, Any]]] = {}
    with create_session() as session:
        rows = session.execute(query).all()
    for row in rows:
        try:
            report = XComModel.deserialize_value(row)
        except Exception:  # a value this page cannot read is skipped, not the page
            continue
        if not isinstance(report, dict) or not isinstance(report.get("server_group_id"), str):
            continue
        create_job: dict[str, Any] = report["create_job"] if isinstance(report.get("create_job"), dict) else {}
        entry = {
            "dag_id": row.dag_id,
            "run_id": row.run_id,
            "outcome": _text(report.get("outcome"), 40),
            "drill_id": _text(report.get("drill_id"), 80),
            "recovery_seconds": _number(report.get("recovery_seconds")),
            "target_rto_seconds": _number(report.get("target_rto_seconds")),
            "rto_met": report.get("rto_met") if isinstance(report.get("rto_met"), bool) else None,
            "job_id": _text(create_job.get("job_id"), 80),
            "job_status": _text(create_job.get("status"), 40),
            "reported_at": row.timestamp.isoformat() if row.timestamp else None,
        }
        by_group.setdefault(safe(report["server_group_id"], 80), []).append(entry)
    return by_group


def _tasks(where: Any, dag_ids: Iterable[str], limit: int, order: Any) -> list[SdrsTask]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    readable = sorted(set(dag_ids))
    if not readable:
        return []
    query = (
        select(TaskInstance)
        .where(TaskInstance.operator.like(f"{SDRS_CLASS_PREFIX}%"), TaskInstance.dag_id.in_(readable), where)
        .order_by(order)
        .limit(limit)
    )
    with create_session() as session:
        found = [_describe(ti, session) for ti in session.scalars(query)]
    return found


def in_flight(dag_ids: Iterable[str]) -> list[SdrsTask]:
    """SDRS tasks running, deferred or waiting for their next poke."""
    from airflow.models.taskinstance import TaskInstance

    return _tasks(TaskInstance.state.in_(IN_FLIGHT_STATES), dag_ids, IN_FLIGHT_SHOWN, TaskInstance.start_date.desc())


def failed_recently(dag_ids: Iterable[str], days: int = 7) -> list[SdrsTask]:
    """SDRS tasks that failed in the last ``days`` days, newest first."""
    from airflow.models.taskinstance import TaskInstance

    since = datetime.now(timezone.utc) - timedelta(days=days)
    return _tasks(
        (TaskInstance.state == "failed") & (TaskInstance.end_date >= since),
        dag_ids,
        FAILED_SHOWN,
        TaskInstance.end_date.desc(),
    )


def find_task(dag_id: str, run_id: str, task_id: str, map_index: int) -> SdrsTask | None:
    """One task instance, SDRS or not (``operator`` tells)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(TaskInstance).where(
        TaskInstance.dag_id == dag_id,
        TaskInstance.run_id == run_id,
        TaskInstance.task_id == task_id,
        TaskInstance.map_index == map_index,
    )
    with create_session() as session:
        ti = session.scalars(query).first()
        return None if ti is None else _describe(ti, session)


def _describe(ti: Any, session: Any) -> SdrsTask:
    task = SdrsTask(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        operator=ti.operator or "",
        state=str(ti.state.value if hasattr(ti.state, "value") else ti.state),
        try_number=ti.try_number or 0,
        start_date=ti.start_date,
        end_date=ti.end_date,
    )
    if not task.operator.startswith(SDRS_CLASS_PREFIX):
        return task
    kwargs = _trigger_kwargs(ti, session)
    rendered = _rendered_fields(ti, session)
    # The operators push the job id as soon as SDRS accepts the request; a sensor is given it.
    job_id = _xcom(ti, "job_id", session) or kwargs.get("job_id") or rendered.get("job_id")
    task.job_id = job_id if isinstance(job_id, str) else None
    conn_id = kwargs.get("sdrs_conn_id") or rendered.get("sdrs_conn_id")
    if isinstance(conn_id, str) and conn_id:
        task.conn_id = conn_id
    if kwargs.get("_triggerer"):
        task.triggerer = kwargs["_triggerer"]
    return task


def _xcom(ti: Any, key: str, session: Any) -> Any:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    query: Any = select(XComModel.value).where(
        XComModel.dag_id == ti.dag_id,
        XComModel.run_id == ti.run_id,
        XComModel.task_id == ti.task_id,
        XComModel.map_index == ti.map_index,
        XComModel.key == key,
    )
    row = session.execute(query).first()
    if row is None:
        return None
    try:
        return XComModel.deserialize_value(row)
    except Exception:
        return None


def _trigger_kwargs(ti: Any, session: Any) -> dict[str, Any]:
    """The kwargs of the trigger the task is deferred to (never secrets: the trigger takes a conn id), and
    which triggerer holds it, under ``_triggerer``."""
    if ti.trigger_id is None:
        return {}
    from airflow.models.trigger import Trigger

    trigger = session.get(Trigger, ti.trigger_id)
    if trigger is None:
        return {}
    try:
        kwargs = dict(trigger.kwargs or {})
    except Exception:  # kwargs encrypted with another Fernet key
        kwargs = {}
    if trigger.triggerer_id is not None:
        from airflow.jobs.job import Job

        job = session.get(Job, trigger.triggerer_id)
        host = f" on {job.hostname}" if job is not None and job.hostname else ""
        kwargs["_triggerer"] = safe(f"triggerer {trigger.triggerer_id}{host}", 200)
    else:
        kwargs["_triggerer"] = "waiting for a triggerer"
    return kwargs


def _rendered_fields(ti: Any, session: Any) -> dict[str, Any]:
    try:
        from airflow.models.renderedtifields import RenderedTaskInstanceFields

        fields = RenderedTaskInstanceFields.get_templated_fields(ti, session=session)
    except Exception:
        return {}
    return fields if isinstance(fields, dict) else {}
