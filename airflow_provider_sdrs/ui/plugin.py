"""The Airflow plugin: registered through the ``airflow.plugins`` entry point, so installing the provider is
enough. It mounts the pages' app under ``/sdrs`` and adds a "Disaster recovery" entry to the navigation and an
"SDRS job" tab to every task instance (the tab says when a task is not an SDRS one).

Every Airflow process loads the plugins, a task's too (for macros), and only the API server serves pages: this
module stays light, and the pages' FastAPI app is built on its first request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/sdrs"


class PagesOnFirstRequest:
    """An ASGI app that builds :func:`airflow_provider_sdrs.ui.app.create_app` when it is first called."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            # Importing the app loads Airflow's API security modules: off the event loop.
            self._app = await asyncio.to_thread(_build)
        await self._app(scope, receive, send)


def _build() -> Any:
    from airflow_provider_sdrs.ui.app import create_app

    return create_app()


class SdrsUiPlugin(AirflowPlugin):
    """DR posture page and SDRS job tab."""

    name = "sdrs"
    fastapi_apps = [{"app": PagesOnFirstRequest(), "url_prefix": URL_PREFIX, "name": "SDRS disaster recovery"}]
    # Relative hrefs, without a leading slash: the UI resolves them against its base URL.
    external_views = [
        {
            "name": "Disaster recovery",
            "href": "sdrs/posture",
            "destination": "nav",
            "url_route": "sdrs-posture",
        },
        {
            "name": "SDRS job",
            "href": "sdrs/job?dag_id={DAG_ID}&run_id={RUN_ID}&task_id={TASK_ID}&map_index={MAP_INDEX}",
            "destination": "task_instance",
            "url_route": "sdrs-job",
        },
    ]
