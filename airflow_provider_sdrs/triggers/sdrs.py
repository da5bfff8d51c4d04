"""Triggers that wait in the triggerer, without holding a worker slot: for an SDRS job, or for a protection
group or DR drill to leave the statuses of an operation in progress.

Both are the same wait (:func:`airflow_provider_sdrs._waiting.wait`) driven on asyncio; they differ only in
what they read and how a read is judged, which each declares.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_sdrs._core import numbers
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs._waiting import (
    DEFAULT_MAX_POLL_FAILURES,
    DEFAULT_NOT_FOUND_GRACE,
    JobWatch,
    ResourceWatch,
    Watch,
    connection_problem,
    wait,
)
from airflow_provider_sdrs.exceptions import SdrsError, SdrsValidationError

if TYPE_CHECKING:
    from airflow_provider_sdrs._core.reads import Read
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

__all__ = ["SdrsJobTrigger", "SdrsResourceTrigger"]

# Characters of an unexpected error's own text kept in an event.
MAX_DETAIL = 500


def _statuses(value: object) -> list[str]:
    """The statuses to wait out: a non-empty collection of non-empty strings, sorted and without repeats."""
    problem = f"must be a non-empty list of status strings, got {value!r}"[:300]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise SdrsValidationError("statuses", problem)
    statuses = list(value)
    if not statuses or not all(isinstance(status, str) and status for status in statuses):
        raise SdrsValidationError("statuses", problem)
    return sorted(set(statuses))


class _SdrsWaitTrigger(BaseTrigger):
    """Polls until the wait is decided; fires exactly one event.

    A subclass declares what it reads (:meth:`read`), how a read is judged (:meth:`watch`) and its own
    arguments (:attr:`own_fields`, validated in its ``__init__``).

    :param sdrs_conn_id: the connection to use; it is looked up by id in the triggerer, so the trigger's
        arguments hold no secret.
    :param poll_interval: seconds between polls.
    :param end_time: wall-clock deadline, epoch seconds; ``None`` waits without limit.
    :param max_poll_failures: consecutive failed polls (each after the hook's own retries) tolerated
        before the trigger gives up with an ``error`` event.
    :param poll_retry_limit: retries of one poll after a transient failure (passed to the hook).
    :param poll_retry_delay: first backoff between those retries, seconds.
    :param poll_failures: failed polls in a row before the deferral; they count toward ``max_poll_failures``.
    :raises SdrsValidationError: an argument is not acceptable (a NaN or negative number...); it names it.
    """

    #: The subclass's own arguments, serialized after the shared ones.
    own_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        sdrs_conn_id: str = "sdrs_default",
        poll_interval: float = 10.0,
        end_time: float | None = None,
        max_poll_failures: int = DEFAULT_MAX_POLL_FAILURES,
        poll_retry_limit: int = 4,
        poll_retry_delay: float = 1.0,
        poll_failures: int = 0,
    ) -> None:
        super().__init__()
        self.sdrs_conn_id = sdrs_conn_id
        self.poll_interval = numbers.interval(poll_interval, "poll_interval")
        self.end_time = numbers.epoch(end_time, "end_time")
        self.max_poll_failures = numbers.count(max_poll_failures, "max_poll_failures", minimum=1)
        self.poll_retry_limit = numbers.retry_limit(poll_retry_limit, "poll_retry_limit")
        self.poll_retry_delay = numbers.retry_delay(poll_retry_delay, "poll_retry_delay")
        self.poll_failures = numbers.count(poll_failures, "poll_failures")

    _shared_fields = (
        "sdrs_conn_id",
        "poll_interval",
        "end_time",
        "max_poll_failures",
        "poll_retry_limit",
        "poll_retry_delay",
        "poll_failures",
    )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        fields = (*self.own_fields, *self._shared_fields)
        return f"{type(self).__module__}.{type(self).__qualname__}", {name: getattr(self, name) for name in fields}

    # -- what a subclass declares ----------------------------------------------------------------------

    def read(self) -> Read[Any]:
        raise NotImplementedError

    def watch(self) -> Watch:
        raise NotImplementedError

    # -- the run -------------------------------------------------------------------------------------------

    def _hook(self) -> SdrsHook:
        from airflow_provider_sdrs.hooks.sdrs import SdrsHook

        return SdrsHook(self.sdrs_conn_id, retry_limit=self.poll_retry_limit, retry_delay=self.poll_retry_delay)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch = self.watch()
        hook = self._hook()
        try:
            settings = await hook._aget_settings()
        except Exception as error:
            # A deleted or broken connection: an event says so, where an exception would leave the task hanging.
            yield TriggerEvent(watch.event("error", connection_problem(self.sdrs_conn_id, error)))
            return
        read = self.read()
        try:
            steps = wait(
                watch,
                lambda: hook._read_steps(settings, read, self.end_time),
                poll_interval=self.poll_interval,
                end_time=self.end_time,
            )
            payload = await hook._adrive(steps)
        except SdrsError as error:
            # The connection itself could not be used.
            payload = watch.event("error", str(error))
        except Exception as error:
            # Whatever went wrong, the task waits for an event: it gets one, naming what could not be read.
            self.log.error(
                "%s: the wait on connection %r failed unexpectedly", watch.subject, self.sdrs_conn_id, exc_info=True
            )
            payload = watch.event("error", self._unexpected(watch, error, settings.secrets))
        yield TriggerEvent(payload)

    def _unexpected(self, watch: Watch, error: Exception, secrets: tuple[str, ...]) -> str:
        """The message of an ``error`` event for an unexpected failure: scrubbed, clipped, naming what was
        waited for and the connection."""
        from airflow_provider_sdrs._core.text import safe

        detail = safe(f"{type(error).__name__}: {error}", MAX_DETAIL, secrets)
        return f"waiting for {watch.subject} on connection {self.sdrs_conn_id!r} failed unexpectedly: {detail}"


class SdrsJobTrigger(_SdrsWaitTrigger):
    """Polls an SDRS job until it ends, its deadline passes, or it cannot be polled any more.

    Fires one event with ``status`` ``success``, ``failed`` (the job ended in FAIL), ``timeout``
    (``end_time`` passed) or ``error`` (the job could not be polled), plus ``job_id``, ``message`` and,
    when known, ``job`` (:meth:`SdrsJob.to_dict`). An ``error`` event about a job that SDRS never showed
    within ``not_found_grace`` has ``reason`` ``not_found``.

    SDRS has no API to cancel a job: when the waiting task is killed or times out, the SDRS job
    carries on. When the connection cannot be loaded (deleted, unreadable, invalid), the trigger fires an
    ``error`` event that names it.

    :param job_id: the job to wait for.
    :param not_found_grace: seconds during which "no such job" is read as "not visible yet".
    :param job_seen: a read before the deferral showed the job: "no such job" is then a failed poll,
        whatever the grace.

    The other arguments are those of every SDRS wait trigger: ``sdrs_conn_id``, ``poll_interval``,
    ``end_time``, ``max_poll_failures``, ``poll_retry_limit``, ``poll_retry_delay``, ``poll_failures``.
    """

    own_fields = ("job_id", "not_found_grace", "job_seen")

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
        super().__init__(
            sdrs_conn_id=sdrs_conn_id,
            poll_interval=poll_interval,
            end_time=end_time,
            max_poll_failures=max_poll_failures,
            poll_retry_limit=poll_retry_limit,
            poll_retry_delay=poll_retry_delay,
            poll_failures=poll_failures,
        )
        self.job_id = validate_id(job_id, "job_id")
        self.not_found_grace = numbers.seconds(not_found_grace, "not_found_grace")
        if not isinstance(job_seen, bool):
            raise SdrsValidationError("job_seen", f"must be True or False, got {job_seen!r}")
        self.job_seen = job_seen

    def read(self) -> Read[Any]:
        from airflow_provider_sdrs._core import reads

        return reads.job(self.job_id)

    def watch(self) -> JobWatch:
        return JobWatch(
            self.log,
            max_poll_failures=self.max_poll_failures,
            failures=self.poll_failures,
            job_id=self.job_id,
            not_found_grace=self.not_found_grace,
            seen=self.job_seen,
        )


class SdrsResourceTrigger(_SdrsWaitTrigger):
    """Polls a protection group or DR drill until it leaves a set of statuses (an operation in progress).

    Fires one event: ``status`` ``success`` once the resource is in none of ``statuses`` (or is gone),
    ``timeout`` when ``end_time`` passed first, ``error`` when it could not be polled ``max_poll_failures``
    times in a row (or the connection could not be used); plus ``resource``, ``resource_id``, ``message``
    and ``document``, the resource's last document (``None`` when it is gone or was never read).

    An operator that finds its operation already in progress defers to this trigger; on resume it reads the
    resource and decides again.

    :param resource: ``protection group`` or ``DR drill``.
    :param resource_id: the group's or drill's id.
    :param statuses: the statuses to wait out, such as ``["failing-over"]``.

    The other arguments are those of every SDRS wait trigger: ``sdrs_conn_id``, ``poll_interval``,
    ``end_time``, ``max_poll_failures``, ``poll_retry_limit``, ``poll_retry_delay``, ``poll_failures``.
    """

    own_fields = ("resource", "resource_id", "statuses")

    def __init__(self, *, resource: str, resource_id: str, statuses: Iterable[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from airflow_provider_sdrs._core.reads import DOCUMENT_KEYS

        if not isinstance(resource, str) or resource not in DOCUMENT_KEYS:
            raise SdrsValidationError("resource", f"must be one of {sorted(DOCUMENT_KEYS)}, got {resource!r}")
        self.resource = resource
        self.resource_id = validate_id(resource_id, "resource_id")
        self.statuses = _statuses(statuses)

    def read(self) -> Read[Any]:
        from airflow_provider_sdrs._core import reads

        return reads.resource(self.resource, self.resource_id)

    def watch(self) -> ResourceWatch:
        return ResourceWatch(
            self.log,
            max_poll_failures=self.max_poll_failures,
            failures=self.poll_failures,
            resource=self.resource,
            resource_id=self.resource_id,
            during=frozenset(self.statuses),
        )
