"""The request/response dialogue with SDRS and IAM, written once for both transports.

An exchange is a generator of :mod:`~airflow_provider_sdrs._core.steps`: it yields ``Send`` a request,
``Sleep`` before a retry, ``NeedToken`` for an IAM token, and receives each step's result; its return value
is the decoded JSON body. A driver runs it, ``requests`` in a worker or asyncio on an event loop, so
signing, URL building, response parsing, error mapping and retry policy cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_sdrs import __version__
from airflow_provider_sdrs._core import signing
from airflow_provider_sdrs._core.body import decode_json
from airflow_provider_sdrs._core.deadline import NO_DEADLINE, Deadline, deadline_passed
from airflow_provider_sdrs._core.errors import api_error, is_retryable
from airflow_provider_sdrs._core.http import HttpRequest, HttpResponse, TransportFailure
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs._core.logs import Log
from airflow_provider_sdrs._core.retry import RetryPolicy, parse_retry_after
from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs._core.steps import NeedToken, Send, Sleep, Steps
from airflow_provider_sdrs._core.text import remember_secret, safe, scrub
from airflow_provider_sdrs._core.tokens import IamToken, parse_token
from airflow_provider_sdrs.exceptions import (
    SdrsApiError,
    SdrsAuthError,
    SdrsConnectionError,
    SdrsError,
)

USER_AGENT = f"airflow-provider-sdrs/{__version__}"


#: An exchange: steps that end with the decoded answer.
Exchange = Steps[Any]
#: Turns a successful answer into what the exchange returns; raises ``SdrsApiError`` for one it cannot use.
Decoder = Callable[[HttpResponse, str, tuple[str, ...]], Any]


@dataclass(frozen=True)
class ApiCall:
    """One SDRS API call.

    :param method: HTTP method.
    :param path: segments after ``/v1/{project_id}/``; each is validated as a safe id or is a fixed word.
    :param operation: what the call does, for logs and error messages (``get job 123``).
    :param query: query parameters.
    :param body: a JSON-serialisable body.
    :param idempotent: whether it is safe to send again after it may have reached the server.
    :param job_id: the job the call reads, so that "no such job" maps to ``SdrsJobNotFoundError``.
    """

    method: str
    path: tuple[str, ...]
    operation: str
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None
    idempotent: bool = True
    job_id: str | None = None

    def __post_init__(self) -> None:
        for segment in self.path:
            validate_id(segment, "path segment")


def job_call(job_id: str) -> ApiCall:
    validate_id(job_id, "job_id")
    return ApiCall("GET", ("jobs", job_id), f"get job {job_id}", job_id=job_id)


def _base_headers(netloc: str) -> dict[str, str]:
    return {"Host": netloc, "User-Agent": USER_AGENT, "Accept": "application/json"}


def _with_query(url: str, query: tuple[tuple[str, str], ...]) -> str:
    return url + ("?" + signing.canonical_query(query) if query else "")


def build_api_request(
    settings: SdrsSettings,
    call: ApiCall,
    *,
    project_id: str,
    token: IamToken | None,
    now: datetime | None = None,
) -> HttpRequest:
    """Build and authenticate the request for ``call``."""
    if project_id != settings.project_id:  # the connection's own was checked with the same rule
        validate_id(project_id, "project_id")
    endpoint = settings.endpoint_parts
    # Every segment is a validated id or a fixed word (ApiCall checks), so none needs quoting.
    path = endpoint.base_path + "/v1/" + "/".join((project_id, *call.path))
    url = _with_query(endpoint.origin + path, call.query)
    headers = _base_headers(endpoint.netloc)
    body = None
    if call.body is not None:
        body = json.dumps(call.body, separators=(",", ":")).encode("utf-8")
        headers["Content-Type"] = signing.JSON_CONTENT_TYPE
    if settings.auth_type == "password":
        if token is None:
            raise SdrsAuthError(status=None, code=None, message="no IAM token available", operation=call.operation)
        headers["X-Auth-Token"] = token.value
        return HttpRequest(call.method, url, headers, body)
    date = signing.sdk_date(now)
    headers[signing.DATE_HEADER] = date
    headers["X-Project-Id"] = project_id
    if settings.security_token:
        headers["X-Security-Token"] = settings.security_token
    # Signs Host, X-Sdk-Date, X-Project-Id, X-Security-Token and Content-Type: every header set here but
    # User-Agent and Accept.
    headers["Authorization"] = settings.signer.authorization(call.method, path, call.query, project_id, date, body)
    return HttpRequest(call.method, url, headers, body)


def build_iam_request(settings: SdrsSettings) -> HttpRequest:
    """The ``POST /v3/auth/tokens`` request for a project-scoped token."""
    scope: dict[str, Any] = (
        {"project": {"id": settings.project_id}}
        if settings.project_id
        else {"project": {"name": settings.project_name}}
    )
    document = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": settings.login,
                        "password": settings.secret,
                        "domain": {"name": settings.domain_name},
                    }
                },
            },
            "scope": scope,
        }
    }
    url = settings.iam_endpoint.rstrip("/") + "/auth/tokens"
    headers = _base_headers(urlsplit(url).netloc)
    headers["Content-Type"] = "application/json;charset=UTF-8"
    return HttpRequest("POST", url, headers, json.dumps(document).encode("utf-8"))


class _Attempts:
    """Retry bookkeeping for one exchange: counts attempts, maps failures, decides on the next try."""

    def __init__(
        self, policy: RetryPolicy, operation: str, idempotent: bool, log: Log, secrets: tuple[str, ...]
    ) -> None:
        self.policy = policy
        self.operation = operation
        self.idempotent = idempotent
        self.log = log
        self.secrets = secrets
        self.number = 0

    def classify(
        self, result: HttpResponse | TransportFailure, job_id: str | None = None
    ) -> tuple[SdrsError, bool, float | None]:
        """The error a failed attempt stands for, whether it may be retried, and any ``Retry-After``."""
        if isinstance(result, TransportFailure):
            uncertain = not self.idempotent and result.reached_server
            error = SdrsConnectionError(
                f"SDRS {self.operation} failed: {result.kind} error ({scrub(result.detail, self.secrets)})"
                + (
                    "; the request may have reached SDRS and started the operation: read the resource's state"
                    " before submitting it again"
                    if uncertain
                    else ""
                ),
                operation=self.operation,
                may_have_started=uncertain,
            )
            # A request that never reached the server can always be sent again.
            return error, self.idempotent or not result.reached_server, None
        if result.refused:
            # The same oversized answer would come again: not worth another attempt.
            refused = SdrsApiError(
                status=result.status,
                code=None,
                message=f"{result.refused} (raise extra.max_response_bytes to accept larger answers)",
                request_id=result.header("x-request-id"),
                operation=self.operation,
            )
            return refused, False, None
        api = api_error(result, operation=self.operation, job_id=job_id, secrets=self.secrets)
        retry_after = parse_retry_after(result.header("retry-after")) if result.status in (429, 503) else None
        # 429 is refused by the gateway before SDRS sees the request, so even a submission may be resent.
        return api, is_retryable(api) and (self.idempotent or result.status == 429), retry_after

    def next_delay(
        self,
        error: SdrsError,
        retryable: bool,
        retry_after: float | None = None,
        deadline: Deadline = NO_DEADLINE,
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` when ``error`` is final (see :meth:`final`).

        The wait ends at the deadline at the latest; the attempt after it then gives up.
        """
        if not retryable or self.number >= self.policy.max_attempts or deadline.passed:
            return None
        wanted = self.policy.backoff(self.number, retry_after)
        delay = deadline.clip(wanted)
        if delay < wanted:
            self.log.warning(
                "SDRS %s: %s; the deadline comes in %.1f s, before the next attempt is due: giving up then",
                self.operation,
                _short(error),
                delay,
            )
            return delay
        self.log.warning(
            "SDRS %s: %s; retrying in %.1f s (attempt %d of %d)",
            self.operation,
            _short(error),
            delay,
            self.number + 1,
            self.policy.max_attempts,
        )
        return delay

    def final(self, error: SdrsError) -> SdrsError:
        """The error to raise when ``error`` ends the exchange: it says how many attempts were made."""
        if self.number > 1 and isinstance(error, (SdrsApiError, SdrsConnectionError)):
            return error.amended(attempts=self.number)
        return error


