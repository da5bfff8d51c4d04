"""What a process keeps between hooks, in one place, with one way to forget it.

A worker or a triggerer runs many hooks, and a triggerer thousands of waits; these caches let them share
what is costly to get again:

* :data:`ASYNC_SETTINGS` (``settings``): validated connections by ``(conn id, timeout)``, looked up on an
  event loop. Each entry lives ``ttl`` seconds (60), which bounds how long a changed connection (a rotated
  secret) goes unnoticed by new waits; the hooks already holding one keep it.
* :data:`TOKEN_CACHE` (``tokens``): IAM tokens by credentials (endpoint, domain, user, a hash of the
  password, project). A token is used until five minutes (or a tenth of its lifetime) before the expiry
  IAM gave it, or until SDRS refuses it.
* the connection pools (``pools``): one per event loop, endpoint, proxy and TLS setting, open
  while some hook holds it. They live in :mod:`airflow_provider_sdrs.hooks._async`, so that no module a DAG
  file imports pulls in an HTTP client, and register themselves here when that module is imported.

Every cache is registered with :func:`register`, and :func:`reset_process_caches` empties them all: tests
call it between cases, so that no token, connection or pool leaks from one into the next.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from airflow_provider_sdrs._core.tokens import TokenCache

if TYPE_CHECKING:
    from airflow_provider_sdrs._core.settings import SdrsSettings

__all__ = [
    "ASYNC_SETTINGS",
    "TOKEN_CACHE",
    "ProcessCache",
    "SettingsCache",
    "caches",
    "register",
    "reset_process_caches",
]


class ProcessCache(Protocol):
    def clear(self) -> None: ...

    def __len__(self) -> int: ...


CacheT = TypeVar("CacheT", bound=ProcessCache)

_CACHES: dict[str, ProcessCache] = {}


def register(name: str, cache: CacheT) -> CacheT:
    """Make ``cache`` one of the process's caches, emptied by :func:`reset_process_caches`; returns it.

    A module imported again (``importlib.reload``) registers its new cache in place of the old one.
    """
    _CACHES[name] = cache
    return cache


def caches() -> dict[str, ProcessCache]:
    """The registered caches by name (the connection pools only once their module has been imported)."""
    return dict(_CACHES)


def reset_process_caches() -> None:
    """Forget every cached connection, IAM token and connection pool of this process.

    For tests, between cases, when no hook is running: a pool still held by a hook is forgotten, not
    closed.
    """
    for cache in _CACHES.values():
        cache.clear()


class SettingsCache:
    """Validated connections by (conn id, timeout), shared by the hooks of a process for ``ttl`` seconds.

    The expiry bounds how long a changed connection (a rotated secret) goes unnoticed by new waits.
    Concurrent look-ups of one connection on an event loop make a single request.
    """

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, float | None], tuple[float, SdrsSettings]] = {}
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    def _fresh(self, key: tuple[str, float | None]) -> SdrsSettings | None:
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[0] < self.ttl:
            return entry[1]
        return None

    async def get(self, key: tuple[str, float | None], lookup: Callable[[], Awaitable[SdrsSettings]]) -> SdrsSettings:
        settings = self._fresh(key)
        if settings is not None:
            return settings
        lock = self._locks.setdefault(asyncio.get_running_loop(), {}).setdefault(key, asyncio.Lock())
        async with lock:
            settings = self._fresh(key)
            if settings is None:
                settings = await lookup()
                self._entries[key] = (time.monotonic(), settings)
            return settings

    def clear(self) -> None:
        self._entries.clear()
        self._locks.clear()

    def __len__(self) -> int:
        """Connections held, fresh or expired."""
        return len(self._entries)


ASYNC_SETTINGS = register("settings", SettingsCache())
TOKEN_CACHE = register("tokens", TokenCache())
