"""What waiting on a job means, shared by the sensor (poke and reschedule), the trigger and operators.

Keeping this in one place is what makes a job end the same way in every mode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_sdrs._core.logs import Log
from airflow_provider_sdrs.exceptions import (
    SdrsAuthError,
    SdrsConfigError,
    SdrsError,
    SdrsJobFailedError,
    SdrsJobNotFoundError,
    SdrsValidationError,
)

if TYPE_CHECKING:
    # Imported where used: DAG files import the sensor, and parsing them should stay cheap.
    from airflow_provider_sdrs.models import SdrsJob

EventStatus = Literal["success", "failed", "timeout", "error"]
EVENT_STATUSES: tuple[str, ...] = ("success", "failed", "timeout", "error")

DEFAULT_NOT_FOUND_GRACE = 60.0
DEFAULT_MAX_POLL_FAILURES = 3
MAX_EVENT_MESSAGE = 1000
# Sub-jobs of an ended job listed one per log line; the rest are counted.
LOGGED_SUB_JOBS = 10


class SdrsPollError(SdrsError):
    """The job could not be polled (SDRS unreachable, refusing, or answering garbage).

    This is not a verdict on the job, which may well still be running: the task fails with a
    retryable error, and a retry resumes the wait.
    """


class SdrsJobUnknownError(SdrsError, AirflowFailException):
    """SDRS still did not know the job after the grace period: a wrong id or project. Not retried."""


class SdrsWaitTimeout(SdrsError):
    """Raised internally when the wait's deadline passed; sensors turn it into ``AirflowSensorTimeout``."""


def format_elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclass
class JobWatch:
    """Follows one job across polls and judges each poll, the same way in every mode.

    Logs each status change once, tracks the not-found grace and counts consecutive failed polls.

    :param job_id: the job.
    :param started_at: wall-clock epoch seconds when the wait began.
    :param not_found_grace: seconds during which "no such job" is taken as "not visible yet". It applies
        only until the job is first seen: once SDRS has shown the job, "no such job" is a failed poll.
    :param max_poll_failures: consecutive failed polls (each after the hook's own retries) tolerated
        before giving up.
    :param seen: whether an earlier read showed the job.
    :param failures: failed polls in a row so far.
    """

    job_id: str
    started_at: float = field(default_factory=time.time)
    not_found_grace: float = DEFAULT_NOT_FOUND_GRACE
    last_status: str | None = None
    polls: int = 0
    missing_noted: bool = False
    max_poll_failures: int = DEFAULT_MAX_POLL_FAILURES
    seen: bool = False
    failures: int = 0

    def elapsed(self) -> str:
        return format_elapsed(time.time() - self.started_at)

    def observe(self, job: SdrsJob, log: Log) -> None:
        """Log the job's status at INFO when it changed since the last poll, else at DEBUG."""
        self.polls += 1
        status = job.describe_status()
        kind = f" ({job.job_type})" if job.job_type else ""
        if status != self.last_status:
            log.info("SDRS job %s%s is %s after %s", job.job_id, kind, status, self.elapsed())
            if job.is_terminal and job.sub_jobs:
                # A few lines, not one per sub-job: a job may have 100,000 of them.
                for sub in job.sub_jobs[:LOGGED_SUB_JOBS]:
                    log.info(
                        "  sub-job %s (%s): %s%s",
                        sub.job_id,
                        sub.job_type or "?",
                        sub.describe_status(),
                        f" {sub.error_code}: {sub.fail_reason}" if sub.error_code or sub.fail_reason else "",
                    )
                if job.sub_job_total > LOGGED_SUB_JOBS:
                    log.info(
                        "  and %d more sub-jobs; all of them by status: %s",
                        job.sub_job_total - LOGGED_SUB_JOBS,
                        ", ".join(f"{count} {status}" for status, count in sorted(job.sub_job_counts.items())),
                    )
            self.last_status = status
        else:
            log.debug("SDRS job %s still %s after %s", job.job_id, status, self.elapsed())

    def note_missing(self, log: Log) -> None:
        """Log once at INFO that SDRS does not show the job yet; later polls at DEBUG."""
        level = logging.DEBUG if self.missing_noted else logging.INFO
        log.log(level, "SDRS job %s is not visible yet after %s; waiting", self.job_id, self.elapsed())
        self.missing_noted = True

    def within_not_found_grace(self) -> bool:
        return time.time() - self.started_at < self.not_found_grace

    def judge(self, outcome: SdrsJob | SdrsError, log: Log) -> dict[str, Any] | None:
        """Take the outcome of one poll: the event payload that ends the wait, or ``None`` to poll again.

        :param outcome: the job read, or the error the read raised.
        """
        if isinstance(outcome, SdrsJobNotFoundError) and not self.seen:
            if not self.within_not_found_grace():
                return event("error", self.job_id, job_unknown(self.job_id, outcome, self), reason="not_found")
            self.note_missing(log)
            return None
        if isinstance(outcome, (SdrsValidationError, SdrsConfigError, SdrsAuthError)):
            # Waiting longer will not fix a bad connection or refused credentials.
            return event("error", self.job_id, str(outcome))
        if isinstance(outcome, SdrsError):
            return self._failed_poll(outcome, log)
        self.failures = 0
        self.seen = True
        self.observe(outcome, log)
        return terminal_event(outcome) if outcome.is_terminal else None

    def _failed_poll(self, error: SdrsError, log: Log) -> dict[str, Any] | None:
        self.failures += 1
        if self.failures >= self.max_poll_failures:
            return event(
                "error",
                self.job_id,
                f"could not poll SDRS job {self.job_id} {self.failures} times in a row; last error: {error}",
            )
        # A job SDRS showed before does not vanish: a "no such job" now is a glitch of SDRS or its gateway.
        seen = " (SDRS showed the job before)" if isinstance(error, SdrsJobNotFoundError) else ""
        log.warning(
            "Poll %d of SDRS job %s failed%s (%s); the job may still be running, trying again",
            self.failures,
            self.job_id,
            seen,
            error,
        )
        return None