def _token(step: NeedToken) -> Steps[IamToken]:
    """Ask the driver for a token; a failure says which call needed it (a job, a group...)."""
    try:
        token: IamToken = yield step
    except (SdrsApiError, SdrsConnectionError) as error:
        raise error.amended(context=(f"needed to {step.operation}",)) from None
    return token


def _short(error: SdrsError) -> str:
    if isinstance(error, SdrsApiError):
        parts = [f"HTTP {error.status}" if error.status is not None else "bad response"]
        if error.code:
            parts.append(error.code)
        return " ".join(parts) + f" ({safe(error.message, 160)})"
    return str(error).split(" failed: ", 1)[-1]


def _with_token(secrets: tuple[str, ...], token: object) -> tuple[str, ...]:
    value = token.value if isinstance(token, IamToken) else None
    return secrets if not value or value in secrets else (*secrets, value)


def api_exchange(
    settings: SdrsSettings,
    call: ApiCall,
    policy: RetryPolicy,
    log: Log,
    deadline: Deadline = NO_DEADLINE,
    decode: Decoder = decode_json,
) -> Exchange:
    """Run ``call`` with authentication and retries; return the decoded JSON object.

    :param deadline: no attempt starts after it, and no retry sleep lasts beyond it.
    :param decode: reads a successful answer; an answer it refuses is retried like a garbled one.
    """
    attempts = _Attempts(policy, call.operation, call.idempotent, log, settings.secrets)
    for secret in settings.secrets:
        remember_secret(secret)
    token: IamToken | None = None
    refreshed = False
    last: SdrsError | None = None
    while True:
        if deadline.passed:
            raise deadline_passed(call.operation, last)
        attempts.number += 1
        if settings.auth_type == "password":
            token = yield from _token(NeedToken(operation=call.operation, deadline=deadline))
            # An error page may echo the request, and with it the token it carried.
            attempts.secrets = _with_token(attempts.secrets, token)
        project_id = settings.project_id or (token.project_id if token else None)
        if not project_id:
            raise SdrsAuthError(
                status=None,
                code=None,
                operation=call.operation,
                message="the IAM token names no project; set extra.project_id on the connection",
            )
        result = yield Send(build_api_request(settings, call, project_id=project_id, token=token), deadline)
        retry_after = None
        if isinstance(result, HttpResponse) and 200 <= result.status < 300 and not result.refused:
            try:
                return decode(result, call.operation, attempts.secrets)
            except SdrsApiError as malformed:
                # A proxy or gateway hiccup can garble one answer; a read is safe to repeat.
                error: SdrsError = malformed
                retryable = call.idempotent
        elif isinstance(result, HttpResponse) and result.status == 401 and token is not None and not refreshed:
            # A token can be revoked or expire early: get a fresh one once and send again.
            refreshed = True
            attempts.number -= 1
            log.info("SDRS %s: IAM token refused (HTTP 401); requesting a new token", call.operation)
            token = yield from _token(NeedToken(stale=token, operation=call.operation, deadline=deadline))
            attempts.secrets = _with_token(attempts.secrets, token)
            continue
        else:
            error, retryable, retry_after = attempts.classify(result, call.job_id)
        delay = attempts.next_delay(error, retryable, retry_after, deadline)
        if delay is None:
            raise attempts.final(error)
        last = error
        yield Sleep(delay)


