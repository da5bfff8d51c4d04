"""The one user the simulator knows, and Airflow connections that reach it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROJECT_ID = "0123456789abcdef0123456789abcdef"


@dataclass(frozen=True)
class SimulatorCredentials:
    """The credentials the simulator accepts. None of them is a real secret."""

    access_key: str = "SIMULATORACCESSKEY0001"
    secret_key: str = "simulator-secret-key"
    user: str = "sdrs-operator"
    password: str = "simulator-password"
    domain: str = "sdrs-simulated-domain"
    project_id: str = PROJECT_ID
    project_name: str = "eu-de"
    security_token: str | None = None


def connection_for(
    url: str, auth_type: str = "aksk", credentials: SimulatorCredentials | None = None, **extra_overrides: Any
) -> dict[str, Any]:
    """An Airflow connection (as a dict) for a simulator serving at ``url``."""
    creds = credentials or SimulatorCredentials()
    extra: dict[str, Any] = {
        "auth_type": auth_type,
        "region": "eu-de",
        "iam_endpoint": f"{url}/v3",
        "console_url": f"{url}/console",
    }
    if auth_type == "aksk":
        login, password = creds.access_key, creds.secret_key
        extra["project_id"] = creds.project_id
        if creds.security_token:
            extra["security_token"] = creds.security_token
    else:
        login, password = creds.user, creds.password
        extra["domain_name"] = creds.domain
    extra.update(extra_overrides)
    return {"conn_type": "sdrs", "host": url, "login": login, "password": password, "extra": extra}
