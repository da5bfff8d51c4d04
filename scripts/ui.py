"""`make ui`: Airflow (``airflow standalone``) with the SDRS simulator and the example DAGs, to look at the
Disaster recovery page and the SDRS job tab in a browser.

Everything lives in a throwaway Airflow home (.ui/) with SQLite. The simulator holds a few protection groups
(one in each kind of status); the ``sdrs_default`` connection points at it. Two users of the simple auth
manager: ``admin`` and ``operator`` (role ``op``), passwords printed at start. Ctrl-C stops everything.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo import GROUP_ID, free_port, simulator_running

REPO = Path(__file__).resolve().parent.parent
HOME = REPO / ".ui"
GROUPS = [
    ("erp-staging", "available"),
    ("crm-production", "failed-over"),
    ("billing", "error-failing-over"),
]


def main() -> int:
    shutil.rmtree(HOME, ignore_errors=True)
    home = HOME / "airflow-home"
    home.mkdir(parents=True)
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    with simulator_running(HOME, "3,9") as sim_url:
        airflow: subprocess.Popen | None = None
        try:
            for name, status in GROUPS:
                request = urllib.request.Request(
                    f"{sim_url}/_sim/groups",
                    data=json.dumps({"name": name, "status": status}).encode(),
                    headers={"Content-Type": "application/json"},
                    method="POST",
                )
                urllib.request.urlopen(request, timeout=10).read()
            from airflow_provider_sdrs.testing.simulator import connection_for

            passwords = {"admin": secrets.token_urlsafe(9), "operator": secrets.token_urlsafe(9)}
            password_file = HOME / "passwords.json"
            password_file.write_text(json.dumps(passwords))
            password_file.chmod(0o600)
            env = {
                **{key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")},
                # standalone starts its components as `airflow ...`: this virtualenv's.
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,operator:op",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
                "AIRFLOW__API__PORT": str(api_port),
                "AIRFLOW__API__BASE_URL": api_url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
                "AIRFLOW_CONN_SDRS_DEFAULT": json.dumps(connection_for(sim_url, "aksk")),
                "AIRFLOW__SDRS__UI_CONNECTIONS": "sdrs_default",
                "SDRS_EXAMPLE_POLL_SECONDS": "2",
            }
            log_path = HOME / "airflow-standalone.log"
            airflow = subprocess.Popen(
                [sys.executable, "-m", "airflow", "standalone"],
                env=env,
                stdout=log_path.open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = time.time() + 240
            while time.time() < deadline:
                if airflow.poll() is not None:
                    print(log_path.read_text()[-3000:])
                    raise SystemExit("airflow standalone exited during start-up")
                try:
                    urllib.request.urlopen(f"{api_url}/api/v2/monitor/health", timeout=2).read()
                    break
                except OSError:
                    time.sleep(1)
            else:
                raise SystemExit(f"Airflow did not answer within 240 s; see {log_path}")
            print(
                f"\nAirflow:            {api_url}\n"
                f"Disaster recovery:  {api_url}/plugin/sdrs-posture  (or the Disaster recovery entry in the menu)\n"
                f"Sign in as          admin / {passwords['admin']}   or   "
                f"operator / {passwords['operator']} (role op)\n"
                f"SDRS simulator:     {sim_url}  (protection group {GROUP_ID} is protected)\n"
                f"Trigger sdrs_dr_drill (unpause it first); then open a task of it and its 'SDRS job' tab.\n"
                f"Logs in {HOME.relative_to(REPO)}/. Ctrl-C stops Airflow and the simulator.",
                flush=True,
            )
            airflow.wait()
            return airflow.returncode or 0
        except KeyboardInterrupt:
            return 0
        finally:
            if airflow is not None and airflow.poll() is None:
                os.killpg(airflow.pid, signal.SIGTERM)
                try:
                    airflow.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(airflow.pid, signal.SIGKILL)


if __name__ == "__main__":
    raise SystemExit(main())
