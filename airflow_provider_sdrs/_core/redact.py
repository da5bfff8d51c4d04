"""Keep credentials out of text that may reach logs or exception messages.

The work is done by :mod:`airflow_provider_sdrs._core.text`; these names stay for the code that uses them.
"""

from __future__ import annotations

from collections.abc import Iterable

from airflow_provider_sdrs._core import text

_URL_USERINFO = text._URL_USERINFO


def strip_url_credentials(value: str) -> str:
    """Replace ``user:password@`` in any URL inside ``value`` with ``***@``."""
    return _URL_USERINFO.sub(r"\g<scheme>***@", value) if "://" in value else value


def scrub(value: str, secrets: Iterable[str]) -> str:
    """Remove URL credentials and every known secret value (in any echoed form) from ``value``."""
    return text.scrub(value, secrets)
