"""SDRS answers for the pages, through :class:`~airflow_provider_sdrs.hooks.sdrs.SdrsHook`, kept for a short
while: a page view costs at most one list of groups and one list of drills per connection (one connection
is one project), whatever the number of groups."""

from __future__ import annotations

import math
import time
from functools import cache
from typing import Any

from airflow_provider_sdrs._core.text import safe
from airflow_provider_sdrs.exceptions import SdrsError
from airflow_provider_sdrs.ui.cache import Answer, TtlCache
from airflow_provider_sdrs.ui.settings import UiSettings

#: A finished job does not change: it is kept longer than the page's cache time.
FINISHED_JOB_SECONDS = 3600.0

CACHE = TtlCache()

_GROUP_FIELDS = (
    "id",
    "name",
    "status",
    "replication_status",
    "priority_station",
    "protected_instance_num",
    "replication_num",
    "source_availability_zone",
    "target_availability_zone",
    "dr_type",
)
_DRILL_FIELDS = ("id", "name", "status", "server_group_id", "created_at", "updated_at", "drill_vpc_id")


def describe_error(error: BaseException) -> str:
    """The text shown for a failed read: the provider's own message (free of secrets), or the kind of error."""
    if isinstance(error, SdrsError):
        return safe(str(error), 400)
    name = type(error).__name__
    if name == "AirflowNotFoundException":
        return safe(str(error), 400)
    return safe(f"{name}: {error}", 400)


def _picked(document: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """Only the fields the page shows, each a short clean text or a number: the rest of what the server sent
    never reaches a page."""
    if not isinstance(document, dict):
        return {}
    picked: dict[str, Any] = {}
    for name in fields:
        value = document.get(name)
        if isinstance(value, bool) or value is None:
            picked[name] = value
        elif isinstance(value, int | float):
            picked[name] = value if math.isfinite(value) and abs(value) < 1e12 else None
        else:
            picked[name] = safe(str(value), 200)
    return picked


@cache
def _hook_class() -> type:
    from airflow_provider_sdrs.hooks.sdrs import SdrsHook

    class ServerSideHook(SdrsHook):
        """Looks connections up as the API server does (the metadata database included): the Task SDK's
        lookup, which the hook uses in tasks, sees only secrets backends and environment variables here."""

        @classmethod
        def get_connection(cls, conn_id: str) -> Any:
            from airflow.models.connection import Connection

            return Connection.get_connection_from_secrets(conn_id)

    return ServerSideHook


def _hook(conn_id: str, settings: UiSettings) -> Any:
    return _hook_class()(conn_id, timeout=settings.timeout, retry_limit=1, retry_delay=0.2)


def _read(conn_id: str, settings: UiSettings, what: str) -> Any:
    hook = _hook(conn_id, settings)
    try:
        deadline = time.time() + settings.timeout
        if what == "groups":
            return [_picked(group, _GROUP_FIELDS) for group in hook.list_protection_groups(deadline=deadline)]
        return [_picked(drill, _DRILL_FIELDS) for drill in hook.list_drills(deadline=deadline)]
    finally:
        hook.close()


def groups(conn_id: str, settings: UiSettings) -> Answer[list[dict[str, Any]]]:
    """Every protection group of the connection's project."""
    return CACHE.get(
        (conn_id, "groups"), lambda: _read(conn_id, settings, "groups"), settings.cache_seconds, describe_error
    )


def drills(conn_id: str, settings: UiSettings) -> Answer[list[dict[str, Any]]]:
    """Every DR drill of the connection's project."""
    return CACHE.get(
        (conn_id, "drills"), lambda: _read(conn_id, settings, "drills"), settings.cache_seconds, describe_error
    )


def job(conn_id: str, job_id: str, settings: UiSettings) -> Answer[dict[str, Any]]:
    """The job document (``SdrsJob.to_dict()``)."""

    def load() -> dict[str, Any]:
        hook = _hook(conn_id, settings)
        try:
            return hook.get_job(job_id, deadline=time.time() + settings.timeout).to_dict()
        finally:
            hook.close()

    def keep(answer: Answer[dict[str, Any]]) -> float:
        if (
            answer.value is not None
            and answer.value.get("end_time")
            and answer.value.get("status")
            in (
                "SUCCESS",
                "FAIL",
            )
        ):
            return FINISHED_JOB_SECONDS
        return settings.cache_seconds

    return CACHE.get((conn_id, "job", job_id), load, keep, describe_error)
