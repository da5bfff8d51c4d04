"""The Airflow UI in a real browser (Debian's Chromium driven by Playwright): connection form, Test button, links.

Screenshots land in .e2e-artifacts/ (not committed). The browser signs in as the deployment's admin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from .browser import chromium, shot, sign_in
from .deployment import Deployment, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Any, deployment: Deployment) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, deployment, "admin", "/connections")
    try:
        yield page
    finally:
        context.close()


def open_sdrs_form(page: Any, conn_id: str) -> Any:
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=connection_id]").fill(conn_id)
    kind = dialog.get_by_role("combobox")
    kind.click()
    kind.fill("SDRS")
    page.get_by_role("option", name="SDRS", exact=True).click()
    return dialog


def add_connection(page: Any, deployment: Deployment, conn_id: str, secret: str) -> None:
    from airflow_provider_sdrs.testing.simulator import connection_for

    simulated = connection_for(deployment.sim_url, "aksk")
    host, port = deployment.sim_url.rsplit(":", 1)
    dialog = open_sdrs_form(page, conn_id)
    dialog.locator("input[name=host]").fill(host)
    dialog.locator("input[name=port]").fill(port)
    dialog.locator("input[name=login]").fill(simulated["login"])
    dialog.locator("input[name=password]").fill(secret)
    dialog.get_by_text("Extra Fields", exact=True).click()
    dialog.locator("#element_region").fill("eu-de")
    dialog.locator("#element_project_id").fill(simulated["extra"]["project_id"])
    dialog.get_by_role("button", name="Save").click()
    page.get_by_role("row").filter(has_text=conn_id).wait_for()


def test_the_sdrs_connection_form_shows_our_fields_and_hides_the_unused_ones(page: Any):
    dialog = open_sdrs_form(page, "sdrs_form_check")
    for label in ("Endpoint URL", "Access key / IAM user", "Secret key / password", "Port"):
        assert dialog.get_by_text(label, exact=True).is_visible(), label
    assert dialog.get_by_text("Schema", exact=True).count() == 0
    assert dialog.locator("input[name=login]").get_attribute("placeholder") == (
        "access key (aksk) or IAM user name (password)"
    )
    dialog.get_by_text("Extra Fields", exact=True).click()
    for label in ("Authentication", "Cloud", "Region", "Project ID", "Security token", "Console URL"):
        assert dialog.get_by_text(label, exact=True).is_visible(), label
    assert dialog.locator("#element_security_token").get_attribute("type") == "password"
    shot(page, "connection-form")


def test_the_test_button_reports_success_and_a_clear_failure_with_a_wrong_secret(page: Any, deployment: Deployment):
    from airflow_provider_sdrs.testing.simulator import connection_for

    add_connection(page, deployment, "sdrs_ui_ok", connection_for(deployment.sim_url, "aksk")["password"])
    add_connection(page, deployment, "sdrs_ui_wrong", "not-the-secret-key")

    page.get_by_role("row").filter(has_text="sdrs_ui_ok").get_by_role("button", name="Test Connection").click()
    success = page.get_by_text(re.compile("Connected to SDRS at .* with access key"))
    success.wait_for()
    shot(page, "connection-test-success")
    page.reload()

    page.get_by_role("row").filter(has_text="sdrs_ui_wrong").get_by_role("button", name="Test Connection").click()
    failure = page.get_by_text(re.compile("verify aksk signature fail"))
    failure.wait_for()
    text = failure.inner_text()
    assert "HTTP 401" in text and "not-the-secret-key" not in page.content()
    shot(page, "connection-test-failure")


def test_a_finished_operator_shows_the_console_link(page: Any, deployment: Deployment, tmp_path):
    group_id = deployment.sim("POST", "/_sim/groups", {"status": "protected", "name": "erp-ui"})["id"]
    run_id = deployment.trigger(
        "sdrs_dr_drill", {"server_group_id": group_id, "target_rto_seconds": 600, "report_dir": str(tmp_path)}
    )
    state, _ = deployment.watch_run("sdrs_dr_drill", run_id)
    assert state == "success"
    task_page = f"{deployment.api_url}/dags/sdrs_dr_drill/runs/{quote(run_id, safe='')}/tasks/create_drill"
    page.goto(task_page)
    page.get_by_text("SDRS job", exact=False).first.wait_for()  # the log an on-call person follows
    shot(page, "task-instance-log")
    page.goto(f"{task_page}/details")
    link = page.get_by_text("SDRS console", exact=True)
    wait_for(link.is_visible, "the SDRS console link on the task instance page", 30)
    assert link.get_attribute("href") == f"{deployment.sim_url}/console/sdrs/?region=eu-de"
    shot(page, "task-instance-console-link")
