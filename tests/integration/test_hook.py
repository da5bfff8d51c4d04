"""SdrsHook against the simulator over HTTP, on both the blocking and the asyncio path."""

from __future__ import annotations

import asyncio
import gc
import json
import time
import warnings

import pytest

from airflow_provider_sdrs.exceptions import (
    SdrsApiError,
    SdrsAuthError,
    SdrsConfigError,
    SdrsConnectionError,
    SdrsJobNotFoundError,
    SdrsValidationError,
)
from airflow_provider_sdrs.hooks.sdrs import SdrsHook
from airflow_provider_sdrs.models import SdrsJobStatus

FAST = {"retry_delay": 0.01}


def get_job(path: str, job_id: str, **hook_kwargs):
    """Read a job on the blocking path or the asyncio path."""
    hook = SdrsHook(**{**FAST, **hook_kwargs})
    if path == "sync":
        return hook.get_job(job_id)

    async def read():
        async with hook:
            return await hook.aget_job(job_id)

    return asyncio.run(read())


paths = pytest.mark.parametrize("path", ["sync", "async"])
auths = pytest.mark.parametrize("auth", ["aksk", "password"])


@pytest.fixture
def connect(monkeypatch, sdrs_simulator):
    def _connect(auth="aksk", **extra):
        monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", sdrs_simulator.connection_json(auth, **extra))
        return sdrs_simulator

    return _connect


@paths
@auths
def test_reads_a_job_through_its_lifecycle(path, auth, connect):
    sim = connect(auth)
    job_id = sim.add_job(init_seconds=0.3, run_seconds=0.3, sub_jobs=2, clock_from_first_poll=True)
    seen = [get_job(path, job_id).status]
    while not seen[-1].is_terminal:
        time.sleep(0.1)
        seen.append(get_job(path, job_id).status)
    assert seen[0] is SdrsJobStatus.INIT
    assert SdrsJobStatus.RUNNING in seen and seen[-1] is SdrsJobStatus.SUCCESS
    job = get_job(path, job_id)
    assert len(job.sub_jobs) == 2 and job.end_time is not None and job.duration is not None


@paths
def test_a_failed_job_carries_code_reason_and_failed_sub_job(path, connect):
    sim = connect()
    job_id = sim.add_job(
        outcome="FAIL",
        init_seconds=0,
        run_seconds=0,
        sub_jobs=2,
        error_code="SDRS.1830",
        fail_reason="replication still synchronising",
    )
    job = get_job(path, job_id)
    assert job.status is SdrsJobStatus.FAIL
    assert job.error_code == "SDRS.1830" and len(job.failed_sub_jobs) == 1


@paths
@pytest.mark.parametrize("unknown_status", [500, 404])
def test_unknown_job_is_not_found_and_not_retried(path, unknown_status, connect):
    sim = connect()
    sim.unknown_job_status = unknown_status
    with pytest.raises(SdrsJobNotFoundError) as info:
        get_job(path, "00000000000000000000000000000000")
    assert "00000000000000000000000000000000" in str(info.value)
    assert sim.counters["job"] == 1


@paths
@pytest.mark.parametrize(
    ("fault", "options"),
    [
        ("status", {"status": 500}),
        ("status", {"status": 502}),
        ("status", {"status": 503}),
        ("status", {"status": 504}),
        ("throttle", {"retry_after": "0"}),
        ("throttle", {}),
        ("reset", {}),
        ("html", {"status": 502}),
        ("malformed", {}),
        ("empty", {}),
    ],
)
def test_transient_faults_below_the_retry_budget_are_absorbed(path, fault, options, connect):
    sim = connect()
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault(fault, count=2, **options)
    assert get_job(path, job_id, retry_limit=2).status is SdrsJobStatus.SUCCESS
    assert sim.counters["job"] == 3


