"""The ``sdrs`` connection form, in one place: its fields, their labels and the extras the provider reads.

Airflow 3.2+ reads the form from the provider info (``conn-fields``, ``ui-field-behaviour``), Airflow 3.1
from the hook (``get_ui_field_behaviour``, ``get_connection_form_widgets``); the settings read the extras
named in :data:`CONN_FIELDS` and warn about any other key. All of them take it from here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONN_FIELDS", "UI_FIELD_BEHAVIOUR", "hook_field_behaviour"]

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    # Port stays visible: Airflow 3.3's Test button compares the form's port with the stored one, and an
    # unset port goes in as 0 there, so the test of a stored connection needs a port to pass.
    "hidden-fields": ["schema"],
    "relabeling": {"host": "Endpoint URL", "login": "Access key / IAM user", "password": "Secret key / password"},
    "placeholders": {
        "host": "optional, e.g. https://sdrs.eu-de.otc.t-systems.com (default from cloud and region)",
        "login": "access key (aksk) or IAM user name (password)",
        "password": "secret key (aksk) or IAM password (password)",
        "port": "443",
    },
}

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "auth_type": {
        "label": "Authentication",
        "description": "aksk: sign requests with access key / secret key. password: IAM user token.",
        "schema": {"type": ["string", "null"], "enum": ["aksk", "password"], "default": "aksk"},
    },
    "cloud": {
        "label": "Cloud",
        "description": "otc (Open Telekom Cloud) or huaweicloud; sets the default SDRS, IAM and console URLs.",
        "schema": {"type": ["string", "null"], "enum": ["otc", "huaweicloud"], "default": "otc"},
    },
    "region": {
        "label": "Region",
        "description": "Region name, e.g. eu-de.",
        "schema": {"type": ["string", "null"], "default": "eu-de"},
    },
    "project_id": {
        "label": "Project ID",
        "description": "Required for aksk; for password, taken from the IAM token when empty.",
        "schema": {"type": ["string", "null"]},
    },
    "domain_name": {
        "label": "Domain (account) name",
        "description": "IAM account name; required for password authentication.",
        "schema": {"type": ["string", "null"]},
    },
    "project_name": {
        "label": "Project name",
        "description": "Token scope for password authentication when no project ID is set (default: the region).",
        "schema": {"type": ["string", "null"]},
    },
    "security_token": {
        "label": "Security token",
        "description": "For temporary access keys only; sent as X-Security-Token.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "iam_endpoint": {
        "label": "IAM endpoint",
        "description": "Override, e.g. https://iam.eu-de.otc.t-systems.com/v3.",
        "schema": {"type": ["string", "null"]},
    },
    "verify": {
        "label": "TLS verification",
        "description": "true (default), false, or the path of a CA bundle.",
        "schema": {"type": ["string", "null"], "default": "true"},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Seconds one HTTP request may take in all, body included (default 30).",
        "schema": {"type": ["string", "null"]},
    },
    "proxy": {
        "label": "Proxy",
        "description": "HTTP(S) proxy URL with its scheme, such as http://proxy.example.com:3128. "
        "Proxy environment variables are ignored.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "console_url": {
        "label": "Console URL",
        "description": "Base of the console links shown on tasks (default from cloud), or a deep-link template "
        "using {region}, {project_id}, {resource_type}, {resource_id} and {job_id}.",
        "schema": {"type": ["string", "null"]},
    },
    "max_response_bytes": {
        "label": "Max response bytes",
        "description": "Largest answer accepted, after decompression (default 4194304, 4 MiB).",
        "schema": {"type": ["string", "null"]},
    },
}


def hook_field_behaviour() -> dict[str, Any]:
    """:data:`UI_FIELD_BEHAVIOUR` in the shape ``BaseHook.get_ui_field_behaviour`` returns (snake-case keys)."""
    return {
        "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }
