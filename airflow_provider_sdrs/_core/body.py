"""Reading a response body within a size limit, decompressed size included.

Both transports read the raw bytes off the wire (they decompress nothing themselves) and feed them to a
:class:`BodyReader`, so a 600 MB answer or a gzip body that inflates a thousandfold costs at most the limit
in memory and stops being read as soon as it passes it.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from airflow_provider_sdrs._core.http import HttpResponse, TransportFailure

DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# Error pages are only mined for a code and a message: a short prefix is all the parser ever sees.
ERROR_BODY_LIMIT = 64 * 1024
# Raw bytes read at a time; with deflate's ~1000:1 ceiling no single step inflates past a few MB.
CHUNK_SIZE = 16 * 1024
# The encodings the transports ask for; anything else is refused rather than decoded. The header is added
# by the transports, unsigned, since a proxy may rewrite it.
ACCEPT_ENCODING = "gzip, deflate"


def wire_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers a transport sends: the request's own, and the encodings the body reader can decode."""
    return {**headers, "Accept-Encoding": ACCEPT_ENCODING}


class BodyTooLarge(Exception):
    """The body grew past the limit."""


class BodyCorrupt(Exception):
    """The body's compression is broken, or uses an encoding that was not asked for."""


def body_limit(status: int, max_response_bytes: int) -> tuple[int, bool]:
    """How many bytes to read of an answer with ``status``, and whether to clip (else refuse) past that.

    A successful answer must be whole to be used, so past the limit it is refused. Of an error answer
    only the beginning matters, so it is clipped to a much smaller prefix.
    """
    if 200 <= status < 300:
        return max_response_bytes, False
    return min(ERROR_BODY_LIMIT, max_response_bytes), True


class BodyReader:
    """Collects a body of at most ``limit`` decoded bytes.

    :param limit: the most decoded bytes kept.
    :param encoding: the ``Content-Encoding`` header, if any.
    :param clip: past the limit, keep the first ``limit`` bytes and report :attr:`done`, instead of
        raising :class:`BodyTooLarge`.
    :raises BodyCorrupt: the encoding is not one the transports asked for.
    """

    def __init__(self, limit: int, encoding: str | None = None, *, clip: bool = False) -> None:
        self.limit = limit
        self.clip = clip
        self.done = False
        self._parts = bytearray()
        self._fed = False
        name = (encoding or "").strip().lower()
        self._deflate = name == "deflate"
        self._inflate = _decompressor(name)

    def feed(self, chunk: bytes) -> None:
        """Add raw bytes from the wire; sets :attr:`done` once nothing more is wanted.

        :raises BodyTooLarge: the decoded body passed the limit (and ``clip`` is off).
        :raises BodyCorrupt: the compressed data is broken.
        """
        if self.done or not chunk:
            return
        self._fed = True
        if self._inflate is None:
            self._keep(chunk)
            return
        data = chunk
        while data and not self.done and not self._inflate.eof:
            try:
                # At most one byte past the room left: enough to tell that the limit is passed.
                out = self._inflate.decompress(data, self.limit - len(self._parts) + 1)
            except zlib.error as error:
                if self._deflate and not self._parts:
                    # Some servers send "deflate" as raw deflate data, without the zlib header.
                    self._deflate = False
                    self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise BodyCorrupt(f"the compressed body is corrupt ({error})") from None
            self._keep(out)
            data = self._inflate.unconsumed_tail

    def _keep(self, data: bytes) -> None:
        if len(self._parts) + len(data) > self.limit:
            if not self.clip:
                raise BodyTooLarge(f"the answer exceeded {self.limit} bytes")
            self._parts.extend(data[: self.limit - len(self._parts)])
            self.done = True
            return
        self._parts.extend(data)

    def finish(self) -> bytes:
        """The body as read; a compressed body must be complete unless it was clipped."""
        if self._inflate is not None and self._fed and not self.done and not self._inflate.eof:
            raise BodyCorrupt("the compressed body ended early")
        return bytes(self._parts)


def _decompressor(name: str) -> Any:
    if name in ("", "identity"):
        return None
    if name in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if name == "deflate":
        return zlib.decompressobj()
    raise BodyCorrupt(f"the answer uses Content-Encoding {name[:40]!r}, which was not asked for")


def unusable(
    status: int, headers: Mapping[str, str], error: BodyTooLarge | BodyCorrupt
) -> HttpResponse | TransportFailure:
    """What a transport reports when the body could not be read: a refused answer, or a broken one."""
    if isinstance(error, BodyTooLarge):
        return HttpResponse(status, dict(headers), b"", refused=str(error))
    return TransportFailure("protocol", str(error))
