"""Hostile answers that cost time or leak secrets in the shared core, whichever transport read them.

Both drivers hand every error response to ``api_error`` and every success body to ``decode_json`` and the
models, so these run on the core directly. The time bounds are generous (several times what the code needs
on a loaded machine) and far below what a quadratic or per-value Python step costs.
"""

from __future__ import annotations

import json
import secrets as random
import time
from collections.abc import Iterator

import pytest

from airflow_provider_sdrs._core import text
from airflow_provider_sdrs._core.answers import job_from_answer
from airflow_provider_sdrs._core.body import decode_json, load_json
from airflow_provider_sdrs._core.errors import api_error, parse_error_body
from airflow_provider_sdrs._core.http import HttpResponse
from airflow_provider_sdrs.exceptions import SdrsApiError
from airflow_provider_sdrs.models import SdrsJob, SdrsJobStatus

JOB = "0000000062db92d70162db9d200f000a"
CAP = 4 * 1024 * 1024


@pytest.fixture(autouse=True)
def _no_remembered_secrets() -> Iterator[None]:
    text.forget_secrets()
    yield
    text.forget_secrets()


def _timed(call, *args):
    start = time.perf_counter()
    result = call(*args)
    return result, time.perf_counter() - start


# -- an error page cannot freeze the loop ----------------------------------------------------------------


@pytest.mark.parametrize("page", [b"<" * 65536, b"<a" * 32768, b"< " * 32768])
def test_an_error_page_of_brackets_is_read_in_milliseconds(page):
    parsed, took = _timed(parse_error_body, page)
    assert took < 0.1, f"{took * 1000:.0f} ms for one 64 KB error page"
    assert len(parsed.message) <= 500
    tagged = b"<html><body><h1>502 Bad <b>Gateway</b></h1></body></html>"
    assert parse_error_body(tagged).message == "502 Bad Gateway"


# -- secrets in the request id, the error code and the job's fields ----------------------------------------


@pytest.mark.parametrize("where", ["header", "body request_id", "code", "error_code"])
@pytest.mark.parametrize("known", ["remembered", "given"])
def test_a_secret_in_the_request_id_or_the_code_is_scrubbed(where, known):
    secret = "probe-secret-key-XYZ"
    error: dict[str, object] = {"code": "SDRS.0001", "message": "boom"}
    headers = {}
    body: dict[str, object] = {"error": error}
    if where == "header":
        headers["x-request-id"] = secret
    elif where == "body request_id":
        body["request_id"] = secret
    elif where == "code":
        error["code"] = secret
    else:
        body = {"error_code": secret, "error_msg": "boom"}
    if known == "remembered":
        text.remember_secret(secret)
    response = HttpResponse(500, headers, json.dumps(body).encode())
    failure = api_error(response, operation="get job abc", secrets=(secret,) if known == "given" else ())
    assert secret not in str(failure)
    assert secret not in f"{failure.code} {failure.request_id}"


def test_the_exception_scrubs_its_code_and_request_id_itself():
    text.remember_secret("SECTOKEN-" + "q" * 40)
    failure = SdrsApiError(status=503, code="SECTOKEN-" + "q" * 40, message="x", request_id="SECTOKEN-" + "q" * 40)
    assert "qqqq" not in str(failure)


def test_every_job_field_is_scrubbed():
    secret = "probe-secret-key-XYZ-1234567890"
    text.remember_secret(secret)
    document = {
        "job_id": JOB,
        "status": "FAIL",
        "job_type": f"echo {secret}",
        "error_code": secret,
        "fail_reason": f"reason {secret}",
        "entities": {"note": f"x{secret}y", secret: 1, "sub_jobs": [{"job_id": secret, "status": "FAIL"}]},
    }
    job = SdrsJob.from_api(document, job_id=JOB)
    assert secret not in json.dumps(job.to_dict())
    assert secret not in job.failure_summary()


# -- echoed secrets in other forms -------------------------------------------------------------------------


