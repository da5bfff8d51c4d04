"""The logging interface the core needs: met by ``logging.Logger`` and by Airflow's task loggers."""

from __future__ import annotations

from typing import Any, Protocol


class Log(Protocol):
    def debug(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def log(self, level: int, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...


def resolved(log: Log) -> Log:
    """``log``, with a structlog lazy proxy (what Airflow's ``LoggingMixin.log`` returns) resolved once.

    The proxy builds a new bound logger on every call it forwards, a debug line that is filtered out
    included; a wait logs on every poll, so it resolves the proxy when it starts. Context variables, by
    which a triggerer routes each trigger's lines, are still read at every call.
    """
    if type(log).__name__ == "BoundLoggerLazyProxy":
        bind = getattr(log, "bind", None)
        if callable(bind):
            bound: Log = bind()
            return bound
    return log
