"""After a failover: check the application and record the failover, started by the failover's asset event.

The failover runbook (``sdrs_planned_failover``) declares the protection group's asset
(``sdrs://{region}/{project_id}/server-groups/{id}``) as an outlet of its failover tasks. When one succeeds,
the operator gives the asset event an ``extra`` that says what happened (operation, job id, resulting
status, production site, duration, whether anything was submitted), and this DAG runs with it:

1. ``failover_event`` reads that extra (or, in a run started by hand, the run's conf ``{"failover": {...}}``);
   an event about another group is skipped: Airflow gives a static outlet its event whichever group the
   runbook ran for;
2. ``check_application`` reads the group (is it where the event says, which site is production now?) and,
   when ``SDRS_EXAMPLE_APP_URL`` is set, probes the application there;
3. ``record_failover`` appends the failover to a JSON-lines log and returns it as XCom.

The group is set by ``SDRS_EXAMPLE_GROUP_ID``, ``SDRS_EXAMPLE_REGION`` and ``SDRS_EXAMPLE_PROJECT_ID``.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, get_current_context, task

from airflow_provider_sdrs.assets.sdrs import protection_group_asset

GROUP_ID = os.environ.get("SDRS_EXAMPLE_GROUP_ID", "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1")
GROUP = protection_group_asset(
    GROUP_ID,
    region=os.environ.get("SDRS_EXAMPLE_REGION", "eu-de"),
    project_id=os.environ.get("SDRS_EXAMPLE_PROJECT_ID", "0123456789abcdef0123456789abcdef"),
)

with DAG(
    dag_id="sdrs_failover_followup",
    description="After a failover of the protection group: check the application, record the failover",
    schedule=[GROUP],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["sdrs", "example", "event-driven"],
    doc_md=__doc__,
) as dag:

    @task
    def failover_event() -> dict[str, Any]:
        """The extra of the asset event that started this run (the latest, if several came together)."""
        from airflow.providers.common.compat.sdk import AirflowSkipException

        context = get_current_context()
        events = list(context["triggering_asset_events"].get(GROUP, []) or [])
        by_hand = (context["dag_run"].conf or {}).get("failover") or {}
        extra = dict(events[-1].extra or {}) if events else dict(by_hand)
        if extra.get("server_group_id") != GROUP_ID:
            raise AirflowSkipException(
                f"the event is about protection group {extra.get('server_group_id')!r}, not {GROUP_ID}: nothing to do"
            )
        print(
            f"{extra.get('action')} of protection group {GROUP_ID}: job {extra.get('job_id')} "
            f"{extra.get('job_status') or '(nothing submitted)'}, now {extra.get('resource_status')}, "
            f"production site {extra.get('priority_station') or 'unknown'}, took {extra.get('duration_seconds')} s"
        )
        return extra

    @task
    def check_application(event: dict[str, Any]) -> dict[str, Any]:
        """Is the group where the event says it is, and does the application answer on its new site?"""
        import urllib.request

        from airflow_provider_sdrs.hooks.sdrs import SdrsHook

        group = SdrsHook(event.get("sdrs_conn_id") or "sdrs_default").get_protection_group(GROUP_ID)
        check: dict[str, Any] = {"group_status": group.get("status"), "production_site": group.get("priority_station")}
        if event.get("resource_status") and group.get("status") != event["resource_status"]:
            print(f"The group moved on since the event: {event['resource_status']} -> {group.get('status')}")
        url = os.environ.get("SDRS_EXAMPLE_APP_URL", "")
        if not url:
            check["application"] = "not checked (SDRS_EXAMPLE_APP_URL is not set)"
        else:
            with urllib.request.urlopen(url, timeout=10) as answer:
                check["application"] = f"HTTP {answer.status}"
        print(f"After the failover: {check}")
        return check

    @task
    def record_failover(event: dict[str, Any], check: dict[str, Any]) -> dict[str, Any]:
        """Append the failover to the log of failovers, and return it."""
        import json
        from pathlib import Path

        context = get_current_context()
        record = {
            "recorded_at": datetime.now().astimezone().isoformat(),
            "run_id": context["run_id"],
            **{key: event.get(key) for key in ("server_group_id", "operation", "job_id", "duration_seconds")},
            "submitted": event.get("submitted"),
            **check,
        }
        home = os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))
        directory = Path(os.environ.get("SDRS_EXAMPLE_REPORT_DIR") or Path(home) / "sdrs-reports")
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "failovers.jsonl").open("a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
        print(f"Recorded in {directory / 'failovers.jsonl'}: {record}")
        return record

    event = failover_event()
    record_failover(event, check_application(event))
