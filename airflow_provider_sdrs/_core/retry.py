"""When to try a request again, and how long to wait first."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries for transient failures: throttling (429), 500/502/503/504, broken connections, timeouts.

    :param retry_limit: retries after the first attempt (so ``retry_limit + 1`` attempts in all).
    :param retry_delay: the first backoff in seconds; it doubles on each retry, with full jitter.
    :param max_delay: the longest backoff.
    :param max_retry_after: the longest ``Retry-After`` honoured; a longer one is cut to this.
    """

    retry_limit: int = 4
    retry_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.retry_limit, int) or isinstance(self.retry_limit, bool) or self.retry_limit < 0:
            raise ValueError(f"retry_limit must be a whole number >= 0, got {self.retry_limit!r}")
        if self.retry_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("retry_delay, max_delay and max_retry_after must not be negative")

    @property
    def max_attempts(self) -> int:
        return self.retry_limit + 1

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.retry_delay * (2 ** (attempt - 1)))
        delay = random.uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay
