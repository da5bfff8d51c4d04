"""Trigger that waits for an SDRS job in the triggerer, without holding a worker slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_sdrs._core import numbers
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs._waiting import (
    DEFAULT_MAX_POLL_FAILURES,
    DEFAULT_NOT_FOUND_GRACE,
    connection_problem,
    event,
    wait_for_job,
)
from airflow_provider_sdrs.exceptions import SdrsError, SdrsValidationError

__all__ = ["SdrsJobTrigger"]

# Characters of an unexpected error's own text kept in an event.
MAX_DETAIL = 500


class SdrsJobTrigger(BaseTrigger):
    """Polls an SDRS job until it ends, its deadline passes, or it cannot be polled any more.

    Fires one event with ``status`` ``success``, ``failed`` (the job ended in FAIL), ``timeout``
    (``end_time`` passed) or ``error`` (the job could not be polled), plus ``job_id``, ``message`` and,
    when known, ``job`` (:meth:`SdrsJob.to_dict`).

    Its arguments hold no secret: the connection is looked up by id in the triggerer.

    SDRS has no API to cancel a job: when the waiting task is killed or times out, the SDRS job
    carries on.

    :param job_id: the job to wait for.
    :param sdrs_conn_id: the connection to use.
    :param poll_interval: seconds between polls.
    :param end_time: wall-clock deadline, epoch seconds; ``None`` waits without limit.
    :param max_poll_failures: consecutive failed polls (each after the hook's own retries) tolerated
        before the trigger gives up with an ``error`` event.
    :param not_found_grace: seconds during which "no such job" is read as "not visible yet".
    :param poll_retry_limit: retries of one poll after a transient failure (passed to the hook).
    :param poll_retry_delay: first backoff between those retries, seconds.
    :param job_seen: a read before the deferral showed the job: "no such job" is then a failed poll,
        whatever the grace.
    :param poll_failures: failed polls in a row before the deferral; they count toward
        ``max_poll_failures``.
    :raises SdrsValidationError: an argument is not acceptable (a NaN or negative number...); it names it.

    When the connection cannot be loaded (deleted, unreadable, invalid), the trigger fires an ``error``
    event that names it.
    """

    def __init__(
        self,
        job_id: str,
        sdrs_conn_id: str = "sdrs_default",
        poll_interval: float = 10.0,
        end_time: float | None = None,
        max_poll_failures: int = DEFAULT_MAX_POLL_FAILURES,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        poll_retry_limit: int = 4,
        poll_retry_delay: float = 1.0,
        job_seen: bool = False,
        poll_failures: int = 0,
    ) -> None:
        super().__init__()
        self.job_id = validate_id(job_id, "job_id")
        self.sdrs_conn_id = sdrs_conn_id
        self.poll_interval = numbers.interval(poll_interval, "poll_interval")
        self.end_time = numbers.epoch(end_time, "end_time")
        self.max_poll_failures = numbers.count(max_poll_failures, "max_poll_failures", minimum=1)
        self.not_found_grace = numbers.seconds(not_found_grace, "not_found_grace")
        self.poll_retry_limit = numbers.retry_limit(poll_retry_limit, "poll_retry_limit")
        self.poll_retry_delay = numbers.retry_delay(poll_retry_delay, "poll_retry_delay")
        if not isinstance(job_seen, bool):
            raise SdrsValidationError("job_seen", f"must be True or False, got {job_seen!r}")
        self.job_seen = job_seen
        self.poll_failures = numbers.count(poll_failures, "poll_failures")

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "sdrs_conn_id": self.sdrs_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "max_poll_failures": self.max_poll_failures,
                "not_found_grace": self.not_found_grace,
                "poll_retry_limit": self.poll_retry_limit,
                "poll_retry_delay": self.poll_retry_delay,
                "job_seen": self.job_seen,
                "poll_failures": self.poll_failures,
            },
        )

    def _hook(self) -> Any:
        from airflow_provider_sdrs.hooks.sdrs import SdrsHook

        return SdrsHook(self.sdrs_conn_id, retry_limit=self.poll_retry_limit, retry_delay=self.poll_retry_delay)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        steps = wait_for_job(
            self.job_id,
            log=self.log,
            poll_interval=self.poll_interval,
            end_time=self.end_time,
            max_poll_failures=self.max_poll_failures,
            not_found_grace=self.not_found_grace,
            job_seen=self.job_seen,
            poll_failures=self.poll_failures,
        )
        try:
            hook = self._hook()
            await hook.aget_settings()
        except Exception as error:
            # A deleted or broken connection: an event says so, where an exception would leave the task hanging.
            yield TriggerEvent(event("error", self.job_id, connection_problem(self.sdrs_conn_id, error)))
            return
        try:
            async with hook:
                try:
                    step = next(steps)
                    while True:
                        if step is None:
                            try:
                                outcome: Any = await hook.aget_job(self.job_id, deadline=self.end_time)
                            except SdrsError as error:
                                outcome = error
                            step = steps.send(outcome)
                        else:
                            await asyncio.sleep(step)
                            step = steps.send(None)
                except StopIteration as stop:
                    payload = stop.value
        except SdrsError as error:
            # The connection itself could not be read or used.
            payload = event("error", self.job_id, str(error))
        except Exception as error:
            # Whatever went wrong, the task waits for an event: it gets one, naming what could not be read.
            self.log.error(
                "SDRS job %s: the wait on connection %r failed unexpectedly",
                self.job_id,
                self.sdrs_conn_id,
                exc_info=True,
            )
            settings = getattr(hook, "_async_settings", None)
            payload = event("error", self.job_id, self._unexpected(error, getattr(settings, "secrets", ())))
        yield TriggerEvent(payload)

    def _unexpected(self, error: Exception, secrets: tuple[str, ...]) -> str:
        """The message of an ``error`` event for an unexpected failure: scrubbed, clipped, naming the job and
        the connection.

        :param secrets: the connection's secrets, when its settings were read.
        """
        from airflow_provider_sdrs._core.text import safe

        detail = safe(f"{type(error).__name__}: {error}", MAX_DETAIL, secrets)
        return f"waiting for SDRS job {self.job_id} on connection {self.sdrs_conn_id!r} failed unexpectedly: {detail}"
