"""Sensor that waits for an SDRS job to end."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_sdrs._core import numbers
from airflow_provider_sdrs._core.defaults import DEFAULT_MAX_POLL_FAILURES, DEFAULT_NOT_FOUND_GRACE
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs.exceptions import (
    SdrsAuthError,
    SdrsConfigError,
    SdrsError,
    SdrsValidationError,
    SdrsWaitTimeoutError,
)
from airflow_provider_sdrs.links.sdrs import SdrsConsoleLink, push_console_link

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_sdrs._waiting import JobWatch
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

__all__ = ["SdrsJobSensor"]


class SdrsJobSensor(BaseSensorOperator):
    """Waits until an SDRS job ends; returns the job document (``SdrsJob.to_dict()``) as XCom.

    The job's outcome is the same in every mode (poke, reschedule, deferrable):

    * ``SUCCESS``: the sensor succeeds and returns the job;
    * ``FAIL``: :class:`~airflow_provider_sdrs.exceptions.SdrsJobFailedError`, which is not retried;
    * the sensor's ``timeout`` passes: ``AirflowSensorTimeout`` (skipped with ``soft_fail=True``);
    * SDRS cannot be polled ``max_poll_failures`` times in a row (each after the hook's retries): a
      retryable error that says what failed. Fewer failed polls are logged and the wait goes on;
    * the job does not exist: waited on for ``not_found_grace`` seconds (a fresh id may not be
      visible yet), then a failure that is not retried. Once SDRS has shown the job, "no such job" is a
      failed poll like any other.

    In reschedule mode the sensor keeps its worker slot while polls fail and while the job is not
    visible yet (polling every ``poke_interval``, within ``timeout``), and gives it back only after a
    read that showed the job. So every reschedule follows a sighting of the job, and the count of
    failed polls in a row never has to outlive a reschedule (Airflow clears a task's XCom whenever a
    rescheduled try starts again).

    SDRS has no API to cancel a job: killing this task leaves the SDRS job running.

    :param job_id: the SDRS job id (templated).
    :param sdrs_conn_id: the ``sdrs`` connection (templated).
    :param deferrable: wait in the triggerer instead of a worker; defaults to
        ``[operators] default_deferrable``.
    :param not_found_grace: seconds to keep waiting while SDRS does not know the job yet.
    :param poll_retry_limit: retries of one poll after a transient failure (passed to the hook).
    :param poll_retry_delay: first backoff between those retries, seconds.
    :param max_poll_failures: consecutive failed polls tolerated before giving up, in every mode.
    :raises SdrsValidationError: a numeric argument is not acceptable (NaN, infinite, negative, a bool,
        a fractional count); the error names it.
    """

    template_fields: Sequence[str] = ("job_id", "sdrs_conn_id")
    operator_extra_links = (SdrsConsoleLink(),)
    ui_color = "#dbe9f6"

    def __init__(
        self,
        *,
        job_id: str,
        sdrs_conn_id: str = "sdrs_default",
        poke_interval: float | timedelta = 10,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        poll_retry_limit: int = 4,
        poll_retry_delay: float = 1.0,
        max_poll_failures: int = DEFAULT_MAX_POLL_FAILURES,
        **kwargs: Any,
    ) -> None:
        # Checked before Airflow's own checks, which let NaN and infinity through or fail without a name.
        numbers.interval(poke_interval, "poke_interval")
        if kwargs.get("timeout") is not None:
            numbers.seconds(kwargs["timeout"], "timeout")
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.sdrs_conn_id = sdrs_conn_id
        self.deferrable = deferrable
        self.not_found_grace = numbers.seconds(not_found_grace, "not_found_grace")
        self.poll_retry_limit = numbers.retry_limit(poll_retry_limit, "poll_retry_limit")
        self.poll_retry_delay = numbers.retry_delay(poll_retry_delay, "poll_retry_delay")
        self.max_poll_failures = numbers.count(max_poll_failures, "max_poll_failures", minimum=1)
        self._watch: JobWatch | None = None

    @cached_property
    def hook(self) -> SdrsHook:
        from airflow_provider_sdrs.hooks.sdrs import SdrsHook

        return SdrsHook(self.sdrs_conn_id, retry_limit=self.poll_retry_limit, retry_delay=self.poll_retry_delay)

    def _checked_job_id(self) -> str:
        try:
            return validate_id(self.job_id, "job_id")
        except SdrsValidationError as error:
            # A malformed id will not get better on retry.
            raise AirflowFailException(f"SdrsJobSensor: {error}") from error

    @property
    def _rescheduling(self) -> bool:
        return self.reschedule and not self.deferrable

    def _watch_for(self, context: Context) -> JobWatch:
        from airflow_provider_sdrs._waiting import JobWatch

        if self._watch is None:
            started = time.time()
            seen = False
            if self._rescheduling:
                first = context["ti"].get_first_reschedule_date(context)
                if first is not None:
                    started = first.timestamp()
                    # Rescheduled before: only a read that showed the job gives the slot back (see poke).
                    seen = True
            self._watch = JobWatch(
                self.log,
                started_at=started,
                max_poll_failures=self.max_poll_failures,
                job_id=self.job_id,
                not_found_grace=self.not_found_grace,
                seen=seen,
            )
        return self._watch

    def poke(self, context: Context) -> PokeReturnValue:
        """One poll in poke mode; in reschedule mode, polls until a read shows the job (see the class)."""
        job_id = self._checked_job_id()
        watch = self._watch_for(context)
        # Imported here: DAG files import this module, and parsing them should stay cheap.
        from airflow_provider_sdrs._core import reads
        from airflow_provider_sdrs._core.deadline import read_deadline
        from airflow_provider_sdrs._waiting import wait

        hook = self.hook
        end = watch.started_at + self.timeout
        read = reads.job(job_id)
        verdict = hook._drive(
            wait(
                watch,
                lambda: hook._read_steps(hook._settings, read, read_deadline(end)),
                poll_interval=self.poke_interval,
                end_time=end,
                until="sighting" if self._rescheduling else "poll",
            )
        )
        if verdict is None:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._conclude(verdict, watch))

    def _conclude(self, verdict: dict[str, Any], watch: JobWatch) -> Any:
        """The poke's result for a wait that ended; raises what the trigger's event would raise.

        A refused credential or a bad connection is raised as itself, as the hook raised it.
        """
        from airflow_provider_sdrs._waiting import result_from_event

        cause = watch.last_error
        if cause is not None and isinstance(cause, (SdrsValidationError, SdrsConfigError, SdrsAuthError)):
            raise cause
        try:
            return result_from_event(verdict)
        except SdrsError as error:
            if cause is None:
                raise
            raise error from cause

    def execute(self, context: Context) -> Any:
        job_id = self._checked_job_id()
        from airflow_provider_sdrs.links.sdrs import console_link

        push_console_link(context["ti"], console_link(self.hook._settings, resource_type="job", job_id=job_id))
        if not self.deferrable:
            return super().execute(context)
        # A job that already ended needs no trip through the triggerer. A failed first poll counts toward
        # max_poll_failures, and the trigger goes on counting from there.
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger

        watch = self._watch_for(context)
        self.defer(
            trigger=SdrsJobTrigger(
                job_id=self._checked_job_id(),
                sdrs_conn_id=self.sdrs_conn_id,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
                max_poll_failures=self.max_poll_failures,
                not_found_grace=max(0.0, self.not_found_grace - (time.time() - watch.started_at)),
                poll_retry_limit=self.poll_retry_limit,
                poll_retry_delay=self.poll_retry_delay,
                job_seen=watch.seen,
                poll_failures=watch.failures,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Map the trigger's event exactly as :meth:`poke` maps a job."""
        from airflow_provider_sdrs._waiting import result_from_event

        try:
            return result_from_event(event)
        except SdrsWaitTimeoutError as timeout:
            raise AirflowSensorTimeout(str(timeout)) from timeout
