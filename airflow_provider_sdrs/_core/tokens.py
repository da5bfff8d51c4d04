"""Process-wide cache of IAM tokens, shared by every hook that uses the same credentials."""

from __future__ import annotations

import asyncio
import threading
import weakref

from airflow_provider_sdrs._core.exchange import IamToken

TokenKey = tuple[str, ...]


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
        with self._guard:
            self._tokens.clear()

    def thread_lock(self, key: TokenKey) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    def loop_lock(self, key: TokenKey) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            locks = self._loop_locks.setdefault(loop, {})
            return locks.setdefault(key, asyncio.Lock())


TOKEN_CACHE = TokenCache()
