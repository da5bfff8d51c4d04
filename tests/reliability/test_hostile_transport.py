"""A hostile network, a hostile server and a careless worker environment, on both transports.

Every test talks HTTP to the simulator (over TLS where trust is the point), on the blocking path
(``requests``) and the asynchronous one (asyncio): the worker's environment never changes a request, no
cookie travels, bodies stop at the size limit, a request ends within its timeout however slowly the
server sends, a black-hole endpoint cannot starve waits on other endpoints, and a wait's deadline bounds
retries, ``Retry-After`` sleeps and waits for a token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout

from airflow_provider_sdrs.exceptions import SdrsApiError, SdrsConfigError, SdrsConnectionError, SdrsError
from airflow_provider_sdrs.hooks.sdrs import SdrsHook
from airflow_provider_sdrs.models import SdrsJobStatus
from airflow_provider_sdrs.testing.simulator import SdrsSimulator, connection_for, new_job_id
from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger
from tests.support import (
    MODES,
    ForwardProxy,
    TaskInstanceStandIn,
    TlsFront,
    certificates,
    first_payload,
    run_sensor,
    use_connection,
)

PATHS = ["requests", "asyncio"]
MiB = 1024 * 1024
CAP = 4 * MiB


def read_job(path: str, job_id: str, conn_id: str = "sdrs_default", **hook_kwargs: Any):
    """Read a job on one transport, with a fresh hook."""
    hook = SdrsHook(conn_id, **{"retry_limit": 0, **hook_kwargs})
    if path == "requests":
        try:
            return hook.get_job(job_id)
        finally:
            hook.close()
    return asyncio.run(hook.aget_job(job_id))


def timed(path: str, job_id: str, **kwargs: Any) -> tuple[Any, float]:
    """``read_job``'s result (or the SdrsError it raised) and the seconds it took."""
    started = time.monotonic()
    try:
        outcome: Any = read_job(path, job_id, **kwargs)
    except SdrsError as error:
        outcome = error
    return outcome, time.monotonic() - started


def dead_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the worker's environment never changes a request -------------------------------------------------


@pytest.fixture
def hostile_environment(monkeypatch, tmp_path) -> str:
    """A worker with a ~/.netrc (and NETRC) for the simulator, proxies that lead nowhere and bogus CA files."""
    secret = "netrc-password-must-not-travel"
    netrc = tmp_path / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login netrc-user password {secret}\ndefault login any password {secret}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    proxy = f"http://127.0.0.1:{dead_port()}"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    bogus = tmp_path / "bogus-ca.pem"
    bogus.write_text("not a certificate\n")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(bogus))
    return secret


@pytest.mark.parametrize("auth", ["aksk", "password"])
@pytest.mark.parametrize("path", PATHS)
def test_netrc_proxy_and_ca_variables_change_nothing(path, auth, request, hostile_environment):
    connection = request.getfixturevalue("sdrs_connection" if auth == "aksk" else "sdrs_password_connection")
    sim = connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)

    job = read_job(path, job_id)

    assert job.status is SdrsJobStatus.SUCCESS
    records = sim.records
    assert records, "nothing reached the simulator: a proxy from the environment was used"
    assert all(record.peer.startswith("127.0.0.1:") for record in records)
    for record in records:
        authorization = record.headers.get("Authorization", "")
        assert "Basic" not in authorization, authorization
        assert hostile_environment not in json.dumps(dict(record.headers))
        if record.route == "job":
            if auth == "aksk":
                assert authorization.startswith("SDK-HMAC-SHA256 "), authorization
            else:
                assert record.headers.get("X-Auth-Token") and not authorization
    assert [record.status for record in records if record.route == "job"] == [200]


@pytest.mark.parametrize("path", PATHS)
def test_netrc_alone_does_not_replace_the_signature(path, sdrs_connection, monkeypatch, tmp_path):
    sim = sdrs_connection.simulator
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-secret-value\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))

    job = read_job(path, sim.add_job(init_seconds=0, run_seconds=0))

    assert job.status is SdrsJobStatus.SUCCESS
    assert sim.records[-1].headers["Authorization"].startswith("SDK-HMAC-SHA256 ")


# -- TLS: the connection's verify decides, not REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE -------


