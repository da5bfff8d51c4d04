from __future__ import annotations

import pytest

from airflow_provider_sdrs.exceptions import SdrsApiError, SdrsJobFailedError
from airflow_provider_sdrs.models import SdrsJob, SdrsJobStatus

# The two example responses of the SDRS "Querying the Job Status" page.
DOC_SIMPLE = {
    "status": "SUCCESS",
    "entities": {"server_group_id": "a59d008e-4bad-4bf3-9b17-6cc25e7da483"},
    "job_id": "0000000062db92d70162db9d200f000a",
    "job_type": "createProtectionGroupNoCG",
    "begin_time": "2018-04-19T01:55:30.443Z",
    "end_time": "2018-04-19T01:55:45.493Z",
    "error_code": None,
    "fail_reason": None,
}
DOC_SUB_JOBS = {
    "job_id": "ff8080826b45d4a5016b5036242c0025",
    "job_type": "stopProtectionGroupNoCG",
    "begin_time": "2019-06-13T09:40:53.930Z",
    "end_time": "2019-06-13T09:41:01.946Z",
    "status": "FAIL",
    "error_code": "SDRS.0206",
    "fail_reason": "replication failed",
    "entities": {
        "sub_jobs": [
            {"job_id": "s1", "job_type": "stopProtectionGroupRepNoCG", "status": "SUCCESS", "entities": {}},
            {
                "job_id": "s2",
                "job_type": "stopProtectionGroupRepNoCG",
                "status": "FAIL",
                "error_code": "SDRS.0206",
                "fail_reason": "disk busy",
                "entities": {"sub_jobs": [{"job_id": "s2a", "status": "FAIL", "error_code": "SDRS.1830"}]},
            },
        ]
    },
}


def test_parses_the_documented_example():
    job = SdrsJob.from_api(DOC_SIMPLE)
    assert job.status is SdrsJobStatus.SUCCESS and job.is_terminal
    assert job.entities == {"server_group_id": "a59d008e-4bad-4bf3-9b17-6cc25e7da483"}
    assert job.begin_time is not None and job.begin_time.timezone_name == "UTC"
    assert job.duration == pytest.approx(15.05)


def test_sub_jobs_and_failures_are_collected_recursively():
    job = SdrsJob.from_api(DOC_SUB_JOBS)
    assert [sub.job_id for sub in job.sub_jobs] == ["s1", "s2"]
    assert [sub.job_id for sub in job.failed_sub_jobs] == ["s2", "s2a"]
    summary = job.failure_summary()
    for text in ("ff8080826b45d4a5016b5036242c0025", "SDRS.0206", "replication failed", "s2", "disk busy", "SDRS.1830"):
        assert text in summary
    error = SdrsJobFailedError(job)
    assert error.job is job and str(error) == summary


@pytest.mark.parametrize("document", [DOC_SIMPLE, DOC_SUB_JOBS])
def test_to_dict_round_trips_and_is_json_safe(document):
    import json

    job = SdrsJob.from_api(document)
    data = json.loads(json.dumps(job.to_dict()))
    assert SdrsJob.from_api(data) == job


@pytest.mark.parametrize("status", ["PAUSED", "", None, 3, "success"])
def test_unknown_or_odd_status_is_kept_and_not_terminal(status):
    job = SdrsJob.from_api({"job_id": "j", "status": status})
    if status == "success":
        assert job.status is SdrsJobStatus.SUCCESS
        return
    assert job.status is SdrsJobStatus.UNKNOWN
    assert not job.is_terminal
    assert job.to_dict()["status"] == (status if isinstance(status, str) else (None if status is None else "3"))


def test_missing_fields_and_bad_times_do_not_crash():
    job = SdrsJob.from_api({"begin_time": "yesterday", "entities": "x", "sub_jobs": 5}, job_id="abc")
    assert job.job_id == "abc" and job.begin_time is None and job.entities == {} and job.duration is None


@pytest.mark.parametrize("document", [[], "SUCCESS", None, 42])
def test_a_document_that_is_not_an_object_is_an_api_error(document):
    with pytest.raises(SdrsApiError, match="not an object"):
        SdrsJob.from_api(document, job_id="abc")


def test_describe_status_counts_finished_sub_jobs():
    doc = {"job_id": "j", "status": "RUNNING", "entities": {"sub_jobs": [{"status": "SUCCESS"}, {"status": "RUNNING"}]}}
    assert SdrsJob.from_api(doc).describe_status() == "RUNNING (1/2 sub-jobs done)"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2019-04-01T12:00:00.000Z", "2019-04-01T12:00:00+00:00"),
        ("2019-04-01T12:00:00.123456Z", "2019-04-01T12:00:00.123456+00:00"),
        ("2019-04-01T14:00:00.000+02:00", "2019-04-01T12:00:00+00:00"),
        ("2019-04-01T12:00:00", "2019-04-01T12:00:00+00:00"),
        ("2019-04-01 12:00:00Z", "2019-04-01T12:00:00+00:00"),
        ("20190401T120000Z", "2019-04-01T12:00:00+00:00"),
    ],
)
def test_times_in_any_iso_form_become_utc(text, iso):
    job = SdrsJob.from_api({"job_id": "j", "status": "SUCCESS", "begin_time": text})
    assert job.begin_time is not None and job.begin_time.isoformat() == iso
    assert job.begin_time.timezone_name == "UTC"
