"""Headless Chromium (Debian's, driven by Playwright) for the end-to-end suite, and signing in to Airflow
through its login form as a user of the simple auth manager."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .deployment import REPO, Deployment

ARTIFACTS = REPO / ".e2e-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, deployment: Deployment, username: str, then: str = "/") -> None:
    """Sign in through the simple auth manager's login form, then open ``then``."""
    page.goto(f"{deployment.api_url}/auth/login/?next={deployment.api_url}{then}")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(deployment.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    if not page.url.startswith(f"{deployment.api_url}{then}"):
        page.goto(f"{deployment.api_url}{then}")


def shot(page: Any, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
