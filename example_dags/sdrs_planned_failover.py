"""Failover runbook for one protection group, to run by hand and follow in the Airflow UI.

1. ``preflight`` reads the group and says what the run is about to do; it stops the run before anything
   is submitted when the group is not in a state the chosen failover accepts;
2. ``choose`` takes the ``mode`` param: ``planned`` (a switchover to the DR site, both sites up) runs
   ``planned_failover``; ``unplanned`` (the production AZ is down) runs ``failover``;
3. ``reprotect`` then makes sure the group is protected again: after an unplanned failover it re-enables
   protection in the other direction; after a planned one the group is already protected, and the operator
   says so without submitting anything.

Each step waits in the triggerer and shows its job's status changes in its log; the "SDRS console" link of
each task opens the group in the console. Every step is safe to clear and re-run: it reads the group first
and never submits an operation twice. To require a second person's approval before the switch, put an
approval task (such as ``ApprovalOperator`` from ``apache-airflow-providers-standard``) between
``preflight`` and ``choose``.

The failover tasks declare the protection group's asset (set by ``SDRS_EXAMPLE_GROUP_ID``,
``SDRS_EXAMPLE_REGION`` and ``SDRS_EXAMPLE_PROJECT_ID``) as an outlet: when one succeeds, its asset event
says what happened and starts ``sdrs_failover_followup``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task

from airflow_provider_sdrs.assets.sdrs import protection_group_asset
from airflow_provider_sdrs.operators.sdrs import (
    SdrsFailoverOperator,
    SdrsPlannedFailoverOperator,
    SdrsReprotectOperator,
)

POLL_SECONDS = float(os.environ.get("SDRS_EXAMPLE_POLL_SECONDS", "15"))
WAIT = {"deferrable": True, "poll_interval": POLL_SECONDS, "timeout": timedelta(hours=2)}
GROUP_ID = os.environ.get("SDRS_EXAMPLE_GROUP_ID", "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1")
GROUP = protection_group_asset(
    GROUP_ID,
    region=os.environ.get("SDRS_EXAMPLE_REGION", "eu-de"),
    project_id=os.environ.get("SDRS_EXAMPLE_PROJECT_ID", "0123456789abcdef0123456789abcdef"),
)

with DAG(
    dag_id="sdrs_planned_failover",
    description="Runbook: fail a protection group over (planned or not), then make sure it is protected again",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params={
        "server_group_id": Param(GROUP_ID, type="string", description="The protection group to fail over"),
        "mode": Param(
            "planned",
            enum=["planned", "unplanned"],
            description="planned: switch over with both sites up; unplanned: the production AZ is down",
        ),
    },
    tags=["sdrs", "example", "runbook"],
    doc_md=__doc__,
) as dag:

    @task
    def preflight() -> dict[str, Any]:
        """Say what is about to happen, and stop before submitting anything if the group is not ready."""
        from airflow.providers.common.compat.sdk import AirflowFailException

        from airflow_provider_sdrs.hooks.sdrs import SdrsHook

        params = get_current_context()["params"]
        group = SdrsHook().get_protection_group(params["server_group_id"])
        status, site = group.get("status"), group.get("priority_station")
        print(f"Protection group {group.get('name')} ({group.get('id')}) is {status}; production site: {site}")
        ready = {"planned": {"protected", "error-reversing"}, "unplanned": {"protected", "error-failing-over"}}
        already = (params["mode"] == "planned" and status == "protected" and site == "target") or (
            params["mode"] == "unplanned" and status == "failed-over"
        )
        if status not in ready[params["mode"]] and not already:
            raise AirflowFailException(
                f"protection group {group.get('id')} is {status}: a {params['mode']} failover needs it "
                f"{' or '.join(sorted(ready[params['mode']]))}; nothing was submitted"
            )
        print(f"About to run a {params['mode']} failover of {group.get('id')}, then make sure it is protected")
        return group

    @task.branch
    def choose() -> str:
        return "planned_failover" if get_current_context()["params"]["mode"] == "planned" else "failover"

    planned = SdrsPlannedFailoverOperator(
        task_id="planned_failover",
        server_group_id="{{ params.server_group_id }}",
        priority_station="target",
        outlets=[GROUP],
        **WAIT,
    )
    unplanned = SdrsFailoverOperator(
        task_id="failover", server_group_id="{{ params.server_group_id }}", outlets=[GROUP], **WAIT
    )
    reprotect = SdrsReprotectOperator(
        task_id="reprotect",
        server_group_id="{{ params.server_group_id }}",
        trigger_rule="none_failed_min_one_success",
        **WAIT,
    )

    preflight() >> choose() >> [planned, unplanned] >> reprotect
