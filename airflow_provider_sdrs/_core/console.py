"""Links to the SDRS web console, for the extra links shown on task instances."""

from __future__ import annotations

from string import Formatter
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from airflow_provider_sdrs.exceptions import SdrsConfigError

if TYPE_CHECKING:
    from airflow_provider_sdrs._core.settings import SdrsSettings

#: Placeholders a ``console_url`` template may use.
PLACEHOLDERS = ("region", "project_id", "resource_type", "resource_id", "job_id")
_SAMPLE = {name: "x" for name in PLACEHOLDERS}


def check_console_url(value: str, conn_id: str) -> str:
    """Validate ``extra.console_url``: a base URL, or a template with :data:`PLACEHOLDERS`.

    :raises SdrsConfigError: not an http(s) URL, or a placeholder that is not one of ours.
    """
    text = value.strip()
    if "{" in text or "}" in text:
        try:
            names = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
        except ValueError as error:
            raise SdrsConfigError("extra.console_url", f"is not a valid template: {error}", conn_id=conn_id) from None
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            raise SdrsConfigError(
                "extra.console_url",
                f"uses unknown placeholders {unknown}; known: {', '.join(PLACEHOLDERS)}",
                conn_id=conn_id,
            )
        sample = text.format(**_SAMPLE)
    else:
        sample = text
    parts = urlsplit(sample)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise SdrsConfigError(
            "extra.console_url",
            f"must be an http(s) URL such as https://console.otc.t-systems.com, got {value!r}",
            conn_id=conn_id,
        )
    return text if "{" in text else text.rstrip("/")


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