@pytest.fixture
def tls(sdrs_simulator, tmp_path) -> Iterator[tuple[TlsFront, Path]]:
    ca, cert, key = certificates(tmp_path)
    with TlsFront(sdrs_simulator.port, cert, key) as front:
        yield front, ca


@pytest.mark.parametrize("path", PATHS)
def test_a_pinned_ca_bundle_is_not_replaced_by_ca_variables(path, tls, sdrs_simulator, monkeypatch, tmp_path):
    front, ca = tls
    url = f"https://127.0.0.1:{front.port}"
    pinned = connection_for(url, credentials=sdrs_simulator.credentials, verify=str(ca))
    use_connection(monkeypatch, "sdrs_default", pinned)
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(bogus))

    job = read_job(path, sdrs_simulator.add_job(init_seconds=0, run_seconds=0))

    assert job.status is SdrsJobStatus.SUCCESS


_WORKER = """
import asyncio, sys
from airflow_provider_sdrs.exceptions import SdrsConnectionError
from airflow_provider_sdrs.hooks.sdrs import SdrsHook

hook = SdrsHook(retry_limit=0)
try:
    if sys.argv[1] == "requests":
        hook.get_job(sys.argv[2])
    else:
        asyncio.run(hook.aget_job(sys.argv[2]))
except SdrsConnectionError as error:
    print("refused:", error)
else:
    print("trusted")
"""


