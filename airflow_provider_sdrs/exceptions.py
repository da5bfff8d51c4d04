"""Exceptions raised by the SDRS provider.

Every error the provider raises derives from :class:`SdrsError`. The subclasses tell apart what a
caller must handle differently:

* :class:`SdrsConfigError` and :class:`SdrsValidationError`: the connection or an argument is wrong;
  raised before any request is sent.
* :class:`SdrsApiError` (and :class:`SdrsAuthError`, :class:`SdrsJobNotFoundError`): SDRS or its
  gateway answered with an error, or with something that is not the documented JSON.
  :class:`SdrsParameterError` (SDRS refused the request's parameters) is not retried by Airflow.
* :class:`SdrsConnectionError`: SDRS could not be reached (refused, reset, timed out).
* :class:`SdrsJobFailedError`: the request worked and the *job* ended in ``FAIL``. It belongs to
  Airflow's ``AirflowFailException`` family, so a task that raises it is not retried.
* What a wait ends with when the job did not decide it: :class:`SdrsPollError` (SDRS could not be polled;
  retryable), :class:`SdrsJobUnknownError` (SDRS never showed the job; not retried) and
  :class:`SdrsWaitTimeoutError` (the deadline passed; a retry waits again).

Messages never contain credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

if TYPE_CHECKING:
    from airflow_provider_sdrs.models import SdrsJob


def _text() -> Any:
    # Imported when an error is built, not with this module: DAG files import it, and parsing them should
    # stay cheap.
    from airflow_provider_sdrs._core import text

    return text


#: Characters of a message taken from a server that an exception keeps.
MAX_MESSAGE = 2000


class SdrsError(Exception):
    """Base class of every error raised by the SDRS provider.

    Errors copy and pickle whole (their message and every attribute), whatever their constructor takes.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type[SdrsError], args: tuple[Any, ...], state: dict[str, Any]) -> SdrsError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class SdrsConfigError(SdrsError, ValueError):
    """The Airflow connection is missing a field or has a value SDRS cannot use.

    :param field: the connection field or extra key at fault, e.g. ``extra.region``.
    """

    def __init__(self, field: str, problem: str, *, conn_id: str | None = None) -> None:
        self.field = field
        self.conn_id = conn_id
        where = f"connection '{conn_id}'" if conn_id else "SDRS connection"
        super().__init__(f"{where}: field '{field}' {problem}")


class SdrsValidationError(SdrsError, ValueError):
    """An argument (such as a job id) is not acceptable; nothing was sent."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field} {problem}")


def _suffix(attempts: int, context: tuple[str, ...]) -> str:
    """What a failed call adds to its error's text: how many attempts it made, and why it was made."""
    text = f" (after {attempts} attempts)" if attempts > 1 else ""
    return text + "".join(f"; {note}" for note in context)


