"""Triggers that wait in the triggerer, without holding a worker slot: for an SDRS job, or for a protection
group or DR drill to leave the statuses of an operation in progress (or a group to reach a status); and the
event trigger of asset watchers, which reports protection groups entering watched statuses.

The waits are the same wait (:func:`airflow_provider_sdrs._waiting.wait`) driven on asyncio; they differ only
in what they read and how a read is judged, which each declares. The event trigger judges each listing of
the groups with :class:`airflow_provider_sdrs._waiting.GroupTransitions`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Hashable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_sdrs._core import numbers
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs._waiting import (
    DEFAULT_MAX_POLL_FAILURES,
    DEFAULT_NOT_FOUND_GRACE,
    DEFAULT_WATCHED_STATUSES,
    GroupStatusWatch,
    GroupTransitions,
    JobWatch,
    ResourceWatch,
    Watch,
    connection_problem,
    wait,
)
from airflow_provider_sdrs.exceptions import SdrsError, SdrsPollError, SdrsValidationError

if TYPE_CHECKING:
    from airflow_provider_sdrs._core.reads import Read
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

__all__ = ["SdrsJobTrigger", "SdrsProtectionGroupEventTrigger", "SdrsResourceTrigger"]

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
        from airflow_provider_sdrs._core.deadline import as_deadline
        from airflow_provider_sdrs._core.reads import LastAnswer

        read = self.read()
        last = LastAnswer()
        deadline = as_deadline(self.end_time)
        try:
            steps = wait(
                watch,
                lambda: hook._read_steps(settings, read, deadline, last),
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
    :param reach: for a protection group, wait instead until it is in one of these statuses (the sensor's
        deferrable mode); an ``error-*`` status not among them, or a group that is gone, ends the wait with a
        ``failed`` event.
    :param synchronised: with ``reach`` (which may then be empty), also wait until the group's initial
        synchronisation has finished (``replication_status`` ``active``).

    The other arguments are those of every SDRS wait trigger: ``sdrs_conn_id``, ``poll_interval``,
    ``end_time``, ``max_poll_failures``, ``poll_retry_limit``, ``poll_retry_delay``, ``poll_failures``.
    """

    own_fields = ("resource", "resource_id", "statuses", "reach", "synchronised")

    def __init__(
        self,
        *,
        resource: str,
        resource_id: str,
        statuses: Iterable[str] = (),
        reach: Iterable[str] | None = None,
        synchronised: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from airflow_provider_sdrs._core.reads import DOCUMENT_KEYS, GROUP

        if not isinstance(resource, str) or resource not in DOCUMENT_KEYS:
            raise SdrsValidationError("resource", f"must be one of {sorted(DOCUMENT_KEYS)}, got {resource!r}")
        self.resource = resource
        self.resource_id = validate_id(resource_id, "resource_id")
        if not isinstance(synchronised, bool):
            raise SdrsValidationError("synchronised", f"must be True or False, got {synchronised!r}")
        self.synchronised = synchronised
        if reach is None and not synchronised:
            self.statuses = _statuses(statuses)
            self.reach: list[str] | None = None
            return
        if resource != GROUP:
            raise SdrsValidationError("reach", "waiting to reach a status is for protection groups only")
        self.statuses = []
        # Empty only when the synchronisation alone is waited for.
        self.reach = _statuses(reach) if reach or not synchronised else []

    def read(self) -> Read[Any]:
        from airflow_provider_sdrs._core import reads

        return reads.resource(self.resource, self.resource_id)

    def watch(self) -> ResourceWatch:
        if self.reach is not None:
            return GroupStatusWatch(
                self.log,
                max_poll_failures=self.max_poll_failures,
                failures=self.poll_failures,
                resource_id=self.resource_id,
                reach=frozenset(self.reach),
                synchronised=self.synchronised,
            )
        return ResourceWatch(
            self.log,
            max_poll_failures=self.max_poll_failures,
            failures=self.poll_failures,
            resource=self.resource,
            resource_id=self.resource_id,
            during=frozenset(self.statuses),
        )


# -- the event trigger of asset watchers -----------------------------------------------------------------------

#: A listing of the groups may take this long (its retries included) before it counts as a failed poll.
MIN_LISTING_TIME = 60.0


def _watched(value: object) -> list[str]:
    """Statuses to watch: like :func:`_statuses`, where a ``*`` may only end a status (``error-*``)."""
    statuses = _statuses(value)
    for status in statuses:
        if "*" in status[:-1] or status == "*":
            raise SdrsValidationError("statuses", f"'*' may only end a status after a prefix, got {status!r}")
    return statuses


async def _poll_groups(
    sdrs_conn_id: str, poll_interval: float, retry_limit: int, retry_delay: float
) -> AsyncIterator[Any]:
    """Lists the connection's protection groups every ``poll_interval``; yields each listing, or the
    ``SdrsError`` in its place. It never ends: a failed listing is an outcome like the others."""
    from airflow_provider_sdrs._core import reads
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

    hook = SdrsHook(sdrs_conn_id, retry_limit=retry_limit, retry_delay=retry_delay)
    read = reads.groups()
    while True:
        outcome: Any
        try:
            settings = await hook._aget_settings()
        except Exception as error:
            # A deleted or broken connection may be mended while the watcher runs: a failed poll, not an end.
            outcome = SdrsPollError(connection_problem(sdrs_conn_id, error))
        else:
            deadline = time.time() + max(poll_interval, MIN_LISTING_TIME)
            try:
                outcome = await hook._adrive(hook._read_steps(settings, read, deadline))
            except SdrsError as error:
                outcome = error
            except Exception as error:
                from airflow_provider_sdrs._core.text import safe

                detail = safe(f"{type(error).__name__}: {error}", MAX_DETAIL, settings.secrets)
                outcome = SdrsPollError(f"listing the protection groups failed unexpectedly: {detail}")
        yield outcome
        await asyncio.sleep(poll_interval)


class SdrsProtectionGroupEventTrigger(BaseEventTrigger):
    """Fires an event each time a protection group enters a watched status, for asset watchers.

    It lists the connection's protection groups every ``poll_interval`` (one ``GET server-groups`` call) and
    fires one event per transition into a watched status: a group that stays there fires nothing more; one
    that leaves and comes back, or moves to another watched status, fires again. A group first seen already
    in a watched status (when the watcher starts) fires once, with ``previous_status`` ``None``.

    Each event's payload: ``server_group_id``, ``name``, ``previous_status``, ``status``, ``observed_at``
    (ISO 8601, UTC, when the listing that showed the transition was read) and ``sdrs_conn_id``.

    Failed listings never end the watcher: they are logged (WARNING, every tenth in a row at ERROR), and the
    next listing is compared with the last statuses seen.

    **Restarts.** Where the triggerer gives event triggers an asset state store (Airflow 3.3, not 3.1), the last
    statuses seen are kept there, so a restarted triggerer fires for transitions that happened while it was
    down and not again for groups that stayed where they were. Elsewhere (Airflow 3.1) a restarted
    watcher starts without memory: a group still in a watched status fires once more (``previous_status``
    ``None``), and a group that entered and left a watched status while no triggerer ran is not reported.

    **Cost.** Where the triggerer can share one polling stream between event triggers (Airflow 3.3, not 3.1:
    ``shared_stream_key``), every watcher of one connection with the same poll settings shares one listing
    per ``poll_interval``, whatever the number of watchers. Elsewhere each watcher lists the groups itself:
    one request per watcher per ``poll_interval``.

    :param sdrs_conn_id: the connection; it is looked up by id in the triggerer, so no secret is in the
        trigger's arguments.
    :param server_group_id: the group to watch; ``None``: every group of the connection's project.
    :param statuses: the statuses that fire; a status ending in ``*`` matches by prefix. Default: every
        ``error-*`` status, and ``failed-over``.
    :param poll_interval: seconds between two listings.
    :param poll_retry_limit: retries of one listing after a transient failure (passed to the hook).
    :param poll_retry_delay: first backoff between those retries, seconds.
    :raises SdrsValidationError: an argument is not acceptable; it names it.
    """

    #: The asset state store key prefix of the last statuses seen.
    STATE_KEY = "sdrs_group_statuses"

    def __init__(
        self,
        *,
        sdrs_conn_id: str = "sdrs_default",
        server_group_id: str | None = None,
        statuses: Iterable[str] | None = None,
        poll_interval: float = 60.0,
        poll_retry_limit: int = 4,
        poll_retry_delay: float = 1.0,
    ) -> None:
        super().__init__()
        if not isinstance(sdrs_conn_id, str) or not sdrs_conn_id:
            raise SdrsValidationError("sdrs_conn_id", f"must be a non-empty string, got {sdrs_conn_id!r}")
        self.sdrs_conn_id = sdrs_conn_id
        self.server_group_id = None if server_group_id is None else validate_id(server_group_id, "server_group_id")
        self.statuses = _watched(DEFAULT_WATCHED_STATUSES if statuses is None else statuses)
        self.poll_interval = numbers.interval(poll_interval, "poll_interval")
        self.poll_retry_limit = numbers.retry_limit(poll_retry_limit, "poll_retry_limit")
        self.poll_retry_delay = numbers.retry_delay(poll_retry_delay, "poll_retry_delay")

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "sdrs_conn_id": self.sdrs_conn_id,
            "server_group_id": self.server_group_id,
            "statuses": self.statuses,
            "poll_interval": self.poll_interval,
            "poll_retry_limit": self.poll_retry_limit,
            "poll_retry_delay": self.poll_retry_delay,
        }

    # -- one listing per connection and interval, shared where the triggerer can share it ------------------

    def shared_stream_key(self) -> Hashable | None:
        # Only what the listing depends on: watchers of other groups or statuses share it too.
        return (
            "sdrs-protection-groups",
            self.sdrs_conn_id,
            self.poll_interval,
            self.poll_retry_limit,
            self.poll_retry_delay,
        )

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        async for outcome in _poll_groups(
            kwargs.get("sdrs_conn_id", "sdrs_default"),
            kwargs.get("poll_interval", 60.0),
            kwargs.get("poll_retry_limit", 4),
            kwargs.get("poll_retry_delay", 1.0),
        ):
            yield outcome

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        watch = GroupTransitions(self.log, server_group_id=self.server_group_id, watched=tuple(self.statuses))
        await self._restore(watch)
        remembered = dict(watch.known)
        async for outcome in shared_stream:
            verdict = watch.judge(outcome)
            for transition in (verdict or {}).get("transitions", ()):
                self.log.info(
                    "protection group %s entered %s (was %s): firing",
                    transition["server_group_id"],
                    transition["status"],
                    transition["previous_status"] or "not seen before",
                )
                yield TriggerEvent({**transition, "sdrs_conn_id": self.sdrs_conn_id})
            if watch.known != remembered and watch.last_error is None:
                await self._remember(watch.known)
                remembered = dict(watch.known)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        stream = _poll_groups(self.sdrs_conn_id, self.poll_interval, self.poll_retry_limit, self.poll_retry_delay)
        async for event in self.filter_shared_stream(stream):
            yield event

    # -- memory across restarts (the asset state store, where the triggerer gives one) ---------------------

    @property
    def _state_key(self) -> str:
        return f"{self.STATE_KEY}:{self.sdrs_conn_id}:{self.server_group_id or '*'}"

    async def _restore(self, watch: GroupTransitions) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return
        try:
            value = await store.aget(self._state_key)
        except Exception as error:
            self.log.info("No statuses remembered from before (%s: %s); starting afresh", type(error).__name__, error)
            return
        if isinstance(value, dict):
            watch.known = {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
            self.log.info("Remembered the statuses of %d protection group(s) from before", len(watch.known))

    async def _remember(self, known: dict[str, str]) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return
        try:
            await store.aset(self._state_key, dict(known))
        except Exception as error:
            self.log.warning("Could not remember the statuses seen (%s: %s)", type(error).__name__, error)
