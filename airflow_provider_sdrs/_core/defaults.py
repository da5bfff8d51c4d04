"""Defaults of every wait, in a module light enough for DAG files to import."""

from __future__ import annotations

#: Seconds during which "no such job" is taken as "not visible yet".
DEFAULT_NOT_FOUND_GRACE = 60.0
#: Consecutive failed polls (each after the hook's own retries) tolerated before a wait gives up.
DEFAULT_MAX_POLL_FAILURES = 3
#: How long a task may wait for an SDRS job or resource, by default (two hours).
DEFAULT_WAIT_TIMEOUT = 2 * 3600.0
