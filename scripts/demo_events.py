"""`make demo-events`: one event-driven chain against the SDRS simulator.

A planned failover (the sdrs_planned_failover runbook) gives the protection group's asset an event whose extra
says what happened; the event is read back from Airflow's database, and sdrs_failover_followup runs with it,
as the scheduler would start it. Everything lives in a throwaway Airflow home (.demo-events/) with SQLite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo import GROUP_ID, REPO, simulator_running

DEMO = REPO / ".demo-events"
READ_EVENTS = """
import json
from airflow.models.asset import AssetEvent, AssetModel
from airflow.utils.session import create_session
from sqlalchemy import select
with create_session() as session:
    rows = session.scalars(select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                           .where(AssetModel.uri.like('sdrs://%')).order_by(AssetEvent.id)).all()
    print(json.dumps([{"uri": row.asset.uri, "extra": row.extra, "source": f"{row.source_dag_id}.{row.source_task_id}"}
                      for row in rows]))
"""


def airflow(env: dict[str, str], log: Path, *args: str) -> bool:
    with log.open("w") as out:
        command = [sys.executable, "-m", "airflow", *args]
        result = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    return result.returncode == 0 and "state=success" in log.read_text()


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    home = DEMO / "airflow-home"
    home.mkdir(parents=True)
    with simulator_running(DEMO, "1,3") as url:
        from airflow_provider_sdrs.testing.simulator import connection_for

        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_SDRS_DEFAULT": json.dumps(connection_for(url, "aksk")),
            "SDRS_EXAMPLE_POLL_SECONDS": "1",
            "SDRS_EXAMPLE_REPORT_DIR": str(DEMO / "reports"),
        }
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        conf = {"server_group_id": GROUP_ID, "mode": "planned"}
        print(f"1. airflow dags test sdrs_planned_failover -c '{json.dumps(conf)}'", flush=True)
        if not airflow(env, DEMO / "failover.log", "dags", "test", "sdrs_planned_failover", "-c", json.dumps(conf)):
            print(f"The failover run failed: see {(DEMO / 'failover.log').relative_to(REPO)}")
            return 1
        events = json.loads(
            subprocess.run(
                [sys.executable, "-c", READ_EVENTS], env=env, capture_output=True, text=True, check=True
            ).stdout.splitlines()[-1]
        )
        (event,) = events
        print(f"2. asset event on {event['uri']} from {event['source']}:\n   {json.dumps(event['extra'])}")
        followup = json.dumps({"failover": event["extra"]})
        print(
            "3. airflow dags test sdrs_failover_followup (with that extra, as the scheduler would start it)", flush=True
        )
        if not airflow(env, DEMO / "followup.log", "dags", "test", "sdrs_failover_followup", "-c", followup):
            print(f"The follow-up run failed: see {(DEMO / 'followup.log').relative_to(REPO)}")
            return 1
        record = (DEMO / "reports" / "failovers.jsonl").read_text().splitlines()[-1]
        print(f"4. recorded: {record}\nDemo succeeded: logs in {DEMO.relative_to(REPO)}/")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
