"""A real Airflow deployment for the end-to-end suites, started from scratch and torn down at the end.

PostgreSQL (Debian's server binaries, a throwaway cluster on a free port) is the metadata database; the SDRS
simulator runs in its own process; Airflow runs as separate processes: ``api-server``, ``scheduler``,
``dag-processor`` and two ``triggerer``s, with the example DAGs as the DAGs folder and the ``sdrs_default``
(AK/SK) and ``sdrs_password`` (IAM password) connections from environment variables.

A :class:`Layout` says what else runs: the LocalExecutor (the default), or the CeleryExecutor with a Redis
broker (Debian's package, on a free port), PostgreSQL as its result backend and ``airflow celery worker``
processes; and DAG folders of a suite's own, each a DAG bundle beside the example DAGs.

Every process is started in its own process group and killed with it and with the groups of its
descendants (a task runner has a group of its own), so nothing outlives the suite.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

REPO = Path(__file__).resolve().parents[2]
PYTHON_BIN = Path(sys.executable).parent
#: The simple auth manager's users: name -> role. The suite signs in as them, with real passwords.
USERS = {"admin": "admin", "operator": "op"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0, every: float = 0.5) -> Any:
    """Call ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as error:  # the thing waited for may not answer yet
            last_error = error
        else:
            if result:
                return result
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last_error})" if last_error else ""))


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def groups(self) -> set[int]:
        """The process group and those of its descendants: a task runner puts itself in a group of its own."""
        groups = {self.popen.pid}
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.popen.pid).children(recursive=True):
                with contextlib.suppress(OSError):
                    groups.add(os.getpgid(child.pid))
        return groups

    def kill(self, sig: int = signal.SIGKILL, groups: set[int] | None = None) -> None:
        """Signal the whole process tree (a triggerer's runner subprocess, a worker's task runners)."""
        for group in groups or self.groups():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)

    def stop(self) -> None:
        groups = self.groups()  # taken first: once the leader is gone, its descendants cannot be found
        if self.popen.poll() is None:
            self.kill(signal.SIGTERM, groups)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=15)
        self.kill(signal.SIGKILL, groups | self.groups())  # stragglers, whatever the leader did
        if self.popen.poll() is None:
            self.popen.wait(timeout=10)

    def holds(self, pid: int) -> bool:
        """Whether ``pid`` is this process or one of its descendants."""
        try:
            return pid == self.popen.pid or any(p.pid == self.popen.pid for p in psutil.Process(pid).parents())
        except psutil.Error:
            return False

    def cpu_seconds(self) -> float:
        """User and system CPU of the process and its live descendants, with the children each reaped.

        The difference of two readings is what the tree spent in between: a child that ended in between is
        in its parent's reaped-children times (the supervisors of tasks and triggers wait for theirs).
        """
        total = 0.0
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.popen.pid)
            for process in (root, *root.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system + times.children_user + times.children_system
        return total

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class PostgresCluster:
    """A throwaway PostgreSQL cluster from Debian's packages, reachable on 127.0.0.1 with trust auth."""

    def __init__(self, root: Path) -> None:
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
        if not versions:
            raise RuntimeError("PostgreSQL server binaries not found; run scripts/e2e-provision.sh (make e2e does)")
        self.bin = Path(versions[-1]).parent
        self.data = root / "pgdata"
        self.port = free_port()
        self.log_path = root / "postgres.log"
        # initdb refuses to run as root: run the server as Debian's postgres user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.url = f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        self.data.mkdir(parents=True)
        if self.as_user:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(self.log_path.parent, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "airflow", "-A", "trust", "-E", "UTF8")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off -c max_connections=200"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log_path), "-w", "start"
        )
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "airflow", "airflow")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="airflow", dbname="airflow")
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            conn.close()