def event(
    status: EventStatus, job_id: str, message: str, job: SdrsJob | None = None, *, reason: str | None = None
) -> dict[str, Any]:
    """The payload of the one event a trigger fires.

    :param reason: for ``error`` events, ``not_found`` when the job stayed unknown past the grace period.
    """
    payload: dict[str, Any] = {"status": status, "job_id": job_id, "message": message}
    payload["job"] = job.to_dict() if job else None
    if reason:
        payload["reason"] = reason
    return payload


def job_unknown(job_id: str, error: Exception, watch: JobWatch) -> str:
    return f"{error}; still unknown after {watch.elapsed()} - check the job id and the connection's project"


def connection_problem(conn_id: str, error: Exception) -> str:
    """The message of an ``error`` event for a connection that could not be loaded; it names the connection."""
    from airflow_provider_sdrs._core.text import safe

    detail = str(error) if isinstance(error, SdrsError) else f"{type(error).__name__}: {error}"
    return safe(f"the SDRS connection {conn_id!r} could not be loaded: {detail}", MAX_EVENT_MESSAGE)


def terminal_event(job: SdrsJob) -> dict[str, Any]:
    if job.status.is_success:
        duration = f" in {format_elapsed(job.duration)}" if job.duration is not None else ""
        return event("success", job.job_id, f"SDRS job {job.job_id} succeeded{duration}", job)
    return event("failed", job.job_id, job.failure_summary(), job)


def finish(job: SdrsJob) -> dict[str, Any]:
    """The task result for a job that ended: its dict on success; raises on failure."""
    if job.is_terminal and not job.status.is_success:
        raise SdrsJobFailedError(job)
    return job.to_dict()


