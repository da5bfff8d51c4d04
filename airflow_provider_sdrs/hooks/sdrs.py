"""Hook for the Storage Disaster Recovery Service (SDRS) of Open Telekom Cloud and Huawei Cloud."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_sdrs._core import numbers, operations
from airflow_provider_sdrs._core.answers import job_from_answer, resource_from_answer
from airflow_provider_sdrs._core.deadline import Deadline, as_deadline
from airflow_provider_sdrs._core.exchange import ApiCall, api_exchange, job_call
from airflow_provider_sdrs._core.ids import is_safe_id
from airflow_provider_sdrs._core.process import ASYNC_SETTINGS
from airflow_provider_sdrs._core.retry import RetryPolicy
from airflow_provider_sdrs._core.settings import SdrsSettings, unknown_extra_keys
from airflow_provider_sdrs._core.text import remember_secret, safe
from airflow_provider_sdrs._core.tokens import IamToken
from airflow_provider_sdrs.exceptions import SdrsApiError, SdrsError
from airflow_provider_sdrs.models import SdrsJob, bounded_document

if TYPE_CHECKING:
    from airflow_provider_sdrs.hooks._async import AiohttpTransport
    from airflow_provider_sdrs.hooks._sync import RequestsTransport

__all__ = ["SdrsHook"]


def _member(answer: dict[str, Any], key: str, resource_id: str, what: str) -> dict[str, Any]:
    """The ``key`` object of an answer about ``resource_id``, as a bounded, strict-JSON copy."""
    value = resource_from_answer(answer, key, resource_id, what)
    return _readable(lambda: bounded_document(value, what=key), f"get {what} {resource_id}")


def _members(answer: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The ``key`` list of an answer, each object a bounded, strict-JSON copy.

    A missing list is a bad answer, not an empty one: "no drill" could send a task down the wrong path.
    """
    items = answer.get(key)
    if not isinstance(items, list):
        raise SdrsApiError(status=None, code=None, message=f"the answer has no {key!r} list", operation=f"list {key}")
    objects = [item for item in items if isinstance(item, dict)]
    return _readable(lambda: [bounded_document(item, what=key) for item in objects], f"list {key}")


def _readable(build: Callable[[], Any], operation: str) -> Any:
    """Build a model from a decoded answer; whatever goes wrong is a bad answer, never a crash."""
    try:
        return build()
    except SdrsError:
        raise
    except (RecursionError, OverflowError, ValueError, TypeError, MemoryError) as error:
        raise SdrsApiError(
            status=None, code=None, message=f"unreadable answer ({type(error).__name__})", operation=operation
        ) from None


def _earliest(*deadlines: float | None) -> float | None:
    known = [deadline for deadline in deadlines if deadline is not None]
    return min(known) if known else None


def _job(document: dict[str, Any], job_id: str) -> SdrsJob:
    return _readable(lambda: job_from_answer(document, job_id), f"get job {job_id}")


def _mask(value: str) -> None:
    from airflow.providers.common.compat.sdk import mask_secret

    mask_secret(value)


