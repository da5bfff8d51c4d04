"""Plain values passed between the core and a transport."""

from __future__ import annotations

from collections.abc import Mapping
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
