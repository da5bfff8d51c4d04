"""The shortcuts of a poll's parsing keep every check: scrubbing, escaping, bounded caches."""

from __future__ import annotations

from airflow_provider_sdrs import models
from airflow_provider_sdrs._core import text
from airflow_provider_sdrs.models import SdrsJob, SdrsJobStatus


def test_a_text_known_clean_is_scrubbed_again_once_a_new_secret_is_remembered():
    text.forget_secrets()
    try:
        text.remember_secret("first-secret-value")
        line = "drill for tenant-key-9f8e7d6c"
        assert text.safe(line, 200) == line
        assert line in text._REMEMBERED.clean_texts  # the next poll takes the shortcut
        assert text.safe(line, 200) == line
        text.remember_secret("tenant-key-9f8e7d6c")
        assert text.safe(line, 200) == "drill for ***"
    finally:
        text.forget_secrets()


def test_the_shortcut_still_escapes_and_clips():
    text.forget_secrets()
    try:
        text.remember_secret("some-secret-value")
        forged = "RUNNING\nINFO forged line"
        text.scrub(forged)  # now known free of secrets, but not of control characters
        assert forged in text._REMEMBERED.clean_texts
        assert text.safe(forged, 200) == "RUNNING\\nINFO forged line"
        long = "x" * 100
        text.scrub(long)
        assert text.safe(long, 60).endswith("[clipped, 100 chars]")
    finally:
        text.forget_secrets()


def test_times_read_from_the_cache_equal_times_read_afresh():
    values = ["2024-05-02T09:41:07.123Z", "2024-05-02 09:41:07+02:00", "garbage", " ", "0001-01-01T00:00:00+08:00"]
    for value in values:
        assert models._parse_time(value) == models._read_time(value)
        assert models._parse_time(value) == models._read_time(value)  # from the cache
    assert models._parse_time("2024-05-02T09:41:07.123Z").isoformat() == "2024-05-02T09:41:07.123000+00:00"


def test_the_time_cache_stays_bounded():
    for second in range(models._MAX_TIMES + 10):
        models._parse_time(f"2024-05-02T09:{second // 60 % 60:02d}:{second % 60:02d}.{second // 3600:03d}Z")
    assert 0 < len(models._TIMES) <= models._MAX_TIMES


def test_statuses_as_sdrs_spells_them_and_otherwise():
    assert SdrsJobStatus.parse("RUNNING") is SdrsJobStatus.RUNNING
    assert SdrsJobStatus.parse(" success ") is SdrsJobStatus.SUCCESS
    assert SdrsJobStatus.parse("RUNNING\n") is SdrsJobStatus.RUNNING
    assert SdrsJobStatus.parse("PAUSED") is SdrsJobStatus.UNKNOWN
    job = SdrsJob.from_api({"job_id": "j-1", "status": "RUNNING\nforged"}, job_id="j-1")
    assert job.status is SdrsJobStatus.UNKNOWN and job.raw_status == "RUNNING\\nforged"
