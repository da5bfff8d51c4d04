"""The Airflow plugin: registered through the provider info (``plugins``), so installing the provider is
enough. It mounts :mod:`airflow_provider_sdrs.ui.app` under ``/sdrs`` and adds a "Disaster recovery" entry
to the navigation and an "SDRS job" tab to every task instance (the tab says when a task is not an SDRS one).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_sdrs.ui.app import create_app

URL_PREFIX = "/sdrs"


class SdrsUiPlugin(AirflowPlugin):
    """DR posture page and SDRS job tab."""

    name = "sdrs"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "SDRS disaster recovery"}]
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
