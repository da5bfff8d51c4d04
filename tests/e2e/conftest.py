"""The end-to-end suite's deployment: started once per session, always torn down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .deployment import Deployment


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    running = Deployment.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "deployment" in item.funcargs:
        # The components' own logs are the first thing to read when an end-to-end test fails.
        item.funcargs["deployment"].print_logs()
