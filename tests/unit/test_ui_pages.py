"""The Disaster recovery pages' HTML: hostile values are escaped, URLs are relative, charts are drawn."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from airflow_provider_sdrs.ui import pages
from airflow_provider_sdrs.ui.cache import TtlCache
from airflow_provider_sdrs.ui.posture import status_tone

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def posture(**group) -> dict:
    return {
        "generated_at": "2026-01-01T00:00:00+00:00",
        "cache_seconds": 30.0,
        "connections": [
            {
                "conn_id": "sdrs_default",
                "error": None,
                "drills_error": None,
                "read_at": "2026-01-01T00:00:00+00:00",
                "groups": [{"id": "g1", "name": "erp", "status": "protected", "tone": "good", "trend": [], **group}],
            },
            {"conn_id": "sdrs_dead", "error": HOSTILE, "drills_error": None, "read_at": None, "groups": []},
        ],
        "in_flight": [],
        "failed_jobs": [],
    }


@pytest.mark.parametrize(
    ("status", "tone"),
    [
        ("protected", "good"),
        ("available", "good"),
        ("error-failing-over", "bad"),
        ("error", "bad"),
        ("FAIL", "bad"),
        ("failing-over", "busy"),
        ("starting", "busy"),
        ("RUNNING", "busy"),
        ("failed-over", "warn"),
        ("unheard-of", "unknown"),
        (None, "unknown"),
    ],
)
def test_status_tones(status, tone):
    assert status_tone(status) == tone


def test_hostile_values_from_sdrs_are_escaped():
    page = pages.posture_page(posture(name=HOSTILE, replication_status=HOSTILE))
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page


def test_every_link_is_relative():
    report = {
        "dag_id": "d",
        "run_id": "manual__2026-01-01T00:00:00+00:00",
        "outcome": "passed",
        "recovery_seconds": 12.0,
        "target_rto_seconds": 900,
        "rto_met": True,
        "reported_at": None,
    }
    page = pages.posture_page(posture(last_airflow_drill=report))
    links = re.findall(r'(?:href|src)="([^"]*)"', page)
    assert links and all(not link.startswith(("/", "http:", "https:", "//")) for link in links), links
    assert "../dags/d/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00" in links


def test_the_trend_draws_each_drill_and_the_target():
    points = [
        {"run_id": "a", "recovery_seconds": 100.0, "target_rto_seconds": 300},
        {"run_id": "b", "recovery_seconds": 400.0, "target_rto_seconds": 300},
        {"run_id": "c", "recovery_seconds": None, "target_rto_seconds": 300},
    ]
    svg = pages.trend_svg(points)
    assert svg.count("<circle") == 2 and 'class="good"' in svg and 'class="bad"' in svg
    assert 'class="target"' in svg and "<polyline" in svg
    assert "no measured drill" in pages.trend_svg([])


def test_the_timeline_places_each_sub_job():
    job = {
        "begin_time": "2026-01-01T00:00:00.000Z",
        "end_time": "2026-01-01T00:01:00.000Z",
        "entities": {
            "sub_jobs": [
                {
                    "job_id": "s1",
                    "status": "SUCCESS",
                    "begin_time": "2026-01-01T00:00:00.000Z",
                    "end_time": "2026-01-01T00:00:30.000Z",
                },
                {"job_id": "s2", "status": "FAIL", "begin_time": "2026-01-01T00:00:30.000Z", "end_time": None},
            ]
        },
    }
    svg = pages.timeline_svg(job, datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc))
    assert 'class="tone-good"' in svg and 'class="tone-bad"' in svg
    assert "no sub-jobs" in pages.timeline_svg({"entities": {}}, datetime.now(timezone.utc))


def test_the_cache_keeps_answers_and_errors_for_their_time():
    cache = TtlCache()
    calls = []

    def load():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("down")
        return "up"

    first = cache.get("k", load, 60, str)
    again = cache.get("k", load, 60, str)
    assert (first.error, again.error, len(calls)) == ("down", "down", 1)
    cache.clear()
    assert cache.get("k", load, 0, str).value == "up" and cache.get("k", load, 0, str).value == "up"
    assert len(calls) == 3


def test_loading_the_plugin_leaves_the_pages_app_unimported():
    """Every Airflow process, a task's too, loads the plugins; only the API server needs the pages."""
    import subprocess
    import sys

    code = (
        "import sys, airflow_provider_sdrs.ui.plugin as p; "
        "print(sorted(m for m in ('airflow_provider_sdrs.ui.app', 'airflow.api_fastapi.core_api.security', "
        "'airflow_provider_sdrs.hooks.sdrs') if m in sys.modules)); "
        "print(p.SdrsUiPlugin.fastapi_apps[0]['url_prefix'])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-2:] == ["[]", "/sdrs"]


def test_the_posture_shows_task_instances_and_drill_reports_only_to_who_may_read_them(monkeypatch):
    """A role may read a DAG but not its task instances or XComs (FAB roles can be made so)."""
    from airflow_provider_sdrs.ui import access as access_module
    from airflow_provider_sdrs.ui import history, posture
    from airflow_provider_sdrs.ui.access import Access
    from airflow_provider_sdrs.ui.settings import UiSettings

    class DagsOnly:
        def is_authorized_dag(self, *, method, access_entity=None, details=None, user=None):
            return access_entity is None

        def is_authorized_connection(self, *, method, details=None, user=None):
            return False

    asked: dict[str, set[str]] = {}

    def recorder(name: str, empty):
        def read(dag_ids, *args, **kwargs):
            asked[name] = set(dag_ids)
            return empty

        return read

    monkeypatch.setattr(access_module, "_auth_manager", DagsOnly)
    monkeypatch.setattr(history, "drill_reports", recorder("reports", {}))
    monkeypatch.setattr(history, "in_flight", recorder("in_flight", []))
    monkeypatch.setattr(history, "failed_recently", recorder("failed", []))
    who = Access(user=object(), dag_ids=frozenset({"sdrs_dr_drill"}))
    posture.build(who, UiSettings(connections=("sdrs_default",)))
    assert asked == {"reports": set(), "in_flight": set(), "failed": set()}
