"""The SDRS reads: which call each one makes and how its answer becomes a model, for both transports.

A read is declared once (:class:`Read`: the call, and the parser of its answer). :func:`read_steps` runs it
as steps of the sans-IO core, so the hook's blocking and asynchronous reads, and the waits that poll, all
parse the same way. Whatever the answer holds, a read ends in its model or an ``SdrsError``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_provider_sdrs._core.answers import job_from_answer, resource_from_answer
from airflow_provider_sdrs._core.body import decode_json
from airflow_provider_sdrs._core.exchange import ApiCall
from airflow_provider_sdrs._core.http import HttpResponse
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs._core.logs import Log
from airflow_provider_sdrs._core.steps import Steps
from airflow_provider_sdrs.exceptions import SdrsApiError, SdrsError, SdrsValidationError

if TYPE_CHECKING:
    from airflow_provider_sdrs.models import SdrsJob

R = TypeVar("R")

GROUPS = "server-groups"
DRILLS = "disaster-recovery-drills"
#: What each kind of resource is called in messages, and the key of its document in an answer.
GROUP = "protection group"
DRILL = "DR drill"
DOCUMENT_KEYS = {GROUP: "server_group", DRILL: "disaster_recovery_drill"}


def short_text(value: object, field: str) -> str:
    """A non-empty string of at most 64 characters (a name to look for, an availability zone)."""
    if not isinstance(value, str) or not value.strip():
        raise SdrsValidationError(field, "must be a non-empty string")
    if len(value) > 64:
        raise SdrsValidationError(field, f"must be at most 64 characters, got {len(value)}")
    return value


@dataclass(frozen=True)
class Read(Generic[R]):
    """One read: the call, and what turns its decoded answer into the result."""

    call: ApiCall
    parse: Callable[[dict[str, Any]], R]

    def result(self, answer: dict[str, Any]) -> R:
        """The parsed answer; whatever goes wrong is a bad answer (``SdrsApiError``), never a crash."""
        try:
            return self.parse(answer)
        except SdrsError:
            raise
        except (RecursionError, OverflowError, ValueError, TypeError, MemoryError) as error:
            raise SdrsApiError(
                status=None,
                code=None,
                message=f"unreadable answer ({type(error).__name__})",
                operation=self.call.operation,
            ) from None


def read_steps(exchange: Steps[dict[str, Any]], read: Read[R]) -> Steps[R]:
    """Run ``exchange`` (the request of ``read``) and parse its answer."""
    answer = yield from exchange
    return read.result(answer)


#: What :meth:`LastAnswer.decode` returns for an answer equal to the last one: nothing new to decode.
_SAME = object()


class LastAnswer:
    """The last answer of a read that a wait repeats, and its result.

    While an operation runs, SDRS answers a job or resource read with the same document poll after poll.
    An answer whose body is byte for byte the last one's is neither decoded nor parsed again: the read
    returns the result it returned then. Bodies are compared by a 128-bit BLAKE2b digest, so the memory
    kept per wait does not grow with the answer. One instance serves one wait of one read, never another
    read, whose result the same body would not give.
    """

    __slots__ = ("_pending", "digest", "result")

    def __init__(self) -> None:
        self.digest: bytes | None = None
        self.result: Any = None
        self._pending: bytes | None = None

    def decode(self, response: HttpResponse, operation: str, secrets: tuple[str, ...] = ()) -> Any:
        """The exchange's decoder: the JSON object of a new answer, or a marker for the last one again."""
        digest = hashlib.blake2b(response.body, digest_size=16).digest()
        if digest == self.digest:
            return _SAME
        document = decode_json(response, operation, secrets)
        self._pending = digest
        return document

    def steps(self, exchange: Steps[Any], read: Read[R]) -> Steps[R]:
        """:func:`read_steps`, for an ``exchange`` that decodes with :meth:`decode`."""
        answer = yield from exchange
        if answer is _SAME:
            result: R = self.result
            return result
        digest, self._pending = self._pending, None
        result = read.result(answer)
        # Only an answer that parsed is remembered: a bad one is refused again, the same way, if it comes back.
        self.digest, self.result = digest, result
        return result


