"""Server-rendered HTML for the SDRS pages. Every value is escaped; every URL is relative (the pages work
under a base URL prefix); no script is used (the Airflow UI shows plugin tabs in an iframe without scripts)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from html import escape
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

from airflow_provider_sdrs.ui.posture import status_tone

#: Shown for a value that is not known.
DASH = "\u2014"
#: From the plugin's pages (``<base>/sdrs/...``) to Airflow's UI (``<base>/...``).
UI_ROOT = "../"


@cache
def _stylesheet() -> str:
    return resources.files("airflow_provider_sdrs.ui").joinpath("static/sdrs.css").read_text()


def _e(value: Any) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        '<meta name=referrer content="same-origin">'
        f"<title>{_e(title)}</title><style>{_stylesheet()}</style></head>\n<body>{body}</body></html>\n"
    )


def _badge(status: Any, tone: str | None = None) -> str:
    tone = tone or status_tone(status)
    return f'<span class="badge tone-{tone}" data-status="{_e(status)}">{_e(status or "unknown")}</span>'


def _run_href(dag_id: str, run_id: str) -> str:
    return f"{UI_ROOT}dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def _task_href(task: dict[str, Any]) -> str:
    href = f"{_run_href(task['dag_id'], task['run_id'])}/tasks/{quote(task['task_id'], safe='')}"
    return href if task.get("map_index", -1) < 0 else f"{href}/mapped/{task['map_index']}"


def _job_tab_href(task: dict[str, Any]) -> str:
    query = urlencode(
        {"dag_id": task["dag_id"], "run_id": task["run_id"], "task_id": task["task_id"], "map_index": task["map_index"]}
    )
    return f"job?{query}"


def _seconds(value: Any) -> str:
    if not isinstance(value, int | float):
        return DASH
    value = float(value)
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _when(value: Any) -> str:
    if not value:
        return DASH
    text = str(value)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _e(text)
    return f'<time datetime="{_e(text)}">{_e(moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip())}</time>'


def trend_svg(points: list[dict[str, Any]], width: int = 160, height: int = 40) -> str:
    """A small chart of measured recovery times (oldest left) with the target as a dashed line."""
    measured = [p for p in points if isinstance(p.get("recovery_seconds"), int | float)]
    if not measured:
        return '<span class="muted">no measured drill yet</span>'
    targets = [p["target_rto_seconds"] for p in measured if isinstance(p.get("target_rto_seconds"), int | float)]
    top = max([p["recovery_seconds"] for p in measured] + targets) * 1.15 or 1.0
    pad = 4
    step = (width - 2 * pad) / max(1, len(measured) - 1)

    def y(value: float) -> float:
        return round(height - pad - (value / top) * (height - 2 * pad), 1)

    xs = [round(pad + i * step, 1) if len(measured) > 1 else width / 2 for i in range(len(measured))]
    parts = [
        f'<svg class="trend" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="recovery time of the last {len(measured)} drills">'
    ]
    if targets:
        parts.append(f'<line class="target" x1="0" x2="{width}" y1="{y(targets[-1])}" y2="{y(targets[-1])}"/>')
    if len(measured) > 1:
        line = " ".join(f"{x},{y(p['recovery_seconds'])}" for x, p in zip(xs, measured, strict=True))
        parts.append(f'<polyline class="rto" points="{line}"/>')
    for x, point in zip(xs, measured, strict=True):
        target = point.get("target_rto_seconds")
        good = not isinstance(target, int | float) or point["recovery_seconds"] <= target
        title = f"{point['run_id']}: {_seconds(point['recovery_seconds'])}"
        parts.append(
            f'<circle class="{"good" if good else "bad"}" cx="{x}" cy="{y(point["recovery_seconds"])}" r="2.5">'
            f"<title>{_e(title)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _airflow_drill(report: dict[str, Any] | None) -> str:
    if not report:
        return '<span class="muted">no drill report in Airflow</span>'
    rto = report.get("recovery_seconds")
    target = report.get("target_rto_seconds")
    if isinstance(rto, int | float):
        verdict = '<span class="met">met</span>' if report.get("rto_met") else '<span class="missed">missed</span>'
        measured = f"RTO {_seconds(rto)} / target {_seconds(target)} {verdict}"
    else:
        measured = f'<span class="muted">no recovery time measured (target {_seconds(target)})</span>'
    link = f'<a href="{_e(_run_href(report["dag_id"], report["run_id"]))}">{_e(report["run_id"])}</a>'
    return (
        f'<div class="airflow-drill">{_badge(report.get("outcome"))} {measured}'
        f'<div class="muted">{_when(report.get("reported_at"))} · {link}</div></div>'
    )


def _sdrs_drill(drill: dict[str, Any] | None, count: int) -> str:
    if not drill:
        return '<span class="muted">none in SDRS</span>'
    created = f" · {_when(drill.get('created_at'))}" if drill.get("created_at") else ""
    more = f" ({count} in SDRS)" if count > 1 else ""
    return f"{_e(drill.get('name'))} {_badge(drill.get('status'))}<div class='muted'>{created.strip(' ·')}{more}</div>"


def _group_row(group: dict[str, Any]) -> str:
    zones = f"{_e(group.get('source_availability_zone') or DASH)} → {_e(group.get('target_availability_zone') or DASH)}"
    instances = group.get("protected_instance_num")
    return (
        f'<tr class="group" data-group-id="{_e(group.get("id"))}">'
        f'<td><strong>{_e(group.get("name"))}</strong><div class="muted mono">{_e(group.get("id"))}</div></td>'
        f"<td>{_badge(group.get('status'), group.get('tone'))}</td>"
        f"<td>{_e(group.get('replication_status') or DASH)}</td>"
        f"<td>{_e(group.get('priority_station') or DASH)}</td>"
        f"<td>{_e(instances if instances is not None else DASH)}</td>"
        f"<td>{zones}</td>"
        f"<td>{_airflow_drill(group.get('last_airflow_drill'))}</td>"
        f"<td>{_sdrs_drill(group.get('last_sdrs_drill'), group.get('sdrs_drills', 0))}</td>"
        f"<td>{trend_svg(group.get('trend') or [])}</td>"
        "</tr>"
    )


def _connection_card(card: dict[str, Any]) -> str:
    head = f"<header><h3>Connection <code>{_e(card['conn_id'])}</code></h3>"
    if card.get("error"):
        return (
            f'<section class="card failed" data-conn-id="{_e(card["conn_id"])}">{head}</header>'
            f'<div class="error">SDRS could not be read: {_e(card["error"])}</div></section>'
        )
    groups = card.get("groups") or []
    head += f'<span class="muted">{len(groups)} protection groups · read {_when(card.get("read_at"))}</span></header>'
    warning = (
        f'<div class="error">DR drills could not be read: {_e(card["drills_error"])}</div>'
        if card.get("drills_error")
        else ""
    )
    if not groups:
        empty = '<p class="muted">No protection groups.</p>'
        return f'<section class="card" data-conn-id="{_e(card["conn_id"])}">{head}{warning}{empty}</section>'
    header = (
        "<tr><th>Protection group</th><th>Status</th><th>Replication</th><th>Priority station</th>"
        "<th>Instances</th><th>Availability zones</th><th>Last drill (Airflow)</th><th>Last drill (SDRS)</th>"
        "<th>Recovery time</th></tr>"
    )
    rows = "".join(_group_row(group) for group in groups)
    return (
        f'<section class="card" data-conn-id="{_e(card["conn_id"])}">{head}{warning}'
        f"<table><thead>{header}</thead><tbody>{rows}</tbody></table></section>"
    )


def _task_cells(task: dict[str, Any]) -> str:
    run = f'<a href="{_e(_run_href(task["dag_id"], task["run_id"]))}">{_e(task["run_id"])}</a>'
    ti = f'<a href="{_e(_task_href(task))}">{_e(task["task_id"])}</a>'
    return f"<td>{_e(task['dag_id'])}</td><td>{ti}<div class='muted'>{_e(task['operator'])}</div></td><td>{run}</td>"


def _job_cell(task: dict[str, Any]) -> str:
    if not task.get("job_id"):
        return '<td class="muted">no job yet</td>'
    return f'<td><a class="mono" href="{_e(_job_tab_href(task))}">{_e(task["job_id"])}</a></td>'


def _in_flight(tasks: list[dict[str, Any]]) -> str:
    if not tasks:
        return '<p class="muted" id="in-flight-empty">No SDRS task is running or deferred.</p>'
    rows = "".join(
        f'<tr class="in-flight">{_task_cells(t)}<td>{_badge(t["state"])}</td>{_job_cell(t)}'
        f"<td>{_badge(t.get('job_status')) if t.get('job_status') else _e(t.get('job_error') or DASH)}</td>"
        f"<td>{_seconds(t.get('running_seconds'))}</td><td>{_e(t.get('triggerer') or DASH)}</td></tr>"
        for t in tasks
    )
    return (
        "<table><thead><tr><th>DAG</th><th>Task</th><th>Run</th><th>State</th><th>SDRS job</th>"
        f"<th>Job status</th><th>Running for</th><th>Triggerer</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _failed(tasks: list[dict[str, Any]]) -> str:
    if not tasks:
        return '<p class="muted" id="failed-empty">No SDRS job failed in the last 7 days.</p>'
    rows = "".join(
        f'<tr class="failed-job">{_task_cells(t)}{_job_cell(t)}<td>{_e(t.get("job_type") or DASH)}</td>'
        f'<td class="mono error-code">{_e(t.get("error_code") or DASH)}</td>'
        f"<td>{_e(t.get('fail_reason') or t.get('job_error') or DASH)}</td><td>{_when(t.get('ended_at'))}</td></tr>"
        for t in tasks
    )
    return (
        "<table><thead><tr><th>DAG</th><th>Task</th><th>Run</th><th>SDRS job</th><th>Type</th><th>Code</th>"
        f"<th>Reason</th><th>Ended</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _job_unknown(tasks: list[dict[str, Any]]) -> str:
    """Failed SDRS tasks whose job could not be read: listed apart, since their job may have succeeded."""
    if not tasks:
        return ""
    rows = "".join(
        f'<tr class="job-unknown">{_task_cells(t)}{_job_cell(t)}<td>{_e(t.get("job_error") or DASH)}</td>'
        f"<td>{_when(t.get('ended_at'))}</td></tr>"
        for t in tasks
    )
    return (
        "<h3>Failed SDRS tasks whose job could not be read</h3>"
        '<p class="muted">The task failed; whether its SDRS job did is not known.</p>'
        '<div id="failed-job-unknown"><table><thead><tr><th>DAG</th><th>Task</th><th>Run</th><th>SDRS job</th>'
        f"<th>Why it is unknown</th><th>Ended</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def posture_page(document: dict[str, Any]) -> str:
    cards = "".join(_connection_card(card) for card in document["connections"])
    if not cards:
        cards = '<p class="muted" id="no-connections">No SDRS connection you may read.</p>'
    body = (
        "<h1>Disaster recovery</h1>"
        f'<p class="muted">SDRS protection groups and drills · answers from SDRS are reused for '
        f"{document['cache_seconds']:g} s · {_when(document['generated_at'])} · "
        '<a href="posture">refresh</a> · <a href="api/posture">JSON</a></p>'
        f'<div id="connections">{cards}</div>'
        f'<h2>SDRS work in flight</h2><div id="in-flight">{_in_flight(document["in_flight"])}</div>'
        f'<h2>SDRS jobs failed in the last 7 days</h2><div id="failed-jobs">{_failed(document["failed_jobs"])}</div>'
        f"{_job_unknown(document.get('failed_tasks_job_unknown') or [])}"
    )
    return _page("Disaster recovery", body)


def timeline_svg(job: dict[str, Any], now: datetime, width: int = 720) -> str:
    """Sub-jobs as bars on the parent job's time span."""
    subs = (job.get("entities") or {}).get("sub_jobs") or []
    if not subs:
        return '<p class="muted" id="no-sub-jobs">This job has no sub-jobs.</p>'

    def moment(value: Any) -> float | None:
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() if value else None
        except ValueError:
            return None

    begins = [moment(s.get("begin_time")) for s in subs] + [moment(job.get("begin_time"))]
    ends = [moment(s.get("end_time")) for s in subs] + [moment(job.get("end_time"))]
    start = min((b for b in begins if b is not None), default=now.timestamp())
    stop = max([e for e in ends if e is not None] + [b for b in begins if b is not None] + [start + 1.0])
    if any(e is None for e in ends):
        stop = max(stop, now.timestamp())
    label_width, row = 260, 22
    span = max(stop - start, 1e-3)
    scale = (width - label_width - 10) / span
    parts = [f'<svg class="timeline" width="{width}" height="{row * len(subs) + 4}" role="img" aria-label="sub-jobs">']
    for index, sub in enumerate(subs):
        top = index * row + 2
        begin = moment(sub.get("begin_time"))
        end = moment(sub.get("end_time")) or now.timestamp()
        label = f"{sub.get('job_type') or 'sub-job'} · {sub.get('status')}"
        parts.append(f'<text x="0" y="{top + 14}">{_e(label[:44])}</text>')
        parts.append(
            f'<rect class="lane" x="{label_width}" y="{top}" width="{width - label_width}" height="{row - 6}"/>'
        )
        if begin is not None:
            x = label_width + (begin - start) * scale
            bar = max(2.0, (end - begin) * scale)
            tone = status_tone(sub.get("status"))
            title = f"{sub.get('job_id')}: {sub.get('status')} {sub.get('error_code') or ''}"
            parts.append(
                f'<rect class="tone-{tone}" x="{x:.1f}" y="{top}" width="{bar:.1f}" height="{row - 6}">'
                f"<title>{_e(title)}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _facts(pairs: list[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def job_page(view: dict[str, Any], now: datetime) -> str:
    task = view["task"]
    title = f"SDRS job of {task['task_id']}"
    head = (
        f"<h1>SDRS job</h1><p class='muted'>{_e(task['dag_id'])} · {_e(task['run_id'])} · "
        f"{_e(task['task_id'])} · task {_badge(task['state'])}</p>"
    )
    if view.get("message"):
        return _page(title, f"{head}<p class='muted' id='no-job'>{_e(view['message'])}</p>")
    if view.get("error"):
        return _page(title, f"{head}<div class='error' id='job-error'>{_e(view['error'])}</div>")
    job = view["job"]
    entities = {k: v for k, v in (job.get("entities") or {}).items() if k != "sub_jobs"}
    facts = _facts(
        [
            ("Job", f"<code>{_e(job.get('job_id'))}</code>"),
            ("Status", _badge(job.get("status"))),
            ("Type", _e(job.get("job_type") or DASH)),
            ("Connection", f"<code>{_e(view['conn_id'])}</code>"),
            ("Began", _when(job.get("begin_time"))),
            ("Ended", _when(job.get("end_time"))),
            ("Duration", _seconds(job.get("duration_seconds"))),
            ("Entities", "<br>".join(f"{_e(k)}: <code>{_e(v)}</code>" for k, v in entities.items()) or DASH),
            ("Error", f"<span class='mono error-code'>{_e(job.get('error_code'))}</span> {_e(job.get('fail_reason'))}")
            if job.get("error_code") or job.get("fail_reason")
            else ("Error", DASH),
        ]
    )
    subs = (job.get("entities") or {}).get("sub_jobs") or []
    rows = "".join(
        f'<tr class="sub-job"><td class="mono">{_e(s.get("job_id"))}</td><td>{_e(s.get("job_type") or DASH)}</td>'
        f"<td>{_badge(s.get('status'))}</td><td>{_when(s.get('begin_time'))}</td><td>{_when(s.get('end_time'))}</td>"
        f"<td class='mono'>{_e(s.get('error_code') or '')}</td><td>{_e(s.get('fail_reason') or '')}</td></tr>"
        for s in subs
    )
    counts = job.get("sub_job_counts")
    more = (
        f"<p class='muted'>Sub-jobs by status, all of them: {_e(', '.join(f'{k} {v}' for k, v in counts.items()))}</p>"
        if counts
        else ""
    )
    table = (
        "<table><thead><tr><th>Sub-job</th><th>Type</th><th>Status</th><th>Began</th><th>Ended</th><th>Code</th>"
        f"<th>Reason</th></tr></thead><tbody>{rows}</tbody></table>"
        if subs
        else ""
    )
    body = (
        f"{head}<section class='card' id='job'>{facts}</section>"
        f"<h2>Sub-jobs</h2><div id='sub-jobs'>{timeline_svg(job, now)}{table}{more}</div>"
        f"<p class='muted'>Read {_when(view.get('read_at'))}; answers from SDRS are reused for "
        f"{view['cache_seconds']:g} s · <a href='api/job?{_e(view['query'])}'>JSON</a></p>"
    )
    return _page(title, body)
