"""The DR posture: every protection group of every connection shown, its last drills, SDRS work in flight
and SDRS jobs that failed lately, as one JSON-safe document (the page renders it; ``api/posture`` sends it)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from airflow_provider_sdrs.ui import history, sdrs_reads
from airflow_provider_sdrs.ui.access import Access, connection_ids
from airflow_provider_sdrs.ui.settings import UiSettings

#: Past drills drawn in a group's recovery-time chart.
TREND_POINTS = 20
_BUSY = frozenset({"init", "running", "deferred", "up_for_reschedule", "queued"})
#: SDRS reads a page makes at once.
MAX_PARALLEL_READS = 8


def status_tone(status: Any) -> str:
    """How a group, drill or job status is coloured: ``bad``, ``warn``, ``busy``, ``good`` or ``unknown``."""
    if not isinstance(status, str) or not status:
        return "unknown"
    text = status.lower()
    if text.startswith("error") or text in ("fail", "failed"):
        return "bad"
    if text in ("failed-over",):
        return "warn"
    if any(word.endswith("ing") for word in text.split("-")) or text in (
        "init",
        "running",
        "deferred",
        "up_for_reschedule",
        "queued",
    ):
        return "busy"
    if text in ("protected", "available", "success", "passed"):
        return "good"
    return "unknown"


def _latest_drill(drills: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not drills:
        return None
    # Listings are oldest first when SDRS gives no creation time.
    return max(enumerate(drills), key=lambda pair: (str(pair[1].get("created_at") or ""), pair[0]))[1]


def _group_view(group: dict[str, Any], drills: list[dict[str, Any]], reports: list[dict[str, Any]]) -> dict[str, Any]:
    latest = _latest_drill(drills)
    trend = [
        {
            "run_id": report["run_id"],
            "recovery_seconds": report["recovery_seconds"],
            "target_rto_seconds": report["target_rto_seconds"],
        }
        for report in reversed(reports[:TREND_POINTS])
    ]
    return {
        **group,
        "tone": status_tone(group.get("status")),
        "sdrs_drills": len(drills),
        "last_sdrs_drill": latest,
        "last_airflow_drill": reports[0] if reports else None,
        "trend": trend,
    }


def _minutes_since(moment: datetime | None, now: datetime) -> float | None:
    if moment is None:
        return None
    return round((now - moment).total_seconds(), 1)


def _task_view(task: history.SdrsTask, now: datetime) -> dict[str, Any]:
    return {
        "dag_id": task.dag_id,
        "run_id": task.run_id,
        "task_id": task.task_id,
        "map_index": task.map_index,
        "operator": task.operator,
        "state": task.state,
        "try_number": task.try_number,
        "conn_id": task.conn_id,
        "job_id": task.job_id,
        "triggerer": task.triggerer,
        "started_at": task.start_date.isoformat() if task.start_date else None,
        "ended_at": task.end_date.isoformat() if task.end_date else None,
        "running_seconds": _minutes_since(task.start_date, now) if task.end_date is None else None,
    }


def build(access: Access, settings: UiSettings) -> dict[str, Any]:
    """The posture document for ``access``'s user."""
    now = datetime.now(timezone.utc)
    shown = [conn_id for conn_id in connection_ids(settings) if access.can_read_connection(conn_id)]
    # Drill reports are XComs, the work in flight and failed are task instances: each only where the user may
    # read that, not merely the DAG.
    reports = history.drill_reports(access.dag_ids_for("XCOM"))
    task_dags = access.dag_ids_for("TASK_INSTANCE")
    flying = history.in_flight(task_dags)
    failed = history.failed_recently(task_dags)
    readable_connections: dict[str, bool] = {conn_id: True for conn_id in shown}

    def may_read(conn_id: str) -> bool:
        if conn_id not in readable_connections:
            readable_connections[conn_id] = access.can_read_connection(conn_id)
        return readable_connections[conn_id]

    job_keys = {(task.conn_id, task.job_id) for task in [*flying, *failed] if task.job_id and may_read(task.conn_id)}
    workers = max(1, min(MAX_PARALLEL_READS, 2 * len(shown) + len(job_keys)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sdrs-ui") as pool:
        listings = {
            conn_id: (
                pool.submit(sdrs_reads.groups, conn_id, settings),
                pool.submit(sdrs_reads.drills, conn_id, settings),
            )
            for conn_id in shown
        }
        jobs = {key: pool.submit(sdrs_reads.job, key[0], key[1], settings) for key in job_keys}
        connections = []
        for conn_id, (groups_read, drills_read) in listings.items():
            groups_answer, drills_answer = groups_read.result(), drills_read.result()
            drills_by_group: dict[str, list[dict[str, Any]]] = {}
            for drill in drills_answer.value or []:
                drills_by_group.setdefault(str(drill.get("server_group_id")), []).append(drill)
            connections.append(
                {
                    "conn_id": conn_id,
                    "error": groups_answer.error,
                    "drills_error": drills_answer.error,
                    "read_at": datetime.fromtimestamp(groups_answer.loaded_at, timezone.utc).isoformat(),
                    "groups": [
                        _group_view(
                            group,
                            drills_by_group.get(str(group.get("id")), []),
                            reports.get(str(group.get("id")), []),
                        )
                        for group in groups_answer.value or []
                    ],
                }
            )
        job_answers = {key: future.result() for key, future in jobs.items()}

    def with_job(task: history.SdrsTask) -> dict[str, Any]:
        view = _task_view(task, now)
        view.update(job_status=None, job_type=None, error_code=None, fail_reason=None, job_error=None)
        if not task.job_id:
            return view
        answer = job_answers.get((task.conn_id, task.job_id))
        if answer is None:
            view["job_error"] = f"connection {task.conn_id} is not readable for you"
        elif answer.error is not None:
            view["job_error"] = answer.error
        else:
            document = answer.value or {}
            view.update(
                job_status=document.get("status"),
                job_type=document.get("job_type"),
                error_code=document.get("error_code"),
                fail_reason=document.get("fail_reason"),
            )
        return view

    failed_views = [with_job(task) for task in failed]
    return {
        "generated_at": now.isoformat(),
        "cache_seconds": settings.cache_seconds,
        "connections": connections,
        "in_flight": [with_job(task) for task in flying],
        # A task that failed before SDRS took a job (a refused precondition) is not an SDRS job failure.
        "failed_jobs": [view for view in failed_views if view["job_status"] == "FAIL"],
        # Nor is one whose job could not be read: that job may well have succeeded. Shown apart, as unknown.
        "failed_tasks_job_unknown": [view for view in failed_views if view["job_error"]],
    }
