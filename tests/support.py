"""Helpers the test modules share: stand-ins for what Airflow hands a task, and ways to run the provider's
sensor, triggers and TLS set-ups as Airflow and a real deployment would.

Test modules import them from here (``from tests.support import ...``), never from one another.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import ssl
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

try:
    from airflow.sdk.exceptions import AirflowRescheduleException, TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowRescheduleException, TaskDeferred  # type: ignore[no-redef]

from airflow_provider_sdrs.sensors.sdrs import SdrsJobSensor

#: The sensor's three ways of waiting, for the scenario tables.
MODES = ["poke", "reschedule", "deferrable"]


class TaskInstanceStandIn:
    """What the provider asks of a task instance: XCom pushes (recorded in ``xcom``) and, in reschedule
    mode, when the first try began."""

    def __init__(self) -> None:
        self.first_reschedule: datetime | None = None
        self.xcom: dict[str, Any] = {}
        #: The triggers the task deferred to, in order (recorded by the runners that play the triggerer).
        self.deferrals: list[Any] = []

    def get_first_reschedule_date(self, context):
        return self.first_reschedule

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


EXAMPLE_DAGS = Path(__file__).resolve().parents[1] / "example_dags"


def load_example_dag(name: str) -> Any:
    """The DAG of ``example_dags/{name}.py``, loaded as a DAG file is; its retries wait no time between tries
    (same number of retries as in production, without minutes between them)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLE_DAGS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for task in module.dag.tasks:
        task.retry_delay = timedelta(0)
    return module.dag


async def first_event(trigger):
    """The first event a trigger fires, as the triggerer would receive it."""
    async for event in trigger.run():
        return event
    raise AssertionError("the trigger fired no event")


async def first_payload(trigger) -> dict[str, Any]:
    """The payload of the first event a trigger fires."""
    return (await first_event(trigger)).payload


def run_operator(operator: Any, ti: TaskInstanceStandIn | None = None) -> tuple[Any, TaskInstanceStandIn]:
    """Run an operator as the task runner and the triggerer would: each deferral runs its trigger to its
    first event, then resumes the operator with it. Returns the result and the task instance."""
    ti = ti or TaskInstanceStandIn()
    context: Any = {"ti": ti}
    step, arguments = operator.execute, {}
    while True:
        try:
            return step(context, **arguments), ti
        except TaskDeferred as deferred:
            ti.deferrals.append(deferred.trigger)
            payload = asyncio.run(first_payload(deferred.trigger))
            step, arguments = getattr(operator, deferred.method_name), {**(deferred.kwargs or {}), "event": payload}


def run_as_airflow(template: Any, mode: str) -> tuple[Any, TaskInstanceStandIn]:
    """Run the sensor ``template`` as Airflow would in ``mode``; return its result and the task instance, or
    raise its error.

    Reschedule mode runs each try on a fresh copy, as a new process would; deferrable mode runs the trigger
    it deferred to (rebuilt from its serialized form, as the triggerer does) to its first event, and resumes
    a fresh copy with it.
    """
    ti = TaskInstanceStandIn()
    context = {"ti": ti}
    if mode == "poke":
        return template.execute(context), ti
    if mode == "reschedule":
        while True:
            sensor = copy.deepcopy(template)  # every try runs in a fresh process
            try:
                return sensor.execute(context), ti
            except AirflowRescheduleException as reschedule:
                ti.first_reschedule = ti.first_reschedule or datetime.now(timezone.utc)
                time.sleep(max(0.0, (reschedule.reschedule_date - datetime.now(timezone.utc)).total_seconds()))
    try:
        return template.execute(context), ti
    except TaskDeferred as deferred:
        ti.deferrals.append(deferred.trigger)
        classpath, kwargs = deferred.trigger.serialize()
        trigger_class = type(deferred.trigger)
        assert classpath == f"{trigger_class.__module__}.{trigger_class.__qualname__}"
        event = asyncio.run(first_event(trigger_class(**kwargs)))
        resumed = copy.deepcopy(template)  # resumed on a worker, as a new task instance
        try:
            return getattr(resumed, deferred.method_name)(context, event.payload), ti
        except (AirflowSensorTimeout, AirflowFailException) as error:
            # BaseSensorOperator.resume_execution applies soft_fail to resumed sensors.
            if template.soft_fail:
                raise AirflowSkipException("Skipping due to soft_fail is set to True.") from error
            raise


