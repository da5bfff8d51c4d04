"""Checks of the numeric arguments of the hook, the sensor, the trigger and the operators.

They run when the object is built, so that a NaN poll interval (a hot loop, or a wait that never polls
again), an infinite timeout or a negative retry count is refused with the argument's name, long before a
task runs.
"""

from __future__ import annotations

import math
from datetime import timedelta
from numbers import Real

from airflow_provider_sdrs.exceptions import SdrsValidationError

# About 31 years: longer than any real wait, short enough for time.sleep, asyncio and timedelta.
MAX_SECONDS = 1e9
# The year 5138: any real deadline is earlier.
MAX_EPOCH = 1e11
# More attempts than this would only hide an outage (and overflow the backoff's doubling).
MAX_COUNT = 1000
# Retries of one request, and the first backoff between them: past these, one call hides an outage for hours.
MAX_RETRY_LIMIT = 100
MAX_RETRY_DELAY = 3600.0
# The shortest pause between two polls: a shorter one is a busy loop against SDRS, not a wait.
MIN_INTERVAL = 0.01


def _real(value: object, name: str) -> float:
    # bool is an int to Python, but True seconds or True retries is a mistake, not a number.
    if isinstance(value, bool) or not isinstance(value, Real):
        raise SdrsValidationError(name, f"must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise SdrsValidationError(name, f"must be a finite number, got {value!r}")
    return number


def seconds(value: object, name: str, *, positive: bool = False, maximum: float = MAX_SECONDS) -> float:
    """A duration in seconds (a number or a ``timedelta``): finite, not negative (or > 0), at most ``maximum``.

    :param value: the argument.
    :param name: the argument's name, for the error.
    :param positive: refuse 0 as well.
    :param maximum: the largest value accepted.
    :raises SdrsValidationError: naming ``name``.
    """
    if isinstance(value, timedelta):
        value = value.total_seconds()
    number = _real(value, name)
    if positive and number <= 0:
        raise SdrsValidationError(name, f"must be more than 0 seconds, got {value!r}")
    if number < 0:
        raise SdrsValidationError(name, f"must not be negative, got {value!r}")
    if number > maximum:
        raise SdrsValidationError(name, f"must be at most {maximum:g} seconds, got {value!r}")
    return number


def interval(value: object, name: str) -> float:
    """The pause between two polls, seconds: at least ``MIN_INTERVAL``, at most ``MAX_SECONDS``.

    :raises SdrsValidationError: naming ``name``.
    """
    number = seconds(value, name)
    if number < MIN_INTERVAL:
        raise SdrsValidationError(
            name, f"must be at least {MIN_INTERVAL:g} seconds (a shorter one polls SDRS in a busy loop), got {value!r}"
        )
    return number


def optional_seconds(value: object, name: str, *, positive: bool = False) -> float | None:
    """:func:`seconds`, or ``None``."""
    return None if value is None else seconds(value, name, positive=positive)


def epoch(value: object, name: str) -> float | None:
    """A wall-clock moment in epoch seconds (``time.time()`` scale), or ``None``: finite and not negative."""
    return None if value is None else seconds(value, name, maximum=MAX_EPOCH)


def count(value: object, name: str, *, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """A whole number between ``minimum`` and ``maximum``; ``3.0`` is taken as ``3``, ``2.5`` is refused.

    :raises SdrsValidationError: naming ``name``.
    """
    number = _real(value, name)
    if not number.is_integer():
        raise SdrsValidationError(name, f"must be a whole number, got {value!r}")
    if number < minimum:
        raise SdrsValidationError(name, f"must be at least {minimum}, got {value!r}")
    if number > maximum:
        raise SdrsValidationError(name, f"must be at most {maximum}, got {value!r}")
    return int(number)


def retry_limit(value: object, name: str) -> int:
    """Retries of one request after a transient failure: a whole number from 0 to ``MAX_RETRY_LIMIT``."""
    return count(value, name, maximum=MAX_RETRY_LIMIT)


def retry_delay(value: object, name: str) -> float:
    """The first backoff between retries, seconds: from 0 to ``MAX_RETRY_DELAY``."""
    return seconds(value, name, maximum=MAX_RETRY_DELAY)
