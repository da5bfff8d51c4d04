"""Sensors that wait for an SDRS job to end, and for a protection group to reach a status."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

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
    from airflow.triggers.base import BaseTrigger

    from airflow_provider_sdrs._core.reads import Read
    from airflow_provider_sdrs._waiting import GroupStatusWatch, JobWatch, Watch
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

__all__ = ["SdrsJobSensor", "SdrsProtectionGroupSensor"]


class _SdrsWaitSensor(BaseSensorOperator):
    """What the SDRS sensors share: their arguments' checks, the hook, and one wait on the shared wait logic
    (:func:`airflow_provider_sdrs._waiting.wait`), in poke, reschedule and deferrable mode alike.

    A sensor declares what it watches (:attr:`id_field`, :meth:`_new_watch`), how it reads it
    (:meth:`_read`), what a verdict returns (:meth:`_result`), its console link and its trigger.
    """

    operator_extra_links = (SdrsConsoleLink(),)
    ui_color = "#dbe9f6"
    #: The argument holding the id of what is watched.
    id_field: ClassVar[str]

    def __init__(
        self,
        *,
        sdrs_conn_id: str = "sdrs_default",
        poke_interval: float | timedelta = 10,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
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
        self.sdrs_conn_id = sdrs_conn_id
        self.deferrable = deferrable
        self.poll_retry_limit = numbers.retry_limit(poll_retry_limit, "poll_retry_limit")
        self.poll_retry_delay = numbers.retry_delay(poll_retry_delay, "poll_retry_delay")
        self.max_poll_failures = numbers.count(max_poll_failures, "max_poll_failures", minimum=1)
        self._watch: Watch | None = None

    @cached_property
    def hook(self) -> SdrsHook:
        from airflow_provider_sdrs.hooks.sdrs import SdrsHook

        return SdrsHook(self.sdrs_conn_id, retry_limit=self.poll_retry_limit, retry_delay=self.poll_retry_delay)

    def _checked_id(self) -> str:
        try:
            return validate_id(getattr(self, self.id_field), self.id_field)
        except SdrsValidationError as error:
            # A malformed id will not get better on retry.
            raise AirflowFailException(f"{type(self).__name__}: {error}") from error

    @property
    def _rescheduling(self) -> bool:
        return self.reschedule and not self.deferrable

    def _watch_for(self, context: Context) -> Watch:
        if self._watch is None:
            started = time.time()
            rescheduled = False
            if self._rescheduling:
                first = context["ti"].get_first_reschedule_date(context)
                if first is not None:
                    started = first.timestamp()
                    rescheduled = True
            self._watch = self._new_watch(started, rescheduled)
        return self._watch

    # -- what each sensor declares -------------------------------------------------------------------------

    def _new_watch(self, started_at: float, rescheduled: bool) -> Watch:
        """The watch of this task's wait; ``rescheduled``: an earlier try of it was rescheduled."""
        raise NotImplementedError

    def _read(self, target_id: str) -> Read[Any]:
        raise NotImplementedError

    def _result(self, verdict: dict[str, Any] | None) -> Any:
        """What a verdict (or the trigger's event) returns; raises what it means otherwise."""
        raise NotImplementedError

    def _console_target(self, target_id: str) -> dict[str, str]:
        raise NotImplementedError

    def _trigger(self, target_id: str, watch: Watch, common: dict[str, Any]) -> BaseTrigger:
        """The trigger that goes on with the wait; ``common``: the arguments every SDRS wait trigger takes."""
        raise NotImplementedError

    # -- the wait ----------------------------------------------------------------------------------------

    def poke(self, context: Context) -> PokeReturnValue:
        """One poll in poke mode; in reschedule mode, polls until a read shows the target (see the class)."""
        target_id = self._checked_id()
        watch = self._watch_for(context)
        # Imported here: DAG files import this module, and parsing them should stay cheap.
        from airflow_provider_sdrs._core.deadline import read_deadline
        from airflow_provider_sdrs._core.reads import LastAnswer
        from airflow_provider_sdrs._waiting import wait

        hook = self.hook
        end = watch.started_at + self.timeout
        read = self._read(target_id)
        last = LastAnswer()
        verdict = hook._drive(
            wait(
                watch,
                lambda: hook._read_steps(hook._settings, read, read_deadline(end), last),
                poll_interval=self.poke_interval,
                end_time=end,
                until="sighting" if self._rescheduling else "poll",
            )
        )
        if verdict is None:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._conclude(verdict, watch))

    def _conclude(self, verdict: dict[str, Any], watch: Watch) -> Any:
        """The poke's result for a wait that ended; raises what the trigger's event would raise.

        A refused credential or a bad connection is raised as itself, as the hook raised it.
        """
        cause = watch.last_error
        if cause is not None and isinstance(cause, (SdrsValidationError, SdrsConfigError, SdrsAuthError)):
            raise cause
        try:
            return self._result(verdict)
        except SdrsWaitTimeoutError as timeout:
            raise AirflowSensorTimeout(str(timeout)) from timeout
        except SdrsError as error:
            if cause is None:
                raise
            raise error from cause

    def execute(self, context: Context) -> Any:
        target_id = self._checked_id()
        from airflow_provider_sdrs.links.sdrs import console_link

        push_console_link(context["ti"], console_link(self.hook._settings, **self._console_target(target_id)))
        if not self.deferrable:
            return super().execute(context)
        # A wait that already ended needs no trip through the triggerer. A failed first poll counts toward
        # max_poll_failures, and the trigger goes on counting from there.
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        watch = self._watch_for(context)
        common = {
            "sdrs_conn_id": self.sdrs_conn_id,
            "poll_interval": self.poke_interval,
            "end_time": time.time() + self.timeout,
            "max_poll_failures": self.max_poll_failures,
            "poll_retry_limit": self.poll_retry_limit,
            "poll_retry_delay": self.poll_retry_delay,
            "poll_failures": watch.failures,
        }
        self.defer(
            trigger=self._trigger(target_id, watch, common),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Map the trigger's event exactly as :meth:`poke` maps a read."""
        try:
            return self._result(event)
        except SdrsWaitTimeoutError as timeout:
            raise AirflowSensorTimeout(str(timeout)) from timeout


class SdrsJobSensor(_SdrsWaitSensor):
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
    id_field = "job_id"

    def __init__(
        self,
        *,
        job_id: str,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.not_found_grace = numbers.seconds(not_found_grace, "not_found_grace")

    def _new_watch(self, started_at: float, rescheduled: bool) -> JobWatch:
        from airflow_provider_sdrs._waiting import JobWatch

        return JobWatch(
            self.log,
            started_at=started_at,
            max_poll_failures=self.max_poll_failures,
            job_id=self.job_id,
            not_found_grace=self.not_found_grace,
            # Rescheduled before: only a read that showed the job gives the slot back (see poke).
            seen=rescheduled,
        )

    def _read(self, target_id: str) -> Read[Any]:
        from airflow_provider_sdrs._core import reads

        return reads.job(target_id)

    def _result(self, verdict: dict[str, Any] | None) -> Any:
        from airflow_provider_sdrs._waiting import result_from_event

        return result_from_event(verdict)

    def _console_target(self, target_id: str) -> dict[str, str]:
        return {"resource_type": "job", "job_id": target_id}

    def _trigger(self, target_id: str, watch: Watch, common: dict[str, Any]) -> BaseTrigger:
        from airflow_provider_sdrs._waiting import JobWatch
        from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger

        assert isinstance(watch, JobWatch)
        return SdrsJobTrigger(
            job_id=target_id,
            not_found_grace=max(0.0, self.not_found_grace - (time.time() - watch.started_at)),
            job_seen=watch.seen,
            **common,
        )


def _target_statuses(value: object, wait_for_sync: bool) -> list[str]:
    """The statuses a group is waited into: a status or a list of them, sorted; may be empty only when the
    synchronisation is waited for."""
    if value is None:
        statuses: list[object] = []
    elif isinstance(value, str):
        statuses = [value]
    elif isinstance(value, (list, tuple, set, frozenset)):
        statuses = list(value)
    else:
        raise SdrsValidationError("statuses", f"must be a status or a list of statuses, got {value!r}"[:300])
    if not all(isinstance(status, str) and status.strip() for status in statuses):
        raise SdrsValidationError("statuses", f"must hold non-empty status strings, got {value!r}"[:300])
    if not statuses and not wait_for_sync:
        raise SdrsValidationError("statuses", "name at least one status, or set wait_for_sync=True")
    return sorted({str(status) for status in statuses})


class SdrsProtectionGroupSensor(_SdrsWaitSensor):
    """Waits until a protection group is in one of ``statuses`` and, with ``wait_for_sync``, has finished
    its initial synchronisation; returns the group's document as XCom.

    SDRS says a group is synchronised with ``replication_status`` ``active`` (``inactive``: not yet); when a
    document has no ``replication_status``, ``progress`` (0-100 %) of 100 counts instead.

    The outcomes are those of :class:`SdrsJobSensor`, in poke, reschedule and deferrable mode alike:

    * the group gets there: the sensor succeeds and returns its document;
    * it enters an ``error-*`` status that is not waited for, or it is gone:
      :class:`~airflow_provider_sdrs.exceptions.SdrsResourceStatusError` naming the status, which is not
      retried (an operation on the group failed; someone must act);
    * the sensor's ``timeout`` passes: ``AirflowSensorTimeout`` (skipped with ``soft_fail=True``);
    * SDRS cannot be polled ``max_poll_failures`` times in a row (each after the hook's retries): a
      retryable error that says what failed. Fewer failed polls are logged and the wait goes on.

    In reschedule mode the sensor keeps its worker slot while polls fail, and gives it back after a read
    that showed the group. Deferrable, it polls once, then defers to
    :class:`~airflow_provider_sdrs.triggers.sdrs.SdrsResourceTrigger` (``reach``, ``synchronised``).

    :param server_group_id: the protection group (templated).
    :param statuses: the status, or the statuses, to wait for (default ``protected``); ``None`` with
        ``wait_for_sync`` waits for the synchronisation only.
    :param wait_for_sync: also wait until the initial synchronisation has finished.
    :param sdrs_conn_id: the ``sdrs`` connection (templated).
    :param deferrable: wait in the triggerer instead of a worker; defaults to
        ``[operators] default_deferrable``.
    :param poll_retry_limit: retries of one poll after a transient failure (passed to the hook).
    :param poll_retry_delay: first backoff between those retries, seconds.
    :param max_poll_failures: consecutive failed polls tolerated before giving up, in every mode.
    :raises SdrsValidationError: an argument is not acceptable; the error names it.
    """

    template_fields: Sequence[str] = ("server_group_id", "sdrs_conn_id")
    id_field = "server_group_id"

    def __init__(
        self,
        *,
        server_group_id: str,
        statuses: str | Sequence[str] | None = ("protected",),
        wait_for_sync: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(wait_for_sync, bool):
            raise SdrsValidationError("wait_for_sync", f"must be True or False, got {wait_for_sync!r}")
        self.server_group_id = server_group_id
        self.statuses = _target_statuses(statuses, wait_for_sync)
        self.wait_for_sync = wait_for_sync

    def _new_watch(self, started_at: float, rescheduled: bool) -> GroupStatusWatch:
        from airflow_provider_sdrs._waiting import GroupStatusWatch

        return GroupStatusWatch(
            self.log,
            started_at=started_at,
            max_poll_failures=self.max_poll_failures,
            resource_id=self.server_group_id,
            reach=frozenset(self.statuses),
            synchronised=self.wait_for_sync,
        )

    def _read(self, target_id: str) -> Read[Any]:
        from airflow_provider_sdrs._core import reads

        return reads.resource(reads.GROUP, target_id)

    def _result(self, verdict: dict[str, Any] | None) -> Any:
        from airflow_provider_sdrs._waiting import group_from_event

        return group_from_event(verdict, self.server_group_id)

    def _console_target(self, target_id: str) -> dict[str, str]:
        return {"resource_type": "server_group", "resource_id": target_id}

    def _trigger(self, target_id: str, watch: Watch, common: dict[str, Any]) -> BaseTrigger:
        from airflow_provider_sdrs._core.reads import GROUP
        from airflow_provider_sdrs.triggers.sdrs import SdrsResourceTrigger

        return SdrsResourceTrigger(
            resource=GROUP,
            resource_id=target_id,
            reach=self.statuses,
            synchronised=self.wait_for_sync,
            **common,
        )
