"""The FastAPI app the plugin mounts under ``/sdrs``: the posture page, the job tab, and their JSON.

Every route depends on :func:`~airflow_provider_sdrs.ui.access.signed_in`. Routes are plain ``def``: FastAPI
runs them in its thread pool, so blocking SDRS and database reads do not stall the API server's loop.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse

from airflow_provider_sdrs.ui import history, pages, posture, sdrs_reads
from airflow_provider_sdrs.ui.access import Access, AccessDep
from airflow_provider_sdrs.ui.settings import UiSettings

#: Pages that show live state must not be kept by a browser or a proxy.
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
#: The largest map index a task instance can have (a 32-bit database integer).
MAX_MAP_INDEX = 2**31 - 1


def _settings() -> UiSettings:
    """The ``[sdrs]`` options; a bad one is named to the signed-in user, where a bare 500 would say nothing."""
    try:
        return UiSettings.read()
    except ValueError as error:
        raise HTTPException(status_code=500, detail=f"The SDRS pages are misconfigured: {error}") from None


def _posture(access: Access) -> dict[str, Any]:
    return posture.build(access, _settings())


def _map_index(text: str) -> int:
    """The tab's ``map_index``: the UI leaves its ``{MAP_INDEX}`` placeholder in place for a task that is not
    mapped."""
    try:
        index = int(text)
    except ValueError:
        if text in ("", "{MAP_INDEX}"):
            return -1
        raise HTTPException(status_code=422, detail="map_index must be a whole number") from None
    # Airflow's map indexes are -1 (not mapped) or a database integer: anything else no task has, and would
    # overflow the query.
    if not -1 <= index <= MAX_MAP_INDEX:
        raise HTTPException(status_code=422, detail=f"map_index must be from -1 to {MAX_MAP_INDEX}")
    return index


def job_view(access: Access, dag_id: str, run_id: str, task_id: str, map_index: int) -> dict[str, Any]:
    """The job tab's document: the task instance and the SDRS job it started or waits on.

    :raises HTTPException: 403 when the user may not read the DAG's task instances, 404 when there is no
        such task instance.
    """
    if not access.can_read_task_instances(dag_id):
        raise HTTPException(status_code=403, detail="Forbidden")
    task = history.find_task(dag_id, run_id, task_id, map_index)
    if task is None and " " in run_id:
        # Airflow 3.1 puts the run id into the tab's URL unencoded: a '+' of its time zone arrives as a space.
        task = history.find_task(dag_id, run_id.replace(" ", "+"), task_id, map_index)
    if task is None:
        raise HTTPException(status_code=404, detail="No such task instance")
    settings = _settings()
    view: dict[str, Any] = {
        "task": {
            "dag_id": task.dag_id,
            "run_id": task.run_id,
            "task_id": task.task_id,
            "map_index": task.map_index,
            "operator": task.operator,
            "state": task.state,
        },
        "conn_id": task.conn_id,
        "cache_seconds": settings.cache_seconds,
        "query": urlencode({"dag_id": dag_id, "run_id": task.run_id, "task_id": task_id, "map_index": map_index}),
        "job": None,
        "error": None,
        "message": None,
    }
    if not task.operator.startswith(history.SDRS_CLASS_PREFIX):
        view["message"] = f"{task.task_id} is a {task.operator or 'task'}, not an SDRS operator or sensor."
        return view
    if not task.job_id:
        view["message"] = "This task has no SDRS job yet: SDRS has not accepted a request from it."
        return view
    view["task"]["job_id"] = task.job_id
    if not access.can_read_connection(task.conn_id):
        view["error"] = f"You may not read connection {task.conn_id}, through which the job is read."
        return view
    answer = sdrs_reads.job(task.conn_id, task.job_id, settings)
    view["read_at"] = datetime.fromtimestamp(answer.loaded_at, timezone.utc).isoformat()
    if answer.error is not None:
        view["error"] = f"SDRS job {task.job_id} could not be read: {answer.error}"
    else:
        view["job"] = answer.value
    return view


def create_app() -> FastAPI:
    app = FastAPI(
        title="SDRS disaster recovery",
        description="DR posture and SDRS jobs for the Airflow UI (airflow-provider-sdrs)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/posture", response_class=HTMLResponse)
    def posture_page(access: AccessDep) -> HTMLResponse:
        return HTMLResponse(pages.posture_page(_posture(access)), headers=NO_STORE)

    @app.get("/api/posture")
    def posture_json(access: AccessDep) -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse(_posture(access), headers=NO_STORE)

    @app.get("/job", response_class=HTMLResponse)
    def job_page(
        access: AccessDep,
        dag_id: Annotated[str, Query(max_length=250)],
        run_id: Annotated[str, Query(max_length=250)],
        task_id: Annotated[str, Query(max_length=250)],
        map_index: Annotated[str, Query(max_length=20)] = "-1",
    ) -> HTMLResponse:
        view = job_view(access, dag_id, run_id, task_id, _map_index(map_index))
        return HTMLResponse(pages.job_page(view, datetime.now(timezone.utc)), headers=NO_STORE)

    @app.get("/api/job")
    def job_json(
        access: AccessDep,
        dag_id: Annotated[str, Query(max_length=250)],
        run_id: Annotated[str, Query(max_length=250)],
        task_id: Annotated[str, Query(max_length=250)],
        map_index: Annotated[str, Query(max_length=20)] = "-1",
    ) -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse(job_view(access, dag_id, run_id, task_id, _map_index(map_index)), headers=NO_STORE)

    return app
