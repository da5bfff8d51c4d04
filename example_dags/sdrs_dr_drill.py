"""A weekly DR drill of one protection group, with its evidence kept.

1. ``create_drill`` starts a DR drill (waiting in the triggerer) and pushes the drill id at once;
2. ``check_drill`` reads the drill back: it must be ``available``;
3. ``measure_recovery`` takes the recovery time from the drill job (begin to end) and fails the run when it
   exceeds the ``target_rto_seconds`` param;
4. ``delete_drill`` always runs (``trigger_rule="all_done"``), so a failed step never leaves a drill behind;
5. ``publish_report`` always runs too: it writes the drill report (JSON and Markdown), pushes it as the
   ``drill_report`` XCom (the Disaster recovery page reads it) and returns it, then fails the run if the drill
   did not pass, so a failed drill is never a green run.

Every SDRS step is safe to retry or re-run: the operators read the drill or group before submitting.
Set the ``SDRS_EXAMPLE_POLL_SECONDS`` environment variable to poll faster (as ``make demo`` does).
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task

from airflow_provider_sdrs.operators.sdrs import SdrsCreateDrillOperator, SdrsDeleteDrillOperator

POLL_SECONDS = float(os.environ.get("SDRS_EXAMPLE_POLL_SECONDS", "30"))


def _markdown(report: dict[str, Any]) -> str:
    rows = [
        ("Outcome", report["outcome"].upper()),
        ("Protection group", report["server_group_id"]),
        ("DR drill", report["drill_id"] or "not created"),
        ("Create job", f"{report['create_job']['job_id']} {report['create_job']['status']}"),
        ("Job began / ended", f"{report['create_job']['begin_time']} / {report['create_job']['end_time']}"),
        ("Drill status", report["drill_status"]),
        ("Recovery time", f"{report['recovery_seconds']} s (target {report['target_rto_seconds']} s)"),
        ("Clean-up", report["cleanup"]),
    ]
    lines = [f"# DR drill report: {report['run_id']}", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines) + "\n"


with DAG(
    dag_id="sdrs_dr_drill",
    description="Weekly SDRS DR drill: create, check, measure the recovery time, clean up, report",
    schedule="0 3 * * 6",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2)},
    params={
        "server_group_id": Param(
            "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1", type="string", description="The protection group to drill"
        ),
        "target_rto_seconds": Param(
            900, type="number", minimum=1, description="Recovery time objective: the drill must be ready within it"
        ),
        "drill_vpc_id": Param(None, type=["null", "string"], description="VPC for the drill; SDRS picks one if empty"),
        "report_dir": Param(
            "", type="string", description="Where reports are written; default $AIRFLOW_HOME/sdrs-drill-reports"
        ),
    },
    tags=["sdrs", "example", "dr-drill"],
    doc_md=__doc__,
) as dag:
    create_drill = SdrsCreateDrillOperator(
        task_id="create_drill",
        server_group_id="{{ params.server_group_id }}",
        # Stable across retries of one run, so a retry finds the drill its first try created.
        name="airflow-drill-{{ dag_run.run_after.strftime('%Y%m%dT%H%M%S') }}",
        drill_vpc_id="{{ params.drill_vpc_id or '' }}",
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=timedelta(hours=1),
    )

    @task
    def check_drill(created: dict[str, Any]) -> dict[str, Any]:
        """The drill must exist and be available: that is what the drill is for."""
        from airflow.providers.common.compat.sdk import AirflowFailException

        from airflow_provider_sdrs.hooks.sdrs import SdrsHook

        drill = SdrsHook().get_drill(created["drill_id"])
        if drill.get("status") != "available":
            raise AirflowFailException(f"DR drill {created['drill_id']} is {drill.get('status')}, not available")
        print(f"DR drill {drill['id']} ({drill.get('name')}) is available")
        return drill

    @task
    def measure_recovery(created: dict[str, Any], drill: dict[str, Any]) -> dict[str, Any]:
        """Recovery time = the drill job's begin to end; compared with the target RTO."""
        from airflow.providers.common.compat.sdk import AirflowFailException

        target = float(get_current_context()["params"]["target_rto_seconds"])
        seconds = created.get("duration_seconds")
        if seconds is None:
            # An earlier try created the drill and this one found it: it never saw the drill's job.
            raise AirflowFailException("this run did not see the drill's job end, so it has no recovery time")
        result = {"recovery_seconds": round(seconds, 3), "target_rto_seconds": target, "met": seconds <= target}
        verdict = "met" if result["met"] else "MISSED"
        print(f"Recovery time {seconds:.1f} s against a target RTO of {target:.0f} s: {verdict}")
        if not result["met"]:
            raise AirflowFailException(f"recovery took {seconds:.1f} s, more than the target RTO of {target:.0f} s")
        return result

    delete_drill = SdrsDeleteDrillOperator(
        task_id="delete_drill",
        drill_id="{{ ti.xcom_pull(task_ids='create_drill', key='drill_id') }}",
        ignore_missing_id=True,
        trigger_rule="all_done",
        deferrable=True,
        poll_interval=POLL_SECONDS,
        timeout=timedelta(hours=1),
    )

    @task(trigger_rule="all_done")
    def publish_report() -> dict[str, Any]:
        """Write the drill report whatever happened, then fail the run if the drill did not pass."""
        from airflow.providers.common.compat.sdk import AirflowFailException

        context = get_current_context()
        ti = context["ti"]
        dag_run = context["dag_run"]
        steps = {}
        for task_id in ("create_drill", "check_drill", "measure_recovery", "delete_drill"):
            steps[task_id] = ti.xcom_pull(task_ids=task_id)
        created = steps["create_drill"] or {}
        measured = steps["measure_recovery"] or {}
        deleted = steps["delete_drill"] or {}
        drill_id = ti.xcom_pull(task_ids="create_drill", key="drill_id")
        if deleted:
            cleanup = "drill deleted" if deleted.get("submitted") else "drill was already gone"
        elif drill_id:
            cleanup = f"NOT deleted: delete DR drill {drill_id} by hand"
        else:
            cleanup = "nothing to delete (no drill was created)"
        passed = bool(measured.get("met")) and bool(deleted)
        report = {
            "dag_id": dag_run.dag_id,
            "run_id": dag_run.run_id,
            "server_group_id": context["params"]["server_group_id"],
            "drill_id": drill_id,
            "outcome": "passed" if passed else "failed",
            "create_job": {key: created.get(key) for key in ("job_id", "status", "begin_time", "end_time")},
            "drill_status": (steps["check_drill"] or {}).get("status"),
            "recovery_seconds": measured.get("recovery_seconds"),
            "target_rto_seconds": context["params"]["target_rto_seconds"],
            "rto_met": measured.get("met"),
            "delete_job": {key: deleted.get(key) for key in ("job_id", "status", "submitted")},
            "cleanup": cleanup,
            "reported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        default_folder = Path(os.environ.get("AIRFLOW_HOME", ".")) / "sdrs-drill-reports"
        folder = Path(context["params"]["report_dir"] or default_folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{dag_run.dag_id}__{dag_run.run_id}")
        (folder / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
        markdown = _markdown(report)
        (folder / f"{stem}.md").write_text(markdown)
        print(markdown)
        print(f"Drill report written to {folder / stem}.json and .md")
        # Under its own key too, so that a failed drill's report is kept (a failed task returns nothing):
        # the Disaster recovery page reads it.
        ti.xcom_push(key="drill_report", value=report)
        if not passed:
            raise AirflowFailException(f"the DR drill did not pass; report in {folder / stem}.md")
        return report

    checked = check_drill(create_drill.output)
    measured = measure_recovery(create_drill.output, checked)
    measured >> delete_drill >> publish_report()
