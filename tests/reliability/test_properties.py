"""Property-based tests of the parsers that read what SDRS (or anything pretending to be it) sends."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_sdrs._core.errors import api_error, parse_error_body
from airflow_provider_sdrs._core.http import HttpResponse
from airflow_provider_sdrs._waiting import result_from_event
from airflow_provider_sdrs.exceptions import SdrsApiError, SdrsError
from airflow_provider_sdrs.models import SdrsJob, SdrsJobStatus

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
# Objects that use the job document's own keys, with values of any type: the hardest to parse well.
KEYS = ["job_id", "job_type", "status", "entities", "sub_jobs", "begin_time", "end_time", "error_code", "fail_reason"]
JOB_LIKE = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), JSON, max_size=9),
    lambda children: st.dictionaries(
        st.sampled_from(KEYS), JSON | children | st.fixed_dictionaries({"sub_jobs": st.lists(children, max_size=3)})
    ),
    max_leaves=10,
)

TIMES = st.datetimes(
    min_value=__import__("datetime").datetime(2000, 1, 1), max_value=__import__("datetime").datetime(2100, 1, 1)
).map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z")
IDS = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


@st.composite
def documents(draw: Any, depth: int = 0) -> dict[str, Any]:
    """Job documents as the SDRS API reference describes them."""
    status = draw(st.sampled_from(["INIT", "RUNNING", "SUCCESS", "FAIL"]))
    entities: dict[str, Any] = draw(
        st.dictionaries(st.sampled_from(["server_group_id", "disaster_recovery_drill_id", "nic_id"]), IDS, max_size=3)
    )
    if depth < 2 and draw(st.booleans()):
        entities["sub_jobs"] = draw(st.lists(documents(depth + 1), max_size=3))
    ended = status in ("SUCCESS", "FAIL")
    return {
        "job_id": draw(IDS),
        "job_type": draw(st.sampled_from(["createDisasterRecoveryDrill", "failoverProtectionGroupNoCG"])),
        "status": status,
        "entities": entities,
        "begin_time": draw(TIMES),
        "end_time": draw(TIMES) if ended else None,
        "error_code": "SDRS.0206" if status == "FAIL" else None,
        "fail_reason": draw(st.text(max_size=30)) if status == "FAIL" else None,
    }


def _strict_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(JSON | JOB_LIKE)
def test_any_json_becomes_a_job_or_an_sdrs_error(document):
    try:
        job = SdrsJob.from_api(document, job_id="abc")
    except SdrsError:
        # Only a document that is no object, or holds Infinity (no JSON can), is refused.
        assert not isinstance(document, dict) or not _strict_json(document)
        return
    assert isinstance(job.status, SdrsJobStatus)
    json.dumps(job.to_dict(), allow_nan=False)  # always strict JSON, whatever came in
    job.describe_status()
    job.failure_summary()


@settings(max_examples=200, deadline=None)
@given(documents())
def test_valid_documents_round_trip_through_to_dict(document):
    job = SdrsJob.from_api(document)
    again = SdrsJob.from_api(json.loads(json.dumps(job.to_dict())))
    assert again == job
    assert again.status.value == document["status"]
    assert again.entities == {k: v for k, v in document["entities"].items() if k != "sub_jobs"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | JSON.map(lambda value: json.dumps(value).encode()), st.integers(400, 599))
def test_any_error_body_becomes_a_readable_sdrs_api_error(body, status):
    parsed = parse_error_body(body, fallback=f"HTTP {status}")
    assert isinstance(parsed.message, str) and parsed.message and len(parsed.message) <= 600
    error = api_error(HttpResponse(status, {}, body), operation="get job abc", job_id="abc")
    assert isinstance(error, SdrsApiError)
    assert "get job abc" in str(error)


@settings(max_examples=200, deadline=None)
@given(
    JSON
    | st.fixed_dictionaries(
        {"status": st.sampled_from(["success", "failed", "timeout", "error"])},
        optional={"job": JSON | JOB_LIKE, "job_id": JSON, "message": JSON, "reason": JSON},
    )
)
def test_any_trigger_event_maps_to_a_result_or_an_sdrs_error(payload):
    try:
        result = result_from_event(payload)
    except SdrsError:
        return
    assert isinstance(result, dict) and result["status"] == "SUCCESS"
