"""What waiting means, shared by the sensor (poke and reschedule), the triggers and the operators.

One function decides what each poll's outcome means (:meth:`Watch.judge`): the job or resource got where
it was waited for, keep waiting, a failed poll, or give up. One generator (:func:`wait`) is the wait
itself, as steps of the sans-IO core (:mod:`airflow_provider_sdrs._core.steps`), which one blocking and
one asyncio driver perform. Keeping this in one place is what makes a wait end the same way in every mode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_sdrs._core.defaults import (
    DEFAULT_MAX_POLL_FAILURES,
    DEFAULT_NOT_FOUND_GRACE,
)
from airflow_provider_sdrs._core.logs import Log, resolved
from airflow_provider_sdrs._core.steps import Sleep, Steps
from airflow_provider_sdrs.exceptions import (
    SdrsAuthError,
    SdrsConfigError,
    SdrsError,
    SdrsJobFailedError,
    SdrsJobNotFoundError,
    SdrsJobUnknownError,
    SdrsPollError,
    SdrsResourceNotFoundError,
    SdrsValidationError,
    SdrsWaitTimeout,  # noqa: F401 - where it was imported from before it moved to exceptions
    SdrsWaitTimeoutError,
)

if TYPE_CHECKING:
    # Imported where used: DAG files import the sensor, and parsing them should stay cheap.
    from airflow_provider_sdrs.models import SdrsJob

EventStatus = Literal["success", "failed", "timeout", "error"]
EVENT_STATUSES: tuple[str, ...] = ("success", "failed", "timeout", "error")

MAX_EVENT_MESSAGE = 1000
# Sub-jobs of an ended job listed one per log line; the rest are counted.
LOGGED_SUB_JOBS = 10
_MESSAGE_CLIP = 500

#: When :func:`wait` hands back before the wait is decided: ``end`` never (the triggers, operators);
#: ``poll`` after one poll (poke mode); ``sighting`` after a poll that showed the job (reschedule mode).
Until = Literal["end", "poll", "sighting"]


def format_elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _gives_up_at_once(error: SdrsError) -> bool:
    # Waiting longer will not fix a bad connection or refused credentials.
    return isinstance(error, (SdrsValidationError, SdrsConfigError, SdrsAuthError))


@dataclass
class Watch:
    """Follows one job or resource across polls and judges each poll, the same way in every mode.

    :param started_at: wall-clock epoch seconds when the wait began.
    :param max_poll_failures: consecutive failed polls (each after the hook's own retries) tolerated
        before giving up.
    :param failures: failed polls in a row so far.
    """

    log: Log
    started_at: float = field(default_factory=time.time)
    max_poll_failures: int = DEFAULT_MAX_POLL_FAILURES
    failures: int = 0
    last_status: str | None = None
    #: The error the last poll raised; ``None`` after a read that worked.
    last_error: SdrsError | None = None

    def __post_init__(self) -> None:
        self.log = resolved(self.log)

    #: What is watched, in messages (``SDRS job 123``).
    @property
    def subject(self) -> str:
        raise NotImplementedError

    def elapsed(self) -> str:
        return format_elapsed(time.time() - self.started_at)

    def judge(self, outcome: Any) -> dict[str, Any] | None:
        """Take the outcome of one poll: the event payload that ends the wait, or ``None`` to poll again.

        :param outcome: what the read returned, or the ``SdrsError`` it raised.
        """
        self.last_error = outcome if isinstance(outcome, SdrsError) else None
        if isinstance(outcome, SdrsError):
            verdict = self._special(outcome)
            if verdict is not None:
                return verdict or None
            if _gives_up_at_once(outcome):
                return self.event("error", str(outcome))
            return self._failed_poll(outcome)
        self.failures = 0
        return self._read(outcome)

    def _special(self, error: SdrsError) -> dict[str, Any] | None:
        """A verdict on an error that means something about the target: a payload, ``{}`` to poll again,
        or ``None`` when it is an ordinary failed poll."""
        return None

    def _read(self, outcome: Any) -> dict[str, Any] | None:
        """A verdict on a successful read: the payload that ends the wait, or ``None``."""
        raise NotImplementedError

    def _failed_poll(self, error: SdrsError) -> dict[str, Any] | None:
        self.failures += 1
        if self.failures >= self.max_poll_failures:
            return self.event(
                "error", f"could not poll {self.subject} {self.failures} times in a row; last error: {error}"
            )
        self.log.warning(
            "Poll %d of %s failed%s (%s); %s, trying again",
            self.failures,
            self.subject,
            self._failure_note(error),
            error,
            self._still_going,
        )
        return None

    _still_going = "it may still be going on"

    def _failure_note(self, error: SdrsError) -> str:
        return ""

    def timed_out(self) -> dict[str, Any]:
        return self.event(
            "timeout",
            f"{self.subject} did not end before the deadline "
            f"(last status {self.last_status or 'unknown'}, waited {self.elapsed()})",
        )

    def event(self, status: EventStatus, message: str, **extra: Any) -> dict[str, Any]:
        raise NotImplementedError

    def showed_target(self, outcome: Any) -> bool:
        """Whether a poll's outcome showed the target (so that a reschedule may follow it)."""
        return not isinstance(outcome, SdrsError)


@dataclass
class JobWatch(Watch):
    """Follows one SDRS job until it ends.

    :param not_found_grace: seconds during which "no such job" is taken as "not visible yet". It applies
        only until the job is first seen: once SDRS has shown the job, "no such job" is a failed poll.
    :param seen: whether an earlier read showed the job.
    """

    job_id: str = ""
    not_found_grace: float = DEFAULT_NOT_FOUND_GRACE
    seen: bool = False
    missing_noted: bool = False

    @property
    def subject(self) -> str:
        return f"SDRS job {self.job_id}"

    _still_going = "the job may still be running"

    def _special(self, error: SdrsError) -> dict[str, Any] | None:
        if not isinstance(error, SdrsJobNotFoundError) or self.seen:
            return None
        if time.time() - self.started_at >= self.not_found_grace:
            message = f"{error}; still unknown after {self.elapsed()} - check the job id and the connection's project"
            return self.event("error", message, reason="not_found")
        level = logging.DEBUG if self.missing_noted else logging.INFO
        self.log.log(level, "SDRS job %s is not visible yet after %s; waiting", self.job_id, self.elapsed())
        self.missing_noted = True
        return {}

    def _failure_note(self, error: SdrsError) -> str:
        # A job SDRS showed before does not vanish: a "no such job" now is a glitch of SDRS or its gateway.
        return " (SDRS showed the job before)" if isinstance(error, SdrsJobNotFoundError) else ""

    def _read(self, job: SdrsJob) -> dict[str, Any] | None:
        self.seen = True
        self.observe(job)
        return terminal_event(job) if job.is_terminal else None

    def observe(self, job: SdrsJob) -> None:
        """Log the job's status at INFO when it changed since the last poll, else at DEBUG."""
        status = job.describe_status()
        kind = f" ({job.job_type})" if job.job_type else ""
        if status == self.last_status:
            self.log.debug("SDRS job %s still %s after %s", job.job_id, status, self.elapsed())
            return
        self.log.info("SDRS job %s%s is %s after %s", job.job_id, kind, status, self.elapsed())
        if job.is_terminal and job.sub_jobs:
            # A few lines, not one per sub-job: a job may have 100,000 of them.
            for sub in job.sub_jobs[:LOGGED_SUB_JOBS]:
                self.log.info(
                    "  sub-job %s (%s): %s%s",
                    sub.job_id,
                    sub.job_type or "?",
                    sub.describe_status(),
                    f" {sub.error_code}: {sub.fail_reason}" if sub.error_code or sub.fail_reason else "",
                )
            if job.sub_job_total > LOGGED_SUB_JOBS:
                self.log.info(
                    "  and %d more sub-jobs; all of them by status: %s",
                    job.sub_job_total - LOGGED_SUB_JOBS,
                    ", ".join(f"{count} {status}" for status, count in sorted(job.sub_job_counts.items())),
                )
        self.last_status = status

    def event(self, status: EventStatus, message: str, **extra: Any) -> dict[str, Any]:
        return event(status, self.job_id, message, **extra)


def resource_status(document: dict[str, Any] | None) -> str | None:
    """The ``status`` of a protection group or DR drill document; ``None`` when it has none (or is gone)."""
    status = (document or {}).get("status")
    return status if isinstance(status, str) else None


def describe_resource_status(document: dict[str, Any] | None) -> str:
    """The status in words, for messages: ``gone`` and ``in an unreported status`` included."""
    if document is None:
        return "gone"
    return resource_status(document) or "in an unreported status"


@dataclass
class ResourceWatch(Watch):
    """Follows one protection group or DR drill until it leaves the statuses in ``during``.

    A resource that is gone has left them: a deletion in progress ends so.

    :param resource: ``protection group`` or ``DR drill``.
    :param resource_id: its id.
    :param during: the statuses waited out (an operation in progress).
    """

    resource: str = ""
    resource_id: str = ""
    during: frozenset[str] = frozenset()

    @property
    def subject(self) -> str:
        return f"{self.resource} {self.resource_id}"

    _still_going = "the operation in progress may still be running"

    def _special(self, error: SdrsError) -> dict[str, Any] | None:
        if isinstance(error, SdrsResourceNotFoundError):
            self.failures = 0
            return self._read(None)
        return None

    def _read(self, document: dict[str, Any] | None) -> dict[str, Any] | None:
        status = describe_resource_status(document)
        if status != self.last_status:
            self.log.info("%s is %s after %s", self.subject, status, self.elapsed())
            self.last_status = status
        else:
            self.log.debug("%s still %s after %s", self.subject, status, self.elapsed())
        if document is not None and resource_status(document) in self.during:
            return None
        return self.event("success", f"{self.subject} is {status} after {self.elapsed()}", document=document)

    def event(self, status: EventStatus, message: str, **extra: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "status": status,
            "resource": self.resource,
            "resource_id": self.resource_id,
            "message": message,
            "document": extra.pop("document", None),
        }
        payload.update(extra)
        return payload


def wait(
    watch: Watch,
    read: Callable[[], Steps[Any]],
    *,
    poll_interval: float,
    end_time: float | None = None,
    until: Until = "end",
) -> Steps[dict[str, Any] | None]:
    """Poll with ``read`` until ``watch`` decides, ``end_time`` passes, or the wait hands back (``until``).

    :param read: makes the steps of one read (the job, or the resource).
    :returns: the event payload that ends the wait; ``None`` when it hands back undecided (``until``
        ``poll`` or ``sighting``, or the deadline passed in those modes: the sensor's own timeout then rules).
    """
    while True:
        if until == "end" and end_time is not None and time.time() >= end_time:
            # Checked before every read: a read past the deadline would fail, and count as a failed poll.
            return watch.timed_out()
        try:
            outcome: Any = yield from read()
        except SdrsError as error:
            outcome = error
        verdict = watch.judge(outcome)
        if verdict is not None:
            return verdict
        if until == "poll" or (until == "sighting" and watch.showed_target(outcome)):
            return None
        if end_time is not None:
            left = end_time - time.time()
            if left <= 0:
                return watch.timed_out() if until == "end" else None
            yield Sleep(min(poll_interval, left))
        else:
            yield Sleep(poll_interval)


# -- events -----------------------------------------------------------------------------------------------


def event(status: EventStatus, job_id: str, message: str, job: SdrsJob | None = None, **extra: Any) -> dict[str, Any]:
    """The payload of the one event a job trigger fires.

    :param extra: ``reason="not_found"`` for an ``error`` event about a job that stayed unknown past the grace.
    """
    payload: dict[str, Any] = {"status": status, "job_id": job_id, "message": message}
    payload["job"] = job.to_dict() if job else None
    payload.update(extra)
    return payload


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


def _unreadable(payload: object) -> SdrsPollError:
    return SdrsPollError(f"the SDRS trigger sent an unreadable event: {payload!r}"[:_MESSAGE_CLIP])


def result_from_event(payload: dict[str, Any] | None) -> dict[str, Any]:
    """Turn a job trigger's event into the task's result, or the exception poke mode would have raised.

    :raises SdrsJobFailedError: the job failed (not retried).
    :raises SdrsWaitTimeoutError: the deadline passed.
    :raises SdrsJobUnknownError: the job stayed unknown past the grace period (not retried).
    :raises SdrsPollError: the job could not be polled (retryable).
    """
    if not isinstance(payload, dict) or payload.get("status") not in EVENT_STATUSES:
        raise _unreadable(payload)
    status = payload["status"]
    message = str(payload.get("message") or "")
    job_id = str(payload.get("job_id") or "")
    from airflow_provider_sdrs.models import SdrsJob

    job = SdrsJob.from_api(payload["job"], job_id=job_id) if isinstance(payload.get("job"), dict) else None
    if job is not None and job.job_id != job_id:
        # Another job's outcome must not decide this task, nor its ids reach XCom.
        raise SdrsPollError(f"the SDRS trigger sent an event for job {job_id!r} about another job"[:_MESSAGE_CLIP])
    if status == "success" and job is not None and job.status.is_success:
        return job.to_dict()
    if status == "failed" and job is not None and job.is_terminal and not job.status.is_success:
        raise SdrsJobFailedError(job)
    if status in ("success", "failed"):
        # Only a job that SDRS itself reports as ended may decide the task.
        raise SdrsPollError(
            f"the SDRS trigger sent a {status!r} event without a job that ended so: {payload!r}"[:_MESSAGE_CLIP]
        )
    if status == "timeout":
        raise SdrsWaitTimeoutError(message or f"timed out waiting for SDRS job {job_id}")
    if payload.get("reason") == "not_found":
        raise SdrsJobUnknownError(message or f"SDRS has no job {job_id}")
    raise SdrsPollError(message or f"could not poll SDRS job {job_id}")


def resource_from_event(payload: dict[str, Any] | None, resource: str, resource_id: str) -> dict[str, Any] | None:
    """Turn a resource trigger's event into the resource's document (``None``: it is gone).

    :param resource: the kind waited for, and ``resource_id`` its id: an event about another is refused.
    :raises SdrsWaitTimeoutError: the deadline passed while the resource was still busy.
    :raises SdrsPollError: the resource could not be polled (retryable), or the event is unreadable.
    """
    if not isinstance(payload, dict) or payload.get("status") not in ("success", "timeout", "error"):
        raise _unreadable(payload)
    if payload.get("resource") != resource or payload.get("resource_id") != resource_id:
        raise SdrsPollError(
            f"the SDRS trigger sent an event about {payload.get('resource')!r} {payload.get('resource_id')!r} "
            f"while {resource} {resource_id} was waited for"[:_MESSAGE_CLIP]
        )
    message = str(payload.get("message") or "")
    if payload["status"] == "timeout":
        raise SdrsWaitTimeoutError(message or f"timed out waiting for {resource} {resource_id}")
    if payload["status"] == "error":
        raise SdrsPollError(message or f"could not poll {resource} {resource_id}")
    document = payload.get("document")
    if document is not None and not isinstance(document, dict):
        raise _unreadable(payload)
    return document


# -- protection groups: reaching a status, and transitions ---------------------------------------------------

#: Characters of a group's status and name (server text) kept in a watcher's events.
MAX_STATUS = 64
MAX_NAME = 128

#: What a protection group watcher fires on when told nothing else: every ``error-*`` status, and
#: ``failed-over`` (a failover finished, whoever started it).
DEFAULT_WATCHED_STATUSES: tuple[str, ...] = ("error-*", "failed-over")


def is_synchronised(document: dict[str, Any] | None) -> bool:
    """Whether a protection group's initial synchronisation has finished.

    SDRS documents ``replication_status`` (``active``: data synchronised; ``inactive``: not) and
    ``progress`` (synchronisation progress, 0-100 %). ``replication_status`` decides when it is present;
    ``progress`` of 100 only when it is not (a JSON number: ``100`` or ``100.0``).
    """
    if not document:
        return False
    replication = document.get("replication_status")
    if isinstance(replication, str):
        return replication == "active"
    progress = document.get("progress")
    return isinstance(progress, (int, float)) and not isinstance(progress, bool) and progress == 100


def status_matches(status: str | None, patterns: frozenset[str] | tuple[str, ...]) -> bool:
    """Whether ``status`` is one of ``patterns``; a pattern ending in ``*`` matches by prefix (``error-*``)."""
    if status is None:
        return False
    return any(status.startswith(p[:-1]) if p.endswith("*") else status == p for p in patterns)


@dataclass
class GroupStatusWatch(ResourceWatch):
    """Follows one protection group until it reaches one of ``reach`` (and, with ``synchronised``, has
    finished its initial synchronisation).

    An ``error-*`` status that is not waited for ends the wait with a ``failed`` event, and so does a group
    that is gone: neither gets better on its own.

    :param reach: the statuses waited for; empty: any status (only the synchronisation is waited for).
    :param synchronised: also wait for :func:`is_synchronised`.
    """

    resource: str = "protection group"
    reach: frozenset[str] = frozenset()
    synchronised: bool = False

    @property
    def target(self) -> str:
        statuses = " or ".join(sorted(self.reach))
        if self.synchronised:
            return f"{statuses} and synchronised" if statuses else "synchronised"
        return statuses

    def _read(self, document: dict[str, Any] | None) -> dict[str, Any] | None:
        status = describe_resource_status(document)
        synced = is_synchronised(document)
        shown = f"{status}{', synchronised' if synced else ''}" if document is not None else status
        if shown != self.last_status:
            self.log.info("%s is %s after %s (waiting for %s)", self.subject, shown, self.elapsed(), self.target)
            self.last_status = shown
        else:
            self.log.debug("%s still %s after %s", self.subject, shown, self.elapsed())
        if document is None:
            return self.event("failed", f"{self.subject} is gone; it cannot become {self.target}")
        current = resource_status(document)
        if (not self.reach or current in self.reach) and (not self.synchronised or synced):
            return self.event("success", f"{self.subject} is {self.target} after {self.elapsed()}", document=document)
        if current is not None and current.startswith("error") and current not in self.reach:
            from airflow_provider_sdrs._core.text import clean

            return self.event(
                "failed",
                f"{self.subject} is {clean(current, MAX_STATUS)} while it was waited to be {self.target}: "
                "an operation on it failed; fix the cause (see the failed job in the SDRS console's task center) "
                "before running this again",
                document=document,
            )
        return None

    def timed_out(self) -> dict[str, Any]:
        return self.event(
            "timeout",
            f"{self.subject} was not {self.target} before the deadline "
            f"(last status {self.last_status or 'unknown'}, waited {self.elapsed()})",
        )


def group_from_event(payload: dict[str, Any] | None, resource_id: str) -> dict[str, Any]:
    """Turn the event of a wait for a protection group to reach a status into its document.

    :raises SdrsResourceStatusError: it went into an ``error-*`` status or is gone (not retried).
    :raises SdrsWaitTimeoutError: the deadline passed.
    :raises SdrsPollError: it could not be polled (retryable), or the event is unreadable.
    """
    from airflow_provider_sdrs.exceptions import SdrsResourceStatusError

    if isinstance(payload, dict) and payload.get("status") == "failed":
        if payload.get("resource") != "protection group" or payload.get("resource_id") != resource_id:
            raise _unreadable(payload)
        document = payload.get("document")
        raise SdrsResourceStatusError(
            str(payload.get("message") or f"protection group {resource_id} failed"),
            resource="protection group",
            resource_id=resource_id,
            status=resource_status(document) if isinstance(document, dict) else None,
        )
    document = resource_from_event(payload, "protection group", resource_id)
    if document is None:
        # Only a "failed" event may say the group is gone.
        raise _unreadable(payload)
    return document


#: Groups a group watch remembers the last status of, those listed last included.
MAX_REMEMBERED_GROUPS = 5000


@dataclass
class GroupTransitions(Watch):
    """Watches the protection groups of one connection (or one of them) for transitions into watched statuses.

    Each poll's outcome is a listing of the groups. A group fires once per transition into a watched
    status: while it stays there, later polls fire nothing; once it leaves and enters again (or enters
    another watched status), it fires again. A group first seen in a watched status fires once too, with
    ``previous_status`` ``None``: after a start without memory, a broken group is reported rather than missed.
    Failed polls never end the watch; they are logged, and the next poll compares with the last statuses
    seen.

    :param server_group_id: the group watched; ``None``: every group of the listing.
    :param watched: the statuses that fire (``error-*`` matches by prefix).
    :param known: the last status of each group seen (restored memory, or empty).
    """

    server_group_id: str | None = None
    watched: tuple[str, ...] = DEFAULT_WATCHED_STATUSES
    known: dict[str, str] = field(default_factory=dict)
    #: Failed polls in a row at which, and every so many after, a failure is logged at ERROR.
    loud_every: int = 10

    @property
    def subject(self) -> str:
        return f"protection group {self.server_group_id}" if self.server_group_id else "the protection groups"

    def _special(self, error: SdrsError) -> dict[str, Any] | None:
        # A watcher outlives what would end a wait (refused credentials, a broken connection): someone may fix
        # them while it runs. Every error is a failed listing, logged, and the watch goes on.
        self._failed_poll(error)
        return {}

    def _failed_poll(self, error: SdrsError) -> dict[str, Any] | None:
        self.failures += 1
        level = logging.ERROR if self.failures % self.loud_every == 0 else logging.WARNING
        self.log.log(
            level,
            "Poll %d in a row of %s failed (%s); watching goes on, statuses compared with the last ones seen",
            self.failures,
            self.subject,
            error,
        )
        return None

    def _read(self, groups: list[dict[str, Any]]) -> dict[str, Any] | None:
        from datetime import datetime, timezone

        from airflow_provider_sdrs._core.ids import is_safe_id
        from airflow_provider_sdrs._core.text import clean, safe

        observed_at = datetime.now(timezone.utc).isoformat()
        transitions: list[dict[str, Any]] = []
        seen: dict[str, str] = {}
        listed: dict[str, tuple[str | None, Any]] = {}
        unclear: set[str] = set()
        for group in groups:
            group_id = group.get("id")
            # Ids end up in paths of downstream reads, statuses and names in events and logs: only safe ids,
            # and text on one line, clipped.
            if not is_safe_id(group_id):
                continue
            # Ids are UUIDs: an id spelt in upper case names the group SDRS lists in lower case.
            if self.server_group_id is not None and group_id.lower() != self.server_group_id.lower():
                continue
            raw_status = resource_status(group)
            status = None if raw_status is None else clean(raw_status, MAX_STATUS)
            if status is None or (group_id in listed and listed[group_id][0] != status):
                unclear.add(group_id)
            listed.setdefault(group_id, (status, group.get("name")))
        for group_id, (status, name) in listed.items():
            previous = self.known.get(group_id)
            if status is None or group_id in unclear:
                # A group listed without a status, or twice with two, says nothing new about it: it keeps the
                # last status seen, so that the next clear listing neither fires again nor misses a change.
                if previous is not None:
                    seen[group_id] = previous
                self.log.warning("protection group %s is listed without one clear status; ignoring it", group_id)
                continue
            seen[group_id] = status
            if status != previous and status_matches(status, self.watched):
                transitions.append(
                    {
                        "server_group_id": group_id,
                        "name": safe(name, MAX_NAME) if isinstance(name, str) else None,
                        "previous_status": previous,
                        "status": status,
                        "observed_at": observed_at,
                    }
                )
            if status != previous:
                self.log.info("protection group %s: %s -> %s", group_id, previous or "(first seen)", status)
        if self.server_group_id is not None and not seen and self.known:
            self.log.warning("protection group %s is no longer listed", self.server_group_id)
        # A group missing from one listing (a page boundary, a glitch) keeps its last status: back in the same
        # status, it is no new transition. Deleted groups never come back (ids are UUIDs); the memory is
        # bounded by keeping the most recently seen of them.
        missing = [(group_id, status) for group_id, status in self.known.items() if group_id not in seen]
        room = max(0, MAX_REMEMBERED_GROUPS - len(seen))
        self.known = {**dict(missing[max(0, len(missing) - room) :] if room else []), **seen}
        return {"status": "success", "transitions": transitions} if transitions else None

    def event(self, status: EventStatus, message: str, **extra: Any) -> dict[str, Any]:
        return {"status": status, "message": message, **extra}
