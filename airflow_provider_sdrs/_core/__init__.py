"""Transport-independent core shared by the requests (sync) and asyncio (async) paths.

Nothing in this package performs I/O: it validates, builds and signs requests, maps responses to
results or errors, and decides on retries. The hook drives it with one transport or the other.
"""
