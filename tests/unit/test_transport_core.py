"""The transport rules written once in ``_core``: body limits, deadlines, proxy and plain-http checks."""

from __future__ import annotations

import gzip
import logging
import time
import zlib

import pytest

from airflow_provider_sdrs._core import reads
from airflow_provider_sdrs._core.body import (
    DEFAULT_MAX_RESPONSE_BYTES,
    ERROR_BODY_LIMIT,
    BodyCorrupt,
    BodyReader,
    BodyTooLarge,
    body_limit,
)
from airflow_provider_sdrs._core.deadline import Deadline, as_deadline, deadline_passed, read_deadline
from airflow_provider_sdrs._core.exchange import api_exchange, iam_exchange
from airflow_provider_sdrs._core.http import HttpResponse
from airflow_provider_sdrs._core.retry import RetryPolicy
from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs._core.steps import NeedToken, Send, Sleep
from airflow_provider_sdrs.exceptions import SdrsApiError, SdrsConfigError, SdrsConnectionError

PROJECT = "0123456789abcdef0123456789abcdef"
JOB = "0123456789abcdef0123456789abcdef"


def QuietLog() -> logging.Logger:
    return logging.getLogger("sdrs-transport-core-tests")


def settings(host: str = "https://sdrs.example.com", **extra) -> SdrsSettings:
    extra.setdefault("project_id", PROJECT)
    return SdrsSettings.from_fields(conn_id="c", host=host, port=None, login="AK", password="SK-secret", extra=extra)


def feed(reader: BodyReader, data: bytes, step: int = 1000) -> bytes:
    for start in range(0, len(data), step):
        reader.feed(data[start : start + step])
        if reader.done:
            break
    return reader.finish()


# -- body limits ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "identity", "gzip", "x-gzip", "deflate", "raw-deflate"])
def test_bodies_within_the_limit_are_decoded_whole(encoding):
    plain = b'{"job_id": "x", "padding": "' + b"a" * 50_000 + b'"}'
    if encoding in ("gzip", "x-gzip"):
        data = gzip.compress(plain)
    elif encoding == "deflate":
        data = zlib.compress(plain)
    elif encoding == "raw-deflate":
        squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        data, encoding = squeeze.compress(plain) + squeeze.flush(), "deflate"
    else:
        data = plain
    assert feed(BodyReader(len(plain), encoding), data) == plain


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_one_byte_past_the_limit_is_refused_and_inflation_stops_there(encoding):
    plain = b"a" * 100_001
    data = gzip.compress(plain) if encoding else plain
    with pytest.raises(BodyTooLarge, match="exceeded 100000 bytes"):
        feed(BodyReader(100_000, encoding), data)


def test_a_gzip_bomb_is_refused_without_inflating_it():
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)  # ~200 KB
    reader = BodyReader(1024 * 1024, "gzip")
    with pytest.raises(BodyTooLarge):
        reader.feed(bomb)  # one chunk that would inflate to 200 MB
    assert len(reader._parts) <= 1024 * 1024


def test_an_error_body_is_clipped_not_refused():
    reader = BodyReader(10, None, clip=True)
    reader.feed(b"0123456789abcdef")
    assert reader.done and reader.finish() == b"0123456789"


def test_broken_or_unasked_compression_is_corrupt():
    with pytest.raises(BodyCorrupt):
        feed(BodyReader(1000, "gzip"), b"this is not gzip at all")
    with pytest.raises(BodyCorrupt, match="ended early"):
        feed(BodyReader(100_000, "gzip"), gzip.compress(b"a" * 10_000)[:-20])
    with pytest.raises(BodyCorrupt, match="'br'"):
        BodyReader(1000, "br")


def test_an_empty_compressed_body_is_empty():
    assert BodyReader(1000, "gzip").finish() == b""


def test_successes_are_refused_past_the_cap_and_errors_clipped_to_a_prefix():
    assert body_limit(200, DEFAULT_MAX_RESPONSE_BYTES) == (DEFAULT_MAX_RESPONSE_BYTES, False)
    assert body_limit(503, DEFAULT_MAX_RESPONSE_BYTES) == (ERROR_BODY_LIMIT, True)
    assert body_limit(404, 1000) == (1000, True)


def test_max_response_bytes_defaults_to_4_mib_and_is_validated():
    assert settings().max_response_bytes == 4 * 1024 * 1024
    assert settings(max_response_bytes="1048576").max_response_bytes == 1048576
    for bad in (0, -1, 100, 2**40, "lots", 1.5, True):
        with pytest.raises(SdrsConfigError) as raised:
            settings(max_response_bytes=bad)
        assert raised.value.field == "extra.max_response_bytes"