def _bounded(value: dict[str, Any], key: str) -> dict[str, Any]:
    from airflow_provider_sdrs.models import bounded_document

    return bounded_document(value, what=key)


def _members(answer: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The ``key`` list of an answer, each object a bounded, strict-JSON copy.

    A missing list is a bad answer, not an empty one: "no drill" could send a task down the wrong path.
    """
    items = answer.get(key)
    if not isinstance(items, list):
        raise SdrsApiError(status=None, code=None, message=f"the answer has no {key!r} list", operation=f"list {key}")
    return [_bounded(item, key) for item in items if isinstance(item, dict)]


def job(job_id: str) -> Read[SdrsJob]:
    validate_id(job_id, "job_id")
    return Read(
        ApiCall("GET", ("jobs", job_id), f"get job {job_id}", job_id=job_id),
        lambda answer: job_from_answer(answer, job_id),
    )


def resource(kind: str, resource_id: str) -> Read[dict[str, Any]]:
    """The document of one protection group (``kind`` :data:`GROUP`) or DR drill (:data:`DRILL`)."""
    if kind == GROUP:
        validate_id(resource_id, "server_group_id")
        call = ApiCall("GET", (GROUPS, resource_id), f"read protection group {resource_id}")
    elif kind == DRILL:
        validate_id(resource_id, "drill_id")
        call = ApiCall("GET", (DRILLS, resource_id), f"read DR drill {resource_id}")
    else:
        raise SdrsValidationError("resource", f"must be {GROUP!r} or {DRILL!r}, got {kind!r}")
    key = DOCUMENT_KEYS[kind]
    return Read(call, lambda answer: _bounded(resource_from_answer(answer, key, resource_id, kind), key))


def groups(name: str | None = None) -> Read[list[dict[str, Any]]]:
    """Protection groups of the project; with ``name``, only those with exactly that name."""
    query: tuple[tuple[str, str], ...] = ()
    if name is not None:
        query = (("name", short_text(name, "name")),)

    def parse(answer: dict[str, Any]) -> list[dict[str, Any]]:
        found = _members(answer, "server_groups")
        return [group for group in found if name is None or group.get("name") == name]

    return Read(ApiCall("GET", (GROUPS,), "list protection groups", query=query), parse)


def drills(server_group_id: str | None = None, log: Log | None = None) -> Read[list[dict[str, Any]]]:
    """DR drills, of one protection group or of the whole project.

    With ``server_group_id``, a drill the answer says belongs to another group is left out: a listing that
    ignored its filter must not hand another group's drill to a task that would delete it.
    """
    query: tuple[tuple[str, str], ...] = ()
    if server_group_id is not None:
        query = (("server_group_id", validate_id(server_group_id, "server_group_id")),)

    def parse(answer: dict[str, Any]) -> list[dict[str, Any]]:
        found = _members(answer, "disaster_recovery_drills")
        if server_group_id is None:
            return found
        kept = [drill for drill in found if drill.get("server_group_id") in (None, server_group_id)]
        if len(kept) < len(found) and log is not None:
            log.warning(
                "SDRS listed %d DR drill(s) of other protection groups when asked for those of %s; ignoring them",
                len(found) - len(kept),
                server_group_id,
            )
        return kept

    return Read(ApiCall("GET", (DRILLS,), "list DR drills", query=query), parse)


def failure_jobs(server_group_id: str | None = None) -> Read[list[dict[str, Any]]]:
    """The task center's failed jobs: of one protection group (its instances, replication pairs, drills...), or,
    without ``server_group_id``, those at the level of the groups (a group that could not be created...)."""
    query: tuple[tuple[str, str], ...] = ()
    if server_group_id is not None:
        query = (("server_group_id", validate_id(server_group_id, "server_group_id")),)
    return Read(
        ApiCall("GET", ("task-center", "failure-jobs"), "list failed jobs", query=query),
        lambda answer: _members(answer, "failure_jobs"),
    )


def quotas() -> Read[dict[str, Any]]:
    """The SDRS quotas: the cheapest authenticated read, used to test a connection."""
    return Read(ApiCall("GET", ("sdrs", "quotas"), "read quotas (connection test)"), lambda answer: answer)
