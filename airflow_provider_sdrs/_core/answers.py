"""Answers about something else than what was asked for are bad answers.

A job, protection group or DR drill document whose id differs from the id in the request describes
another resource: a misrouted answer, a cache or gateway mix-up. Taking it as the answer would end a wait
with another job's outcome and hand its ids (a drill to delete...) to the next task. Both the blocking and
the asynchronous reads go through these checks, and refuse such a document as an ``SdrsApiError``: a failed
poll, whose content is never used.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_sdrs.exceptions import SdrsApiError
from airflow_provider_sdrs.models import SdrsJob

_SHOWN = 64


def _shown(value: object) -> str:
    # An id from the server is hostile text: repr escapes control characters, the clip bounds it.
    text = value if isinstance(value, str) else str(value)
    return repr(text[:_SHOWN]) + ("..." if len(text) > _SHOWN else "")


def _other(what: str, asked: str, answered: object, operation: str) -> SdrsApiError:
    return SdrsApiError(
        status=None,
        code=None,
        operation=operation,
        message=f"SDRS answered with the document of {what} {_shown(answered)} instead of {what} {asked!r}; "
        "it is not used",
    )


def job_from_answer(document: object, job_id: str) -> SdrsJob:
    """The job in ``document``, which must be job ``job_id``.

    :param document: the decoded body of ``GET /v1/{project_id}/jobs/{job_id}``.
    :param job_id: the id that was asked for; a document without an id is taken as this job's.
    :raises SdrsApiError: the document is not a job, or is another job's.
    """
    job = SdrsJob.from_api(document, job_id=job_id)
    if job.job_id != job_id:
        raise _other("job", job_id, job.job_id, f"get job {job_id}")
    return job


def resource_from_answer(answer: dict[str, Any], key: str, resource_id: str, what: str) -> dict[str, Any]:
    """The ``key`` object of ``answer``, which must be the resource ``resource_id``.

    :param answer: the decoded body, e.g. ``{"server_group": {...}}``.
    :param key: ``server_group`` or ``disaster_recovery_drill``.
    :param resource_id: the id that was asked for; a document without an ``id`` is taken as its.
    :param what: ``protection group`` or ``DR drill``, for the message.
    :raises SdrsApiError: the object is missing, or is another resource's.
    """
    operation = f"get {what} {resource_id}"
    document = answer.get(key)
    if not isinstance(document, dict):
        raise SdrsApiError(status=None, code=None, message=f"the answer has no {key!r} object", operation=operation)
    found = document.get("id")
    if found is not None and found != resource_id:
        raise _other(what, resource_id, found, operation)
    return document
