"""Reading a response body within a size limit, decompressed size included, and decoding it as strict JSON.

Both transports read the raw bytes off the wire (they decompress nothing themselves) and feed them to a
:class:`BodyReader`, so a 600 MB answer or a gzip body that inflates a thousandfold costs at most the limit
in memory and stops being read as soon as it passes it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from typing import Any

import msgspec

from airflow_provider_sdrs._core.http import HttpResponse, TransportFailure
from airflow_provider_sdrs._core.text import safe
from airflow_provider_sdrs.exceptions import SdrsApiError

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


class _NonFiniteNumber(ValueError):
    """The document holds NaN, Infinity or a number too large for a float (1e999)."""


# msgspec decodes in C without a Python call per value: a 4 MB document of a million floats or of
# 200,000 objects costs tens of milliseconds, where the json module with a parse_float check costs
# hundreds, on an event loop. It refuses NaN, Infinity and 1e999 by itself (strict JSON).
_DECODER = msgspec.json.Decoder()
_CONSTANTS = (b"NaN", b"Infinity", b"-Infinity")
_AT_BYTE = re.compile(r"\(byte (\d+)\)")


def load_json(body: bytes) -> Any:
    """Decode a JSON body strictly: no NaN, no Infinity, no number that overflows a float.

    Such values would be refused later by Airflow (strict JSON in XCom, events and the trigger table),
    failing a task whose job may have succeeded; refused here, they make the answer a bad one.

    :raises ValueError: not JSON, not UTF-8, or not strict JSON (``_NonFiniteNumber``).
    :raises RecursionError: nested too deeply.
    """
    try:
        return _DECODER.decode(body)
    except msgspec.ValidationError as error:
        # The only check a schemaless decoder makes: a number past the range of a float.
        raise _NonFiniteNumber("a number out of range") from error
    except msgspec.DecodeError as error:
        found = _AT_BYTE.search(str(error))
        if found is not None:
            at = int(found.group(1))
            for constant in _CONSTANTS:
                if body.startswith(constant, at) or body.startswith(constant, at - 1):
                    raise _NonFiniteNumber(constant.decode("ascii")) from error
        raise ValueError(str(error)) from error


def decode_json(response: HttpResponse, operation: str, secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object of a successful answer.

    :raises SdrsApiError: the body is empty, not JSON, not strict JSON, nested too deeply, or not an object;
        the message quotes its start, scrubbed of ``secrets``.
    """
    problem = None
    try:
        document = load_json(response.body) if response.body.strip() else None
    except _NonFiniteNumber as number:
        document, problem = None, f"a JSON document with a non-finite number ({safe(number, 40)}), which is not JSON"
    except RecursionError:
        document, problem = None, "a JSON document nested too deeply to read"
    except ValueError:
        document = None
    if not isinstance(document, dict):
        snippet = safe(response.body[:120].decode("utf-8", errors="replace"), 160, secrets)
        what = problem or (
            "an empty body" if not response.body.strip() else f"a body that is not a JSON object: {snippet!r}"
        )
        raise SdrsApiError(
            status=response.status,
            code=None,
            message=f"expected a JSON object, got {what}",
            request_id=response.header("x-request-id"),
            operation=operation,
        )
    return document