def iam_exchange(
    settings: SdrsSettings, policy: RetryPolicy, log: Log, deadline: Deadline = NO_DEADLINE
) -> Steps[IamToken]:
    """Obtain a project-scoped IAM token; return an :class:`IamToken`."""
    operation = f"IAM token request for user {settings.login!r} in domain {settings.domain_name!r}"
    attempts = _Attempts(policy, operation, True, log, settings.secrets)
    for secret in settings.secrets:
        remember_secret(secret)
    last: SdrsError | None = None
    while True:
        if deadline.passed:
            raise deadline_passed(operation, last)
        attempts.number += 1
        result = yield Send(build_iam_request(settings), deadline)
        if isinstance(result, HttpResponse) and 200 <= result.status < 300 and not result.refused:
            return parse_token(result, settings, log)
        error, retryable, retry_after = attempts.classify(result)
        if isinstance(error, SdrsApiError) and error.status in (400, 401, 403):
            raise SdrsAuthError(
                status=error.status,
                code=error.code,
                request_id=error.request_id,
                operation=operation,
                message=f"IAM refused the credentials: {error.message}",
            )
        delay = attempts.next_delay(error, retryable, retry_after, deadline)
        if delay is None:
            raise attempts.final(error)
        last = error
        yield Sleep(delay)