@paths
@pytest.mark.parametrize(
    ("fault", "options", "error", "text"),
    [
        ("status", {"status": 503}, SdrsApiError, "HTTP 503"),
        ("throttle", {"retry_after": "0"}, SdrsApiError, "HTTP 429"),
        ("reset", {}, SdrsConnectionError, "reset error"),
        ("malformed", {}, SdrsApiError, "not a JSON object"),
    ],
)
def test_transient_faults_above_the_budget_become_a_clear_poll_error(path, fault, options, error, text, connect):
    sim = connect()
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault(fault, count=-1, **options)
    with pytest.raises(error) as info:
        get_job(path, job_id, retry_limit=2)
    message = str(info.value)
    assert text in message and job_id in message and "after 3 attempts" in message
    assert not isinstance(info.value, SdrsJobNotFoundError)
    if fault == "reset" and path == "async":
        # A GET is sent once more, on a fresh connection, when a pooled keep-alive connection turns out dead.
        assert 3 <= sim.counters["job"] <= 6
    else:
        assert sim.counters["job"] == 3


@paths
def test_retry_after_is_honoured(path, connect):
    sim = connect()
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault("throttle", count=1, retry_after="1")
    started = time.monotonic()
    get_job(path, job_id)
    assert time.monotonic() - started >= 0.95


@paths
def test_other_client_errors_are_not_retried(path, connect):
    sim = connect()
    job_id = sim.add_job()
    sim.add_fault("status", status=400, code="SDRS.0209", count=-1)
    with pytest.raises(SdrsApiError, match=r"SDRS\.0209"):
        get_job(path, job_id)
    assert sim.counters["job"] == 1


@paths
def test_a_wrong_secret_key_is_an_auth_error_without_retries(path, connect, monkeypatch):
    sim = connect()
    conn = sim.connection_dict("aksk")
    conn["password"] = "not-the-secret-key"
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(conn))
    with pytest.raises(SdrsAuthError) as info:
        get_job(path, sim.add_job())
    assert "verify aksk signature fail" in str(info.value)
    assert "not-the-secret-key" not in str(info.value)
    assert sim.counters["job:401"] == 1


@paths
def test_a_skewed_clock_is_reported_as_such(path, connect):
    sim = connect()
    sim.clock_offset = 20 * 60
    with pytest.raises(SdrsAuthError, match=r"15 minutes"):
        get_job(path, sim.add_job())


@paths
def test_security_token_is_sent_and_signed(path, connect, monkeypatch):
    from dataclasses import replace

    sim = connect()
    sim.credentials = replace(sim.credentials, security_token="temporary-security-token-1")
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", sim.connection_json("aksk"))
    get_job(path, sim.add_job())
    record = sim.records[-1]
    assert record.headers["X-Security-Token"] == "temporary-security-token-1"
    assert "x-security-token" in record.headers["Authorization"]


@paths
def test_iam_token_is_cached_across_hooks_and_refreshed_once_on_401(path, connect):
    sim = connect("password")
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    for _ in range(3):
        get_job(path, job_id)
    assert sim.counters["token_requests"] == 1
    sim.revoke_tokens()
    assert get_job(path, job_id).status is SdrsJobStatus.SUCCESS
    assert sim.counters["token_requests"] == 2
    assert sim.counters["job:401"] == 1


@paths
def test_a_token_refused_twice_is_an_auth_error(path, connect):
    sim = connect("password")
    job_id = sim.add_job()
    sim.add_fault("revoke_tokens", target="job", count=-1)
    with pytest.raises(SdrsAuthError):
        get_job(path, job_id)
    assert sim.counters["token_requests"] == 2


@paths
def test_token_about_to_expire_is_renewed_before_use(path, connect):
    sim = connect("password")
    sim.token_ttl = 1.0
    job_id = sim.add_job()
    get_job(path, job_id)
    time.sleep(1.0)
    get_job(path, job_id)
    assert sim.counters["token_requests"] == 2
    assert sim.counters["job:401"] == 0


