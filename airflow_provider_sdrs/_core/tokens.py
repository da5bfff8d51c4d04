"""IAM tokens: what one is good for, reading one from IAM's answer, and the cache that shares them.

The cache is process-wide and owned by :mod:`airflow_provider_sdrs._core.process`.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import weakref
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import pendulum

from airflow_provider_sdrs._core.body import decode_json
from airflow_provider_sdrs._core.http import HttpResponse
from airflow_provider_sdrs._core.ids import is_safe_id
from airflow_provider_sdrs._core.text import clean, remember_secret
from airflow_provider_sdrs.exceptions import SdrsApiError

if TYPE_CHECKING:
    from airflow_provider_sdrs._core.logs import Log
    from airflow_provider_sdrs._core.settings import SdrsSettings

TokenKey = tuple[str, ...]


@dataclass(frozen=True)
class IamToken:
    """An IAM token and what it is good for. The value never appears in ``repr``."""

    value: str = field(repr=False)
    expires_at: float
    issued_at: float
    project_id: str | None

    def usable(self, now: float | None = None) -> bool:
        """Still valid with a margin: five minutes, or a tenth of its lifetime if that is shorter."""
        moment = time.time() if now is None else now
        margin = min(300.0, (self.expires_at - self.issued_at) * 0.1)
        return moment < self.expires_at - margin


# IAM tokens live 24 hours; a later expiry is not believed.
MAX_TOKEN_LIFETIME = 24 * 3600.0
# A token whose lifetime cannot be read is used this long (a refused one is replaced at once anyway).
FALLBACK_TOKEN_LIFETIME = 3600.0
# A token that IAM itself says expired when it was issued is still used this long before asking again, so
# that a confused IAM cannot turn every read into a token request (a refused token is replaced at once).
MIN_TOKEN_LIFETIME = 60.0
# A token IAM says lasts less than this is taken for a confused IAM (or clock), not as a real lifetime.
SHORTEST_HONOURED_LIFETIME = 1.0
# Differences between the local clock and IAM's that are worth a warning.
SKEW_WARNING = 60.0


def _epoch(value: object) -> float | None:
    """An ISO 8601 time from IAM as epoch seconds, or ``None`` when absent or unreadable."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        parsed = pendulum.parse(value.strip())
        if isinstance(parsed, pendulum.DateTime):
            moment = parsed.timestamp()
            return moment if math.isfinite(moment) else None
    except Exception:  # pendulum raises many kinds of error for a bad time; all mean "unreadable"
        return None
    return None


def _http_date(value: str | None) -> float | None:
    """The ``Date`` header (IAM's clock, to the second) as epoch seconds."""
    if not value or len(value) > 64:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def _token_lifetime(token: dict[str, Any], response: HttpResponse, now: float, log: Log | None) -> float:
    """How long the token is good for, by IAM's own clock.

    IAM states ``issued_at`` and ``expires_at`` by its clock. Their difference is applied to the local
    clock, so that a local clock ahead of IAM's does not make a fresh token look expired on arrival (and
    every read ask for a new one).
    """
    expires_at = _epoch(token.get("expires_at"))
    if expires_at is None:
        return FALLBACK_TOKEN_LIFETIME
    issued_at = _epoch(token.get("issued_at"))
    if issued_at is None:
        issued_at = _http_date(response.header("date"))
    if issued_at is None:
        issued_at = now
    skew = now - issued_at
    lifetime = min(expires_at - issued_at, MAX_TOKEN_LIFETIME)
    # A lifetime under a second (or none) would make every read ask for a token: such a token is used for
    # MIN_TOKEN_LIFETIME, and replaced at once if SDRS refuses it. A short real lifetime is honoured.
    usable_for = lifetime if lifetime >= SHORTEST_HONOURED_LIFETIME else MIN_TOKEN_LIFETIME
    if log is not None and abs(skew) > SKEW_WARNING:
        log.warning(
            "Clock skew: the local clock is %+.0f s off IAM's (the token's issued_at); the IAM token is used "
            "for %.0f s by the local clock, the lifetime IAM gave it. Synchronise this machine's clock (NTP).",
            skew,
            usable_for,
        )
    if log is not None and lifetime < SHORTEST_HONOURED_LIFETIME:
        log.warning(
            "IAM issued a token that expires %.3f s after it was issued (issued_at %s, expires_at %s): a clock "
            "skew on IAM's side or a misconfigured IAM. It is used for %.0f s, so that reads do not each ask "
            "for a new token.",
            lifetime,
            clean(token.get("issued_at"), 40),
            clean(token.get("expires_at"), 40),
            usable_for,
        )
    return usable_for


def _object(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: a token answer may leave any part out."""
    return value if isinstance(value, dict) else {}


def parse_token(response: HttpResponse, settings: SdrsSettings, log: Log | None = None) -> IamToken:
    """The token in IAM's answer to a token request, good for the lifetime IAM gave it.

    :raises SdrsApiError: the answer has no usable ``X-Subject-Token`` header, or its body is not a JSON object.
    """
    operation = f"IAM token request for user {settings.login!r}"
    value = response.header("x-subject-token")
    secrets = settings.secrets + ((value,) if value else ())
    document = decode_json(response, operation, secrets)
    token = _object(document.get("token"))
    if not value or not value.isprintable() or len(value) > 64 * 1024:
        raise SdrsApiError(
            status=response.status,
            code=None,
            message="the response has no usable X-Subject-Token header",
            operation=operation,
        )
    remember_secret(value)
    now = time.time()
    lifetime = _token_lifetime(token, response, now, log)
    project = _object(token.get("project"))
    project_id = project.get("id") if isinstance(project.get("id"), str) else None
    if not is_safe_id(project_id):
        project_id = None
    return IamToken(value=value, expires_at=now + lifetime, issued_at=now, project_id=project_id or settings.project_id)


class TokenCache:
    """Tokens by credentials, with one lock per credentials for threads and one per event loop.

    A token is requested by one caller at a time per credentials: the others wait on the lock and then
    find the fresh token, so a thousand waits that start together cause one IAM request.
    """

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, IamToken] = {}
        self._guard = threading.Lock()
        self._thread_locks: dict[TokenKey, threading.Lock] = {}
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[TokenKey, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, key: TokenKey) -> IamToken | None:
        """The cached token if it is still usable, else ``None``."""
        token = self._tokens.get(key)
        return token if token is not None and token.usable() else None

    def put(self, key: TokenKey, token: IamToken) -> None:
        self._tokens[key] = token

    def discard(self, key: TokenKey, token: IamToken) -> None:
        """Forget ``token`` if it is still the cached one (another caller may have replaced it)."""
        with self._guard:
            if self._tokens.get(key) is token:
                del self._tokens[key]

    def clear(self) -> None:
        """Forget every token, and the locks of every credentials."""
        with self._guard:
            self._tokens.clear()
            self._thread_locks.clear()
            self._loop_locks.clear()

    def __len__(self) -> int:
        """Tokens held, usable or not."""
        return len(self._tokens)

    def thread_lock(self, key: TokenKey) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    def loop_lock(self, key: TokenKey) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            locks = self._loop_locks.setdefault(loop, {})
            return locks.setdefault(key, asyncio.Lock())
