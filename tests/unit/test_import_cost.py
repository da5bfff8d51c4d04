"""DAG files import the sensors, operators, assets and (for asset watchers) triggers: they must not pull in an
HTTP client at parse time."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import airflow.sdk
before = set(sys.modules)
import airflow_provider_sdrs.sensors.sdrs
import airflow_provider_sdrs.operators.sdrs
import airflow_provider_sdrs.assets.sdrs
import airflow_provider_sdrs.triggers.sdrs
import airflow_provider_sdrs.hooks.sdrs
added = set(sys.modules) - before
clients = ("requests", "aiohttp", "urllib3", "httpx", "yarl", "httptools")
print("ADDED:" + ",".join(sorted(m for m in added if m.split(".")[0] in clients)))
"""


def test_the_modules_a_dag_file_imports_import_no_http_client():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    marker = [line for line in result.stdout.splitlines() if line.startswith("ADDED:")]
    assert marker == ["ADDED:"], marker