@paths
def test_wrong_iam_password_is_an_auth_error(path, connect, monkeypatch):
    sim = connect("password")
    conn = sim.connection_dict("password")
    conn["password"] = "wrong-password-1"
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(conn))
    with pytest.raises(SdrsAuthError, match=r"IAM refused") as info:
        get_job(path, sim.add_job())
    assert "wrong-password-1" not in str(info.value)
    assert sim.counters["job"] == 0


@paths
def test_iam_outage_within_the_budget_is_ridden_out(path, connect):
    sim = connect("password")
    sim.add_fault("status", target="iam", status=503, count=2)
    assert get_job(path, sim.add_job(init_seconds=0, run_seconds=0)).status is SdrsJobStatus.SUCCESS


@paths
@pytest.mark.parametrize("job_id", ["../jobs/x", "a/b", "%2F", "a?b", "x" * 100, "", None, "灾备"])
def test_bad_ids_are_refused_before_any_request(path, job_id, connect):
    sim = connect()
    with pytest.raises(SdrsValidationError, match="job_id"):
        get_job(path, job_id)
    assert sim.records == []


@paths
def test_an_unreachable_endpoint_is_a_connection_error(path, monkeypatch, sdrs_simulator):
    conn = sdrs_simulator.connection_dict("aksk")
    conn["host"] = "http://127.0.0.1:9"
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(conn))
    with pytest.raises(SdrsConnectionError, match="connect error"):
        get_job(path, "0000000062db92d70162db9d200f000a", retry_limit=1)


def test_a_bad_connection_fails_before_any_request(monkeypatch, sdrs_simulator):
    conn = sdrs_simulator.connection_dict("aksk", region="Mars Base")
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(conn))
    with pytest.raises(SdrsConfigError, match=r"extra\.region"):
        SdrsHook().get_job("0000000062db92d70162db9d200f000a")
    assert sdrs_simulator.records == []


def test_user_agent_names_the_provider(connect):
    sim = connect()
    get_job("sync", sim.add_job())
    assert sim.records[-1].headers["User-Agent"].startswith("airflow-provider-sdrs/")


@auths
def test_connection_test_tells_the_truth(auth, connect, monkeypatch):
    sim = connect(auth)
    ok, message = SdrsHook().test_connection()
    assert ok, message
    assert sim.url in message
    conn = sim.connection_dict(auth)
    conn["password"] = "wrong-secret-xyz"
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(conn))
    ok, message = SdrsHook().test_connection()
    assert not ok and "wrong-secret-xyz" not in message
    assert ("HTTP 401" in message) or ("IAM refused" in message)


def test_one_pool_serves_many_hooks_and_closes_cleanly(connect):
    from airflow_provider_sdrs.hooks._async import POOLS

    sim = connect()
    job_ids = [sim.add_job(init_seconds=0, run_seconds=0) for _ in range(20)]

    async def main():
        hooks = [SdrsHook(**FAST) for _ in job_ids]
        for hook in hooks:
            await hook.__aenter__()
        assert POOLS.open_pools() == 1
        jobs = await asyncio.gather(*(hook.aget_job(j) for hook, j in zip(hooks, job_ids, strict=True)))
        for hook in hooks:
            await hook.__aexit__(None, None, None)
        assert POOLS.open_pools() == 0
        return jobs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jobs = asyncio.run(main())
        gc.collect()
    assert all(job.status is SdrsJobStatus.SUCCESS for job in jobs)
    assert not [w for w in caught if "Unclosed" in str(w.message)]
    assert sim.connections_seen <= 20


def test_concurrent_waits_share_one_token_request(connect):
    sim = connect("password")
    job_id = sim.add_job(init_seconds=0, run_seconds=0)

    async def main():
        async def one():
            async with SdrsHook(**FAST) as hook:
                return await hook.aget_job(job_id)

        return await asyncio.gather(*(one() for _ in range(200)))

    jobs = asyncio.run(main())
    assert len(jobs) == 200
    assert sim.counters["token_requests"] == 1


