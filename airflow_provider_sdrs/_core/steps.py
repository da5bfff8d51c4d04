"""The steps of every dialogue with SDRS: what the sans-IO core asks a driver to do.

The core is written as generators that yield these steps and receive their results: a request exchange
(:func:`~airflow_provider_sdrs._core.exchange.api_exchange`), a read that parses its answer, and a whole
wait (:mod:`airflow_provider_sdrs._waiting`), which is reads and sleeps. A driver performs the steps: one
blocking (``requests`` and ``time.sleep``, in a worker) and one on asyncio (``hooks/_wire.py``
and ``asyncio.sleep``, in the triggerer). So both paths make the same requests, decisions and pauses.

A driver sends back each step's result; when performing a step raises an ``SdrsError`` (no IAM token
could be had), it throws that error into the generator, which decides what it means.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_sdrs._core.deadline import NO_DEADLINE, Deadline

if TYPE_CHECKING:
    from airflow_provider_sdrs._core.http import HttpRequest
    from airflow_provider_sdrs._core.tokens import IamToken

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``request``; the result is an ``HttpResponse`` or a ``TransportFailure``, by ``deadline``."""

    request: HttpRequest
    deadline: Deadline = NO_DEADLINE


@dataclass(frozen=True, slots=True)
class Sleep:
    """Pause; the result is ``None``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class NeedToken:
    """A usable IAM token, by ``deadline``; ``stale`` is one the server refused, to be replaced.

    :param operation: the call that needs it, for the error when no token can be had.
    """

    stale: IamToken | None = None
    operation: str = ""
    deadline: Deadline = field(default=NO_DEADLINE)


Step = Send | Sleep | NeedToken
#: A dialogue that returns a ``T``.
Steps = Generator[Step, Any, T]
