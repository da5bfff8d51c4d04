"""Validation of ids that become path segments of SDRS URLs."""

from __future__ import annotations

import re
from typing import TypeGuard

from airflow_provider_sdrs.exceptions import SdrsValidationError

SAFE_SEGMENT = re.compile(r"[A-Za-z0-9-]{1,64}", re.ASCII)


def _preview(value: str) -> str:
    shown = value if len(value) <= 40 else value[:40] + "..."
    return repr(shown) + (f" ({len(value)} characters)" if len(value) > 40 else "")


def validate_id(value: object, field: str) -> str:
    """Return ``value`` if it is one safe URL path segment, else raise.

    SDRS ids are hex strings or UUIDs: 1 to 64 ASCII letters, digits or ``-``. Anything else (a
    slash, ``..``, percent signs, whitespace, unicode, an empty string, ``None``) could address
    another resource than the one meant, so it is refused before any request is built.

    :param value: the id to check.
    :param field: its name, used in the error message (e.g. ``job_id``).
    :raises SdrsValidationError: the id is not acceptable.
    """
    if value is None:
        raise SdrsValidationError(field, "is required but is None")
    if not isinstance(value, str):
        raise SdrsValidationError(field, f"must be a string, got {type(value).__name__}")
    if not SAFE_SEGMENT.fullmatch(value):
        if not value:
            problem = "is empty"
        elif not value.strip():
            problem = "is blank"
        else:
            problem = f"must be 1-64 letters, digits or '-', got {_preview(value)}"
        raise SdrsValidationError(field, problem)
    return value


def is_safe_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is an id :func:`validate_id` accepts: for ids taken from a server's answer."""
    return isinstance(value, str) and SAFE_SEGMENT.fullmatch(value) is not None
