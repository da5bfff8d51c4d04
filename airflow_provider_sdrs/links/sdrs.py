"""Extra links from SDRS tasks to the cloud's SDRS console."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

__all__ = ["SdrsConsoleLink", "push_console_link"]


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


def push_console_link(ti: Any, url: str) -> None:
    """Store the console link of the running task instance ``ti``."""
    ti.xcom_push(key=SdrsConsoleLink().xcom_key, value=url)
