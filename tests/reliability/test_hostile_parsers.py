"""A hostile server's documents end in a valid, bounded model or an SdrsError, on both paths and in every mode.

Non-finite numbers, deep nesting, out-of-range times, control characters, megabytes of text, 100,000
sub-jobs, error pages that echo the request (and with it the credentials), and an IAM whose clock is
behind the client's. Everything runs against the simulator over HTTP.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_sdrs.exceptions import SdrsApiError, SdrsAuthError, SdrsError, SdrsJobFailedError
from airflow_provider_sdrs.hooks.sdrs import SdrsHook
from airflow_provider_sdrs.models import MAX_REASON, SdrsJob, SdrsJobStatus
from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger
from tests.support import MODES, first_event, run_sensor

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

FAST = {"retry_delay": 0.01}
paths = pytest.mark.parametrize("path", ["sync", "async"])
# Characters that forge log lines or repaint a terminal.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# What a forged log line starts with (the simulator's control_chars fault).
FORGED_PREFIX = "[2026-01-01T00:00:00.000+0000]"


def read_job(path: str, job_id: str, **hook_kwargs: Any) -> SdrsJob:
    hook = SdrsHook(**{**FAST, **hook_kwargs})
    if path == "sync":
        return hook.get_job(job_id)

    async def read() -> SdrsJob:
        async with hook:
            return await hook.aget_job(job_id)

    return asyncio.run(read())


def trigger_event(job_id: str, **kwargs: Any) -> dict[str, Any]:
    options = {"poll_interval": 0.02, "poll_retry_limit": 0, "poll_retry_delay": 0.01, "max_poll_failures": 2}
    trigger = SdrsJobTrigger(job_id=job_id, end_time=time.time() + 20, **{**options, **kwargs})
    return asyncio.run(first_event(trigger)).payload


def strict(value: Any) -> str:
    """The strict JSON Airflow stores for XCom, events and the trigger table."""
    return json.dumps(value, allow_nan=False)


def assert_one_clean_line(text: str, limit: int = 10_000) -> None:
    assert not CONTROL.search(text), repr(text[:200])
    assert len(text) <= limit, len(text)


# -- 4: NaN, Infinity and 1e999 never reach XCom, events or the trigger table ------------------------------

NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999"]


@paths
@pytest.mark.parametrize("number", NUMBERS)
def test_a_non_finite_number_is_a_bad_answer(path, number, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault("non_finite", number=number, job_id=job_id, count=-1)
    with pytest.raises(SdrsApiError, match="non-finite number") as info:
        read_job(path, job_id, retry_limit=1)
    assert job_id in str(info.value)
    # One bad answer is one failed attempt: the next good one is read.
    sim.clear_faults()
    sim.add_fault("non_finite", number=number, job_id=job_id, count=1)
    job = read_job(path, job_id)
    assert job.status is SdrsJobStatus.SUCCESS
    strict(job.to_dict())


@pytest.mark.parametrize("mode", MODES)
def test_a_non_finite_number_never_reaches_xcom(mode, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    # The answers that say the job ended carry a NaN: the hook reads again rather than pass it on.
    sim.add_fault("non_finite", number="NaN", job_id=job_id, count=2)
    result = run_sensor(mode, job_id)
    assert result["status"] == "SUCCESS"
    strict(result)


def test_a_trigger_fed_only_non_finite_numbers_fires_a_strict_json_error_event(sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(outcome="FAIL", init_seconds=0, run_seconds=0)
    sim.add_fault("non_finite", number="Infinity", job_id=job_id, count=-1)
    payload = trigger_event(job_id)
    assert payload["status"] == "error" and "non-finite" in payload["message"]
    strict(payload)


# -- 15: any answer gives a model or an SdrsError, never a crash -------------------------------------------


@paths
def test_deep_nesting_is_a_bad_answer_not_a_recursion_error(path, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault("deep", depth=100_000, job_id=job_id, count=-1)
    with pytest.raises(SdrsApiError, match="nested too deeply"):
        read_job(path, job_id, retry_limit=0)


@paths
def test_moderate_nesting_is_kept_bounded(path, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault("deep", depth=500, job_id=job_id, count=-1)
    job = read_job(path, job_id)
    text = strict(job.to_dict())
    assert text.count("[") < 20
    assert SdrsJob.from_api(json.loads(text)) == job


TIMES = ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00", "1" * 5000]


@paths
@pytest.mark.parametrize("moment", TIMES, ids=["year 1 east", "year 9999 west", "digits"])
def test_out_of_range_times_read_as_unknown(path, moment, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault("reshape", add={"begin_time": moment, "end_time": moment}, job_id=job_id, count=-1)
    job = read_job(path, job_id)
    assert job.status is SdrsJobStatus.SUCCESS and job.begin_time is None and job.end_time is None
    assert SdrsJob.from_api(json.loads(strict(job.to_dict()))) == job


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", ["deep", "out-of-range time"])
def test_every_mode_survives_an_unreadable_answer(mode, fault, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0.2, clock_from_first_poll=True)
    if fault == "deep":
        sim.add_fault("deep", job_id=job_id, count=2)
    else:
        sim.add_fault("reshape", add={"begin_time": "0001-01-01T00:00:00+08:00"}, job_id=job_id, count=-1)
    result = run_sensor(mode, job_id)
    assert result["status"] == "SUCCESS"
    strict(result)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("deep", {}),
        ("non_finite", {"number": "1e999"}),
        ("reshape", {"add": {"end_time": "0001-01-01T00:00:00+08:00", "status": "FAIL", "fail_reason": ["x"] * 9}}),
        (
            "reshape",
            {
                "add": {
                    "entities": {"sub_jobs": [[[[[]]]], 7, {"status": {"a": 1}, "end_time": "0001-01-01T00:00+08:00"}]}
                }
            },
        ),
    ],
    ids=["deep", "1e999", "bad times and types", "odd sub-jobs"],
)
def test_the_trigger_always_fires_a_strict_json_event(kind, options, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    sim.add_fault(kind, job_id=job_id, count=-1, **options)
    payload = trigger_event(job_id)
    assert payload["status"] in ("success", "failed", "error")
    assert len(strict(payload)) < 20_000


# -- 8: control characters and megabytes of text are escaped and clipped ---------------------------------


@paths
def test_control_characters_and_a_megabyte_of_fail_reason_are_escaped_and_clipped(path, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(outcome="FAIL", init_seconds=0, run_seconds=0)
    sim.add_fault("control_chars", text_size=1_000_000, job_id=job_id, count=-1)
    job = read_job(path, job_id)
    for text in (job.job_type, job.error_code, job.fail_reason, job.sub_jobs[0].job_id, job.sub_jobs[0].job_type):
        assert text is not None
        assert_one_clean_line(text, MAX_REASON)
    assert "forged line" in (job.fail_reason or "")  # escaped, not dropped
    message = str(SdrsJobFailedError(job))
    assert_one_clean_line(message)
    assert len(strict(job.to_dict())) < 20_000
    assert SdrsJob.from_api(job.to_dict()) == job


@pytest.mark.parametrize("mode", MODES)
def test_no_mode_forges_log_lines_or_raises_megabytes(mode, sdrs_connection, capsys):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(outcome="FAIL", init_seconds=0, run_seconds=0.1, clock_from_first_poll=True)
    sim.add_fault("control_chars", text_size=1_000_000, job_id=job_id, count=-1)
    with pytest.raises(SdrsJobFailedError) as info:
        run_sensor(mode, job_id)
    assert_one_clean_line(str(info.value))
    out = capsys.readouterr()
    logged = out.out + out.err
    assert "forged line" in logged  # the text was logged, on its own line
    assert "\x1b" not in logged and "\x00" not in logged
    assert not [line for line in logged.splitlines() if line.lstrip("\r").startswith(FORGED_PREFIX)]
    assert len(logged) < 100_000


@paths
def test_an_error_page_with_control_characters_gives_a_one_line_error(path, sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job()
    sim.add_fault("echo", status=400, code="WAF\r\n\x1b[31m", job_id=job_id, count=-1)
    with pytest.raises(SdrsApiError) as info:
        read_job(path, job_id)
    assert_one_clean_line(str(info.value))
    assert "Request blocked" in str(info.value)


# -- 14: a huge document is summarised, cheaply --------------------------------------------------------------


def test_a_job_with_100000_sub_jobs_does_not_stall_the_event_loop(sdrs_connection, capsys):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(outcome="FAIL", init_seconds=0, run_seconds=0)
    # 100,000 sub-jobs in under 4 MiB: the most a capped body can hold.
    sim.add_fault("huge_sub_jobs", sub_jobs=100_000, job_id=job_id, count=-1)
    lags: list[float] = []

    async def probe(stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    async def main() -> Any:
        trigger = SdrsJobTrigger(job_id=job_id, poll_interval=0.05, poll_retry_delay=0.01)
        stop = asyncio.Event()
        task = asyncio.create_task(probe(stop))
        await asyncio.sleep(0.05)
        try:
            return await first_event(trigger)
        finally:
            stop.set()
            await task

    payload = asyncio.run(main()).payload
    # About 100 ms on an idle machine; the bound is generous for a shared one.
    assert max(lags) < 0.6, f"the event loop was blocked for {max(lags):.3f} s"
    assert payload["status"] == "failed"
    assert len(strict(payload)) < 20_000
    job = SdrsJob.from_api(payload["job"])
    assert job.sub_job_total == 100_000 and job.sub_job_counts == {"SUCCESS": 99_999, "FAIL": 1}
    assert "1869f" in payload["message"]  # the failed sub-job, the last of 100,000, is named
    logged = capsys.readouterr().out
    assert logged.count("sub-job") < 30 and len(logged) < 50_000


@pytest.mark.parametrize("mode", MODES)
def test_a_job_with_many_sub_jobs_gives_a_summary_in_every_mode(mode, sdrs_connection, capsys):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0.1, clock_from_first_poll=True)
    sim.add_fault("huge_sub_jobs", sub_jobs=20_000, job_id=job_id, count=-1)
    result = run_sensor(mode, job_id)
    assert result["status"] == "SUCCESS" and len(strict(result)) < 20_000
    assert result["sub_job_counts"] == {"SUCCESS": 20_000}
    assert SdrsJob.from_api(result).sub_job_total == 20_000
    logged = capsys.readouterr().out
    assert logged.count("sub-job") < 30


# -- 7: secrets echoed by a server are scrubbed from every message -----------------------------------------

# Distinctive, and with the characters that JSON, URLs and HTML escape, so every echoed form is tried.
SECRET_KEY = 'SKparse"rs\\7f3a/9c+1e'
PASSWORD = 'PWparse"rs\\2b8d/4f+6a é'
SECURITY_TOKEN = "STparsers9e1c3a5b7d0f"


def forms(secret: str) -> list[str]:
    return [secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=True)[1:-1], quote(secret, safe="")]


def leaked(text: str, values: list[str]) -> list[str]:
    return [form[:8] for value in values for form in [*forms(value), quote_plus(value)] if form in text]


@pytest.fixture
def hostile_sim(sdrs_simulator, monkeypatch):
    from airflow_provider_sdrs._core.text import forget_secrets

    sdrs_simulator.credentials = dataclasses.replace(
        sdrs_simulator.credentials, secret_key=SECRET_KEY, password=PASSWORD, security_token=SECURITY_TOKEN
    )
    # Only what this test's hook does may teach the scrubber a secret.
    forget_secrets()

    def use(auth: str) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", sdrs_simulator.connection_json(auth))

    sdrs_simulator.use = use
    yield sdrs_simulator
    forget_secrets()


def secrets_of(sim) -> list[str]:
    return [SECRET_KEY, PASSWORD, SECURITY_TOKEN, *sim.tokens]


@paths
@pytest.mark.parametrize("auth", ["aksk", "password"])
def test_an_echoing_error_page_leaks_no_secret_into_the_exception(path, auth, hostile_sim):
    sim = hostile_sim
    sim.use(auth)
    job_id = sim.add_job()
    sim.add_fault("echo", status=400, job_id=job_id, count=-1)
    with pytest.raises(SdrsApiError) as info:
        read_job(path, job_id)
    message = str(info.value)
    assert "Request blocked" in message and "***" in message, message
    assert sim.records[-1].route == "job"
    assert not leaked(message + repr(info.value.args), secrets_of(sim))


@paths
def test_an_iam_that_echoes_the_token_request_leaks_no_password(path, hostile_sim):
    sim = hostile_sim
    sim.use("password")
    job_id = sim.add_job()
    sim.add_fault("echo", status=400, target="iam", count=-1)
    with pytest.raises(SdrsAuthError, match="IAM refused") as info:
        read_job(path, job_id)
    message = str(info.value)
    assert '"auth"' in message and '"password": "***"' in message  # the body was echoed, scrubbed
    assert not leaked(message, [PASSWORD])


@pytest.mark.parametrize("auth", ["aksk", "password"])
def test_a_trigger_error_event_leaks_no_echoed_secret(auth, hostile_sim):
    sim = hostile_sim
    sim.use(auth)
    job_id = sim.add_job()
    sim.add_fault("echo", status=400, job_id=job_id, count=-1)
    payload = trigger_event(job_id, max_poll_failures=1)
    assert payload["status"] == "error" and "Request blocked" in payload["message"]
    assert not leaked(strict(payload), secrets_of(sim))


@pytest.mark.parametrize(("auth", "target"), [("aksk", "api"), ("password", "api"), ("password", "iam")])
def test_the_test_button_leaks_no_echoed_secret(auth, target, hostile_sim):
    sim = hostile_sim
    sim.use(auth)
    sim.add_fault("echo", status=403, target=target, count=-1)
    ok, message = SdrsHook(**FAST).test_connection()
    assert not ok and "Request blocked" in message
    assert not leaked(message, secrets_of(sim))
    assert_one_clean_line(message)


def test_proxy_credentials_are_scrubbed_in_every_form():
    import base64

    from airflow_provider_sdrs._core.text import scrub

    proxy = "http://proxyuser:PX%2Fsecret%40pw@127.0.0.1:3128"
    basic = base64.b64encode(b"proxyuser:PX/secret@pw").decode()
    text = f"refused {proxy} auth=PX/secret@pw enc=PX%2Fsecret%40pw basic={basic} json=PX\\/secret@pw"
    cleaned = scrub(text, (proxy,))
    for form in ("PX/secret@pw", "PX%2Fsecret%40pw", basic, "PX\\/secret@pw", "PX%2fsecret%40pw".upper()):
        assert form not in cleaned, form
    assert "refused http://***@127.0.0.1:3128" in cleaned


# -- 19: a client clock ahead of IAM's does not turn every read into a token request ----------------------


@paths
def test_a_client_clock_ahead_of_iams_costs_a_couple_of_token_requests(path, sdrs_password_connection, capsys):
    sim = sdrs_password_connection.simulator
    sim.token_ttl = 600.0
    sim.clock_offset = -3600.0  # IAM's clock an hour behind: every token looks expired on arrival
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    hook = SdrsHook(**FAST)
    if path == "sync":
        for _ in range(200):
            hook.get_job(job_id)
    else:

        async def reads() -> None:
            async with hook:
                for _ in range(200):
                    await hook.aget_job(job_id)

        asyncio.run(reads())
    assert sim.counters["token_requests"] <= 2
    assert sim.counters["job:200"] == 200
    assert "clock skew" in capsys.readouterr().out.lower()


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_token_iam_says_expires_at_once_costs_one_token_request_a_minute(path, sdrs_password_connection, capsys):
    sim = sdrs_password_connection.simulator
    # A confused IAM: its tokens say they expire 10 ms after they were issued, and the gateway takes them.
    lifetime = {"issued_at": "2026-01-01T00:00:00.000Z", "expires_at": "2026-01-01T00:00:00.010Z"}
    token = {**lifetime, "project": {"id": sim.credentials.project_id}}
    sim.add_fault("reshape", target="iam", count=-1, add={"token": token})
    job_id = sim.add_job(init_seconds=0, run_seconds=0)
    hook = SdrsHook(**FAST)
    if path == "sync":
        for _ in range(30):
            hook.get_job(job_id)
    else:

        async def reads() -> None:
            async with hook:
                for _ in range(30):
                    await hook.aget_job(job_id)

        asyncio.run(reads())
    assert sim.counters["token_requests"] == 1
    assert sim.counters["job:200"] == 30
    assert "expires 0.010 s after it was issued" in capsys.readouterr().out


def test_an_iam_token_lifetime_comes_from_iams_own_times():
    from airflow_provider_sdrs._core.http import HttpResponse
    from airflow_provider_sdrs._core.tokens import MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME, parse_token

    password_settings = _password_settings()

    def token(body: dict[str, Any]) -> Any:
        response = HttpResponse(201, {"x-subject-token": "MIItoken-value"}, json.dumps(body).encode())
        return parse_token(response, password_settings)

    now = time.time()
    behind = token({"token": {"issued_at": "2001-01-01T00:00:00Z", "expires_at": "2001-01-01T10:00:00Z"}})
    assert behind.expires_at - behind.issued_at == pytest.approx(10 * 3600) and behind.usable()
    nonsense = token({"token": {"issued_at": "2001-01-01T10:00:00Z", "expires_at": "2001-01-01T00:00:00Z"}})
    assert nonsense.expires_at - nonsense.issued_at == MIN_TOKEN_LIFETIME
    far = token({"token": {"issued_at": "2001-01-01T00:00:00Z", "expires_at": "9999-01-01T00:00:00Z"}})
    assert far.expires_at - far.issued_at == MAX_TOKEN_LIFETIME
    for odd in ({"token": {"expires_at": "0001-01-01T00:00:00+08:00"}}, {"token": {"expires_at": ["x"]}}, {}):
        assert token(odd).expires_at > now


# -- the hook's other reads: shape checked, copies bounded -----------------------------------------------------


@pytest.mark.parametrize(
    ("read", "key", "bad"),
    [
        ("list_drills", "disaster_recovery_drills", {"disaster_recovery_drills": "none"}),
        ("list_protection_groups", "server_groups", {}),
    ],
)
def test_a_list_of_the_wrong_shape_is_a_bad_answer_not_an_empty_list(read, key, bad, sdrs_connection):
    sim = sdrs_connection.simulator
    sim.add_group(name="erp")
    sim.add_fault("reshape", target="api", drop=(key,), add=bad, count=-1)
    with pytest.raises(SdrsApiError, match=key):
        getattr(SdrsHook(**FAST), read)()


def test_a_group_document_is_a_bounded_strict_json_copy(sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(name="erp")
    hostile = {"name": "erp\r\nINFO - forged line\x1b[2J", "description": "d" * 100_000, "tags": [[[[[[[[[[1]]]]]]]]]]}
    sim.add_fault("reshape", target="api", add={"server_group": {"id": group_id, "status": "protected", **hostile}})
    group = SdrsHook(**FAST).get_protection_group(group_id)
    assert group["status"] == "protected"
    assert_one_clean_line(group["name"])
    assert len(strict(group)) < 10_000
    sim.add_fault("reshape", target="api", add={"server_group": {"id": group_id, "progress": 1e308, "n": 10**400}})
    strict(SdrsHook(**FAST).get_protection_group(group_id))


def test_the_helpers_run_no_regex_over_a_whole_megabyte():
    from airflow_provider_sdrs._core.text import clean, safe

    huge = "\x1b[31m" * 500_000
    started = time.perf_counter()
    for _ in range(50):
        assert len(clean(huge, 1000)) <= 1000 and len(safe(huge, 1000, ("secret-value",))) <= 1000
    assert time.perf_counter() - started < 2.0


# -- any bytes: a model or an SdrsError, for every parser (property-based) ----------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and Infinity included: json.dumps writes them, as a careless server would
    | st.text(max_size=30)
    | st.sampled_from([*TIMES, "SUCCESS", "FAIL", "RUNNING", "2019-04-01T12:00:00.000Z", "\r\n\x1b[2J"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "job_id",
                    "status",
                    "entities",
                    "sub_jobs",
                    "fail_reason",
                    "token",
                    "expires_at",
                    "issued_at",
                    "project",
                    "id",
                    "error",
                    "code",
                    "message",
                    "server_group",
                    "name",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def hostile_bytes() -> st.SearchStrategy[bytes]:
    encoded = JSON_VALUES.map(lambda value: json.dumps(value).encode())
    nested = st.integers(1, 50_000).map(lambda depth: b'{"entities": {"x": ' + b"[" * depth + b"]" * depth + b"}}")
    big_int = st.integers(10, 6000).map(lambda digits: b'{"job_id": ' + b"7" * digits + b', "status": "FAIL"}')
    return st.binary(max_size=200) | encoded | nested | big_int


def assert_clean_job(job: SdrsJob) -> None:
    for text in (job.job_id, job.job_type, job.raw_status, job.error_code, job.fail_reason):
        if text is not None:
            assert_one_clean_line(text, MAX_REASON)
    data = job.to_dict()
    strict(data)
    assert SdrsJob.from_api(json.loads(strict(data))) == job
    assert_one_clean_line(job.describe_status())
    assert_one_clean_line(job.failure_summary())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_bytes())
def test_any_bytes_become_a_job_or_an_sdrs_error(body):
    from airflow_provider_sdrs._core import reads
    from airflow_provider_sdrs._core.body import decode_json
    from airflow_provider_sdrs._core.http import HttpResponse

    try:
        job = reads.job("abc").result(decode_json(HttpResponse(200, {}, body), "get job abc"))
    except SdrsError as error:
        assert_one_clean_line(str(error))
        return
    assert_clean_job(job)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_bytes(), st.integers(400, 599))
def test_any_error_body_becomes_a_clean_sdrs_api_error(body, status):
    from airflow_provider_sdrs._core.errors import api_error
    from airflow_provider_sdrs._core.http import HttpResponse

    error = api_error(HttpResponse(status, {"x-request-id": "id\r\n"}, body), operation="get job abc", job_id="abc")
    assert isinstance(error, SdrsApiError)
    assert_one_clean_line(str(error), 3000)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_bytes(), st.sampled_from([None, "MIItoken", "bad\r\ntoken", "x" * 70_000]))
def test_any_token_answer_becomes_a_token_or_an_sdrs_error(body, header):
    import math

    from airflow_provider_sdrs._core.http import HttpResponse
    from airflow_provider_sdrs._core.tokens import parse_token

    settings_ = _password_settings()
    headers = {"x-subject-token": header} if header else {}
    try:
        token = parse_token(HttpResponse(201, headers, body), settings_)
    except SdrsError as error:
        assert_one_clean_line(str(error))
        return
    assert math.isfinite(token.expires_at) and token.expires_at > token.issued_at
    assert token.project_id is None or re.fullmatch(r"[A-Za-z0-9._-]+", token.project_id)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_bytes(), st.sampled_from(["server_group", "disaster_recovery_drill", "server_groups"]))
def test_any_group_or_drill_answer_becomes_a_strict_json_copy_or_an_sdrs_error(body, key):
    from airflow_provider_sdrs._core import reads
    from airflow_provider_sdrs._core.body import decode_json
    from airflow_provider_sdrs._core.http import HttpResponse

    read = {
        "server_group": reads.resource(reads.GROUP, "0123abcd"),
        "disaster_recovery_drill": reads.resource(reads.DRILL, "0123abcd"),
        "server_groups": reads.groups(),
    }[key]
    try:
        answer = decode_json(HttpResponse(200, {}, body), f"read {key}")
        wrapped = {key: answer.get(key, answer)}
        copy = read.result(wrapped)
        strict(copy)
    except SdrsError as error:
        assert_one_clean_line(str(error))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000), st.integers(40, 2000))
def test_clean_is_one_line_bounded_and_idempotent(text, limit):
    from airflow_provider_sdrs._core.text import clean

    once = clean(text, limit)
    assert_one_clean_line(once, limit)
    assert clean(once, limit) == once


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=["Nd", "Cs"]), min_size=4, max_size=40),
    st.text(alphabet="0123456789 ", max_size=200),
    st.text(alphabet="0123456789 ", max_size=200),
)
def test_safe_leaves_no_form_of_a_secret(secret, before, after):
    from airflow_provider_sdrs._core.text import clean, safe

    for form in forms(secret):
        out = safe(before + form + after, 5000, (secret,))
        assert form not in out and clean(form, 5000) not in out, (form, out)


def _password_settings() -> Any:
    from airflow_provider_sdrs._core.settings import SdrsSettings
    from airflow_provider_sdrs.testing.simulator import connection_for

    conn = connection_for("http://127.0.0.1:9", "password")
    fields = {**conn, "conn_id": "c", "extra": json.dumps(conn["extra"]), "port": None, "schema": None}
    return SdrsSettings.from_connection(type("Conn", (), fields)())


# -- operators, waiting in a worker or in the triggerer ----------------------------------------------------


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferrable"])
@pytest.mark.parametrize("kind", ["huge_sub_jobs", "control_chars", "non_finite"])
def test_an_operator_returns_strict_bounded_json_whatever_the_job_document(kind, deferrable, sdrs_connection):
    from airflow_provider_sdrs.operators.sdrs import SdrsFailoverOperator

    sim = sdrs_connection.simulator
    # The job has ended by the first read, so the hostile answer is the one that decides the task.
    sim.resources.durations = (0.0, 0.0)
    group_id = sim.add_group(status="protected", name="erp")
    options = {"huge_sub_jobs": {"sub_jobs": 50_000}, "control_chars": {}, "non_finite": {"count": 2}}[kind]
    sim.add_fault(kind, target="job", **{"count": -1, **options})
    operator = SdrsFailoverOperator(
        task_id="failover", server_group_id=group_id, poll_interval=0.05, poll_retry_delay=0.01, deferrable=deferrable
    )
    pushed: dict[str, Any] = {}
    context: Any = {"ti": type("TI", (), {"xcom_push": lambda self, key, value: pushed.__setitem__(key, value)})()}
    try:
        try:
            result = operator.execute(context)
        except TaskDeferred as deferred:
            payload = asyncio.run(first_event(deferred.trigger)).payload
            assert len(strict(payload)) < 20_000
            result = operator.execute_complete(context, event=payload)
    except SdrsJobFailedError as failed:
        # control_chars answers with a failed sub-job; the task fails with a clean, bounded message.
        assert kind == "control_chars"
        assert_one_clean_line(str(failed))
        return
    assert len(strict(result)) < 20_000 and len(strict(pushed)) < 20_000


def test_the_largest_hostile_tree_a_capped_body_can_hold_gives_a_bounded_job():
    def job(index: int, children: list[dict[str, Any]]) -> dict[str, Any]:
        entities: dict[str, Any] = {f"key{n}": "v" * 1000 for n in range(10)}
        entities["sub_jobs"] = children
        reason = "r" * 8_000
        return {"job_id": f"{index:x}", "status": "FAIL", "fail_reason": reason, "entities": entities}

    tree = job(0, [job(i, [job(i * 100 + j, []) for j in range(8)]) for i in range(1, 26)])
    body = json.dumps(tree).encode()
    assert 3_500_000 < len(body) < 4 * 1024 * 1024
    started = time.perf_counter()
    parsed = SdrsJob.from_api(json.loads(body))
    assert time.perf_counter() - started < 1.0
    text = strict(parsed.to_dict())
    assert len(text) < 200_000, len(text)
    assert SdrsJob.from_api(json.loads(text)) == parsed
    assert parsed.sub_job_total == 25 and len(str(SdrsJobFailedError(parsed))) < 10_000
