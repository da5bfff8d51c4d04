"""The Celery suite's deployment: Redis, two Celery workers, two triggerers; started once, always torn down."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.e2e.conftest import pytest_runtest_makereport  # noqa: F401  (the components' logs on a failure)
from tests.e2e.deployment import REPO, Deployment, Layout

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


@pytest.fixture(scope="session")
def measurement(deployment: Deployment) -> Iterator[dict[str, Any]]:
    """Figures the tests record, written at the end of the session to ``$SDRS_SCALE_OUT_OUT``
    (docs/scale-out.json is the committed one), else to .e2e-artifacts/scale-out.json."""
    figures: dict[str, Any] = {}
    yield figures
    if not figures:
        return
    setup = {
        "cores": psutil.cpu_count(),
        "python": platform.python_version(),
        "airflow": version("apache-airflow"),
        "celery_provider": version("apache-airflow-providers-celery"),
        "celery_workers": len(CELERY.workers),
        "worker_concurrency": CELERY.worker_concurrency,
        "triggerers": len(deployment.triggerer_jobs),
        "settings": dict(CELERY.settings),
    }
    path = Path(os.environ.get("SDRS_SCALE_OUT_OUT") or REPO / ".e2e-artifacts" / "scale-out.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"setup": setup, **figures}, indent=2) + "\n")
    print(f"\nscale-out figures written to {path}")
