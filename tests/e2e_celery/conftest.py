"""The Celery suite's deployment: Redis, two Celery workers, two triggerers; started once, always torn down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import pytest_runtest_makereport  # noqa: F401  (the components' logs on a failure)
from tests.e2e.deployment import Deployment, Layout

CELERY = Layout(
    executor="CeleryExecutor",
    workers=("worker-a", "worker-b"),
    worker_concurrency=8,
    dag_bundles={"e2e-celery": Path(__file__).parent / "dags"},
    dag_ids=("sdrs_e2e_mapped_waits", "sdrs_e2e_blocking_failover"),
    settings={
        # Room for many tasks in flight at once across the two workers.
        "AIRFLOW__CORE__PARALLELISM": "32",
        # A try whose worker is gone stops heartbeating: fail it (and retry it) after 20 s, not 5 minutes.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    },
)


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    running = Deployment.start(CELERY)
    try:
        yield running
    finally:
        running.stop()
