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


# -- a wait's last answer -----------------------------------------------------------------------------

_JOB = "0123456789abcdef0123456789abcdef"


def _answer(document: dict) -> object:
    import json

    from airflow_provider_sdrs._core.http import HttpResponse

    return HttpResponse(200, {"content-type": "application/json"}, json.dumps(document).encode())


def _poll(last, read, answer):
    """One read through the exchange, with ``last``, answered with ``answer``: its result, or the error."""
    import logging

    from airflow_provider_sdrs._core.exchange import api_exchange
    from airflow_provider_sdrs._core.retry import RetryPolicy
    from airflow_provider_sdrs._core.settings import SdrsSettings
    from airflow_provider_sdrs._core.steps import Send
    from airflow_provider_sdrs.exceptions import SdrsError

    settings = SdrsSettings.from_fields(
        conn_id="c",
        host="https://sdrs.example.com",
        port=None,
        login="AK",
        password="SK-secret",
        extra={"project_id": _JOB},
    )
    steps = last.steps(
        api_exchange(settings, read.call, RetryPolicy(retry_limit=0), logging.getLogger("t"), decode=last.decode),
        read,
    )
    try:
        step = next(steps)
        assert isinstance(step, Send)
        steps.send(answer)
    except StopIteration as done:
        return done.value
    except SdrsError as error:
        return error
    raise AssertionError("the read asked for more than one request")


def _counting_job_read():
    from airflow_provider_sdrs._core import reads

    plain = reads.job(_JOB)
    parsed: list[dict] = []

    def parse(answer):
        parsed.append(answer)
        return plain.parse(answer)

    return reads.Read(plain.call, parse), parsed


def test_an_answer_equal_to_the_last_one_is_not_parsed_again_and_gives_the_same_job():
    from airflow_provider_sdrs._core.reads import LastAnswer

    last = LastAnswer()
    read, parsed = _counting_job_read()
    running = {"job_id": _JOB, "status": "RUNNING", "job_type": "createDisasterRecoveryDrill"}
    first = _poll(last, read, _answer(running))
    again = _poll(last, read, _answer(dict(running)))
    assert isinstance(first, SdrsJob) and again is first
    assert len(parsed) == 1
    ended = _poll(last, read, _answer({**running, "status": "SUCCESS"}))
    assert isinstance(ended, SdrsJob) and ended.status is SdrsJobStatus.SUCCESS
    assert len(parsed) == 2
    # An answer other than the last one is parsed afresh, even one seen before it.
    assert _poll(last, read, _answer(running)).status is SdrsJobStatus.RUNNING
    assert len(parsed) == 3


def test_an_answer_that_was_refused_is_refused_again_when_it_comes_back():
    from airflow_provider_sdrs._core.reads import LastAnswer
    from airflow_provider_sdrs.exceptions import SdrsApiError

    last = LastAnswer()
    read, parsed = _counting_job_read()
    other = _answer({"job_id": "f" * 32, "status": "SUCCESS"})
    for _ in range(2):
        error = _poll(last, read, other)
        assert isinstance(error, SdrsApiError) and "instead of job" in error.message
    assert len(parsed) == 2
    assert _poll(last, read, _answer({"job_id": _JOB, "status": "RUNNING"})).status is SdrsJobStatus.RUNNING


def test_the_last_answer_is_kept_as_a_digest_whatever_the_answer_size():
    from airflow_provider_sdrs._core.reads import LastAnswer

    last = LastAnswer()
    read, _ = _counting_job_read()
    big = {"job_id": _JOB, "status": "RUNNING", "fail_reason": "x" * 200_000}
    assert _poll(last, read, _answer(big)).status is SdrsJobStatus.RUNNING
    assert last.digest is not None and len(last.digest) == 16
    assert last._pending is None


def test_a_wait_resolves_airflows_lazy_logger_once_and_leaves_others_alone():
    import logging

    from airflow_provider_sdrs._core.logs import resolved
    from airflow_provider_sdrs._waiting import JobWatch
    from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger

    lazy = SdrsJobTrigger(job_id=_JOB).log
    assert type(lazy).__name__ == "BoundLoggerLazyProxy"
    watch = JobWatch(lazy, job_id=_JOB)
    assert type(watch.log).__name__ != "BoundLoggerLazyProxy"
    assert callable(watch.log.info) and callable(watch.log.debug)
    plain = logging.getLogger("sdrs-plain")
    assert resolved(plain) is plain
    assert JobWatch(plain, job_id=_JOB).log is plain