class SdrsConnectionError(SdrsError):
    """SDRS could not be reached, after the retries the hook allows.

    This says nothing about the state of the job: it is a failed *poll*, never a failed job.

    :param message: what failed; socket-library text in it is scrubbed and clipped.
    :param operation: what was being done, e.g. ``get job 0000000062db92d70162db9d200f000a``.
    :param attempts: how many times the request was sent.
    :param may_have_started: a submission (not a read) may have reached SDRS before the connection failed:
        read the resource's state before submitting it again.
    :param context: sentences that say more about the failure (``needed to get job ...``), in order.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        attempts: int = 1,
        may_have_started: bool = False,
        context: tuple[str, ...] = (),
    ) -> None:
        self.operation = operation
        self.attempts = attempts
        self.may_have_started = may_have_started
        self.context = tuple(context)
        # The detail comes from a socket library quoting what it met: a URL, a proxy's answer.
        self.detail = _text().safe(message, MAX_MESSAGE)
        super().__init__(self.detail + _suffix(attempts, self.context))

    def amended(self, *, attempts: int | None = None, context: tuple[str, ...] = ()) -> SdrsConnectionError:
        """The same error, built anew with an attempt count and more context."""
        return type(self)(
            self.detail,
            operation=self.operation,
            attempts=self.attempts if attempts is None else attempts,
            may_have_started=self.may_have_started,
            context=(*self.context, *context),
        )


class SdrsApiError(SdrsError):
    """SDRS (or the API gateway in front of it) answered with an error.

    :param status: the HTTP status code.
    :param code: the SDRS error code, such as ``SDRS.1902``, when the body carried one.
    :param message: the error text from the body.
    :param request_id: the gateway's request id, to quote to the cloud's support.
    :param operation: what was being done, e.g. ``get job 0000000062db92d70162db9d200f000a``.
    :param attempts: how many times the request was sent.
    :param context: sentences that say more about the failure (``needed to get job ...``), in order.
    """

    def __init__(
        self,
        *,
        status: int | None,
        code: str | None,
        message: str,
        request_id: str | None = None,
        operation: str = "",
        attempts: int = 1,
        context: tuple[str, ...] = (),
    ) -> None:
        self.status = status
        # Whatever came from the server is scrubbed, escaped and clipped before it can be logged or shown.
        text = _text()
        self.code = text.safe(code, 80) if code else code
        self.message = text.safe(message, MAX_MESSAGE)
        self.request_id = text.safe(request_id, 80) if request_id else request_id
        self.operation = text.clean(operation, 300)
        self.attempts = attempts
        self.context = tuple(context)
        super().__init__(self._describe())

    def _fields(self) -> dict[str, Any]:
        """The constructor arguments this error was built with (already cleaned, which is idempotent)."""
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": self.request_id,
            "operation": self.operation,
        }

    def amended(self, *, attempts: int | None = None, context: tuple[str, ...] = ()) -> SdrsApiError:
        """The same error, built anew with an attempt count and more context."""
        return type(self)(
            **self._fields(),
            attempts=self.attempts if attempts is None else attempts,
            context=(*self.context, *context),
        )

    def _describe(self) -> str:
        parts = [f"SDRS {self.operation} failed" if self.operation else "SDRS request failed"]
        detail = []
        if self.status is not None:
            detail.append(f"HTTP {self.status}")
        if self.code:
            detail.append(f"code {self.code}")
        if detail:
            parts.append(f"({', '.join(detail)})")
        text = " ".join(parts) + f": {self.message}"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text + _suffix(self.attempts, self.context)


class SdrsAuthError(SdrsApiError):
    """The credentials were refused (HTTP 401/403, or the IAM service declined to issue a token)."""


class SdrsJobNotFoundError(SdrsApiError):
    """SDRS says it does not know the job: ``SDRS.0408`` "Null job", or another ``SDRS.*`` code with HTTP 404.

    A 404 without an SDRS code (such as the gateway's ``APIGW.0101``) is a plain :class:`SdrsApiError`.
    """

    def __init__(self, job_id: str, **kwargs: Any) -> None:
        self.job_id = job_id
        super().__init__(**kwargs)

    def _fields(self) -> dict[str, Any]:
        return {"job_id": self.job_id, **super()._fields()}


class SdrsResourceNotFoundError(SdrsApiError):
    """A protection group, DR drill, protected instance or replication pair does not exist.

    SDRS says so with HTTP 400 and a code such as ``SDRS.1013`` (group) or ``SDRS.1902`` (drill).
    """


class SdrsPreconditionError(SdrsApiError):
    """SDRS refused the operation in the resource's current state (``SDRS.1002``, ``SDRS.1913``...)."""


class SdrsParameterError(SdrsApiError, AirflowFailException):
    """SDRS refused a request's parameters (HTTP 400 with a parameter code such as ``SDRS.0202`` "Invalid name").

    Sending the same parameters again gets the same answer, so Airflow does not retry a task that raises it.
    """


class SdrsOperationNotAllowedError(SdrsError, AirflowFailException):
    """An operator will not submit its operation: the resource is in a state that does not allow it.

    Raised before anything is submitted, or when SDRS refused the submission with a precondition code.
    Retrying cannot help until someone changes the resource, so Airflow does not retry it.

    :param resource: ``protection group`` or ``DR drill``.
    :param resource_id: its id (or name, for a resource to create).
    :param status: the status it is in; ``None`` when it does not exist.
    :param needs: the statuses the operation needs.
    :param code: the SDRS error code, when SDRS itself refused.
    :param detail: replaces the sentence about what is needed, when that is not the point.
    """

    def __init__(
        self,
        *,
        operation: str,
        resource: str,
        resource_id: str,
        status: str | None,
        needs: str,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.operation = operation
        self.resource = resource
        self.resource_id = resource_id
        self.status = status
        self.needs = needs
        self.code = code
        state = f"is {status}" if status else "does not exist"
        if detail is None:
            refused = f"SDRS refused it with {code}" if code else "nothing was submitted"
            detail = f"the operation needs {needs} ({refused})"
        super().__init__(f"cannot {operation}: {resource} {resource_id} {state}; {detail}")


class SdrsJobFailedError(SdrsError, AirflowFailException):
    """The SDRS job ended in ``FAIL``.

    Raised by sensors and operators; Airflow does not retry a task that raises it, since running the
    wait again cannot change the outcome of a job that already failed.

    :param job: the final job document.
    """

    def __init__(self, job: SdrsJob) -> None:
        self.job = job
        super().__init__(job.failure_summary())


class SdrsPollError(SdrsError):
    """The job (or resource) could not be polled: SDRS unreachable, refusing, or answering garbage.

    This is not a verdict on the job, which may well still be running: the task fails with a
    retryable error, and a retry resumes the wait.
    """


class SdrsJobUnknownError(SdrsError, AirflowFailException):
    """SDRS still did not know the job after the grace period: a wrong id or project. Not retried."""


class SdrsWaitTimeoutError(SdrsError):
    """The wait's deadline passed before the job (or resource) got where it was waited for.

    Sensors turn it into ``AirflowSensorTimeout`` (which ``soft_fail`` can skip); operators raise it, and a
    retry of the task waits again instead of submitting a second operation.
    """


#: The name :class:`SdrsWaitTimeoutError` had before it followed the ``...Error`` naming of the others.
SdrsWaitTimeout = SdrsWaitTimeoutError


class SdrsResourceStatusError(SdrsError, AirflowFailException):
    """A resource that was waited for went where it cannot come back from on its own: an ``error-*`` status
    (or it is gone) while another status was waited for. Not retried: someone must act first.

    :param resource: ``protection group`` or ``DR drill``.
    :param resource_id: its id.
    :param status: the status it is in; ``None`` when it is gone.
    """

    def __init__(self, message: str, *, resource: str, resource_id: str, status: str | None) -> None:
        self.resource = resource
        self.resource_id = resource_id
        self.status = status
        super().__init__(message)
