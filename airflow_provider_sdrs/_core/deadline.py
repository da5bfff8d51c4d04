"""A wall-clock deadline for one call: how much time is left, and the error once it has passed.

Both transports use it to bound request timeouts, retry sleeps and waits for an IAM token, so that a
wait whose ``end_time`` comes near never outlives it by more than one scheduling hiccup.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from airflow_provider_sdrs._core.http import TransportFailure
from airflow_provider_sdrs.exceptions import SdrsApiError, SdrsConnectionError, SdrsError, SdrsValidationError


@dataclass(frozen=True)
class Deadline:
    """An instant in epoch seconds (the ``time.time()`` scale), or ``None`` for no limit."""

    at: float | None = None

    def remaining(self) -> float | None:
        """Seconds left (never negative), or ``None`` without a limit."""
        if self.at is None:
            return None
        return max(0.0, self.at - time.time())

    @property
    def passed(self) -> bool:
        return self.at is not None and time.time() >= self.at

    def clip(self, seconds: float) -> float:
        """``seconds``, shortened so that it ends no later than the deadline."""
        left = self.remaining()
        return seconds if left is None else max(0.0, min(seconds, left))


NO_DEADLINE = Deadline()


def as_deadline(value: float | Deadline | None) -> Deadline:
    """Accept the public ``deadline`` argument (epoch seconds) or a :class:`Deadline`.

    :raises SdrsValidationError: ``value`` is not a finite number of epoch seconds (NaN would make every
        comparison false, so that no request is ever sent); nothing is sent then.
    """
    if isinstance(value, Deadline):
        return value
    if value is None:
        return NO_DEADLINE
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SdrsValidationError(
            "deadline", f"must be epoch seconds (as time.time()) or None, got {type(value).__name__}"
        )
    if not math.isfinite(value):
        raise SdrsValidationError("deadline", f"must be a finite number of epoch seconds, got {value!r}")
    return Deadline(float(value))


def too_late_to_send() -> TransportFailure:
    """What either transport reports for a request whose deadline passed before it could be sent."""
    return TransportFailure("timeout", "the deadline passed before the request was sent")


# The least time a read gets, even at or past the end of a wait: one answer from a healthy endpoint.
MIN_READ_SECONDS = 1.0


def read_deadline(end: float | None, minimum: float = MIN_READ_SECONDS) -> float | None:
    """The deadline of a read that must happen even if the wait's ``end`` is near or has passed.

    Airflow itself times a sensor out after a poke, so a poke at the end of the sensor's timeout still
    reads the job: it gets at least ``minimum`` seconds instead of failing unread.
    """
    if end is None:
        return None
    return max(end, time.time() + minimum)


def deadline_passed(operation: str, last: SdrsError | None = None) -> SdrsError:
    """The error of a call that ran out of time: the last failure it saw, or a connection error."""
    if isinstance(last, (SdrsApiError, SdrsConnectionError)):
        return last.amended(context=("the deadline passed before another attempt",))
    if last is not None:
        return last
    return SdrsConnectionError(f"SDRS {operation} failed: the deadline passed", operation=operation)
