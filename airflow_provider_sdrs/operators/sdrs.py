"""Operators that run SDRS disaster-recovery operations and wait for them to end.

Every operator follows the same steps, so that a DAG can be re-run or retried at any point without
submitting an operation twice:

1. read the resource (protection group or DR drill) and decide from its status
   (the operation's spec in :mod:`airflow_provider_sdrs._core.operations`): already done, in progress
   (then wait for it: in the worker, or deferred to
   :class:`~airflow_provider_sdrs.triggers.sdrs.SdrsResourceTrigger`, and read again), allowed, or refused;
2. submit the operation and push its ``job_id`` to XCom at once;
3. wait for the job like :class:`~airflow_provider_sdrs.sensors.sdrs.SdrsJobSensor` does (in the worker,
   or deferred to :class:`~airflow_provider_sdrs.triggers.sdrs.SdrsJobTrigger`), with the same outcomes.

The task's return value (XCom ``return_value``) is the job document (``SdrsJob.to_dict()``) plus the ids of
the resources involved (``server_group_id``, ``drill_id``), ``resource_status`` and ``submitted``
(``False`` when the resource was already where the operation would take it; the job keys are then
``None``).

Each declared outlet with an ``sdrs://`` URI (see :mod:`airflow_provider_sdrs.assets.sdrs`) gets an asset
event whose ``extra`` says what happened (:meth:`SdrsBaseOperator.outlet_extra`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator, conf

from airflow_provider_sdrs._core import numbers
from airflow_provider_sdrs._core.defaults import DEFAULT_NOT_FOUND_GRACE, DEFAULT_WAIT_TIMEOUT
from airflow_provider_sdrs._core.ids import is_safe_id, validate_id
from airflow_provider_sdrs._core.operations import (
    CREATE_DRILL,
    CREATE_GROUP,
    DELETE_DRILL,
    DELETE_GROUP,
    DRILL_GROUP_STATUSES,
    FAILOVER,
    GROUP_CONTENTS,
    PLANNED_FAILOVER,
    REPROTECT,
    START_PROTECTION,
    STOP_PROTECTION,
    Decision,
    Operation,
    group_contents,
)
from airflow_provider_sdrs._waiting import (
    JobWatch,
    ResourceWatch,
    describe_resource_status,
    format_elapsed,
    resource_from_event,
    resource_status,
    result_from_event,
    terminal_event,
    wait,
)
from airflow_provider_sdrs.exceptions import (
    SdrsConnectionError,
    SdrsError,
    SdrsJobFailedError,
    SdrsOperationNotAllowedError,
    SdrsPollError,
    SdrsPreconditionError,
    SdrsResourceNotFoundError,
    SdrsValidationError,
    SdrsWaitTimeoutError,
)
from airflow_provider_sdrs.links.sdrs import SdrsConsoleLink, push_console_link

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_sdrs.hooks.sdrs import SdrsHook
    from airflow_provider_sdrs.models import SdrsJob

__all__ = [
    "SdrsCreateDrillOperator",
    "SdrsCreateProtectionGroupOperator",
    "SdrsDeleteDrillOperator",
    "SdrsDeleteProtectionGroupOperator",
    "SdrsFailoverOperator",
    "SdrsPlannedFailoverOperator",
    "SdrsReprotectOperator",
    "SdrsStartProtectionOperator",
    "SdrsStopProtectionOperator",
]

# The keys of SdrsJob.to_dict(), all None when no job was submitted.
_JOB_KEYS = (
    "job_id",
    "job_type",
    "status",
    "entities",
    "begin_time",
    "end_time",
    "error_code",
    "fail_reason",
    "duration_seconds",
)


def _shown_status(resource: dict[str, Any] | None) -> str | None:
    """The status for an error message: ``None`` when the resource does not exist."""
    return None if resource is None else describe_resource_status(resource)


def _named_id(job: dict[str, Any] | None, key: str) -> str | None:
    """The id ``entities[key]`` of a job document, when it is one that can be used in a path."""
    entities = (job or {}).get("entities")
    value = entities.get(key) if isinstance(entities, dict) else None
    return value if is_safe_id(value) else None


def _found_by_name(
    log: Any,
    *,
    missing: str,
    what: str,
    key: str,
    where: str,
    name: str,
    candidates: list[dict[str, Any]],
) -> tuple[dict[str, Any], str | None]:
    """The one id among ``candidates`` (resources named ``name``), or ``None`` and why, logged either way."""
    ids = sorted({c["id"] for c in candidates if is_safe_id(c.get("id"))})
    if len(ids) == 1:
        note = f"{missing}; found by its name {name!r} in {where}: {what} {ids[0]}"
        log.info("%s", note)
        return {key: ids[0]}, note
    if ids:
        shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        note = (
            f"{missing}, and {where} has {len(ids)} {what}s named {name!r} ({shown}); which one is new cannot "
            f"be told, so no {key} is pushed: delete the extra {what} by hand"
        )
    else:
        note = f"{missing}, and {where} has no {what} named {name!r}: no {key} is pushed"
    log.warning("%s", note)
    return {key: None}, note


class SdrsBaseOperator(BaseOperator):
    """Shared behaviour of the SDRS operators; see the module documentation.

    :param sdrs_conn_id: the ``sdrs`` connection (templated).
    :param wait_for_completion: wait for the job to end (default); otherwise succeed once it is submitted.
    :param deferrable: wait in the triggerer instead of a worker; defaults to
        ``[operators] default_deferrable``.
    :param poll_interval: seconds between two reads of the job (or of the resource).
    :param timeout: how long the task may take, seconds or a ``timedelta``: one deadline for its reads, its
        submission and its wait for the job, retries and ``Retry-After`` pauses included. When it passes the
        task fails with a retryable error; the SDRS job carries on (SDRS cannot cancel jobs), and a retry
        waits for it again rather than submitting it twice.
    :param not_found_grace: seconds during which a job SDRS does not show yet is waited for.
    :param poll_retry_limit: retries of one request after a transient failure (passed to the hook).
    :param poll_retry_delay: first backoff between those retries, seconds.
    :param max_poll_failures: consecutive failed polls tolerated before the wait gives up (retryably).
    :raises SdrsValidationError: a numeric argument is not acceptable (NaN, infinite, negative, a bool,
        a fractional count); the error names it.
    """

    template_fields: Sequence[str] = ("sdrs_conn_id",)
    operator_extra_links = (SdrsConsoleLink(),)
    ui_color = "#f6e3c5"

    #: The operation: its arguments, request and state table.
    operation: ClassVar[Operation]
    #: ``server_group`` or ``disaster_recovery_drill``: what the console link points at.
    resource_type: ClassVar[str] = "server_group"

    def __init__(
        self,
        *,
        sdrs_conn_id: str = "sdrs_default",
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        timeout: float | timedelta = DEFAULT_WAIT_TIMEOUT,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        poll_retry_limit: int = 4,
        poll_retry_delay: float = 1.0,
        max_poll_failures: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sdrs_conn_id = sdrs_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = numbers.interval(poll_interval, "poll_interval")
        self.timeout = numbers.seconds(timeout, "timeout", positive=True)
        self.not_found_grace = numbers.seconds(not_found_grace, "not_found_grace")
        self.poll_retry_limit = numbers.retry_limit(poll_retry_limit, "poll_retry_limit")
        self.poll_retry_delay = numbers.retry_delay(poll_retry_delay, "poll_retry_delay")
        self.max_poll_failures = numbers.count(max_poll_failures, "max_poll_failures", minimum=1)

    @cached_property
    def hook(self) -> SdrsHook:
        from airflow_provider_sdrs.hooks.sdrs import SdrsHook

        return SdrsHook(self.sdrs_conn_id, retry_limit=self.poll_retry_limit, retry_delay=self.poll_retry_delay)

    # -- what each operator defines ----------------------------------------------------------------------

    def arguments(self) -> dict[str, Any]:
        """The operation's arguments (as its spec names them), from the rendered fields."""
        return {param.name: getattr(self, param.name) for param in self.operation.params}

    def validate(self) -> None:
        """Check the rendered arguments against the operation's spec; raise :class:`SdrsValidationError`."""
        self.operation.check(**self.arguments())

    @property
    def subject(self) -> str:
        """The resource, for logs and messages (``protection group <id>``)."""
        raise NotImplementedError

    @property
    def resource_id(self) -> str | None:
        """The id of the resource, when known before submitting (for the console link)."""
        return None

    def read(self, hook: SdrsHook) -> dict[str, Any] | None:
        """The resource's document, or ``None`` when it does not exist."""
        raise NotImplementedError

    def decide(self, resource: dict[str, Any] | None) -> Decision:
        status = None if resource is None else resource_status(resource) or ""
        return self.operation.decide(status, resource, self.arguments())

    def submit(self, hook: SdrsHook) -> str:
        """Submit the operation with the hook method its spec names; return the job id."""
        return getattr(hook, self.operation.name)(**self.arguments())

    def ids(self, resource: dict[str, Any] | None, job: dict[str, Any] | None) -> dict[str, Any]:
        """The ids to return and push to XCom, from the resource and/or the job's entities."""
        return {}

    def find_created(self, hook: SdrsHook, job: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """Once the job ended: the id of what it created when its ``entities`` did not name it, found by name.

        :param job: the ended job's document.
        :returns: the ids (returned and pushed to XCom like :meth:`ids`) and, when one was looked for, a
            sentence that says how it was found or why it was not (the result's ``id_lookup``).
        """
        if self.created_id is None:
            return {}, None
        key, entity = self.created_id
        if _named_id(job, entity) is not None:
            return {}, None
        name = getattr(self, "name", "")
        what = self.operation.resource
        missing = f"SDRS job {job.get('job_id')} did not name the new {what} (no entities.{entity})"
        self.log.info("%s; looking it up by its name %r in %s", missing, name, self.search_scope)
        return _found_by_name(
            self.log,
            missing=missing,
            what=what,
            key=key,
            where=self.search_scope,
            name=name,
            candidates=self.same_name(hook),
        )

    #: For an operation that creates a resource: the XCom key of its id, and the job's ``entities`` key
    #: that names it.
    created_id: ClassVar[tuple[str, str] | None] = None
    #: Where :meth:`same_name` looks, for messages.
    search_scope: str = "the project"

    def same_name(self, hook: SdrsHook) -> list[dict[str, Any]]:
        """The resources with the name of the one this operator creates."""
        return []

    # -- the steps ------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        try:
            self.validate()
        except SdrsValidationError as error:
            # A malformed argument will not get better on retry.
            raise AirflowFailException(f"{self.task_type}: {error}") from error
        hook = self.hook
        ti = context["ti"]
        from airflow_provider_sdrs.links.sdrs import console_link

        push_console_link(
            ti, console_link(hook._settings, resource_type=self.resource_type, resource_id=self.resource_id)
        )

        # One deadline for the whole task: the reads, the submission and every wait end by it, deferred or not.
        end_time = time.time() + self.timeout
        with hook.bounded_by(end_time):
            return self._announced(context, self._steps(hook, ti, end_time))

    # -- asset events -------------------------------------------------------------------------------------

    def _announced(self, context: Context, result: Any) -> Any:
        """Give every declared ``sdrs://`` outlet an ``extra`` that says what this task did; return ``result``.

        Downstream DAGs scheduled on the asset read it from their triggering asset events. Outlets of other
        schemes are left alone. A read of the resulting status that fails does not fail the task.
        """
        from airflow_provider_sdrs.assets.sdrs import is_sdrs_uri

        outlets = [outlet for outlet in (self.outlets or []) if is_sdrs_uri(getattr(outlet, "uri", None))]
        events = context.get("outlet_events")
        if not outlets or events is None or not isinstance(result, dict):
            return result
        extra = self.outlet_extra(result)
        for outlet in outlets:
            accessor = events[outlet]
            accessor.extra = {**(accessor.extra or {}), **extra}
        self.log.info("Asset event extra for %d SDRS outlet(s): %s", len(outlets), extra)
        return result

    def outlet_extra(self, result: dict[str, Any]) -> dict[str, Any]:
        """The ``extra`` of this task's asset events: the operation, its job, where the resource ended up,
        how long the job took, and whether anything was submitted."""
        status = result.get("resource_status")
        station = None
        if result.get("submitted"):
            status, station = self._resulting_status()
        keys = ("server_group_id", "drill_id")
        return {
            "operation": self.operation.name,
            "action": self.operation.action,
            "resource": self.operation.resource,
            **{key: result[key] for key in keys if result.get(key) is not None},
            "submitted": bool(result.get("submitted")),
            "job_id": result.get("job_id"),
            "job_status": result.get("status"),
            "resource_status": status,
            **({"priority_station": station} if station else {}),
            "duration_seconds": result.get("duration_seconds"),
            "sdrs_conn_id": self.sdrs_conn_id,
        }

    def _resulting_status(self) -> tuple[str | None, str | None]:
        """The resource's status now (``gone`` once deleted) and, for a group, its production site
        (``priority_station``); ``None`` for what could not be read."""
        try:
            resource = self.read(self.hook)
        except SdrsError as error:
            self.log.warning("Could not read the %s's status for the asset event: %s", self.operation.resource, error)
            return None, None
        station = (resource or {}).get("priority_station")
        return describe_resource_status(resource), station if station in ("source", "target") else None

    def _steps(self, hook: SdrsHook, ti: Any, end_time: float, waited_out: str | None = None) -> Any:
        """Read, decide, and submit or wait.

        :param waited_out: the status of an operation in progress that this task waited for; when the
            resource is now in one of the operation's failed statuses, that operation failed.
        """
        resource = self.read(hook)
        if waited_out is not None:
            self._check_waited_out(resource, waited_out)
        decision = self.decide(resource)
        if decision == "wait":
            if self.deferrable:
                self._defer_until_settled(resource, end_time)
            status = describe_resource_status(resource)
            resource = self._settle(hook, resource, end_time)
            self._check_waited_out(resource, status)
            decision = self.decide(resource)
        if decision == "done":
            self.log.info(
                "%s is already %s: nothing to do for '%s', nothing submitted",
                self.subject,
                describe_resource_status(resource),
                self.operation.action,
            )
            return self._result(resource, None, submitted=False, ti=ti)
        if decision == "refuse":
            raise self._not_allowed(_shown_status(resource))

        state = f"status {describe_resource_status(resource)}" if resource is not None else "it does not exist yet"
        self.log.info("Submitting '%s' for %s (%s)", self.operation.action, self.subject, state)
        try:
            job_id = self.submit(hook)
        except SdrsPreconditionError as error:
            # The resource changed between the read and the submission.
            raise self._not_allowed(_shown_status(self.read(hook)), code=error.code) from error
        except SdrsConnectionError as error:
            if error.may_have_started:
                self.log.error(
                    "The answer to '%s' for %s was lost: SDRS may have started it. A retry of this task "
                    "reads the %s's status first and waits for a started operation instead of submitting it again",
                    self.operation.action,
                    self.subject,
                    self.operation.resource,
                )
            raise
        ti.xcom_push(key="job_id", value=job_id)
        if not self.deferrable and self.wait_for_completion:
            return self._wait_in_worker(hook, job_id, ti, end_time)
        # One read before handing over: it names what the job creates, and may show the job already ended.
        first = self._first_look(hook, job_id, ti)

        if not self.wait_for_completion:
            self.log.info("Not waiting for SDRS job %s (wait_for_completion=False)", job_id)
            return self._result(resource, first.to_dict() if first else None, submitted=True, ti=ti)
        if first is not None and first.is_terminal:
            # Ended already: no trip through the triggerer.
            JobWatch(self.log, job_id=job_id).observe(first)
            return self._job_result(terminal_event(first), ti)
        from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger

        remaining = max(1.0, end_time - time.time())
        self.log.info(
            "Waiting for SDRS job %s in the triggerer (poll every %ss, %s left of the task's timeout)",
            job_id,
            self.poll_interval,
            format_elapsed(remaining),
        )
        self.defer(
            trigger=SdrsJobTrigger(
                job_id=job_id,
                sdrs_conn_id=self.sdrs_conn_id,
                poll_interval=self.poll_interval,
                end_time=end_time,
                max_poll_failures=self.max_poll_failures,
                not_found_grace=self.not_found_grace,
                poll_retry_limit=self.poll_retry_limit,
                poll_retry_delay=self.poll_retry_delay,
                job_seen=first is not None,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=remaining),
        )

    def _wait_in_worker(self, hook: SdrsHook, job_id: str, ti: Any, end_time: float) -> dict[str, Any]:
        self.log.info(
            "Waiting for SDRS job %s (poll every %ss, %s left of the task's timeout)",
            job_id,
            self.poll_interval,
            format_elapsed(end_time - time.time()),
        )
        from airflow_provider_sdrs._core import reads

        settings = hook._settings
        job_read = reads.job(job_id)
        last = reads.LastAnswer()
        named = False

        def read() -> Any:
            nonlocal named
            job = yield from hook._read_steps(settings, job_read, end_time, last)
            if not named:
                # The first read names what the job creates: pushed now, before the wait ends.
                self._push_ids(None, job.to_dict(), ti)
                named = True
            return job

        watch = JobWatch(
            self.log, max_poll_failures=self.max_poll_failures, job_id=job_id, not_found_grace=self.not_found_grace
        )
        payload = hook._drive(wait(watch, read, poll_interval=self.poll_interval, end_time=end_time))
        return self._job_result(payload, ti)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Map the job trigger's event exactly as the blocking wait does."""
        return self._announced(context, self._job_result(event, context["ti"]))

    def _job_result(self, payload: dict[str, Any] | None, ti: Any) -> dict[str, Any]:
        """The task's result for the event that ended the wait for its job; raises what the event means."""
        try:
            job = result_from_event(payload)
        except SdrsWaitTimeoutError:
            self.log.error(
                "SDRS job %s is still running; SDRS cannot cancel it. A retry of this task waits for it "
                "again instead of submitting a second one",
                (payload or {}).get("job_id"),
            )
            raise
        except SdrsJobFailedError as failure:
            self._push_created_of_failed_job(failure.job.to_dict(), ti)
            raise
        return self._with_created_ids(self._result(None, job, submitted=True, ti=ti), ti)

    def _with_created_ids(self, result: dict[str, Any], ti: Any) -> dict[str, Any]:
        found, note = self.find_created(self.hook, result)
        for key, value in found.items():
            result[key] = value
            if value is not None:
                ti.xcom_push(key=key, value=value)
        if note is not None:
            result["id_lookup"] = note
        return result

    def _push_created_of_failed_job(self, job: dict[str, Any], ti: Any) -> None:
        # What a failed creation left behind still needs its clean-up, which needs its id.
        try:
            found, _ = self.find_created(self.hook, job)
        except SdrsError as error:
            self.log.warning("Could not look up what failed SDRS job %s left behind: %s", job.get("job_id"), error)
            return
        for key, value in found.items():
            if value is not None:
                ti.xcom_push(key=key, value=value)

    def _result(
        self, resource: dict[str, Any] | None, job: dict[str, Any] | None, *, submitted: bool, ti: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = dict.fromkeys(_JOB_KEYS)
        if job:
            result.update(job)
        result.update(self._push_ids(resource, job, ti))
        result["resource_status"] = resource_status(resource)
        result["submitted"] = submitted
        return result

    def _push_ids(self, resource: dict[str, Any] | None, job: dict[str, Any] | None, ti: Any) -> dict[str, Any]:
        ids = self.ids(resource, job)
        for key, value in ids.items():
            if value is not None:
                ti.xcom_push(key=key, value=value)
        return ids

    def _first_look(self, hook: SdrsHook, job_id: str, ti: Any) -> SdrsJob | None:
        """Read the new job once: the ids of what it creates are pushed before the wait."""
        try:
            job = hook.get_job(job_id)
        except SdrsError as error:
            self.log.info("SDRS job %s could not be read yet (%s); its ids will come with its end", job_id, error)
            return None
        self._push_ids(None, job.to_dict(), ti)
        return job

    def _waited_resource(self, resource: dict[str, Any] | None) -> tuple[str, str]:
        """The kind and id of the resource whose operation in progress is waited for."""
        resource_id = (resource or {}).get("id", self.resource_id)
        if not is_safe_id(resource_id):
            # A listing found it by name, but gave no id that can be read back.
            raise SdrsPollError(
                f"{self.subject} is {describe_resource_status(resource)}, and SDRS gave no usable id to follow it by"
            )
        return self.operation.resource, resource_id

    def _announce_wait(self, resource: dict[str, Any] | None, where: str) -> None:
        self.log.info(
            "%s is %s: an earlier '%s' is still in progress; waiting for it to end %s instead of submitting another",
            self.subject,
            describe_resource_status(resource),
            self.operation.action,
            where,
        )

    def _settle(self, hook: SdrsHook, resource: dict[str, Any] | None, end_time: float) -> dict[str, Any] | None:
        """Wait in the worker until the resource leaves the status of an operation already in progress.

        This happens when an earlier try submitted the operation and lost track of it, so its job id is
        unknown. The wait ends by ``end_time``, the task's deadline.
        """
        from airflow_provider_sdrs._core import reads

        kind, resource_id = self._waited_resource(resource)
        self._announce_wait(resource, "in the worker")
        watch = ResourceWatch(
            self.log,
            max_poll_failures=self.max_poll_failures,
            resource=kind,
            resource_id=resource_id,
            during=self.operation.during,
            last_status=describe_resource_status(resource),
        )
        settings = hook._settings
        read = reads.resource(kind, resource_id)
        last = reads.LastAnswer()
        payload = hook._drive(
            wait(
                watch,
                lambda: hook._read_steps(settings, read, end_time, last),
                poll_interval=self.poll_interval,
                end_time=end_time,
            )
        )
        return resource_from_event(payload, kind, resource_id)

    def _defer_until_settled(self, resource: dict[str, Any] | None, end_time: float) -> None:
        """Wait in the triggerer until the resource leaves the status of an operation already in progress;
        :meth:`execute_resumed` then reads it and decides again, within the same deadline."""
        from airflow_provider_sdrs.triggers.sdrs import SdrsResourceTrigger

        kind, resource_id = self._waited_resource(resource)
        self._announce_wait(resource, "in the triggerer")
        remaining = max(1.0, end_time - time.time())
        self.defer(
            trigger=SdrsResourceTrigger(
                resource=kind,
                resource_id=resource_id,
                statuses=sorted(self.operation.during),
                sdrs_conn_id=self.sdrs_conn_id,
                poll_interval=self.poll_interval,
                end_time=end_time,
                max_poll_failures=self.max_poll_failures,
                poll_retry_limit=self.poll_retry_limit,
                poll_retry_delay=self.poll_retry_delay,
            ),
            method_name="execute_resumed",
            kwargs={
                "end_time": end_time,
                "waited_out": describe_resource_status(resource),
                "waited_on": resource_id,
            },
            timeout=timedelta(seconds=remaining),
        )

    def execute_resumed(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        *,
        end_time: float,
        waited_out: str,
        waited_on: str,
    ) -> Any:
        """After the operation in progress ended (or the wait could not go on): read again and decide.

        :param end_time: the task's deadline, set when it started.
        :param waited_out: the status that was waited out.
        :param waited_on: the id of the resource that was waited for.
        """
        # The event must be about the resource this task deferred on, not another one.
        resource_from_event(event, self.operation.resource, waited_on)
        hook = self.hook
        with hook.bounded_by(end_time):
            return self._announced(context, self._steps(hook, context["ti"], end_time, waited_out=waited_out))

    def _check_waited_out(self, resource: dict[str, Any] | None, waited_out: str) -> None:
        """Raise when the operation in progress that was waited for left the resource in a failed status."""
        status = resource_status(resource) if resource is not None else None
        if status not in self.operation.failed:
            return
        raise self._not_allowed(
            status,
            detail=f"the '{self.operation.action}' in progress when this task started (the {self.operation.resource} "
            f"was {waited_out}) has failed. Read its failed job in the SDRS console (task center), fix the cause, "
            "then run this task again",
        )

    def _label(self) -> str:
        return self.resource_id or "?"

    def _not_allowed(
        self, status: str | None, code: str | None = None, *, detail: str | None = None
    ) -> SdrsOperationNotAllowedError:
        """The error for an operation this resource's status (or SDRS, with ``code``) does not allow.

        :param detail: replaces the sentence about what the operation needs.
        """
        return SdrsOperationNotAllowedError(
            operation=self.operation.action,
            resource=self.operation.resource,
            resource_id=self._label(),
            status=status,
            needs=self.operation.needs,
            code=code,
            detail=detail,
        )


# -- protection groups -------------------------------------------------------------------------------


class _GroupOperator(SdrsBaseOperator):
    """An operation on an existing protection group.

    :param server_group_id: the protection group (templated).
    """

    template_fields: Sequence[str] = ("sdrs_conn_id", "server_group_id")

    def __init__(self, *, server_group_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.server_group_id = server_group_id

    @property
    def subject(self) -> str:
        return f"protection group {self.server_group_id}"

    @property
    def resource_id(self) -> str | None:
        return self.server_group_id

    def read(self, hook: SdrsHook) -> dict[str, Any] | None:
        try:
            return hook.get_protection_group(self.server_group_id)
        except SdrsResourceNotFoundError:
            return None

    def ids(self, resource: dict[str, Any] | None, job: dict[str, Any] | None) -> dict[str, Any]:
        return {"server_group_id": self.server_group_id}


class SdrsStartProtectionOperator(_GroupOperator):
    """Enable protection of a protection group (``available`` → ``protected``) and wait.

    Already ``protected``: succeeds without submitting. ``starting``: waits for that start to end.

    :param server_group_id: the protection group (templated).
    """

    operation = START_PROTECTION


class SdrsStopProtectionOperator(_GroupOperator):
    """Disable protection of a protection group (``protected`` → ``available``) and wait.

    :param server_group_id: the protection group (templated).
    """

    operation = STOP_PROTECTION


class SdrsFailoverOperator(_GroupOperator):
    """Fail a protection group over to its target AZ (``protected`` → ``failed-over``) and wait.

    For an outage of the production AZ. To switch sites in a controlled way, use
    :class:`SdrsPlannedFailoverOperator`; after a failover, :class:`SdrsReprotectOperator`.

    :param server_group_id: the protection group (templated).
    """

    operation = FAILOVER


class SdrsReprotectOperator(_GroupOperator):
    """Re-enable protection of a failed-over group (``failed-over`` → ``protected``) and wait.

    :param server_group_id: the protection group (templated).
    """

    operation = REPROTECT


class SdrsPlannedFailoverOperator(_GroupOperator):
    """Switch a protected group's production site (``reverse-server-group``) and wait.

    Already ``protected`` with ``priority_station`` equal to the one asked for: succeeds without
    submitting.

    :param server_group_id: the protection group (templated).
    :param priority_station: ``target`` (switch to the DR site) or ``source`` (switch back) (templated).
    """

    template_fields: Sequence[str] = ("sdrs_conn_id", "server_group_id", "priority_station")
    operation = PLANNED_FAILOVER

    def __init__(self, *, server_group_id: str, priority_station: str = "target", **kwargs: Any) -> None:
        super().__init__(server_group_id=server_group_id, **kwargs)
        self.priority_station = priority_station


class SdrsDeleteProtectionGroupOperator(_GroupOperator):
    """Delete a protection group and wait until it is gone.

    SDRS deletes a group that "does not have protected instances, replication pairs, or DR drills" (SDRS
    API reference, Deleting a Protection Group), whatever its status. A group whose document counts any
    (``protected_instance_num``, ``replication_num``, ``disaster_recovery_drill_num``) is refused before
    anything is sent; so is a group in the middle of another operation (``starting``, ``failing-over``...).
    Already gone: succeeds without submitting.

    :param server_group_id: the protection group (templated).
    """

    operation = DELETE_GROUP

    def decide(self, resource: dict[str, Any] | None) -> Decision:
        decision = super().decide(resource)
        contents = group_contents(resource)
        if decision == "submit" and contents:
            detail = f"this one has {' and '.join(contents)}: delete them first (nothing was submitted)"
            raise self._group_not_empty(_shown_status(resource), detail)
        return decision

    def _not_allowed(
        self, status: str | None, code: str | None = None, *, detail: str | None = None
    ) -> SdrsOperationNotAllowedError:
        if code not in _GROUP_CONTENT_CODES:
            return super()._not_allowed(status, code, detail=detail)
        return self._group_not_empty(
            status, f"SDRS refused it with {code}: it still has {_GROUP_CONTENT_CODES[code]}. Delete them first", code
        )

    def _group_not_empty(
        self, status: str | None, detail: str, code: str | None = None
    ) -> SdrsOperationNotAllowedError:
        separator = "; " if code else ", and "
        return super()._not_allowed(status, code, detail=f"{_DELETABLE_GROUP}{separator}{detail}")


_DELETABLE_GROUP = "SDRS deletes only a protection group without protected instances, replication pairs or DR drills"
_GROUP_CONTENT_CODES = {code: f"{label}s" for _, label, code in GROUP_CONTENTS}


class SdrsCreateProtectionGroupOperator(SdrsBaseOperator):
    """Create a protection group and wait until it is ``available``.

    The name identifies the group across re-runs: if a group of that name exists, nothing is submitted
    and its id is returned (waiting first while it is still ``creating``). When the ended job does not
    name the new group (``entities.server_group_id``), it is looked up by its name, and the log and the
    result's ``id_lookup`` say how that went.

    :param name: the group's name, unique in the project (templated): letters, digits, ``.``, ``_`` and
        ``-``, at most 64 bytes, as SDRS requires; checked before anything is sent.
    :param source_availability_zone: production AZ, e.g. ``eu-de-01`` (templated).
    :param target_availability_zone: DR AZ, e.g. ``eu-de-02`` (templated).
    :param domain_id: the active-active domain (``GET /v1/{project_id}/active-domains``) (templated).
    :param source_vpc_id: the VPC of the protected servers (templated).
    :param description: optional description: at most 64 bytes, without ``<`` or ``>``.
    """

    template_fields: Sequence[str] = (
        "sdrs_conn_id",
        "name",
        "source_availability_zone",
        "target_availability_zone",
        "domain_id",
        "source_vpc_id",
        "description",
    )
    operation = CREATE_GROUP
    created_id = ("server_group_id", "server_group_id")

    def __init__(
        self,
        *,
        name: str,
        source_availability_zone: str,
        target_availability_zone: str,
        domain_id: str,
        source_vpc_id: str,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.source_availability_zone = source_availability_zone
        self.target_availability_zone = target_availability_zone
        self.domain_id = domain_id
        self.source_vpc_id = source_vpc_id
        self.description = description

    def arguments(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source_availability_zone": self.source_availability_zone,
            "target_availability_zone": self.target_availability_zone,
            "domain_id": self.domain_id,
            "source_vpc_id": self.source_vpc_id,
            "description": self.description,
        }

    @property
    def subject(self) -> str:
        return f"protection group {self.name!r}"

    def _label(self) -> str:
        return repr(self.name)

    def read(self, hook: SdrsHook) -> dict[str, Any] | None:
        groups = self.same_name(hook)
        return groups[0] if groups else None

    def ids(self, resource: dict[str, Any] | None, job: dict[str, Any] | None) -> dict[str, Any]:
        created = _named_id(job, "server_group_id")
        return {"server_group_id": created or (resource or {}).get("id")}

    def same_name(self, hook: SdrsHook) -> list[dict[str, Any]]:
        return hook.list_protection_groups(name=self.name)


# -- DR drills ------------------------------------------------------------------------------------------


class SdrsCreateDrillOperator(SdrsBaseOperator):
    """Start a DR drill of a protection group and wait until the drill is ready.

    SDRS creates a drill only when "status of the protection group must be available, protected,
    failed-over, error-starting, error-stopping, error-reversing, error-reprotecting, or error-failing-over"
    (SDRS API reference, Creating a DR Drill); in any other status nothing is submitted and the task fails
    for good. The same page advises against a drill before the first data synchronization completes.

    The drill's id is pushed to XCom (key ``drill_id``) as soon as SDRS names it, before the wait, so a
    cleanup task can delete the drill even when this task failed or timed out. SDRS names it in the job's
    ``entities.disaster_recovery_drill_id``; when the ended job (succeeded or failed) does not, the drill is
    looked up by its name in the group, and the log and the result's ``id_lookup`` say how that went.

    The name identifies the drill across re-runs: if the group has a drill of that name, nothing is
    submitted (waiting first while it is still ``creating``).

    :param server_group_id: the protection group (templated).
    :param name: the drill's name (templated): letters, digits, ``.``, ``_`` and ``-``, at most 64 bytes,
        as SDRS requires; checked before anything is sent.
    :param drill_vpc_id: the VPC to run the drill in; SDRS picks one when omitted (templated).
    """

    template_fields: Sequence[str] = ("sdrs_conn_id", "server_group_id", "name", "drill_vpc_id")
    operation = CREATE_DRILL
    created_id = ("drill_id", "disaster_recovery_drill_id")
    resource_type = "disaster_recovery_drill"

    def __init__(self, *, server_group_id: str, name: str, drill_vpc_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.server_group_id = server_group_id
        self.name = name
        self.drill_vpc_id = drill_vpc_id

    def arguments(self) -> dict[str, Any]:
        # A template such as "{{ params.vpc or '' }}" renders an empty string for "let SDRS choose".
        return {"server_group_id": self.server_group_id, "name": self.name, "drill_vpc_id": self.drill_vpc_id or None}

    @property
    def subject(self) -> str:
        return f"DR drill {self.name!r} of protection group {self.server_group_id}"

    def _label(self) -> str:
        return repr(self.name)

    def read(self, hook: SdrsHook) -> dict[str, Any] | None:
        drills = self.same_name(hook)
        if drills:
            return next((d for d in drills if d.get("status") == "available"), drills[0])
        # No drill yet: the group's status must be one in which SDRS accepts a drill.
        try:
            group: dict[str, Any] | None = hook.get_protection_group(self.server_group_id)
        except SdrsResourceNotFoundError:
            group = None
        if group is None or group.get("status") not in DRILL_GROUP_STATUSES:
            raise SdrsOperationNotAllowedError(
                operation=self.operation.action,
                resource="protection group",
                resource_id=self.server_group_id,
                status=_shown_status(group),
                needs=f"a protection group that is {' or '.join(sorted(DRILL_GROUP_STATUSES))}",
            )
        return None

    def ids(self, resource: dict[str, Any] | None, job: dict[str, Any] | None) -> dict[str, Any]:
        created = _named_id(job, "disaster_recovery_drill_id")
        return {"drill_id": created or (resource or {}).get("id"), "server_group_id": self.server_group_id}

    @property
    def search_scope(self) -> str:  # type: ignore[override]
        return f"protection group {self.server_group_id}"

    def same_name(self, hook: SdrsHook) -> list[dict[str, Any]]:
        return [drill for drill in hook.list_drills(self.server_group_id) if drill.get("name") == self.name]


class SdrsDeleteDrillOperator(SdrsBaseOperator):
    """Delete a DR drill and wait until it is gone.

    Already gone: succeeds without submitting. Meant to run as a drill's cleanup, with
    ``trigger_rule="all_done"``.

    :param drill_id: the drill (templated); typically
        ``"{{ ti.xcom_pull(task_ids='create_drill', key='drill_id') }}"``.
    :param ignore_missing_id: when ``drill_id`` renders empty or ``None`` (the drill was never created),
        skip the task instead of failing it.
    """

    template_fields: Sequence[str] = ("sdrs_conn_id", "drill_id")
    operation = DELETE_DRILL
    resource_type = "disaster_recovery_drill"

    def __init__(self, *, drill_id: str | None, ignore_missing_id: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drill_id = drill_id
        self.ignore_missing_id = ignore_missing_id

    def execute(self, context: Context) -> Any:
        if self.ignore_missing_id and (self.drill_id is None or str(self.drill_id).strip() in ("", "None")):
            from airflow.providers.common.compat.sdk import AirflowSkipException

            raise AirflowSkipException("No DR drill id: the drill was never created, so there is nothing to delete")
        return super().execute(context)

    @property
    def subject(self) -> str:
        return f"DR drill {self.drill_id}"

    @property
    def resource_id(self) -> str | None:
        return self.drill_id

    def read(self, hook: SdrsHook) -> dict[str, Any] | None:
        try:
            return hook.get_drill(validate_id(self.drill_id, "drill_id"))
        except SdrsResourceNotFoundError:
            return None

    def ids(self, resource: dict[str, Any] | None, job: dict[str, Any] | None) -> dict[str, Any]:
        return {"drill_id": self.drill_id}
