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

from airflow_provider_sdrs._core.deadline import read_deadline
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs._waiting import (
    DEFAULT_NOT_FOUND_GRACE,
    JobWatch,
    SdrsJobUnknownError,
    SdrsWaitTimeout,
    finish,
    job_unknown,
    result_from_event,
)
from airflow_provider_sdrs.exceptions import (
    SdrsApiError,
    SdrsAuthError,
    SdrsConnectionError,
    SdrsJobNotFoundError,
    SdrsValidationError,
)
from airflow_provider_sdrs.links.sdrs import SdrsConsoleLink, push_console_link

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

__all__ = ["SdrsJobSensor"]


class SdrsJobSensor(BaseSensorOperator):
    """Waits until an SDRS job ends; returns the job document (``SdrsJob.to_dict()``) as XCom.

    The job's outcome is the same in every mode (poke, reschedule, deferrable):

    * ``SUCCESS``: the sensor succeeds and returns the job;
    * ``FAIL``: :class:`~airflow_provider_sdrs.exceptions.SdrsJobFailedError`, which is not retried;
    * the sensor's ``timeout`` passes: ``AirflowSensorTimeout`` (skipped with ``soft_fail=True``);
    * SDRS cannot be polled (after the hook's retries): a retryable error that says what failed;
    * the job does not exist: waited on for ``not_found_grace`` seconds (a fresh id may not be
      visible yet), then a failure that is not retried.

    SDRS has no API to cancel a job: killing this task leaves the SDRS job running.

    :param job_id: the SDRS job id (templated).
    :param sdrs_conn_id: the ``sdrs`` connection (templated).
    :param deferrable: wait in the triggerer instead of a worker; defaults to
        ``[operators] default_deferrable``.
    :param not_found_grace: seconds to keep waiting while SDRS does not know the job yet.
    :param poll_retry_limit: retries of one poll after a transient failure (passed to the hook).
    :param poll_retry_delay: first backoff between those retries, seconds.
    :param max_poll_failures: in deferrable mode, consecutive failed polls tolerated before giving up.
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
        max_poll_failures: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.sdrs_conn_id = sdrs_conn_id
        self.deferrable = deferrable
        self.not_found_grace = not_found_grace
        self.poll_retry_limit = poll_retry_limit
        self.poll_retry_delay = poll_retry_delay
        self.max_poll_failures = max_poll_failures
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

    def _watch_for(self, context: Context) -> JobWatch:
        if self._watch is None:
            started = time.time()
            if self.reschedule and not self.deferrable:
                first = context["ti"].get_first_reschedule_date(context)
                if first is not None:
                    started = first.timestamp()
            self._watch = JobWatch(self.job_id, started_at=started, not_found_grace=self.not_found_grace)
        return self._watch

    def poke(self, context: Context) -> PokeReturnValue:
        job_id = self._checked_job_id()
        watch = self._watch_for(context)
        try:
            job = self.hook.get_job(job_id, deadline=read_deadline(watch.started_at + self.timeout))
        except SdrsJobNotFoundError as error:
            if watch.within_not_found_grace():
                watch.note_missing(self.log)
                return PokeReturnValue(is_done=False)
            raise SdrsJobUnknownError(job_unknown(job_id, error, watch)) from error
        watch.observe(job, self.log)
        if not job.is_terminal:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=finish(job))

    def execute(self, context: Context) -> Any:
        job_id = self._checked_job_id()
        from airflow_provider_sdrs._core.console import console_link

        push_console_link(context["ti"], console_link(self.hook.settings, resource_type="job", job_id=job_id))
        if not self.deferrable:
            return super().execute(context)
        # A job that already ended needs no trip through the triggerer.
        try:
            first = self.poke(context)
        except SdrsAuthError:
            raise
        except (SdrsConnectionError, SdrsApiError) as error:
            # The trigger tolerates failed polls (max_poll_failures); failing here would not.
            self.log.warning(
                "First poll of SDRS job %s failed (%s); the triggerer takes the wait over and keeps polling",
                self.job_id,
                error,
            )
        else:
            if first.is_done:
                return first.xcom_value
        from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger

        self._watch_for(context)
        assert self._watch is not None
        self.defer(
            trigger=SdrsJobTrigger(
                job_id=self._checked_job_id(),
                sdrs_conn_id=self.sdrs_conn_id,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
                max_poll_failures=self.max_poll_failures,
                not_found_grace=max(0.0, self.not_found_grace - (time.time() - self._watch.started_at)),
                poll_retry_limit=self.poll_retry_limit,
                poll_retry_delay=self.poll_retry_delay,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Map the trigger's event exactly as :meth:`poke` maps a job."""
        try:
            return result_from_event(event)
        except SdrsWaitTimeout as timeout:
            raise AirflowSensorTimeout(str(timeout)) from timeout
