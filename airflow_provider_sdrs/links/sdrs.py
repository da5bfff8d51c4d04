"""Extra links from SDRS tasks to the cloud's SDRS console."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow_provider_sdrs._core.settings import SdrsSettings

__all__ = ["SdrsConsoleLink", "console_link", "push_console_link"]


class SdrsConsoleLink(BaseOperatorLink):
    """ "SDRS console": the console page of the task's protection group, DR drill or job.

    The task stores the URL under the link's own XCom key as soon as it knows the resource, which is
    where the UI reads it: the link shows while the task waits, and stays after it failed.
    """

    name = "SDRS console"

    # ti_key is a TaskInstanceKey, which lives in a different module in each Airflow 3 minor version.
    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = XCom.get_value(key=self.xcom_key, ti_key=ti_key)
        return url if isinstance(url, str) else ""


def console_link(
    settings: SdrsSettings, *, resource_type: str, resource_id: str | None = None, job_id: str | None = None
) -> str:
    """The console page for a resource.

    Without placeholders, ``console_url`` is the console's base and the link opens the SDRS console of
    the connection's region. A template such as
    ``https://console.example.com/sdrs/?region={region}#/{resource_type}/{resource_id}`` deep-links.

    :param resource_type: ``server_group``, ``disaster_recovery_drill`` or ``job``.
    """
    base = settings.console_url
    if "{" not in base:
        return f"{base}/sdrs/?region={quote(settings.region, safe='')}"
    values = {
        "region": settings.region,
        "project_id": settings.project_id or "",
        "resource_type": resource_type,
        "resource_id": resource_id or "",
        "job_id": job_id or "",
    }
    return base.format(**{name: quote(value, safe="") for name, value in values.items()})


def push_console_link(ti: Any, url: str) -> None:
    """Store the console link of the running task instance ``ti``."""
    ti.xcom_push(key=SdrsConsoleLink().xcom_key, value=url)
