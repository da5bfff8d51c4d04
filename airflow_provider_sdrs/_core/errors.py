"""Mapping SDRS and gateway error responses to the provider's exceptions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_sdrs._core.http import HttpResponse
from airflow_provider_sdrs._core.text import clean, safe, scrub
from airflow_provider_sdrs.exceptions import (
    SdrsApiError,
    SdrsAuthError,
    SdrsJobNotFoundError,
    SdrsParameterError,
    SdrsPreconditionError,
    SdrsResourceNotFoundError,
)

_ERROR_KEYS = ("error", "badrequest", "itemNotFound", "badRequest", "conflictingRequest", "forbidden")
# "<" is excluded inside a tag, so that each character is looked at once: "<[^>]+>" tries every "<" up to
# the end of the text, and a page of 64 KB of "<" took seconds.
_TAG = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")

# SDRS codes that say the job does not exist ("Null job"); SDRS sends them with HTTP 500.
JOB_NOT_FOUND_CODES = frozenset({"SDRS.0408"})
SDRS_CODE_PREFIX = "SDRS."
# A 404 is not among them, not even the gateway's: it answers the same to the next attempt a second later.
# A wait counts it as a failed poll and reads again after its poll interval (max_poll_failures).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# "Does not exist", sent with HTTP 400: protection group, protected instance, replication pair, DR drill.
RESOURCE_NOT_FOUND_CODES = frozenset({"SDRS.1013", "SDRS.1320", "SDRS.1608", "SDRS.1902"})
# The operation is refused in the resource's current state.
PRECONDITION_CODES = frozenset(
    {"SDRS.0209", "SDRS.1001", "SDRS.1002", "SDRS.1003", "SDRS.1010", "SDRS.1830", "SDRS.1913"}
)
# The SDRS error table's "Invalid ..." codes, all sent with HTTP 400: the request's parameters are wrong,
# and sending them again cannot help. Status codes (SDRS.0209 "Incorrect status", SDRS.0214) are not here.
PARAMETER_CODES = frozenset(
    {
        *(f"SDRS.{n:04d}" for n in (201, 202, 203, 204, 205, 206, 207, 208)),
        *(f"SDRS.{n:04d}" for n in (210, 211, 212, 213, 215, 216, 217, 219)),
        *(f"SDRS.{n:04d}" for n in (221, 222, 223, 224, 226)),
        "SDRS.1900",  # Invalid DR drill ID
        "SDRS.1901",  # Null or empty DR drill ID
    }
)
MAX_MESSAGE = 500
# An error body past this size is no SDRS error document: only its start is read, as text.
MAX_ERROR_DOCUMENT = 256 * 1024
# Characters of a text body looked at (tags and runs of blanks collapse, so more than the message).
MAX_SCAN = 16 * 1024


@dataclass(frozen=True)
class ErrorBody:
    code: str | None
    message: str
    request_id: str | None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # str() of a huge int raises, and no code or message needs more digits than this.
        return str(value) if value.bit_length() <= 256 else None
    if isinstance(value, float):
        return str(value)
    return None


def _clip(text: str, secrets: Iterable[str] = ()) -> str:
    """One line of server text: secrets scrubbed, blanks collapsed, controls escaped, clipped."""
    text = _SPACE.sub(" ", scrub(text[: MAX_SCAN + 16384], secrets)[:MAX_SCAN]).strip()
    return clean(text, MAX_MESSAGE)


def _short_text(value: object, limit: int, secrets: Iterable[str] = ()) -> str | None:
    """A code or request id: one line, clipped, and scrubbed, since a server can put anything there."""
    text = _text(value)
    return safe(text, limit, secrets) if text else None


def parse_error_body(body: bytes, *, fallback: str = "", secrets: Iterable[str] = ()) -> ErrorBody:
    """Read the code and message out of an error response.

    Understands ``{"error": {"code", "message"}}`` and the same under ``badrequest``/``itemNotFound``
    and similar keys, the gateway's ``{"error_code", "error_msg"}``, a top-level ``code``/``message``,
    and plain text or HTML (tags stripped). Never raises; the message never carries ``secrets``, control
    characters or more than ``MAX_MESSAGE`` characters.
    """
    text = body[:MAX_ERROR_DOCUMENT].decode("utf-8", errors="replace") if body else ""
    try:
        document = json.loads(text) if text.strip() and len(body) <= MAX_ERROR_DOCUMENT else None
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict):
        request_id = _short_text(document.get("request_id"), 80, secrets)
        candidates: list[dict[str, Any]] = [
            value for value in (document.get(key) for key in _ERROR_KEYS) if isinstance(value, dict)
        ]
        candidates.extend(v for v in document.values() if isinstance(v, dict))
        candidates.append(document)
        for item in candidates:
            code = _short_text(item.get("code"), 80, secrets) or _short_text(item.get("error_code"), 80, secrets)
            message = _text(item.get("message")) or _text(item.get("error_msg")) or _text(item.get("title"))
            if code or message:
                message = _clip(message or fallback or "no message", secrets)
                return ErrorBody(code=code, message=message, request_id=request_id)
        return ErrorBody(code=None, message=_clip(fallback or "unrecognised error body"), request_id=request_id)
    if text.strip():
        # Scrubbed before the tags go: a secret with "<" in it would otherwise lose its pieces' order.
        text = scrub(text[: MAX_SCAN * 4 + 16384], secrets)[: MAX_SCAN * 4]
        stripped = _TAG.sub(" ", text) if "<" in text else text
        return ErrorBody(code=None, message=_clip(stripped, secrets) or fallback or "empty body", request_id=None)
    return ErrorBody(code=None, message=fallback or "empty body", request_id=None)


def says_job_not_found(status: int, code: str | None) -> bool:
    """Whether SDRS itself says the job does not exist.

    Only an SDRS code does: ``SDRS.0408`` ("Null job", with any status) or another ``SDRS.*`` code sent
    with HTTP 404. A bare 404, or the gateway's ``APIGW.*`` 404 (a route not published, a gateway being
    redeployed), says nothing about the job: it is an ordinary error, a failed poll for a wait.
    """
    if code in JOB_NOT_FOUND_CODES:
        return True
    return status == 404 and code is not None and code.upper().startswith(SDRS_CODE_PREFIX)


def api_error(
    response: HttpResponse,
    *,
    operation: str,
    job_id: str | None = None,
    secrets: Iterable[str] = (),
) -> SdrsApiError:
    """The exception that describes an error response.

    :param secrets: values to scrub from the server's text besides the connection's remembered secrets
        (the IAM token the request carried, for one).
    """
    parsed = parse_error_body(response.body, fallback=f"HTTP {response.status}", secrets=secrets)
    request_id = _short_text(response.header("x-request-id"), 80, secrets) or parsed.request_id
    status, code, message = response.status, parsed.code, parsed.message
    if job_id is not None and says_job_not_found(status, code):
        return SdrsJobNotFoundError(
            job_id,
            status=status,
            code=code,
            request_id=request_id,
            operation=operation,
            message=f"SDRS has no job {job_id} ({message})",
        )
    error_class: type[SdrsApiError] = SdrsApiError
    if status in (401, 403):
        error_class = SdrsAuthError
    elif code in RESOURCE_NOT_FOUND_CODES:
        error_class = SdrsResourceNotFoundError
    elif code in PRECONDITION_CODES:
        error_class = SdrsPreconditionError
    elif is_parameter_error(status, code, job_id):
        error_class = SdrsParameterError
    return error_class(status=status, code=code, message=message, request_id=request_id, operation=operation)


def is_parameter_error(status: int, code: str | None, job_id: str | None = None) -> bool:
    """Whether SDRS refused the request's parameters: a documented parameter code with HTTP 400.

    Never for a job read: a refused poll is a failed poll, and the wait's own rules decide what it means.
    """
    return job_id is None and status == 400 and code in PARAMETER_CODES


def is_retryable(error: SdrsApiError) -> bool:
    """Whether the hook tries the request again: throttling and server-side failures.

    Not "not found", whatever says it: neither SDRS ("no such job") nor the gateway (``APIGW.*`` 404).
    """
    if isinstance(error, SdrsJobNotFoundError):
        return False
    return error.status in RETRYABLE_STATUSES
