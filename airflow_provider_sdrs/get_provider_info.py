"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_sdrs import __version__
from airflow_provider_sdrs._core.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-sdrs",
        "name": "SDRS (Storage Disaster Recovery Service)",
        "description": "Wait on and run disaster-recovery operations of the Storage Disaster Recovery Service "
        "(SDRS) of Open Telekom Cloud and Huawei Cloud.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "SDRS",
                "external-doc-url": "https://docs.otc.t-systems.com/storage-disaster-recovery-service/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "SDRS", "python-modules": ["airflow_provider_sdrs.hooks.sdrs"]}],
        "sensors": [{"integration-name": "SDRS", "python-modules": ["airflow_provider_sdrs.sensors.sdrs"]}],
        "triggers": [{"integration-name": "SDRS", "python-modules": ["airflow_provider_sdrs.triggers.sdrs"]}],
        "operators": [{"integration-name": "SDRS", "python-modules": ["airflow_provider_sdrs.operators.sdrs"]}],
        "extra-links": ["airflow_provider_sdrs.links.sdrs.SdrsConsoleLink"],
        "asset-uris": [{"schemes": ["sdrs"], "handler": "airflow_provider_sdrs.assets.sdrs.sanitize_uri"}],
        "connection-types": [
            {
                "connection-type": "sdrs",
                "hook-class-name": "airflow_provider_sdrs.hooks.sdrs.SdrsHook",
                "hook-name": "SDRS",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
