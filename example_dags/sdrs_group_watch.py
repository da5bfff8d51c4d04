"""When a protection group breaks: gather what is known about it and write a report, started by a watcher.

An asset watcher (:class:`~airflow_provider_sdrs.triggers.sdrs.SdrsProtectionGroupEventTrigger`) lists the
project's protection groups every ``SDRS_EXAMPLE_WATCH_SECONDS`` (default 60) in the triggerer, and fires
once each time a group enters an ``error-*`` status. Each event starts this DAG:

1. ``what_broke`` takes the events' payloads (group, previous and new status, when it was seen), or, in a
   run started by hand, the run's conf ``{"server_group_id": "..."}``;
2. ``gather`` reads each group, its failed jobs (the task center) and its last DR drill;
3. ``write_report`` writes a Markdown and a JSON report and returns the JSON as XCom.

The project is set by ``SDRS_EXAMPLE_REGION`` and ``SDRS_EXAMPLE_PROJECT_ID``.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, get_current_context, task

from airflow_provider_sdrs.assets.sdrs import sdrs_uri
from airflow_provider_sdrs.triggers.sdrs import SdrsProtectionGroupEventTrigger

WATCH_SECONDS = float(os.environ.get("SDRS_EXAMPLE_WATCH_SECONDS", "60"))

GROUPS = Asset(
    name="sdrs-protection-groups-broken",
    uri=sdrs_uri(
        region=os.environ.get("SDRS_EXAMPLE_REGION", "eu-de"),
        project_id=os.environ.get("SDRS_EXAMPLE_PROJECT_ID", "0123456789abcdef0123456789abcdef"),
    ),
    watchers=[
        AssetWatcher(
            name="sdrs_group_breaks",
            trigger=SdrsProtectionGroupEventTrigger(statuses=["error-*"], poll_interval=WATCH_SECONDS),
        )
    ],
)

with DAG(
    dag_id="sdrs_group_watch",
    description="A protection group entered an error status: gather the group, its failed jobs and last drill",
    schedule=[GROUPS],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["sdrs", "example", "event-driven"],
    doc_md=__doc__,
) as dag:

    @task
    def what_broke() -> list[dict[str, Any]]:
        """The transitions that started this run."""
        context = get_current_context()
        events = list(context["triggering_asset_events"].get(GROUPS, []) or [])
        broken = [dict((event.extra or {}).get("payload") or {}) for event in events]
        if not broken:
            group_id = (context["dag_run"].conf or {}).get("server_group_id")
            broken = [{"server_group_id": group_id, "status": None, "previous_status": None}] if group_id else []
        for item in broken:
            print(
                f"protection group {item.get('server_group_id')}: {item.get('previous_status')} -> {item.get('status')}"
            )
        return broken

    @task
    def gather(broken: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each broken group, its failed jobs and its last DR drill."""
        from airflow_provider_sdrs.exceptions import SdrsResourceNotFoundError
        from airflow_provider_sdrs.hooks.sdrs import SdrsHook

        hook = SdrsHook()
        reports = []
        for item in broken:
            group_id = item["server_group_id"]
            try:
                group: dict[str, Any] | None = hook.get_protection_group(group_id)
            except SdrsResourceNotFoundError:
                group = None
            drills = hook.list_drills(group_id)
            last = max(drills, key=lambda d: str(d.get("created_at") or d.get("updated_at") or ""), default=None)
            reports.append(
                {
                    **item,
                    "group": group,
                    "failed_jobs": hook.list_failure_jobs(group_id),
                    "last_drill": last,
                }
            )
        return reports

    @task
    def write_report(reports: list[dict[str, Any]]) -> dict[str, Any]:
        """A Markdown report for people and a JSON one for tools; the JSON also goes to XCom."""
        import json
        from pathlib import Path

        context = get_current_context()
        home = os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))
        directory = Path(os.environ.get("SDRS_EXAMPLE_REPORT_DIR") or Path(home) / "sdrs-reports")
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"group-watch-{context['run_id']}".replace(":", "-").replace("+", "-")
        lines = [f"# Protection groups in an error status ({context['run_id']})", ""]
        for report in reports:
            group = report["group"] or {}
            drill = report["last_drill"] or {}
            lines += [
                f"## {group.get('name') or '?'} ({report['server_group_id']})",
                f"- status: {group.get('status', 'gone')} (was {report.get('previous_status')}, "
                f"seen {report.get('observed_at')})",
                f"- production site: {group.get('priority_station')}",
                f"- failed jobs: {len(report['failed_jobs'])}",
                *[
                    f"  - {job.get('job_type')} {job.get('job_id')}: {job.get('error_code')} {job.get('fail_reason')}"
                    for job in report["failed_jobs"][:20]
                ],
                f"- last DR drill: {drill.get('name', 'none')} {drill.get('status', '')}".rstrip(),
                "",
            ]
        (directory / f"{stem}.md").write_text("\n".join(lines), encoding="utf-8")
        summary = {"groups": reports, "markdown": str(directory / f"{stem}.md")}
        (directory / f"{stem}.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        print("\n".join(lines))
        return summary

    write_report(gather(what_broke()))
