"""Wait for an SDRS job whose id is given in the run's configuration.

Trigger it with ``{"job_id": "<32 hex characters>"}``; the sensor waits in the triggerer
(``deferrable=True``) and the job document lands in XCom for the next task.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task

from airflow_provider_sdrs.sensors.sdrs import SdrsJobSensor

POLL_SECONDS = float(os.environ.get("SDRS_EXAMPLE_POLL_SECONDS", "10"))

with DAG(
    dag_id="sdrs_job_sensor",
    description="Wait on an SDRS job given in the run's conf",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "job_id": Param("", type="string", description="The SDRS job id to wait for"),
    },
    tags=["sdrs", "example"],
) as dag:
    wait = SdrsJobSensor(
        task_id="wait_for_job",
        job_id="{{ params.job_id }}",
        sdrs_conn_id="sdrs_default",
        poke_interval=POLL_SECONDS,
        timeout=timedelta(hours=1).total_seconds(),
        deferrable=True,
    )

    @task
    def report(job: dict) -> str:
        duration = job.get("duration_seconds")
        line = f"SDRS job {job['job_id']} ({job.get('job_type')}) ended {job['status']}"
        if duration is not None:
            line += f" after {duration:.1f} s"
        print(line)
        return line

    report(wait.output)