@pytest.mark.parametrize("path", PATHS)
def test_ca_variables_of_a_worker_do_not_widen_the_default_trust(path, tls, sdrs_simulator):
    """A worker started with REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE and SSL_CERT_FILE naming a private CA."""
    front, ca = tls
    url = f"https://127.0.0.1:{front.port}"
    env = dict(os.environ)
    env["AIRFLOW_CONN_SDRS_DEFAULT"] = json.dumps(connection_for(url, credentials=sdrs_simulator.credentials))
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        env[name] = str(ca)
    job_id = sdrs_simulator.add_job(init_seconds=0, run_seconds=0)

    worker = subprocess.run(
        [sys.executable, "-c", _WORKER, path, job_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert "refused:" in worker.stdout, worker.stdout + worker.stderr[-2000:]
    assert re.search(r"(?i)certificate|TLS|SSL", worker.stdout), worker.stdout


# -- plain http to a remote host is named ------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_plain_http_to_a_remote_host_warns_and_loopback_or_https_does_not(path, monkeypatch, capsys):
    def settings_of(connection: dict[str, Any]):
        use_connection(monkeypatch, "sdrs_default", connection)
        hook = SdrsHook()
        return hook._settings if path == "requests" else asyncio.run(hook._aget_settings())

    settings_of(connection_for("http://sdrs.example.com", "password", iam_endpoint="http://iam.example.com/v3"))
    out = capsys.readouterr().out
    assert "plain http" in out and "(host)" in out and "(extra.iam_endpoint)" in out

    settings_of(connection_for("http://127.0.0.1:8080", "password"))
    settings_of(connection_for("http://localhost:8080", "aksk"))
    settings_of(connection_for("https://sdrs.example.com", "password", iam_endpoint="https://iam.example.com/v3"))
    assert "plain http" not in capsys.readouterr().out


# -- no cookie jar ------------------------------------------------------------------------------------


def test_requests_keeps_no_cookie_from_an_answer(sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault("set_cookie", count=1)
    hook = SdrsHook(retry_limit=0)
    try:
        hook.get_job(job_id)
        hook.get_job(job_id)
    finally:
        hook.close()
    first, second = sim.records[-2:]
    assert first.status == 200 and second.status == 200
    assert "Cookie" not in second.headers


def test_the_asynchronous_path_sends_no_cookie_of_one_connection_with_another(sdrs_simulator, monkeypatch):
    # "localhost": a cookie jar may ignore cookies set by a bare IP address.
    url = f"http://localhost:{sdrs_simulator.port}"
    for conn_id in ("sdrs_a", "sdrs_b"):
        use_connection(monkeypatch, conn_id, connection_for(url, credentials=sdrs_simulator.credentials))
    job_id = sdrs_simulator.add_job(init_seconds=0, run_seconds=0)
    sdrs_simulator.add_fault("set_cookie", count=1)

    async def main() -> None:
        async with SdrsHook("sdrs_a", retry_limit=0) as first, SdrsHook("sdrs_b", retry_limit=0) as second:
            await first.aget_job(job_id)
            await second.aget_job(job_id)
            await first.aget_job(job_id)

    asyncio.run(main())
    records = sdrs_simulator.records[-3:]
    assert [record.status for record in records] == [200, 200, 200]
    assert not [record for record in records if "Cookie" in record.headers]


# -- bodies stop at the limit ---------------------------------------------------------------------------


def _measured(path: str, job_id: str, **kwargs: Any) -> tuple[Any, float, int]:
    tracemalloc.start()
    try:
        outcome, seconds = timed(path, job_id, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return outcome, seconds, peak


@pytest.mark.parametrize("kind", ["oversized", "gzip_bomb"])
@pytest.mark.parametrize("path", PATHS)
def test_a_huge_or_inflating_answer_stops_at_the_limit(path, kind, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    # 600 MB as sent, or a gzip body of about 1 MB that inflates to 1 GB; both streamed lazily.
    sim.add_fault(kind, count=-1, size=600 * MiB if kind == "oversized" else 1024 * MiB)

    outcome, seconds, peak = _measured(path, job_id, retry_limit=2)

    assert isinstance(outcome, SdrsApiError), outcome
    assert f"exceeded {CAP} bytes" in str(outcome) and "max_response_bytes" in str(outcome)
    assert outcome.status == 200
    # Reading stopped at the limit: memory near the limit, and no time to fetch hundreds of MB.
    assert peak < 4 * CAP, f"peak {peak / MiB:.1f} MiB"
    assert seconds < 10
    # Not retried: the same answer would come again.
    assert answered(sim, "job") == 1


def answered(sim: SdrsSimulator, route: str) -> int:
    """Requests of ``route`` the simulator has answered, once a streaming answer cut short is counted too."""
    end = time.monotonic() + 3
    while sim.counters[route] == 0 and time.monotonic() < end:
        time.sleep(0.02)
    time.sleep(0.1)
    return sim.counters[route]


@pytest.mark.parametrize("path", PATHS)
def test_max_response_bytes_is_taken_from_the_connection(path, sdrs_simulator, monkeypatch):
    use_connection(monkeypatch, "sdrs_default", sdrs_simulator.connection_dict(max_response_bytes=65536))
    job_id = sdrs_simulator.add_job(init_seconds=0, run_seconds=0)
    assert read_job(path, job_id).status is SdrsJobStatus.SUCCESS
    sdrs_simulator.add_fault("oversized", size=70_000)
    with pytest.raises(SdrsApiError, match="exceeded 65536 bytes"):
        read_job(path, job_id)

    use_connection(monkeypatch, "sdrs_default", sdrs_simulator.connection_dict(max_response_bytes=8 * MiB))
    sdrs_simulator.add_fault("gzip_bomb", size=6 * MiB)
    job = read_job(path, job_id)  # a big answer within a raised limit is read whole
    assert job.status is SdrsJobStatus.RUNNING


@pytest.mark.parametrize("path", PATHS)
def test_a_huge_error_page_is_clipped_before_it_is_parsed(path, sdrs_connection, monkeypatch):
    from airflow_provider_sdrs._core import exchange

    seen: list[int] = []
    real_api_error = exchange.api_error

    def spy(response, **kwargs):
        seen.append(len(response.body))
        return real_api_error(response, **kwargs)

    monkeypatch.setattr(exchange, "api_error", spy)
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault("oversized", size=100 * MiB, body_status=503, count=-1)

    outcome, seconds, peak = _measured(path, job_id, retry_limit=1, retry_delay=0.01)

    assert isinstance(outcome, SdrsApiError) and outcome.status == 503, outcome
    assert seen and max(seen) <= 64 * 1024, seen
    assert peak < 4 * CAP and seconds < 10


# -- a request ends within its timeout, however slowly the server sends -----------------------------------


@pytest.mark.parametrize("part", ["headers", "body"])
@pytest.mark.parametrize("path", PATHS)
def test_a_trickling_server_cannot_stretch_a_request_past_its_timeout(path, part, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    # One byte every 0.2 s: each read gets a byte well within the timeout, the whole takes ~20 s.
    sim.add_fault("trickle", part=part, delay=0.2, size=100, count=-1)

    outcome, seconds = timed(path, job_id, timeout=1.0)

    assert isinstance(outcome, SdrsConnectionError) and "timeout" in str(outcome), outcome
    assert seconds < 2.5, f"took {seconds:.1f} s with a 1 s timeout"


# -- a black-hole endpoint cannot starve waits on other endpoints -------------------------------------------


@pytest.fixture
def black_hole(monkeypatch) -> Iterator[SdrsSimulator]:
    with SdrsSimulator() as sim:
        sim.add_fault("black_hole", target="any", count=-1, delay=30)
        use_connection(monkeypatch, "sdrs_black", sim.connection_dict(timeout=30))
        yield sim


def test_a_black_hole_endpoint_does_not_starve_a_healthy_one(black_hole, sdrs_connection):
    from airflow_provider_sdrs.hooks._async import POOL_SIZE

    healthy_job = sdrs_connection.simulator.add_job(init_seconds=0, run_seconds=0)

    async def main() -> tuple[Any, float]:
        async with SdrsHook("sdrs_black", retry_limit=0) as stuck_hook:
            stuck = [asyncio.create_task(stuck_hook.aget_job(new_job_id())) for _ in range(POOL_SIZE + 16)]
            await asyncio.sleep(0.5)  # every connection to the black hole is taken
            started = time.monotonic()
            try:
                job = await SdrsHook(timeout=2, retry_limit=0).aget_job(healthy_job)
            except SdrsError as error:
                job = error
            seconds = time.monotonic() - started
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        return job, seconds

    job, seconds = asyncio.run(main())

    assert not isinstance(job, SdrsError), job
    assert job.status is SdrsJobStatus.SUCCESS
    assert seconds < 1.5


def test_waiting_for_a_free_connection_does_not_count_against_the_timeout(sdrs_connection):
    from airflow_provider_sdrs.hooks._async import POOL_SIZE

    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault("delay", delay=1.0, count=-1)

    async def main() -> list[Any]:
        async with SdrsHook(timeout=1.6, retry_limit=0) as hook:
            return await asyncio.gather(*(hook.aget_job(job_id) for _ in range(POOL_SIZE + 6)), return_exceptions=True)

    outcomes = asyncio.run(main())

    failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert not failed, failed[:3]
    assert sim.connections_seen <= POOL_SIZE


# -- the deadline bounds retries, Retry-After and token waits ------------------------------------------------


def _trigger_event(job_id: str, seconds: float, **kwargs: Any) -> tuple[dict[str, Any], float]:
    trigger = SdrsJobTrigger(job_id, poll_interval=0.05, end_time=time.time() + seconds, **kwargs)
    started = time.monotonic()
    payload = asyncio.run(asyncio.wait_for(first_payload(trigger), 15))
    return payload, time.monotonic() - started


def test_the_trigger_deadline_cuts_a_long_retry_after(sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.add_fault("throttle", retry_after="10", count=-1)

    payload, seconds = _trigger_event(job_id, 2)

    assert payload["status"] == "timeout", payload
    assert seconds < 3.2


@pytest.mark.parametrize("outage", ["status", "black_hole"])
def test_the_trigger_deadline_bounds_an_iam_outage(outage, sdrs_password_connection):
    sim = sdrs_password_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.add_fault(outage, target="iam", count=-1, delay=30)

    payload, seconds = _trigger_event(job_id, 2)

    assert payload["status"] in ("timeout", "error"), payload
    assert seconds < 3.2


def test_the_deadline_bounds_the_wait_for_a_token_another_wait_is_fetching(sdrs_password_connection):
    sim = sdrs_password_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.add_fault("black_hole", target="iam", count=-1, delay=30)

    async def main() -> tuple[dict[str, Any], float]:
        patient = asyncio.create_task(
            first_payload(SdrsJobTrigger(job_id, poll_interval=0.05, end_time=time.time() + 60))
        )
        await asyncio.sleep(0.3)  # it holds the token lock, waiting on IAM
        started = time.monotonic()
        quick = SdrsJobTrigger(job_id, poll_interval=0.05, end_time=time.time() + 2)
        payload = await asyncio.wait_for(first_payload(quick), 15)
        seconds = time.monotonic() - started
        patient.cancel()
        await asyncio.gather(patient, return_exceptions=True)
        return payload, seconds

    payload, seconds = asyncio.run(main())

    assert payload["status"] == "timeout", payload
    assert seconds < 3.2


@pytest.mark.parametrize("path", PATHS)
def test_a_hook_call_with_a_deadline_ends_by_it(path, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.add_fault("throttle", retry_after="10", count=-1)
    hook = SdrsHook(retry_limit=4)
    deadline = time.time() + 1.5
    started = time.monotonic()
    with pytest.raises(SdrsApiError) as raised:
        if path == "requests":
            hook.get_job(job_id, deadline=deadline)
        else:
            asyncio.run(hook.aget_job(job_id, deadline=deadline))
    assert time.monotonic() - started < 2.5
    assert raised.value.status == 429 and "deadline passed" in str(raised.value)


@pytest.mark.parametrize("mode", MODES)
def test_every_sensor_mode_ends_near_its_timeout_despite_a_long_retry_after(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    sim.add_fault("throttle", retry_after="10", count=-1)
    started = time.monotonic()
    # A failed poll or a timeout (never a success): the point is that it ends in time.
    with pytest.raises((SdrsError, AirflowSensorTimeout)):
        run_sensor(mode, job_id, timeout=2.0, poll_retry_limit=4)
    assert time.monotonic() - started < 6.0


def test_an_operator_waiting_in_the_worker_ends_near_its_timeout_despite_a_long_retry_after(sdrs_connection):
    from airflow_provider_sdrs.exceptions import SdrsWaitTimeout
    from airflow_provider_sdrs.operators.sdrs import SdrsFailoverOperator

    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected")
    sim.resources.durations = (0.1, 30.0)
    sim.add_fault("throttle", target="job", retry_after="10", count=-1)
    operator = SdrsFailoverOperator(
        task_id="failover", server_group_id=group_id, poll_interval=0.05, timeout=2.0, poll_retry_delay=0.01
    )

    started = time.monotonic()
    with pytest.raises(SdrsWaitTimeout):
        operator.execute({"ti": TaskInstanceStandIn()})
    assert time.monotonic() - started < 4.0


@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferrable"])
@pytest.mark.parametrize("throttled", ["group read", "first job read"])
def test_an_operator_s_timeout_bounds_its_own_reads_too(sdrs_connection, deferrable, throttled):
    from airflow_provider_sdrs.exceptions import SdrsError
    from airflow_provider_sdrs.operators.sdrs import SdrsStartProtectionOperator

    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="available")
    sim.resources.durations = (0.1, 30.0)
    # "api" throttles every read from the first one (the group's); "job" lets the group be read and the
    # operation be submitted, and throttles the reads of its job.
    sim.add_fault("throttle", target="job" if throttled == "first job read" else "api", retry_after="10", count=-1)
    operator = SdrsStartProtectionOperator(
        task_id="start", server_group_id=group_id, poll_interval=0.05, timeout=2.0, deferrable=deferrable
    )

    started = time.monotonic()
    try:
        operator.execute({"ti": TaskInstanceStandIn()})
    except TaskDeferred as deferred:
        # Handed over with what is left of the task's one deadline, not a fresh timeout.
        assert deferred.trigger.end_time - time.time() < 2.0
    except SdrsError:
        pass
    assert time.monotonic() - started < 3.5


# -- a proxy without a scheme is a configuration error on both paths ------------------------------------------


@pytest.mark.parametrize("path", [*PATHS, "trigger"])
def test_a_proxy_without_a_scheme_names_extra_proxy(path, sdrs_simulator, monkeypatch):
    use_connection(monkeypatch, "sdrs_default", sdrs_simulator.connection_dict(proxy=f"127.0.0.1:{dead_port()}"))
    job_id = sdrs_simulator.add_job(init_seconds=0, run_seconds=0)
    if path == "trigger":
        payload, _ = _trigger_event(job_id, 10)
        assert payload["status"] == "error" and "extra.proxy" in payload["message"], payload
        return
    with pytest.raises(SdrsConfigError) as raised:
        read_job(path, job_id)
    assert raised.value.field == "extra.proxy"


# -- a proxy from the connection carries every request, tunnelled to https and forwarded to http -------------

PROXY_USER, PROXY_PASSWORD = "proxy-user", "proxy-p@ss-must-not-leak"
PROXY_AUTHORIZATION = "Basic " + base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("auth", ["aksk", "password"])
def test_the_connection_s_proxy_carries_every_request(path, scheme, auth, tls, sdrs_simulator, monkeypatch):
    front, ca = tls
    url = f"https://127.0.0.1:{front.port}" if scheme == "https" else sdrs_simulator.url
    with ForwardProxy(require_authorization=PROXY_AUTHORIZATION) as proxy:
        proxy_url = f"http://{PROXY_USER}:{quote(PROXY_PASSWORD, safe='')}@127.0.0.1:{proxy.port}"
        connection = connection_for(url, auth, credentials=sdrs_simulator.credentials, verify=str(ca), proxy=proxy_url)
        use_connection(monkeypatch, "sdrs_default", connection)
        job = read_job(path, sdrs_simulator.add_job(init_seconds=0, run_seconds=0))
    assert job.status is SdrsJobStatus.SUCCESS
    lines = [line for line, _ in proxy.requests]
    if scheme == "https":
        # A tunnel to the endpoint: the proxy sees where, never what.
        assert lines and all(line.startswith(f"CONNECT 127.0.0.1:{front.port} HTTP/1.") for line in lines), lines
    else:
        assert any(line.startswith(f"GET {url}/v1/") for line in lines), lines
        if auth == "password":
            assert any(line.startswith(f"POST {url}/v3/auth/tokens") for line in lines), lines
    assert all(authorization == PROXY_AUTHORIZATION for _, authorization in proxy.requests)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_proxy_that_refuses_fails_the_read_without_its_password(path, scheme, tls, sdrs_simulator, monkeypatch):
    front, ca = tls
    url = f"https://127.0.0.1:{front.port}" if scheme == "https" else sdrs_simulator.url
    with ForwardProxy(require_authorization="Basic c29tZW9uZS1lbHNl") as proxy:
        proxy_url = f"http://{PROXY_USER}:{quote(PROXY_PASSWORD, safe='')}@127.0.0.1:{proxy.port}"
        connection = connection_for(url, credentials=sdrs_simulator.credentials, verify=str(ca), proxy=proxy_url)
        use_connection(monkeypatch, "sdrs_default", connection)
        outcome, _ = timed(path, sdrs_simulator.add_job(init_seconds=0, run_seconds=0))
    # Refused in the tunnel's set-up (https) or as the proxy's own HTTP answer (http).
    assert isinstance(outcome, SdrsConnectionError if scheme == "https" else SdrsApiError), repr(outcome)
    assert scheme == "https" or outcome.status == 407
    assert PROXY_PASSWORD not in str(outcome) and quote(PROXY_PASSWORD, safe="") not in str(outcome)
    assert proxy.requests and not [record for record in sdrs_simulator.records if record.route == "job"]


# -- the simulator's control API reaches the new faults ----------------------------------------------------


def test_the_transport_faults_can_be_set_through_the_control_api(sdrs_simulator):
    import urllib.error
    import urllib.request

    def add(fault: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{sdrs_simulator.url}/_sim/faults", data=json.dumps(fault).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    created = [
        add({"kind": "oversized", "size": 70_000, "body_status": 503, "count": 0}),
        add({"kind": "gzip_bomb", "size": 10 * MiB, "count": 0}),
        add({"kind": "trickle", "part": "headers", "delay": 0.1, "count": 0}),
        add({"kind": "black_hole", "delay": 5, "count": 0}),
        add({"kind": "set_cookie", "cookie": "a=b", "count": 1}),
    ]
    assert [fault["kind"] for fault in created] == ["oversized", "gzip_bomb", "trickle", "black_hole", "set_cookie"]
    assert created[0]["body_status"] == 503 and created[2]["part"] == "headers" and created[4]["cookie"] == "a=b"
    with pytest.raises(urllib.error.HTTPError) as refused:  # no credentials: 401, with the cookie
        urllib.request.urlopen(f"{sdrs_simulator.url}/v1/x/jobs/y", timeout=10)
    assert refused.value.code == 401 and refused.value.headers["Set-Cookie"] == "a=b"