def test_hooks_with_different_timeouts_share_a_pool_but_keep_their_timeout(connect):
    sim = connect()
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault("delay", delay=0.6, count=-1)

    async def main():
        async with SdrsHook(retry_limit=0, timeout=5) as patient, SdrsHook(retry_limit=0, timeout=0.2) as hasty:
            assert (await patient.aget_job(job_id)).status is SdrsJobStatus.SUCCESS
            with pytest.raises(SdrsConnectionError, match="timeout"):
                await hasty.aget_job(job_id)

    asyncio.run(main())


def test_simulator_reset_restores_its_settings(sdrs_simulator):
    from dataclasses import replace

    original = sdrs_simulator.credentials
    sdrs_simulator.credentials = replace(original, security_token="x-token")
    sdrs_simulator.token_ttl = 1.0
    sdrs_simulator.reset()
    assert sdrs_simulator.credentials == original and sdrs_simulator.token_ttl == 24 * 3600.0


def test_many_async_hooks_look_the_connection_up_once(connect, monkeypatch):
    import airflow.providers.common.compat.connection as compat

    sim = connect()
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    lookups: list[str] = []
    original = compat.get_async_connection

    async def counting(conn_id, hook=None):
        lookups.append(conn_id)
        return await original(conn_id, hook)

    monkeypatch.setattr(compat, "get_async_connection", counting)

    async def main():
        async def one():
            async with SdrsHook(**FAST) as hook:
                return await hook.aget_job(job_id)

        return await asyncio.gather(*(one() for _ in range(50)))

    assert len(asyncio.run(main())) == 50
    assert lookups == ["sdrs_default"]


def test_cached_connection_expires(connect, monkeypatch):
    from airflow_provider_sdrs.hooks.sdrs import ASYNC_SETTINGS

    sim = connect()
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    assert get_job("async", job_id).status is SdrsJobStatus.SUCCESS
    conn = sim.connection_dict("aksk")
    conn["password"] = "rotated-away-secret"
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(conn))
    assert get_job("async", job_id).status is SdrsJobStatus.SUCCESS  # still the cached settings
    monkeypatch.setattr(ASYNC_SETTINGS, "ttl", 0.0)
    with pytest.raises(SdrsAuthError):
        get_job("async", job_id)


def test_every_read_has_an_asynchronous_twin_that_answers_the_same(sdrs_connection):
    from airflow_provider_sdrs.exceptions import SdrsResourceNotFoundError

    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected", name="erp")
    other_group = sim.add_group(status="available", name="crm")
    drill_id = sim.add_drill(group_id, name="weekly")
    sim.add_drill(other_group, name="weekly")
    hook = SdrsHook(retry_delay=0.01)
    blocking = [
        hook.get_protection_group(group_id),
        hook.list_protection_groups(name="erp"),
        hook.list_protection_groups(),
        hook.get_drill(drill_id),
        hook.list_drills(group_id),
        hook.list_drills(),
    ]

    async def asynchronous():
        async with SdrsHook(retry_delay=0.01) as twin:
            return [
                await twin.aget_protection_group(group_id),
                await twin.alist_protection_groups(name="erp"),
                await twin.alist_protection_groups(),
                await twin.aget_drill(drill_id),
                await twin.alist_drills(group_id),
                await twin.alist_drills(),
            ]

    assert asyncio.run(asynchronous()) == blocking
    assert blocking[0]["id"] == group_id and [g["id"] for g in blocking[1]] == [group_id]
    assert len(blocking[2]) == 2 and [d["id"] for d in blocking[4]] == [drill_id] and len(blocking[5]) == 2

    async def missing():
        return await SdrsHook(retry_delay=0.01).aget_drill("0000000062db92d70162db9d200f000a")

    with pytest.raises(SdrsResourceNotFoundError):
        asyncio.run(missing())