class RedisServer:
    """A throwaway Redis server from Debian's package, on 127.0.0.1 and a free port, keeping nothing on disk."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found; run scripts/e2e-provision.sh (make e2e-celery does)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.command = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(root)]
        self.command += ["--save", "", "--appendonly", "no"]

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")


@dataclass(frozen=True)
class Layout:
    """What a deployment runs besides PostgreSQL, the simulator, the API server, the scheduler, the
    dag-processor and the two triggerers.

    :param executor: ``LocalExecutor`` or ``CeleryExecutor``.
    :param workers: names of the ``airflow celery worker`` processes (CeleryExecutor).
    :param worker_concurrency: task slots of each worker.
    :param dag_bundles: DAG folders besides the example DAGs, by bundle name.
    :param dag_ids: DAG ids of those folders to wait for before the tests start.
    :param settings: Airflow settings (``AIRFLOW__...`` variables) on top of the suite's defaults.
    """

    executor: str = "LocalExecutor"
    workers: tuple[str, ...] = ()
    worker_concurrency: int = 8
    dag_bundles: Mapping[str, Path] = field(default_factory=dict)
    dag_ids: tuple[str, ...] = ()
    settings: Mapping[str, str] = field(default_factory=dict)


LOCAL = Layout()


@dataclass
class Deployment:
    root: Path
    layout: Layout = LOCAL
    processes: dict[str, Process] = field(default_factory=dict)
    postgres: PostgresCluster | None = None
    redis: RedisServer | None = None
    api_port: int = 0
    sim_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    #: TriggererJob id of each triggerer process, by name.
    triggerer_jobs: dict[str, int] = field(default_factory=dict)
    #: The password of each of USERS.
    passwords: dict[str, str] = field(default_factory=dict)
    _token: str | None = None

    # -- bring-up ---------------------------------------------------------------------------------------

    @classmethod
    def start(cls, layout: Layout = LOCAL) -> Deployment:
        root = Path(tempfile.mkdtemp(prefix="sdrs-e2e-"))
        os.chmod(root, 0o755)
        deployment = cls(root, layout)
        try:
            deployment._start()
        except BaseException:
            deployment.print_logs()
            deployment.stop()
            raise
        return deployment

    def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> Process:
        log_path = self.root / f"{name}.log"
        popen = subprocess.Popen(
            list(args),
            env=env or self.env,
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.root,
        )
        process = Process(name, popen, log_path)
        self.processes[name] = process
        return process

    def _airflow(self, name: str, *args: str) -> Process:
        return self._spawn(name, str(PYTHON_BIN / "airflow"), *args)

    def _start_broker(self) -> None:
        if self.layout.executor != "CeleryExecutor":
            return
        self.redis = RedisServer(self.root)
        self._spawn("redis", *self.redis.command, env={**os.environ})
        wait_for(self.redis.ping, "Redis to answer", 30, every=0.2)

    def _layout_env(self) -> dict[str, str]:
        """Settings of the layout's executor and DAG bundles, then the layout's own."""
        assert self.postgres is not None
        env: dict[str, str] = {}
        if self.redis is not None:
            env["AIRFLOW__CELERY__BROKER_URL"] = self.redis.url
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + self.postgres.url
            env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(self.layout.worker_concurrency)
        if self.layout.dag_bundles:
            local = "airflow.dag_processing.bundles.local.LocalDagBundle"
            bundles = [{"name": "dags-folder", "classpath": local, "kwargs": {}}]
            for name, path in self.layout.dag_bundles.items():
                bundles.append({"name": name, "classpath": local, "kwargs": {"path": str(path)}})
            env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(bundles)
        return {**env, **self.layout.settings}

    def _start_workers(self) -> None:
        for name in self.layout.workers:
            # Distinct node names; logs are read from the shared log folder, so no worker serves them.
            self._airflow(
                name,
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@%h",
                "--skip-serve-logs",
                "--without-gossip",
                "--without-mingle",
            )

    def _start(self) -> None:
        self.postgres = PostgresCluster(self.root)
        self.postgres.start()
        self._start_broker()

        sim_port = free_port()
        self.sim_url = f"http://127.0.0.1:{sim_port}"
        simulator = self._spawn(
            "simulator",
            str(PYTHON_BIN / "python"),
            "-m",
            "airflow_provider_sdrs.testing.simulator",
            "--port",
            str(sim_port),
            "--resource-durations",
            # Jobs of ~10 s: long enough that a deferral is settled before its trigger fires, as with real
            # SDRS jobs (minutes). A trigger firing within seconds of the deferral can race the executor's
            # report of the deferring try, which the scheduler then takes for an external state change.
            "2,8",
            env={**os.environ},
        )
        wait_for(lambda: self.sim("GET", "/_sim/stats") is not None, "the SDRS simulator to start", 30)
        assert simulator.popen.poll() is None

        from airflow_provider_sdrs.testing.simulator import connection_for

        self.api_port = free_port()
        api = f"http://127.0.0.1:{self.api_port}"
        base = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        self.passwords = {name: secrets.token_urlsafe(12) for name in USERS}
        (self.root / "passwords.json").write_text(json.dumps(self.passwords))
        self.env = {
            **base,
            "AIRFLOW_HOME": str(self.root / "airflow-home"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
            "AIRFLOW__CORE__EXECUTOR": self.layout.executor,
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{name}:{role}" for name, role in USERS.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.root / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "SDRS_EXAMPLE_WATCH_SECONDS": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "6",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_SDRS_DEFAULT": json.dumps(connection_for(self.sim_url, "aksk")),
            "AIRFLOW_CONN_SDRS_PASSWORD": json.dumps(connection_for(self.sim_url, "password")),
            "SDRS_EXAMPLE_POLL_SECONDS": "1",
            **self._layout_env(),
        }
        migrate = subprocess.run(
            [str(PYTHON_BIN / "airflow"), "db", "migrate"], env=self.env, capture_output=True, text=True, check=False
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}")

        self._airflow("api-server", "api-server", "--port", str(self.api_port))
        self._airflow("scheduler", "scheduler")
        self._airflow("dag-processor", "dag-processor")
        self._start_workers()
        # One triggerer at a time, so that each TriggererJob id is known to belong to its process.
        for name in ("triggerer-a", "triggerer-b"):
            known = set(self.triggerer_jobs.values())
            self._airflow(name, "triggerer")
            self.triggerer_jobs[name] = wait_for(
                lambda known=known: self._new_triggerer_job(known), f"{name} to register", 90
            )
        wait_for(lambda: self.api("GET", "/api/v2/monitor/health"), "the API server to answer", 90)
        for dag_id in ("sdrs_dr_drill", "sdrs_planned_failover", "sdrs_job_sensor"):
            wait_for(lambda dag_id=dag_id: self.api("GET", f"/api/v2/dags/{dag_id}"), f"DAG {dag_id} to be parsed", 120)
        for dag_id in self.layout.dag_ids:
            wait_for(lambda dag_id=dag_id: self.api("GET", f"/api/v2/dags/{dag_id}"), f"DAG {dag_id} to be parsed", 120)
        # The weekly drill's latest scheduled run starts as soon as the DAG appears, with the default group,
        # and would hold the DAG's only active-run slot: end it so the tests' runs go first.
        scheduled = wait_for(
            lambda: [
                run
                for run in self.api("GET", "/api/v2/dags/sdrs_dr_drill/dagRuns")["dag_runs"]
                if run["run_type"] == "scheduled"
            ],
            "the drill DAG's scheduled run",
            60,
        )
        for run in scheduled:
            self.api("PATCH", f"/api/v2/dags/sdrs_dr_drill/dagRuns/{run['dag_run_id']}", json={"state": "failed"})

    def worker_holding(self, pid: int) -> str | None:
        """The name of the Celery worker whose process tree holds ``pid`` (a task runner), if any."""
        return next((name for name in self.layout.workers if self.processes[name].holds(pid)), None)

    def _new_triggerer_job(self, known: set[int]) -> int | None:
        assert self.postgres is not None
        rows = self.postgres.query("SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running'")
        new = sorted(row[0] for row in rows if row[0] not in known)
        return new[0] if new else None

    # -- tear-down --------------------------------------------------------------------------------------

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if not os.environ.get("SDRS_E2E_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def print_logs(self, tail: int = 4000) -> None:
        for process in self.processes.values():
            print(f"\n===== {process.name} (last {tail} characters) =====\n{process.log()[-tail:]}")

    # -- the simulator's control API -----------------------------------------------------------------------

    def sim(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.sim_url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"{}")

    # -- Airflow's REST API -----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def token(self, username: str = "admin") -> str:
        """A JWT of ``username``, signed in with its password (the admin's is kept)."""
        if username == "admin" and self._token is not None:
            return self._token
        credentials = {"username": username, "password": self.passwords[username]}
        answer = requests.post(f"{self.api_url}/auth/token", json=credentials, timeout=10)
        answer.raise_for_status()
        token = answer.json()["access_token"]
        if username == "admin":
            self._token = token
        return token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        answer = requests.request(method, f"{self.api_url}{path}", headers=headers, timeout=30, **kwargs)
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return answer.json() if answer.content else {}

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        listing = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti for ti in listing["task_instances"]}

    def watch_run(self, dag_id: str, run_id: str, timeout: float = 180) -> tuple[str, dict[str, set[str]]]:
        """Poll the run until it ends; return its state and every state each task was seen in."""
        seen: dict[str, set[str]] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for task_id, ti in self.task_states(dag_id, run_id).items():
                seen.setdefault(task_id, set()).add(str(ti["state"]))
            state = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                for task_id, ti in self.task_states(dag_id, run_id).items():
                    seen.setdefault(task_id, set()).add(str(ti["state"]))
                return state, seen
            time.sleep(0.3)
        raise TimeoutError(f"run {run_id} of {dag_id} did not end within {timeout:.0f} s; seen {seen}")

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        entry = self.api(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"deserialize": "true", "stringify": "false"},
        )
        return None if entry is None else entry["value"]

    def links(self, dag_id: str, run_id: str, task_id: str) -> dict[str, str | None]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/links")["extra_links"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        answer = self.api(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            headers={"Accept": "application/json"},
        )
        content = answer.get("content", [])
        if isinstance(content, str):
            return content
        return "\n".join(item.get("event", "") if isinstance(item, dict) else str(item) for item in content)
