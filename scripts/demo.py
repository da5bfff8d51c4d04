"""`make demo`: start the SDRS simulator, run the sdrs_dr_drill example DAG against it, print the drill report.

Everything lives in a throwaway Airflow home (.demo/) with SQLite; the connection comes from an
environment variable; the simulator is stopped at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / ".demo"
GROUP_ID = "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit("the SDRS simulator exited during start-up")
        try:
            urllib.request.urlopen(f"{url}/_sim/stats", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the SDRS simulator did not start within 30 s")


@contextmanager
def simulator_running(folder: Path, resource_durations: str) -> Iterator[str]:
    """The SDRS simulator on a free loopback port, holding the protection group ``GROUP_ID`` (protected), its
    output in ``folder/simulator.out``. Yields its URL once it answers; stops it at the end, whatever happens.

    :param resource_durations: seconds each SDRS job takes, as the simulator's ``--resource-durations``.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_sdrs.testing.simulator",
            "--port",
            str(port),
            "--group",
            f"group_id={GROUP_ID},name=erp-production,status=protected",
            "--resource-durations",
            resource_durations,
        ],
        stdout=(folder / "simulator.out").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    home = DEMO / "airflow-home"
    home.mkdir(parents=True)
    with simulator_running(DEMO, "3,9") as url:
        from airflow_provider_sdrs.testing.simulator import connection_for

        connection = connection_for(url, "aksk")
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_SDRS_DEFAULT": json.dumps(connection),
            "SDRS_EXAMPLE_POLL_SECONDS": "2",
        }
        reports = DEMO / "reports"
        print(f"SDRS simulator on {url}: protection group {GROUP_ID} is protected; each SDRS job takes ~12 s")
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        conf = {"server_group_id": GROUP_ID, "target_rto_seconds": 60, "report_dir": str(reports)}
        print(f"Running: airflow dags test sdrs_dr_drill -c '{json.dumps(conf)}'", flush=True)
        log_path = DEMO / "dags-test.log"
        with log_path.open("w") as log:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "airflow",
                    "dags",
                    "test",
                    "sdrs_dr_drill",
                    "-c",
                    json.dumps(conf),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        lines = log_path.read_text().splitlines()
        keys = (
            "Submitting",
            "submitted, job",
            "SDRS job",
            "sub-job",
            "Pausing task as DEFERRED",
            "is available",
            "Recovery time",
            "DagRun Finished",
        )
        shown = [line for line in lines if any(key in line for key in keys)]
        print("\n".join(line[:200] for line in shown))
        markdown = sorted(reports.glob("*.md"))
        if markdown:
            print(f"\nDrill report ({markdown[0].relative_to(REPO)}):\n")
            print(markdown[0].read_text())
        succeeded = result.returncode == 0 and any("state=success" in line for line in lines) and bool(markdown)
        print(f"Demo {'succeeded' if succeeded else 'FAILED'}: full log in {log_path.relative_to(REPO)}")
        return 0 if succeeded else 1


if __name__ == "__main__":
    raise SystemExit(main())
