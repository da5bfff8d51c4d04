"""Keep credentials out of text that may reach logs or exception messages."""

from __future__ import annotations

import re

_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def strip_url_credentials(text: str) -> str:
    """Replace ``user:password@`` in any URL inside ``text`` with ``***@``."""
    return _URL_USERINFO.sub(r"\g<scheme>***@", text)


def scrub(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """Remove URL credentials and every known secret value from ``text``."""
    text = strip_url_credentials(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