class SdrsHook(BaseHook):
    """Talks to SDRS: signs or authenticates requests, retries transient failures, reads jobs.

    Authentication comes from an ``sdrs`` connection: AK/SK request signing (``auth_type`` ``aksk``,
    the default) or an IAM user's password (``auth_type`` ``password``), whose tokens are cached
    process-wide and shared by every hook with the same credentials.

    Blocking calls (``get_job``...) use one ``requests`` session per hook. Their ``a``-prefixed twins
    (``aget_job``...) run on aiohttp with one client session per event loop; use ``async with hook:``
    to hold that session across many calls, as a trigger does.

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
        self.retry_policy = RetryPolicy(
            retry_limit=numbers.retry_limit(retry_limit, "retry_limit"),
            retry_delay=numbers.retry_delay(retry_delay, "retry_delay"),
        )
        self._async_settings: SdrsSettings | None = None
        self._async_transport: AiohttpTransport | None = None
        self._async_token_source: Callable[[IamToken | None, Deadline], Awaitable[IamToken]] | None = None
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
    def settings(self) -> SdrsSettings:
        """The validated connection (looked up with the blocking connection API)."""
        conn = self.get_connection(self.sdrs_conn_id)
        return self._settings_from(conn, conn.extra_dejson)

    async def aget_settings(self) -> SdrsSettings:
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

    # -- blocking path ---------------------------------------------------------------------------

    @cached_property
    def _transport(self) -> RequestsTransport:
        from airflow_provider_sdrs.hooks._sync import RequestsTransport

        return RequestsTransport(self.settings)

    def _run(self, call: ApiCall, deadline: float | None) -> Any:
        from airflow_provider_sdrs.hooks._sync import run_sync, sync_token

        settings = self.settings
        token_source = None
        if settings.auth_type == "password":
            token_source = sync_token(settings, self._transport, self.retry_policy, self.log, self._on_new_token)
        limit = as_deadline(_earliest(deadline, self._bound))
        exchange = api_exchange(settings, call, self.retry_policy, self.log, limit)
        return run_sync(exchange, self._transport, token_source, limit)

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

    def call(self, call: ApiCall, *, deadline: float | None = None) -> dict[str, Any]:
        """Run one SDRS API call and return its decoded JSON body.

        :param deadline: wall-clock limit (epoch seconds, as ``time.time()``) for the whole call: request
            timeouts, retries, ``Retry-After`` waits and the wait for an IAM token end by then. Past it
            the call raises the last error it met, or an ``SdrsConnectionError`` saying the deadline passed.
        """
        return self._run(call, deadline)

    def get_job(self, job_id: str, *, deadline: float | None = None) -> SdrsJob:
        """Read an SDRS job.

        :param job_id: the id returned by the call that started the job.
        :param deadline: wall-clock limit for the whole read, see :meth:`call`.
        :raises SdrsValidationError: ``job_id`` is not a safe id; nothing was sent.
        :raises SdrsJobNotFoundError: SDRS says it does not know the job.
        :raises SdrsApiError: SDRS answered with another error (after retries for transient ones), or with
            the document of another job.
        :raises SdrsConnectionError: SDRS could not be reached, after retries.
        """
        request = job_call(job_id)
        return _job(self.call(request, deadline=deadline), job_id)

    # -- DR operations: each submits a job and returns its id --------------------------------------
    #
    # A submission is resent only when it certainly never reached SDRS. After a timeout or a broken
    # connection it may have started: the error says so (SdrsConnectionError.may_have_started), and the
    # resource's state must be read before submitting again.

    def _submit(self, call: ApiCall) -> str:
        answer = self.call(call)
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
        return self._submit(operations.start_protection(server_group_id))

    def stop_protection(self, server_group_id: str) -> str:
        """Disable protection (``protected`` -> ``available``); returns the job id."""
        return self._submit(operations.stop_protection(server_group_id))

    def failover(self, server_group_id: str) -> str:
        """Fail a protection group over to the target AZ (``protected`` -> ``failed-over``); returns the job id."""
        return self._submit(operations.failover(server_group_id))

    def planned_failover(self, server_group_id: str, priority_station: str = "target") -> str:
        """Switch the production site to ``priority_station`` (``target`` or ``source``); returns the job id."""
        return self._submit(operations.planned_failover(server_group_id, priority_station))

    def reprotect(self, server_group_id: str) -> str:
        """Re-enable protection after a failover (``failed-over`` -> ``protected``); returns the job id."""
        return self._submit(operations.reprotect(server_group_id))

    def create_drill(self, server_group_id: str, name: str, drill_vpc_id: str | None = None) -> str:
        """Start a DR drill of a protection group; the job's ``entities.disaster_recovery_drill_id`` names it."""
        return self._submit(operations.create_drill(server_group_id, name, drill_vpc_id))

    def delete_drill(self, drill_id: str) -> str:
        """Delete a DR drill (``available``, ``error`` or ``error-deleting``); returns the job id."""
        return self._submit(operations.delete_drill(drill_id))

    def create_protection_group(self, **spec: Any) -> str:
        """Create a protection group; ``spec``: name, source/target_availability_zone, domain_id,
        source_vpc_id, description, dr_type. The job's ``entities.server_group_id`` names it."""
        return self._submit(operations.create_group(**spec))

    def delete_protection_group(self, server_group_id: str) -> str:
        """Delete a protection group (no protected instances, replication pairs or DR drills); returns the job id."""
        return self._submit(operations.delete_group(server_group_id))

    # -- reads --------------------------------------------------------------------------------------

    def get_protection_group(self, server_group_id: str, *, deadline: float | None = None) -> dict[str, Any]:
        """The ``server_group`` document (``status``, ``priority_station``...).

        :param deadline: wall-clock limit for the whole read, see :meth:`call`.
        :raises SdrsResourceNotFoundError: no such group (SDRS.1013).
        """
        return _member(
            self.call(operations.get_group(server_group_id), deadline=deadline),
            "server_group",
            server_group_id,
            "protection group",
        )

    def list_protection_groups(self, name: str | None = None, *, deadline: float | None = None) -> list[dict[str, Any]]:
        """Protection groups of the project; with ``name``, only those with exactly that name."""
        found = _members(self.call(operations.list_groups(name), deadline=deadline), "server_groups")
        return [group for group in found if name is None or group.get("name") == name]

    def get_drill(self, drill_id: str, *, deadline: float | None = None) -> dict[str, Any]:
        """The ``disaster_recovery_drill`` document.

        :param deadline: wall-clock limit for the whole read, see :meth:`call`.
        :raises SdrsResourceNotFoundError: no such drill (SDRS.1902).
        """
        return _member(
            self.call(operations.get_drill(drill_id), deadline=deadline),
            "disaster_recovery_drill",
            drill_id,
            "DR drill",
        )

    def list_drills(self, server_group_id: str | None = None, *, deadline: float | None = None) -> list[dict[str, Any]]:
        """DR drills, of one protection group or of the whole project.

        With ``server_group_id``, a drill the answer says belongs to another group is left out: a listing that
        ignored its filter must not hand another group's drill to a task that would delete it.
        """
        drills = _members(
            self.call(operations.list_drills(server_group_id), deadline=deadline), "disaster_recovery_drills"
        )
        if server_group_id is None:
            return drills
        kept = [drill for drill in drills if drill.get("server_group_id") in (None, server_group_id)]
        if len(kept) < len(drills):
            self.log.warning(
                "SDRS listed %d DR drill(s) of other protection groups when asked for those of %s; ignoring them",
                len(drills) - len(kept),
                server_group_id,
            )
        return kept

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated call (read the SDRS quotas), as the UI's Test button does."""
        secrets: tuple[str, ...] = ()
        try:
            settings = self.settings
            secrets = settings.secrets
            self.call(ApiCall("GET", ("sdrs", "quotas"), "read quotas (connection test)"))
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
            from airflow_provider_sdrs.hooks._async import SESSIONS, AiohttpTransport, async_token

            settings = await self.aget_settings()
            self._async_transport = AiohttpTransport(SESSIONS.acquire(settings), settings)
            self._async_token_source = (
                async_token(settings, self._async_transport, self.retry_policy, self.log, self._on_new_token)
                if settings.auth_type == "password"
                else None
            )
        self._async_depth += 1
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._async_depth -= 1
        if self._async_depth == 0 and self._async_transport is not None:
            from airflow_provider_sdrs.hooks._async import SESSIONS

            self._async_transport = None
            await SESSIONS.release(await self.aget_settings())

    async def acall(self, call: ApiCall, *, deadline: float | None = None) -> dict[str, Any]:
        """Asynchronous twin of :meth:`call`."""
        async with self:
            transport = self._async_transport
            assert transport is not None
            limit = as_deadline(deadline)
            exchange = api_exchange(transport.settings, call, self.retry_policy, self.log, limit)
            return await transport.run(exchange, self._async_token_source, limit)

    async def aget_job(self, job_id: str, *, deadline: float | None = None) -> SdrsJob:
        """Asynchronous twin of :meth:`get_job`."""
        request = job_call(job_id)
        return _job(await self.acall(request, deadline=deadline), job_id)

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
