"""Test session setup: a throwaway Airflow home with an SQLite metadata database."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_HOME = Path(tempfile.mkdtemp(prefix="sdrs-airflow-home-"))

# Airflow reads these at import time, so they are set before any test module imports it.
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "example_dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ.pop("AIRFLOW_CONN_SDRS_DEFAULT", None)


def pytest_configure(config: pytest.Config) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    if result.returncode != 0:
        raise pytest.UsageError(f"airflow db migrate failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(autouse=True)
def _fresh_caches():
    from airflow_provider_sdrs._core.process import reset_process_caches

    reset_process_caches()
    yield
    reset_process_caches()
