"""A short-lived memo of SDRS answers, so that a page view does not become a burst of SDRS calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: Entries kept at most; the oldest go first. A page holds a few per connection and per job shown.
MAX_ENTRIES = 2048


@dataclass(frozen=True)
class Answer(Generic[T]):
    """What a load gave: a value, or the text of the error it raised (errors are remembered too, so a
    dead connection is not asked again on every view)."""

    value: T | None
    error: str | None
    loaded_at: float


class TtlCache:
    """Answers by key, each kept for ``ttl`` seconds. Concurrent loads of one key run once."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: dict[Any, tuple[float, Answer[Any]]] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._guard = threading.Lock()
        self._max_entries = max_entries

    def get(
        self,
        key: Any,
        load: Callable[[], T],
        ttl: float | Callable[[Answer[T]], float],
        describe: Callable[[BaseException], str],
    ) -> Answer[T]:
        """The cached answer for ``key``, or a fresh one from ``load``.

        :param ttl: seconds to keep the answer, or a function of the answer giving them.
        :param describe: turns an error of ``load`` into the text remembered for it.
        """
        found = self._fresh(key)
        if found is not None:
            return found
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            found = self._fresh(key)  # another request may have loaded it while this one waited
            if found is not None:
                return found
            try:
                answer: Answer[T] = Answer(load(), None, time.time())
            except Exception as error:
                answer = Answer(None, describe(error), time.time())
            self._store(key, answer, ttl(answer) if callable(ttl) else ttl)
            return answer

    def _fresh(self, key: Any) -> Answer[Any] | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def _store(self, key: Any, answer: Answer[Any], ttl: float) -> None:
        with self._guard:
            if ttl <= 0:
                self._locks.pop(key, None)
                return
            self._entries[key] = (time.monotonic() + ttl, answer)
            if len(self._entries) > self._max_entries:
                now = time.monotonic()
                for stale in [k for k, (expiry, _) in self._entries.items() if expiry < now]:
                    del self._entries[stale]
                while len(self._entries) > self._max_entries:
                    del self._entries[next(iter(self._entries))]
                self._locks = {k: v for k, v in self._locks.items() if k in self._entries}

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()
            self._locks.clear()
