"""A failover that waits in its worker (not deferred), retried once when its worker is lost.

Trigger it with ``{"server_group_id": "<group id>"}``. A retry reads the group first: it finds the failover
it submitted before still running and waits for it instead of submitting it again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from airflow_provider_sdrs.operators.sdrs import SdrsFailoverOperator

with DAG(
    dag_id="sdrs_e2e_blocking_failover",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"server_group_id": Param("", type="string", description="The protection group to fail over")},
    tags=["sdrs", "e2e"],
) as dag:
    SdrsFailoverOperator(
        task_id="failover",
        server_group_id="{{ params.server_group_id }}",
        deferrable=False,
        poll_interval=1,
        timeout=timedelta(minutes=5),
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
