"""Plain values passed between the core and a transport."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class HttpRequest:
    """A fully built, signed request. ``url`` already carries the query string."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None


@dataclass(frozen=True)
class HttpResponse:
    """A response as read from the wire; header names are lower-cased.

    :param refused: why the body was not read (it was too large); ``body`` is then empty.
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    refused: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


# The bounds of an answer's head on both transports: a field line of at most 64 KiB and at most 99 fields
# (what http.client lets through: it counts the blank line that ends a head against its 100), and at most
# 16 interim (1xx) answers before the final one.
MAX_FIELD_BYTES = 65536
MAX_FIELDS = 99
MAX_INTERIM_ANSWERS = 16

FailureKind = Literal["connect", "timeout", "reset", "protocol"]


@dataclass(frozen=True)
class TransportFailure:
    """No usable response arrived.

    :param kind: ``connect`` (refused, DNS, TLS handshake: the request never reached the server),
        ``timeout`` (no answer in time), ``reset`` (the connection broke mid-exchange),
        ``protocol`` (the answer was not valid HTTP).
    :param detail: the transport's own description, with credentials removed.
    """

    kind: FailureKind
    detail: str

    @property
    def reached_server(self) -> bool:
        """Whether the server may have received and acted on the request."""
        return self.kind != "connect"


# Control characters no header value may carry (HTAB is allowed); obs-text (0x80-0xFF) is legal HTTP.
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# A line folded onto the next (obs-fold): HTTP reads it as one space.
_OBS_FOLD = re.compile(r"\r?\n[ \t]+")
_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


def read_head(status: int, pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], str | None]:
    """A response's headers by lower-cased name, and why its status line or headers are not valid HTTP.

    HTTP libraries differ in what they let through; both transports read every answer's head through this
    one rule before reading a body, so that an answer one of them would refuse is refused by the other too,
    and a duplicated ``Content-Encoding``, ``Retry-After`` or ``X-Request-Id`` means the same on either:
    a repeated header's values are joined with ``", "``, as HTTP combines a repeated field (RFC 9110, 5.3).

    :param status: the final status code as parsed.
    :param pairs: the header fields as received, duplicates kept, values decoded as Latin-1.
    :returns: the merged headers, and ``None`` or the problem (the headers are then not to be used).
    """
    merged: dict[str, str] = {}
    if not 200 <= status <= 999:
        # 1xx answers are interim (and skipped while reading); as the last answer they leave no response.
        return merged, f"the answer's status {status} is not that of a final HTTP response"
    lengths: list[str] = []
    chunked = False
    for name, value in pairs:
        # Printable text has no control character at all: the common header needs no search.
        if not (value.isprintable() and name.isprintable()) and (
            _HEADER_CONTROL.search(_OBS_FOLD.sub(" ", value)) or _HEADER_CONTROL.search(name)
        ):
            return merged, f"the answer's header {name[:40]!r} carries a control character"
        key = name.lower()
        if key == "content-length":
            lengths.extend(part.strip(" \t") for part in value.split(","))
        elif key == "transfer-encoding":
            chunked = True
        text = (_OBS_FOLD.sub(" ", value) if "\n" in value else value).strip(" \t")
        merged[key] = f"{merged[key]}, {text}" if key in merged else text
    if lengths:
        if chunked:
            return merged, "the answer has both Content-Length and Transfer-Encoding"
        if not all(_DIGITS.fullmatch(length) for length in lengths):
            return merged, "the answer's Content-Length is not a number of bytes"
        if len(lengths) > 1:
            # HTTP lets a client take repeated equal values as one; llhttp refuses them, so both paths do.
            return merged, "the answer has more than one Content-Length value"
    return merged, None
