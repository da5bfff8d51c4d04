"""Many deferrable SDRS waits at once: one mapped ``SdrsJobSensor`` task per job id in the run's conf.

Trigger it with ``{"job_ids": ["<32 hex characters>", ...]}``. Each wait authenticates with an IAM password
(``sdrs_password``), so the IAM token requests of the workers and triggerers can be counted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, get_current_context, task

from airflow_provider_sdrs.sensors.sdrs import SdrsJobSensor

with DAG(
    dag_id="sdrs_e2e_mapped_waits",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # Deferred waits hold no worker slot; the run may hold them all at once.
    max_active_tasks=256,
    params={"job_ids": Param([], type="array", description="The SDRS job ids to wait for")},
    tags=["sdrs", "e2e"],
) as dag:

    @task
    def job_ids() -> list[str]:
        return list(get_current_context()["params"]["job_ids"])

    SdrsJobSensor.partial(
        task_id="wait",
        sdrs_conn_id="sdrs_password",
        poke_interval=2,
        timeout=timedelta(minutes=10).total_seconds(),
        deferrable=True,
    ).expand(job_id=job_ids())