@pytest.mark.parametrize("width", [64, 76])
@pytest.mark.parametrize("fold", ["\n ", "\r\n\t", "\\n ", " "])
def test_a_security_token_folded_across_lines_leaks_no_piece(width, fold):
    token = "ST" + random.token_urlsafe(900)
    text.remember_secret(token)
    line = f"X-Security-Token: {token}"
    page = "Request blocked by WAF. Headers:\n" + fold.join(line[i : i + width] for i in range(0, len(line), width))
    failure = api_error(HttpResponse(403, {}, page.encode()), operation="get job abc")
    shown = str(failure).replace(" ", "")
    pieces = [token[i : i + 20] for i in range(0, len(token) - 20, 10)]
    assert not [piece for piece in pieces if piece in shown], shown[:400]
    # Blind to case, and ordinary text is left alone.
    assert text.scrub(f"İ WAF: {token.upper()}!") == "İ WAF: ***!"
    assert text.scrub("no secret here, İstanbul") == "no secret here, İstanbul"


def test_a_clipped_or_broken_long_secret_leaks_no_stretch():
    token = "MII" + random.token_urlsafe(4500)
    text.remember_secret(token)
    # ":" is no token character, so the text around each stretch cannot pass for more of the token.
    page = f"start: {token[1000:1300]} :mid: {token[2000:2040]}<br>{token[2040:2400]} :end: {token[-200:]}"
    shown = text.safe(page, 5000)
    assert shown == "start: *** :mid: ***<br>*** :end: ***"
    assert not [i for i in range(0, len(token) - 40, 20) if token[i : i + 40] in shown]


@pytest.mark.parametrize("password", ['pa"ss\\word-XYZ-123', "pa<ss>&word-XYZ-123"])
def test_a_password_escaped_twice_is_scrubbed(password):
    request = json.dumps({"auth": {"identity": {"password": {"user": {"name": "u", "password": password}}}}})
    pages = [
        "<html><body><h1>400</h1><pre>request=" + json.dumps(request) + "</pre></body></html>",
        json.dumps({"error": {"code": "X", "message": "request=" + json.dumps(request)}}),
        "<pre>" + json.dumps(request).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;") + "</pre>",
    ]
    for page in pages:
        failure = api_error(HttpResponse(400, {}, page.encode()), operation="IAM token", secrets=(password,))
        assert "word-XYZ-123" not in str(failure), str(failure)


# -- a new secret costs its own forms, not a recompilation of all of them ----------------------------------


def test_a_new_token_does_not_recompile_every_remembered_secret():
    for _ in range(50):
        text.remember_secret("MII" + random.token_urlsafe(4500))
    text.safe("warm")
    worst = 0.0
    for _ in range(5):
        start = time.perf_counter()
        text.remember_secret("MII" + random.token_urlsafe(4500))
        text.safe("an error message")
        worst = max(worst, time.perf_counter() - start)
    assert worst < 0.05, f"{worst * 1000:.0f} ms for the first message after a new token"
    # Past MAX_REMEMBERED the oldest is forgotten, and the newest still scrubbed.
    first = "MII" + random.token_urlsafe(1500)
    text.remember_secret(first)
    for _ in range(text.MAX_REMEMBERED):
        last = "MII" + random.token_urlsafe(1500)
        text.remember_secret(last)
    assert text.scrub(f"x {first} y {last}") == f"x {first} y ***"


# -- one large answer is decoded and modelled without a Python call per value ------------------------------


def _floats() -> bytes:
    count = (CAP - 200) // 4
    return b'{"job_id":"%s","status":"RUNNING","x":[' % JOB.encode() + b",".join([b"1.0"] * (count - 1)) + b"]}"


def _distinct_statuses() -> bytes:
    subs, size, i = [], 0, 0
    while size < CAP - 400:
        sub = f'{{"status":"x{i}"}}'
        i += 1
        subs.append(sub)
        size += len(sub) + 1
    start = f'{{"job_id":"{JOB}","status":"RUNNING","entities":{{"sub_jobs":['
    return (start + ",".join(subs) + "]}}").encode()


def test_a_million_floats_decode_without_a_python_call_each():
    body = _floats()
    load_json(body)  # the first allocation of that much memory is the machine's, not the decoder's
    document, took = _timed(load_json, body)
    assert took < 0.25, f"{took * 1000:.0f} ms to decode 4 MB of floats"
    assert job_from_answer(document, JOB).status is SdrsJobStatus.RUNNING
    # Still strict JSON, read to an SdrsError.
    refused = {
        b'{"a": 1e999}': "non-finite",
        b'{"a": NaN}': "non-finite",
        b'{"a": -Infinity}': "non-finite",
        b"[" * 100_000: "nested too deeply",
        b'{"a": \xff}': "not a JSON object",
    }
    for bad, problem in refused.items():
        with pytest.raises(SdrsApiError, match=problem):
            decode_json(HttpResponse(200, {}, bad), "get job abc")
