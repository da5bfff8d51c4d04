"""The Disaster recovery page and the SDRS job tab in a real browser, after a passing and a failing DR drill
ran in the deployment. The operator signs in through the login form (role ``op``, not an admin).

Screenshots land in .e2e-artifacts/ (posture.png, sdrs-job-tab.png; docs/images holds copies).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from .browser import chromium, shot, sign_in
from .deployment import Deployment

pytestmark = pytest.mark.e2e

DEAD = "sdrs_posture_dead"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1600, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def drills(deployment: Deployment) -> dict[str, Any]:
    """A passing drill of one group, a drill whose SDRS job fails on another, a group in error, and an SDRS
    connection whose endpoint refuses connections."""
    from airflow_provider_sdrs.testing.simulator import connection_for

    erp = deployment.sim("POST", "/_sim/groups", {"status": "protected", "name": "erp-posture"})["id"]
    crm = deployment.sim("POST", "/_sim/groups", {"status": "protected", "name": "crm-posture"})["id"]
    broken = deployment.sim("POST", "/_sim/groups", {"status": "error-failing-over", "name": "billing-posture"})["id"]
    reports = str(deployment.root / "posture-reports")
    passed = deployment.trigger(
        "sdrs_dr_drill", {"server_group_id": erp, "target_rto_seconds": 600, "report_dir": reports}
    )
    assert deployment.watch_run("sdrs_dr_drill", passed)[0] == "success"
    deployment.sim("POST", "/_sim/fail_next", {"job_type": "createDisasterRecoveryDrill"})
    failed = deployment.trigger(
        "sdrs_dr_drill", {"server_group_id": crm, "target_rto_seconds": 600, "report_dir": reports}
    )
    assert deployment.watch_run("sdrs_dr_drill", failed)[0] == "failed"
    job_id = deployment.xcom("sdrs_dr_drill", failed, "create_drill", key="job_id")
    job = deployment.sim("GET", f"/_sim/jobs/{job_id}")["job"]
    assert job["status"] == "FAIL" and job["error_code"]

    dead = connection_for("http://127.0.0.1:9", "aksk")
    deployment.api(
        "POST",
        "/api/v2/connections",
        json={
            "connection_id": DEAD,
            "conn_type": "sdrs",
            "host": dead["host"],
            "login": dead["login"],
            "password": dead["password"],
            "extra": json.dumps(dead["extra"]),
        },
    )
    return {"erp": erp, "crm": crm, "broken": broken, "passed": passed, "failed": failed, "job": job}


def test_a_signed_out_browser_sees_nothing(page: Any, deployment: Deployment, drills: dict[str, Any]):
    query = urlencode({"dag_id": "sdrs_dr_drill", "run_id": drills["failed"], "task_id": "create_drill"})
    for path in ("/sdrs/posture", "/sdrs/api/posture", f"/sdrs/job?{query}", f"/sdrs/api/job?{query}"):
        answer = page.goto(f"{deployment.api_url}{path}")
        assert answer.status == 401, path
        content = page.content()
        assert "erp-posture" not in content and drills["job"]["error_code"] not in content, path
    page.goto(f"{deployment.api_url}/plugin/sdrs-posture")
    page.wait_for_url(lambda url: "/auth/login" in url)
    assert "erp-posture" not in page.content()


def test_an_operator_sees_the_groups_the_last_drill_with_its_rto_and_the_failed_job(
    page: Any, deployment: Deployment, drills: dict[str, Any]
):
    sign_in(page, deployment, "operator", "/plugin/sdrs-posture")
    frame = page.frame_locator("iframe[title='Disaster recovery']")
    erp = frame.locator(f'tr.group[data-group-id="{drills["erp"]}"]')
    erp.wait_for()
    text = erp.inner_text()
    assert "erp-posture" in text and "protected" in text
    assert "RTO" in text and "target 10.0 min" in text and "met" in text and "passed" in text
    assert erp.locator("svg.trend circle").count() >= 1
    crm = frame.locator(f'tr.group[data-group-id="{drills["crm"]}"]').inner_text()
    assert "failed" in crm and "no recovery time measured" in crm
    badge = frame.locator(f'tr.group[data-group-id="{drills["broken"]}"] .badge')
    assert badge.inner_text() == "error-failing-over" and "tone-bad" in badge.get_attribute("class")

    failed = frame.locator("tr.failed-job").filter(has_text=drills["failed"])
    assert failed.count() == 1
    assert drills["job"]["error_code"] in failed.inner_text()
    assert drills["job"]["job_id"] in failed.inner_text()
    dead = frame.locator(f'section.card.failed[data-conn-id="{DEAD}"]')
    assert "SDRS could not be read" in dead.inner_text()
    assert frame.locator('section.card[data-conn-id="sdrs_default"]').count() == 1
    shot(page, "posture")


def test_the_sdrs_job_tab_shows_the_failed_job_and_its_sub_jobs(
    page: Any, deployment: Deployment, drills: dict[str, Any]
):
    task = f"/dags/sdrs_dr_drill/runs/{quote(drills['failed'], safe='')}/tasks/create_drill"
    sign_in(page, deployment, "operator", f"{task}/plugin/sdrs-job")
    frame = page.frame_locator("iframe[title='SDRS job']")
    try:
        frame.locator("tr.sub-job").first.wait_for()
    except Exception:
        shot(page, "sdrs-job-tab-failed")
        print(page.url, page.locator("iframe").evaluate_all("els => els.map(e => [e.title, e.src, e.sandbox + ''])"))
        for child in page.frames:
            print(child.url, child.content()[:1500])
        raise
    assert frame.locator("tr.sub-job").count() >= 1
    assert frame.locator("svg.timeline rect.tone-bad, svg.timeline rect.tone-good").count() >= 1
    job = frame.locator("#job").inner_text()
    assert drills["job"]["job_id"] in job and drills["job"]["error_code"] in job and "FAIL" in job
    shot(page, "sdrs-job-tab")