def run_sensor(mode: str, job_id: str, *, timeout: float = 5.0, **kwargs):
    """Run an ``SdrsJobSensor`` as Airflow would in ``mode`` and return its result (or raise its error)."""
    template = SdrsJobSensor(
        task_id="wait",
        job_id=job_id,
        poke_interval=0.05,
        timeout=timeout,
        mode="reschedule" if mode == "reschedule" else "poke",
        deferrable=mode == "deferrable",
        **{"not_found_grace": 0.3, "poll_retry_delay": 0.01, **kwargs},
    )
    return run_as_airflow(template, mode)[0]


# -- connections and TLS ------------------------------------------------------------------------------


def use_connection(monkeypatch, conn_id: str, connection: dict[str, Any]) -> None:
    from airflow_provider_sdrs._core.process import reset_process_caches

    reset_process_caches()
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))


def certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key) files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sdrs test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class LoopbackServer:
    """A server on a loopback port, on its own thread and event loop; a subclass answers each connection
    in :meth:`_connected`."""

    #: Terminates TLS with this context when set.
    context: ssl.SSLContext | None = None

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        assert self._ready.wait(10), f"{type(self).__name__} did not start"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        tls = {"ssl": self.context, "ssl_handshake_timeout": 5} if self.context is not None else {}
        server = self._loop.run_until_complete(asyncio.start_server(self._connected, "127.0.0.1", 0, **tls))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()


class TlsFront(LoopbackServer):
    """Terminates TLS on a loopback port and relays the bytes to the simulator."""

    def __init__(self, upstream_port: int, cert: Path, key: Path) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


class ForwardProxy(LoopbackServer):
    """An HTTP proxy on a loopback port: CONNECT tunnels (for https endpoints) and absolute-form requests
    (for http ones), each relayed to the host and port the client names. It records what it was asked.

    An absolute-form request is relayed in origin form with ``Connection: close``: one request per
    connection is all a test needs, and the answer's framing stays the server's.
    """

    def __init__(self, *, require_authorization: str | None = None) -> None:
        super().__init__()
        self.require_authorization = require_authorization
        #: The request line of each connection, and its Proxy-Authorization field (or None).
        self.requests: list[tuple[str, str | None]] = []

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError):
            writer.close()
            return
        line, *fields = head.decode("latin-1").split("\r\n")
        authorization = next(
            (f.split(":", 1)[1].strip() for f in fields if f.lower().startswith("proxy-authorization:")), None
        )
        self.requests.append((line, authorization))
        if self.require_authorization is not None and authorization != self.require_authorization:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        method, target, version = line.split(" ", 2)
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            url = urlsplit(target)
            up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
            kept = [f for f in fields if f and not f.lower().startswith(("proxy-authorization:", "connection:"))]
            origin_form = url.path + (f"?{url.query}" if url.query else "")
            up_writer.write(
                "\r\n".join([f"{method} {origin_form} {version}", *kept, "Connection: close", "", ""]).encode("latin-1")
            )
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await asyncio.wait_for(source.read(65536), 30):
            sink.write(data)
            await sink.drain()
    except (OSError, asyncio.TimeoutError):
        pass
    finally:
        sink.close()


# -- Airflow's API server, in process --------------------------------------------------------------------

#: The users of the simple auth manager in the UI tests: name -> role.
UI_USERS = {"admin": "admin", "op": "op", "viewer": "viewer"}


class AirflowApi:
    """Airflow's whole FastAPI app (plugins mounted) behind a test client, with the simple auth manager's
    users of :data:`UI_USERS` and their passwords."""

    def __init__(self, client: Any, passwords: dict[str, str]) -> None:
        self.client = client
        self.passwords = passwords

    def login(self, username: str) -> dict[str, str]:
        """Sign in as ``username`` with its password (``POST /auth/token``); the headers that carry the JWT."""
        answer = self.client.post("/auth/token", json={"username": username, "password": self.passwords[username]})
        assert answer.status_code == 201, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def airflow_api(folder: Path) -> Any:
    """A context manager giving an :class:`AirflowApi`; the auth settings are undone at its end."""
    import contextlib
    import secrets

    import pytest

    @contextlib.contextmanager
    def running():
        passwords = {name: secrets.token_hex(12) for name in UI_USERS}
        password_file = folder / "simple-auth-passwords.json"
        password_file.write_text(json.dumps(passwords))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(
                "AIRFLOW__CORE__AUTH_MANAGER",
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            )
            patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", ",".join(f"{u}:{r}" for u, r in UI_USERS.items()))
            patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
            patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(password_file))
            patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_hex(32))
            from airflow.api_fastapi.app import create_app, purge_cached_app
            from fastapi.testclient import TestClient

            try:
                yield AirflowApi(TestClient(create_app()), passwords)
            finally:
                purge_cached_app()

    return running()
