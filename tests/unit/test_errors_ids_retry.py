from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_sdrs._core.errors import api_error, is_retryable, parse_error_body
from airflow_provider_sdrs._core.http import HttpResponse
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs._core.retry import RetryPolicy, parse_retry_after
from airflow_provider_sdrs._core.text import scrub
from airflow_provider_sdrs.exceptions import (
    SdrsApiError,
    SdrsAuthError,
    SdrsJobNotFoundError,
    SdrsPreconditionError,
    SdrsResourceNotFoundError,
    SdrsValidationError,
)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"error": {"code": "SDRS.1902", "message": "drill not found"}}, "SDRS.1902", "drill not found"),
        ({"badrequest": {"code": "SDRS.0209", "message": "incorrect status"}}, "SDRS.0209", "incorrect status"),
        ({"itemNotFound": {"code": "SDRS.1013", "message": "no group"}}, "SDRS.1013", "no group"),
        ({"error_code": "APIGW.0308", "error_msg": "throttled", "request_id": "r1"}, "APIGW.0308", "throttled"),
        ({"code": "SDRS.0013", "message": "internal"}, "SDRS.0013", "internal"),
        ({"error": {"code": 401, "message": "bad password", "title": "Unauthorized"}}, "401", "bad password"),
    ],
)
def test_error_bodies_in_every_documented_shape(body, code, message):
    parsed = parse_error_body(json.dumps(body).encode())
    assert (parsed.code, parsed.message) == (code, message)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "502 Bad Gateway"),
        (b"upstream timed out", "upstream timed out"),
        (b"", "HTTP 502"),
        (b"\xff\xfe garbage", "garbage"),
        (b'{"unexpected": true}', "HTTP 502"),
    ],
)
def test_non_json_error_bodies_become_readable_messages(raw, expected):
    assert expected in parse_error_body(raw, fallback="HTTP 502").message


def test_mapping_to_exceptions():
    null_job_404 = b'{"error":{"code":"SDRS.0408","message":"Null job"}}'
    not_found = api_error(HttpResponse(404, {}, null_job_404), operation="get job j1", job_id="j1")
    null_job = api_error(
        HttpResponse(500, {}, b'{"error":{"code":"SDRS.0408","message":"Null job"}}'), operation="x", job_id="j1"
    )
    auth = api_error(
        HttpResponse(401, {"x-request-id": "rq"}, b'{"error_code":"APIGW.0301","error_msg":"bad sig"}'), operation="x"
    )
    busy = api_error(HttpResponse(503, {}, b""), operation="x")
    bad = api_error(
        HttpResponse(400, {}, b'{"error":{"code":"SDRS.0209","message":"incorrect status"}}'), operation="x"
    )
    assert isinstance(not_found, SdrsJobNotFoundError) and "j1" in str(not_found)
    assert isinstance(null_job, SdrsJobNotFoundError) and not is_retryable(null_job)
    assert isinstance(auth, SdrsAuthError) and auth.request_id == "rq" and "APIGW.0301" in str(auth)
    assert is_retryable(busy) and not is_retryable(bad) and not is_retryable(auth)
    assert isinstance(bad, SdrsPreconditionError) and bad.code == "SDRS.0209"
    generic = api_error(
        HttpResponse(400, {}, b'{"error":{"code":"SDRS.0005","message":"bad parameter"}}'), operation="x"
    )
    assert type(generic) is SdrsApiError
    gone = api_error(
        HttpResponse(400, {}, b'{"itemNotFound":{"code":"SDRS.1902","message":"no drill"}}'), operation="x"
    )
    assert isinstance(gone, SdrsResourceNotFoundError) and not is_retryable(gone)


HOSTILE = [
    "",
    " ",
    "a/b",
    "..",
    "../x",
    "%2F",
    "a%2Fb",
    "a?b",
    "a#b",
    "a b",
    "ab\n",
    "ÿ",
    "灾备",
    "x" * 65,
    "x" * 10_000,
]


@pytest.mark.parametrize("value", [*HOSTILE, None, 5, b"abc"])
def test_hostile_ids_are_refused(value):
    with pytest.raises(SdrsValidationError) as info:
        validate_id(value, "job_id")
    assert str(info.value).startswith("job_id ")
    assert len(str(info.value)) < 200


@pytest.mark.parametrize(
    "value", ["0000000062db92d70162db9d200f000a", "a59d008e-4bad-4bf3-9b17-6cc25e7da483", "x" * 64]
)
def test_real_ids_pass(value):
    assert validate_id(value, "job_id") == value


def test_retry_after_in_seconds_and_as_http_date():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    assert parse_retry_after("-5") == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("nan") is None


def test_backoff_grows_is_capped_and_honours_retry_after():
    policy = RetryPolicy(retry_limit=6, retry_delay=1.0, max_delay=8.0, max_retry_after=20.0)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (6, 8)]:
        delays = [policy.backoff(attempt) for _ in range(200)]
        assert ceiling / 2 <= min(delays) and max(delays) <= ceiling
    assert policy.backoff(1, retry_after=15) == 15
    assert policy.backoff(1, retry_after=600) == 20
    assert policy.max_attempts == 7


@pytest.mark.parametrize("limit", [-1, 1.5, True])
def test_retry_limit_must_be_a_whole_number(limit):
    with pytest.raises(ValueError, match="retry_limit"):
        RetryPolicy(retry_limit=limit)


def test_scrub_removes_secrets_and_url_credentials():
    text = "proxy http://bob:hunter22@proxy:3128 said SECRETKEY123 was wrong"
    assert scrub(text, ("SECRETKEY123",)) == "proxy http://***@proxy:3128 said *** was wrong"
