"""The page's options, from the ``[sdrs]`` section of Airflow's configuration (or ``AIRFLOW__SDRS__*``)."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_sdrs._core import numbers

#: How long an SDRS answer is reused.
DEFAULT_CACHE_SECONDS = 30.0
#: How long one SDRS read of the page may take, retries included.
DEFAULT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class UiSettings:
    """:param connections: the connection ids to show; empty: every ``sdrs`` connection of the metadata
        database, and ``sdrs_default`` when a secrets backend or an environment variable defines it.
    :param cache_seconds: ``[sdrs] ui_cache_seconds``; 0 turns the cache off.
    :param timeout: ``[sdrs] ui_timeout``: seconds one SDRS read of the page may take.
    """

    connections: tuple[str, ...] = ()
    cache_seconds: float = DEFAULT_CACHE_SECONDS
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def read(cls) -> UiSettings:
        from airflow.configuration import conf

        listed = conf.get("sdrs", "ui_connections", fallback="") or ""
        cache = conf.get("sdrs", "ui_cache_seconds", fallback=str(DEFAULT_CACHE_SECONDS))
        timeout = conf.get("sdrs", "ui_timeout", fallback=str(DEFAULT_TIMEOUT_SECONDS))
        return cls(
            connections=tuple(dict.fromkeys(part.strip() for part in listed.split(",") if part.strip())),
            cache_seconds=numbers.seconds(_number(cache, "[sdrs] ui_cache_seconds"), "[sdrs] ui_cache_seconds"),
            timeout=numbers.seconds(_number(timeout, "[sdrs] ui_timeout"), "[sdrs] ui_timeout", positive=True),
        )


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