def result_from_event(payload: dict[str, Any] | None) -> dict[str, Any]:
    """Turn a trigger event into the task's result, or the exception poke mode would have raised.

    :raises SdrsJobFailedError: the job failed (not retried).
    :raises SdrsWaitTimeout: the deadline passed.
    :raises SdrsJobUnknownError: the job stayed unknown past the grace period (not retried).
    :raises SdrsPollError: the job could not be polled (retryable).
    """
    if not isinstance(payload, dict) or payload.get("status") not in EVENT_STATUSES:
        raise SdrsPollError(f"the SDRS trigger sent an unreadable event: {payload!r}"[:500])
    status = payload["status"]
    message = str(payload.get("message") or "")
    job_id = str(payload.get("job_id") or "")
    from airflow_provider_sdrs.models import SdrsJob

    job = SdrsJob.from_api(payload["job"], job_id=job_id) if isinstance(payload.get("job"), dict) else None
    if job is not None and job.job_id != job_id:
        # Another job's outcome must not decide this task, nor its ids reach XCom.
        raise SdrsPollError(f"the SDRS trigger sent an event for job {job_id!r} about another job"[:500])
    if status == "success" and job is not None and job.status.is_success:
        return job.to_dict()
    if status == "failed" and job is not None and job.is_terminal and not job.status.is_success:
        raise SdrsJobFailedError(job)
    if status in ("success", "failed"):
        # Only a job that SDRS itself reports as ended may decide the task.
        raise SdrsPollError(f"the SDRS trigger sent a {status!r} event without a job that ended so: {payload!r}"[:500])
    if status == "timeout":
        raise SdrsWaitTimeout(message or f"timed out waiting for SDRS job {job_id}")
    if payload.get("reason") == "not_found":
        raise SdrsJobUnknownError(message or f"SDRS has no job {job_id}")
    raise SdrsPollError(message or f"could not poll SDRS job {job_id}")


# -- the wait loop, written once ------------------------------------------------------------------------
#
# ``wait_for_job`` decides; it does no I/O. It yields ``None`` when it wants the job read (send back the
# SdrsJob, or the SdrsError the read raised) and a number of seconds when it wants to sleep (send back
# None). It returns the event payload. The trigger drives it with aiohttp and asyncio.sleep, operators
# waiting in a worker drive it with requests and time.sleep: one behaviour in every mode.

WaitSteps = Generator["float | None", "SdrsJob | SdrsError | None", dict[str, Any]]


def wait_for_job(
    job_id: str,
    *,
    log: Log,
    poll_interval: float,
    end_time: float | None = None,
    max_poll_failures: int = DEFAULT_MAX_POLL_FAILURES,
    not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
    started_at: float | None = None,
    job_seen: bool = False,
    poll_failures: int = 0,
) -> WaitSteps:
    """Poll ``job_id`` until it ends, ``end_time`` passes, or it cannot be polled any more.

    :param max_poll_failures: consecutive failed polls (each after the hook's own retries) tolerated
        before giving up with an ``error`` event. A refused credential or a bad connection gives up at once.
    :param job_seen: an earlier read (before a deferral) showed the job, so the not-found grace is over.
    :param poll_failures: failed polls in a row before this wait took over.
    """
    watch = JobWatch(
        job_id,
        started_at=started_at or time.time(),
        not_found_grace=not_found_grace,
        max_poll_failures=max_poll_failures,
        seen=job_seen,
        failures=poll_failures,
    )
    while True:
        if end_time is not None and time.time() >= end_time:
            return event(
                "timeout",
                job_id,
                f"SDRS job {job_id} did not end before the deadline "
                f"(last status {watch.last_status or 'unknown'}, waited {watch.elapsed()})",
            )
        outcome = yield None
        if outcome is not None:
            verdict = watch.judge(outcome, log)
            if verdict is not None:
                return verdict
        pause = poll_interval if end_time is None else max(0.0, min(poll_interval, end_time - time.time()))
        yield pause


def drive_blocking(steps: WaitSteps, read: Callable[[], SdrsJob], sleep: Callable[[float], None] = time.sleep) -> dict:
    """Run :func:`wait_for_job` with blocking reads and sleeps; returns its event payload."""
    try:
        step = next(steps)
        while True:
            if step is None:
                try:
                    outcome: SdrsJob | SdrsError | None = read()
                except SdrsError as error:
                    outcome = error
                step = steps.send(outcome)
            else:
                sleep(step)
                step = steps.send(None)
    except StopIteration as stop:
        return stop.value
