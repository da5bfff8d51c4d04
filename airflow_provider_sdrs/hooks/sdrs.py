"""Hook for the Storage Disaster Recovery Service (SDRS) of Open Telekom Cloud and Huawei Cloud."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_sdrs._core import numbers, reads
from airflow_provider_sdrs._core.body import decode_json
from airflow_provider_sdrs._core.deadline import Deadline, as_deadline
from airflow_provider_sdrs._core.exchange import ApiCall, Decoder, Exchange, api_exchange
from airflow_provider_sdrs._core.ids import is_safe_id
from airflow_provider_sdrs._core.operations import (
    CREATE_DRILL,
    CREATE_GROUP,
    DELETE_DRILL,
    DELETE_GROUP,
    FAILOVER,
    PLANNED_FAILOVER,
    REPROTECT,
    START_PROTECTION,
    STOP_PROTECTION,
    Operation,
)
from airflow_provider_sdrs._core.process import ASYNC_SETTINGS
from airflow_provider_sdrs._core.reads import LastAnswer, Read, read_steps
from airflow_provider_sdrs._core.retry import RetryPolicy
from airflow_provider_sdrs._core.settings import SdrsSettings, unknown_extra_keys
from airflow_provider_sdrs._core.steps import Steps, T
from airflow_provider_sdrs._core.text import remember_secret, safe
from airflow_provider_sdrs._core.tokens import IamToken
from airflow_provider_sdrs.exceptions import SdrsApiError, SdrsError
from airflow_provider_sdrs.models import SdrsJob

if TYPE_CHECKING:
    from airflow_provider_sdrs.hooks._async import AsyncTokenSource, AsyncTransport
    from airflow_provider_sdrs.hooks._sync import RequestsTransport

__all__ = ["SdrsHook"]


def _earliest(*deadlines: float | None) -> float | None:
    known = [deadline for deadline in deadlines if deadline is not None]
    return min(known) if known else None


def _mask(value: str) -> None:
    from airflow.providers.common.compat.sdk import mask_secret

    mask_secret(value)


class SdrsHook(BaseHook):
    """Talks to SDRS: signs or authenticates requests, retries transient failures, reads jobs.

    Authentication comes from an ``sdrs`` connection: AK/SK request signing (``auth_type`` ``aksk``,
    the default) or an IAM user's password (``auth_type`` ``password``), whose tokens are cached
    process-wide and shared by every hook with the same credentials.

    Blocking calls (``get_job``...) use one ``requests`` session per hook. Their ``a``-prefixed twins
    (``aget_job``...) run on asyncio with one connection pool per event loop and endpoint; use
    ``async with hook:`` to hold the pools across many calls, as a trigger does.

    :param sdrs_conn_id: the Airflow connection to use.
    :param timeout: seconds to wait for one HTTP answer; defaults to the connection's ``extra.timeout``
        or 30.
    :param retry_limit: retries after a transient failure (HTTP 429, 500, 502, 503, 504, a broken
        connection, a timeout); other errors are not retried.
    :param retry_delay: first backoff in seconds, doubled on each retry with jitter. A ``Retry-After``
        header is honoured.

    Get reads (``get_job``, ``get_protection_group``, ``get_drill``) refuse a document about another
    job, group or drill than the one asked for, with an ``SdrsApiError``.
    """

    conn_name_attr = "sdrs_conn_id"
    default_conn_name = "sdrs_default"
    conn_type = "sdrs"
    hook_name = "SDRS"

    def __init__(
        self,
        sdrs_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        retry_limit: int = 4,
        retry_delay: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sdrs_conn_id = sdrs_conn_id
        self.timeout = numbers.optional_seconds(timeout, "timeout", positive=True)
        self._retry_policy = RetryPolicy(
            retry_limit=numbers.retry_limit(retry_limit, "retry_limit"),
            retry_delay=numbers.retry_delay(retry_delay, "retry_delay"),
        )
        self._async_settings: SdrsSettings | None = None
        self._async_transport: AsyncTransport | None = None
        self._async_token_source: AsyncTokenSource | None = None
        self._async_depth = 0
        self._bound: float | None = None

    # -- connection ------------------------------------------------------------------------------

    def _settings_from(self, conn: Any, extra: dict[str, Any]) -> SdrsSettings:
        settings = SdrsSettings.from_connection(conn, extra=extra, timeout=self.timeout)
        for secret in settings.secrets:
            _mask(secret)
            remember_secret(secret)
        unknown = unknown_extra_keys(extra)
        if unknown:
            self.log.warning("Connection %r has extra keys the SDRS provider ignores: %s", settings.conn_id, unknown)
        if settings.verify is False:
            self.log.warning(
                "Connection %r turns TLS certificate verification off (extra.verify=false); "
                "use it only against a local simulator",
                settings.conn_id,
            )
        for field_name in settings.cleartext_endpoints:
            self.log.warning(
                "Connection %r sends credentials over plain http to a host that is not on loopback (%s); use https",
                settings.conn_id,
                field_name,
            )
        return settings

    @cached_property
    def _settings(self) -> SdrsSettings:
        """The validated connection (looked up with the blocking connection API)."""
        conn = self.get_connection(self.sdrs_conn_id)
        return self._settings_from(conn, conn.extra_dejson)

    async def _aget_settings(self) -> SdrsSettings:
        """The validated connection, looked up without blocking the event loop.

        A triggerer holding many waits on one connection looks it up once a minute, not once per wait.
        """
        if self._async_settings is None:
            self._async_settings = await ASYNC_SETTINGS.get((self.sdrs_conn_id, self.timeout), self._alookup)
        return self._async_settings

    async def _alookup(self) -> SdrsSettings:
        from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

        conn = await get_async_connection(self.sdrs_conn_id)
        # conn.extra_dejson would mask secrets with a blocking call to the supervisor.
        return self._settings_from(conn, await get_async_extra_dejson(conn))

    def _on_new_token(self, token: IamToken) -> None:
        _mask(token.value)
        remember_secret(token.value)

    def _exchange(
        self, settings: SdrsSettings, call: ApiCall, deadline: Deadline, decode: Decoder = decode_json
    ) -> Exchange:
        """The steps of one call with ``settings``: authentication, retries, answer decoding."""
        return api_exchange(settings, call, self._retry_policy, self.log, deadline, decode)

    def _read_steps(
        self,
        settings: SdrsSettings,
        read: Read[T],
        deadline: float | Deadline | None = None,
        last: LastAnswer | None = None,
    ) -> Steps[T]:
        """The steps of one read, ended by ``deadline`` (epoch seconds) at the latest.

        :param last: kept by a wait across its polls, so that an answer equal to the last is not parsed again.
        """
        if last is None:
            return read_steps(self._exchange(settings, read.call, as_deadline(deadline)), read)
        return last.steps(self._exchange(settings, read.call, as_deadline(deadline), last.decode), read)

    # -- blocking path ---------------------------------------------------------------------------

    @cached_property
    def _transport(self) -> RequestsTransport:
        from airflow_provider_sdrs.hooks._sync import RequestsTransport

        return RequestsTransport(self._settings)

    def _drive(self, steps: Steps[T]) -> T:
        """Perform ``steps`` (a call, a read or a whole wait) with ``requests``, blocking."""
        from airflow_provider_sdrs.hooks._sync import drive, sync_token

        settings = self._settings
        token_source = None
        if settings.auth_type == "password":
            token_source = sync_token(settings, self._transport, self._retry_policy, self.log, self._on_new_token)
        return drive(steps, self._transport, token_source)

    def _limit(self, deadline: float | None) -> float | None:
        # Validated first: a NaN deadline would make every comparison false, so that nothing is ever sent.
        return _earliest(as_deadline(deadline).at, self._bound)

    def _read(self, read: Read[T], deadline: float | None = None) -> T:
        return self._drive(self._read_steps(self._settings, read, self._limit(deadline)))

    def _call(self, call: ApiCall, *, deadline: float | None = None) -> dict[str, Any]:
        """Run one SDRS API call and return its decoded JSON body (see :meth:`get_job` for ``deadline``)."""
        return self._drive(self._exchange(self._settings, call, as_deadline(self._limit(deadline))))

    @contextmanager
    def bounded_by(self, deadline: float | None) -> Iterator[None]:
        """Bound every blocking call made inside the block by ``deadline`` (epoch seconds, as ``time.time()``).

        An operator holds one deadline for its whole task (its reads, its submission and its wait), so that
        a slow or throttling SDRS cannot stretch any of them past the task's ``timeout``.
        """
        previous, self._bound = self._bound, _earliest(deadline, self._bound)
        try:
            yield
        finally:
            self._bound = previous

    def get_job(self, job_id: str, *, deadline: float | None = None) -> SdrsJob:
        """Read an SDRS job.

        :param job_id: the id returned by the call that started the job.
        :param deadline: wall-clock limit (epoch seconds, as ``time.time()``) for the whole read: request
            timeouts, retries, ``Retry-After`` waits and the wait for an IAM token end by then. Past it the
            read raises the last error it met, or an ``SdrsConnectionError`` saying the deadline passed.
            Every read takes this argument.
        :raises SdrsValidationError: ``job_id`` is not a safe id; nothing was sent.
        :raises SdrsJobNotFoundError: SDRS says it does not know the job.
        :raises SdrsApiError: SDRS answered with another error (after retries for transient ones), or with
            the document of another job.
        :raises SdrsConnectionError: SDRS could not be reached, after retries.
        """
        return self._read(reads.job(job_id), deadline)

    # -- DR operations: each submits a job and returns its id --------------------------------------
    #
    # Each is declared once in _core.operations (arguments, request, state table). A submission is resent
    # only when it certainly never reached SDRS. After a timeout or a broken connection it may have started:
    # the error says so (SdrsConnectionError.may_have_started), and the resource's state must be read before
    # submitting again.

    def _submit(self, operation: Operation, **arguments: Any) -> str:
        """Submit a DR operation declared in :mod:`airflow_provider_sdrs._core.operations`; return its job id.

        :raises SdrsValidationError: an argument is not acceptable; nothing was sent.
        """
        call = operation.request(**arguments)
        answer = self._call(call)
        job_id = answer.get("job_id")
        if not is_safe_id(job_id):
            raise SdrsApiError(
                status=None,
                code=None,
                operation=call.operation,
                message=f"SDRS accepted the request but sent no usable job_id: {safe(str(answer)[:400], 200)}",
            )
        self.log.info("SDRS %s: submitted, job %s", call.operation, job_id)
        return job_id

    def start_protection(self, server_group_id: str) -> str:
        """Enable protection of a protection group (``available`` -> ``protected``); returns the job id."""
        return self._submit(START_PROTECTION, server_group_id=server_group_id)

    def stop_protection(self, server_group_id: str) -> str:
        """Disable protection (``protected`` -> ``available``); returns the job id."""
        return self._submit(STOP_PROTECTION, server_group_id=server_group_id)

    def failover(self, server_group_id: str) -> str:
        """Fail a protection group over to the target AZ (``protected`` -> ``failed-over``); returns the job id."""
        return self._submit(FAILOVER, server_group_id=server_group_id)

    def planned_failover(self, server_group_id: str, priority_station: str = "target") -> str:
        """Switch the production site to ``priority_station`` (``target`` or ``source``); returns the job id."""
        return self._submit(PLANNED_FAILOVER, server_group_id=server_group_id, priority_station=priority_station)

    def reprotect(self, server_group_id: str) -> str:
        """Re-enable protection after a failover (``failed-over`` -> ``protected``); returns the job id."""
        return self._submit(REPROTECT, server_group_id=server_group_id)

    def create_drill(self, server_group_id: str, name: str, drill_vpc_id: str | None = None) -> str:
        """Start a DR drill of a protection group; the job's ``entities.disaster_recovery_drill_id`` names it."""
        return self._submit(CREATE_DRILL, server_group_id=server_group_id, name=name, drill_vpc_id=drill_vpc_id)

    def delete_drill(self, drill_id: str) -> str:
        """Delete a DR drill (``available``, ``error`` or ``error-deleting``); returns the job id."""
        return self._submit(DELETE_DRILL, drill_id=drill_id)

    def create_protection_group(self, **spec: Any) -> str:
        """Create a protection group; ``spec``: name, source/target_availability_zone, domain_id,
        source_vpc_id, description, dr_type. The job's ``entities.server_group_id`` names it."""
        return self._submit(CREATE_GROUP, **spec)

    def delete_protection_group(self, server_group_id: str) -> str:
        """Delete a protection group (no protected instances, replication pairs or DR drills); returns the job id."""
        return self._submit(DELETE_GROUP, server_group_id=server_group_id)

    # -- reads --------------------------------------------------------------------------------------

    def get_protection_group(self, server_group_id: str, *, deadline: float | None = None) -> dict[str, Any]:
        """The ``server_group`` document (``status``, ``priority_station``...).

        :raises SdrsResourceNotFoundError: no such group (SDRS.1013).
        """
        return self._read(reads.resource(reads.GROUP, server_group_id), deadline)

    def list_protection_groups(self, name: str | None = None, *, deadline: float | None = None) -> list[dict[str, Any]]:
        """Protection groups of the project; with ``name``, only those with exactly that name."""
        return self._read(reads.groups(name), deadline)

    def get_drill(self, drill_id: str, *, deadline: float | None = None) -> dict[str, Any]:
        """The ``disaster_recovery_drill`` document.

        :raises SdrsResourceNotFoundError: no such drill (SDRS.1902).
        """
        return self._read(reads.resource(reads.DRILL, drill_id), deadline)

    def list_drills(self, server_group_id: str | None = None, *, deadline: float | None = None) -> list[dict[str, Any]]:
        """DR drills, of one protection group or of the whole project.

        With ``server_group_id``, a drill the answer says belongs to another group is left out: a listing that
        ignored its filter must not hand another group's drill to a task that would delete it.
        """
        return self._read(reads.drills(server_group_id, self.log), deadline)

    def list_failure_jobs(
        self, server_group_id: str | None = None, *, deadline: float | None = None
    ) -> list[dict[str, Any]]:
        """The task center's failed jobs of one protection group (or, without it, of the group level)."""
        return self._read(reads.failure_jobs(server_group_id), deadline)

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated call (read the SDRS quotas), as the UI's Test button does."""
        secrets: tuple[str, ...] = ()
        try:
            settings = self._settings
            secrets = settings.secrets
            self._read(reads.quotas())
        except SdrsError as error:
            # Shown in the UI, where no log masker runs: scrubbed and clipped here once more.
            return False, safe(str(error), 2000, secrets)
        except Exception as error:
            return False, safe(f"{type(error).__name__}: {error}", 2000, secrets)
        who = f"access key {settings.login}" if settings.auth_type == "aksk" else f"IAM user {settings.login}"
        return True, f"Connected to SDRS at {settings.endpoint} with {who} (region {settings.region})"

    def close(self) -> None:
        """Close the blocking path's HTTP session."""
        transport = self.__dict__.pop("_transport", None)
        if transport is not None:
            transport.close()

    # -- asynchronous path -----------------------------------------------------------------------

    async def __aenter__(self) -> SdrsHook:
        if self._async_depth == 0:
            from airflow_provider_sdrs.hooks._async import POOLS, AsyncTransport, async_token

            settings = await self._aget_settings()
            self._async_transport = AsyncTransport(POOLS.acquire(settings), settings)
            self._async_token_source = (
                async_token(settings, self._async_transport, self._retry_policy, self.log, self._on_new_token)
                if settings.auth_type == "password"
                else None
            )
        self._async_depth += 1
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._async_depth -= 1
        if self._async_depth == 0 and self._async_transport is not None:
            from airflow_provider_sdrs.hooks._async import POOLS

            self._async_transport = None
            await POOLS.release(await self._aget_settings())

    async def _adrive(self, steps: Steps[T]) -> T:
        """Perform ``steps`` (a call, a read or a whole wait) on asyncio; the hook's pools are held meanwhile."""
        from airflow_provider_sdrs.hooks._async import adrive

        async with self:
            transport = self._async_transport
            if transport is None:  # pragma: no cover - set by __aenter__
                raise RuntimeError("the hook's asynchronous transport is not open")
            return await adrive(steps, transport, self._async_token_source)

    async def _aread(self, read: Read[T], deadline: float | None = None) -> T:
        settings = await self._aget_settings()
        return await self._adrive(self._read_steps(settings, read, deadline))

    async def _acall(self, call: ApiCall, *, deadline: float | None = None) -> dict[str, Any]:
        """Asynchronous twin of :meth:`_call`."""
        settings = await self._aget_settings()
        return await self._adrive(self._exchange(settings, call, as_deadline(deadline)))

    async def aget_job(self, job_id: str, *, deadline: float | None = None) -> SdrsJob:
        """Asynchronous twin of :meth:`get_job`."""
        return await self._aread(reads.job(job_id), deadline)

    async def aget_protection_group(self, server_group_id: str, *, deadline: float | None = None) -> dict[str, Any]:
        """Asynchronous twin of :meth:`get_protection_group`."""
        return await self._aread(reads.resource(reads.GROUP, server_group_id), deadline)

    async def alist_protection_groups(
        self, name: str | None = None, *, deadline: float | None = None
    ) -> list[dict[str, Any]]:
        """Asynchronous twin of :meth:`list_protection_groups`."""
        return await self._aread(reads.groups(name), deadline)

    async def aget_drill(self, drill_id: str, *, deadline: float | None = None) -> dict[str, Any]:
        """Asynchronous twin of :meth:`get_drill`."""
        return await self._aread(reads.resource(reads.DRILL, drill_id), deadline)

    async def alist_drills(
        self, server_group_id: str | None = None, *, deadline: float | None = None
    ) -> list[dict[str, Any]]:
        """Asynchronous twin of :meth:`list_drills`."""
        return await self._aread(reads.drills(server_group_id, self.log), deadline)

    # -- connection form -------------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Labels and hidden fields of the connection form (Airflow 3.1 reads these from the hook)."""
        from airflow_provider_sdrs._core.connection_form import hook_field_behaviour

        return hook_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form for Airflow 3.1 (3.2+ reads ``conn-fields``)."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import PasswordField, StringField

        from airflow_provider_sdrs._core.connection_form import CONN_FIELDS

        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            secret = spec["schema"].get("format") == "password"
            field_class = PasswordField if secret else StringField
            widget = BS3PasswordFieldWidget() if secret else BS3TextFieldWidget()
            widgets[name] = field_class(lazy_gettext(spec["label"]), widget=widget, description=spec["description"])
        return widgets