# -- proxy and plain http ------------------------------------------------------------------------------------


def test_a_proxy_needs_its_scheme_and_is_normalised_once():
    assert settings(proxy="HTTP://user:pw@proxy.example.com:3128/").proxy == "http://user:pw@proxy.example.com:3128"
    for bad in ("proxy.example.com:3128", "socks5://proxy:1080", "http://proxy:99999", "http://proxy:3128/path"):
        with pytest.raises(SdrsConfigError) as raised:
            settings(proxy=bad)
        assert raised.value.field == "extra.proxy"
        assert "pw" not in str(raised.value)


def test_plain_http_is_named_unless_on_loopback():
    assert settings("http://sdrs.example.com").cleartext_endpoints == ["host"]
    assert settings("http://127.0.0.1:8080").cleartext_endpoints == []
    assert settings("http://[::1]:8080").cleartext_endpoints == []
    assert settings("http://localhost").cleartext_endpoints == []
    assert settings("https://sdrs.example.com").cleartext_endpoints == []
    password = SdrsSettings.from_fields(
        conn_id="c",
        host="https://sdrs.example.com",
        port=None,
        login="user",
        password="pw",
        extra={"auth_type": "password", "domain_name": "d", "iam_endpoint": "http://iam.example.com/v3"},
    )
    assert password.cleartext_endpoints == ["extra.iam_endpoint"]
    # AK/SK never sends anything to IAM.
    assert settings(iam_endpoint="http://iam.example.com/v3").cleartext_endpoints == []


# -- deadlines ---------------------------------------------------------------------------------------------


def test_deadline_arithmetic():
    assert as_deadline(None).remaining() is None and as_deadline(None).clip(30) == 30
    soon = as_deadline(time.time() + 5)
    assert 4 < soon.clip(30) <= 5 and soon.clip(1) == 1 and not soon.passed
    past = Deadline(time.time() - 1)
    assert past.passed and past.clip(30) == 0 and past.remaining() == 0
    assert isinstance(deadline_passed("get job x"), SdrsConnectionError)
    assert "deadline passed" in str(deadline_passed("get job x"))


def throttled() -> HttpResponse:
    body = b'{"error_code": "APIGW.0308", "error_msg": "throttled"}'
    return HttpResponse(429, {"retry-after": "10"}, body)


def test_a_retry_after_sleep_is_cut_at_the_deadline_and_no_attempt_follows():
    deadline = Deadline(time.time() + 2)
    exchange = api_exchange(settings(), reads.job(JOB).call, RetryPolicy(retry_limit=4), QuietLog(), deadline)
    assert isinstance(next(exchange), Send)
    sleep = exchange.send(throttled())
    assert isinstance(sleep, Sleep) and sleep.seconds <= 2
    time.sleep(sleep.seconds)
    with pytest.raises(SdrsApiError) as raised:
        exchange.send(None)
    assert raised.value.status == 429 and "deadline passed" in str(raised.value)


def test_no_attempt_starts_after_the_deadline():
    exchange = api_exchange(settings(), reads.job(JOB).call, RetryPolicy(), QuietLog(), Deadline(time.time() - 1))
    with pytest.raises(SdrsConnectionError, match="deadline passed"):
        next(exchange)
    iam = settings(auth_type="password", domain_name="d", project_id=None)
    with pytest.raises(SdrsConnectionError, match="deadline passed"):
        next(iam_exchange(iam, RetryPolicy(), QuietLog(), Deadline(time.time() - 1)))


def test_a_password_exchange_asks_for_a_token_first():
    iam = settings(auth_type="password", domain_name="d")
    assert isinstance(next(api_exchange(iam, reads.job(JOB).call, RetryPolicy(), QuietLog())), NeedToken)


def test_a_refused_body_is_a_final_api_error_naming_the_limit():
    exchange = api_exchange(settings(), reads.job(JOB).call, RetryPolicy(retry_limit=4), QuietLog())
    next(exchange)
    with pytest.raises(SdrsApiError) as raised:
        exchange.send(HttpResponse(200, {}, b"", refused="the answer exceeded 4194304 bytes"))
    assert "exceeded 4194304 bytes" in str(raised.value) and "max_response_bytes" in str(raised.value)


def test_a_read_at_or_past_the_end_of_a_wait_still_gets_a_moment():
    now = time.time()
    assert read_deadline(None) is None
    assert read_deadline(now + 5) == now + 5
    assert now + 0.9 < read_deadline(now - 1) <= time.time() + 1
    assert now + 29 < read_deadline(now + 0.01, 30) <= time.time() + 30
