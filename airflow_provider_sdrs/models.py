"""The SDRS job document as Python objects."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pendulum
from pendulum import DateTime

from airflow_provider_sdrs.exceptions import SdrsApiError

__all__ = ["SdrsJob", "SdrsJobStatus"]


class SdrsJobStatus(str, enum.Enum):
    """Status of an SDRS job.

    ``UNKNOWN`` stands for any value SDRS may add later; such a job is treated as still running.
    """

    INIT = "INIT"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: object) -> SdrsJobStatus:
        """Map a raw status value to a member; anything unrecognised becomes ``UNKNOWN``."""
        if isinstance(value, str):
            try:
                return cls(value.strip().upper())
            except ValueError:
                pass
        return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        """Whether the job has ended and its status will not change any more."""
        return self in (SdrsJobStatus.SUCCESS, SdrsJobStatus.FAIL)

    @property
    def is_success(self) -> bool:
        return self is SdrsJobStatus.SUCCESS


def _parse_time(value: object) -> DateTime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        # The documented form (2019-04-01T12:00:00.000Z) on the fast path: it is read on every poll.
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        pass
    else:
        moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment
        return DateTime(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
            tzinfo=pendulum.UTC,
        )
    try:
        parsed = pendulum.parse(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if not isinstance(parsed, DateTime):
        return None
    return parsed.in_timezone("UTC")


def _format_time(value: DateTime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _opt_str(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return None


_MAX_DEPTH = 16


@dataclass(frozen=True)
class SdrsJob:
    """One SDRS job, as returned by ``GET /v1/{project_id}/jobs/{job_id}``.

    :param job_id: the job id.
    :param job_type: e.g. ``createDisasterRecoveryDrill``; an open set.
    :param status: the parsed status; ``raw_status`` keeps what SDRS sent.
    :param entities: the ``entities`` object without ``sub_jobs`` (resource ids of the job).
    :param sub_jobs: the sub-jobs, each an :class:`SdrsJob`.
    :param begin_time: start, UTC; ``None`` when absent or unreadable.
    :param end_time: end, UTC; ``None`` while the job runs.
    :param error_code: SDRS error code on failure.
    :param fail_reason: SDRS failure text.
    """

    job_id: str
    status: SdrsJobStatus
    raw_status: str | None = None
    job_type: str | None = None
    entities: dict[str, Any] = field(default_factory=dict)
    sub_jobs: tuple[SdrsJob, ...] = ()
    begin_time: DateTime | None = None
    end_time: DateTime | None = None
    error_code: str | None = None
    fail_reason: str | None = None

    def __post_init__(self) -> None:
        if self.raw_status is None and self.status is not SdrsJobStatus.UNKNOWN:
            object.__setattr__(self, "raw_status", self.status.value)

    @classmethod
    def from_api(cls, document: object, *, job_id: str | None = None) -> SdrsJob:
        """Build a job from the JSON document SDRS returned.

        Unknown keys are ignored, a missing or unknown status becomes ``UNKNOWN``, unreadable times
        become ``None``. Only a document that is not a JSON object at all is refused.

        :param document: the decoded JSON body.
        :param job_id: the id that was asked for; used when the document carries none.
        :raises SdrsApiError: the document is not a JSON object.
        """
        return cls._from_api(document, job_id, 0)

    @classmethod
    def _from_api(cls, document: object, job_id: str | None, depth: int) -> SdrsJob:
        if not isinstance(document, dict):
            raise SdrsApiError(
                status=None,
                code=None,
                message=f"the job document is a JSON {type(document).__name__}, not an object",
                operation=f"read job {job_id}" if job_id else "read job",
            )
        raw_entities = document.get("entities")
        entities = dict(raw_entities) if isinstance(raw_entities, dict) else {}
        raw_sub_jobs = entities.pop("sub_jobs", None)
        sub_jobs: list[SdrsJob] = []
        if isinstance(raw_sub_jobs, list) and depth < _MAX_DEPTH:
            sub_jobs = [cls._from_api(sub, None, depth + 1) for sub in raw_sub_jobs if isinstance(sub, dict)]
        raw_status = document.get("status")
        return cls(
            job_id=_opt_str(document.get("job_id")) or job_id or "",
            status=SdrsJobStatus.parse(raw_status),
            raw_status=_opt_str(raw_status),
            job_type=_opt_str(document.get("job_type")),
            entities=entities,
            sub_jobs=tuple(sub_jobs),
            begin_time=_parse_time(document.get("begin_time")),
            end_time=_parse_time(document.get("end_time")),
            error_code=_opt_str(document.get("error_code")),
            fail_reason=_opt_str(document.get("fail_reason")),
        )

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def duration(self) -> float | None:
        """Seconds from ``begin_time`` to ``end_time``, when both are known."""
        if self.begin_time is None or self.end_time is None:
            return None
        return self.end_time.timestamp() - self.begin_time.timestamp()

    @property
    def failed_sub_jobs(self) -> list[SdrsJob]:
        """Every sub-job, at any depth, that ended in ``FAIL``."""
        failed: list[SdrsJob] = []
        for sub in self.sub_jobs:
            if sub.status is SdrsJobStatus.FAIL:
                failed.append(sub)
            failed.extend(sub.failed_sub_jobs)
        return failed

    def describe_status(self) -> str:
        """A one-line status for logs, e.g. ``RUNNING (2/3 sub-jobs done)``."""
        if self.status is SdrsJobStatus.UNKNOWN:
            text = f"unrecognised status {self.raw_status!r}" if self.raw_status else "no status"
        else:
            text = self.status.value
        if self.sub_jobs:
            done = sum(1 for sub in self.sub_jobs if sub.is_terminal)
            text += f" ({done}/{len(self.sub_jobs)} sub-jobs done)"
        return text

    def failure_summary(self) -> str:
        """A message naming the job, its SDRS error code and reason, and the failed sub-jobs."""
        kind = f" ({self.job_type})" if self.job_type else ""
        text = f"SDRS job {self.job_id}{kind} failed"
        text += f" with error code {self.error_code}" if self.error_code else " with no error code"
        text += f": {self.fail_reason}" if self.fail_reason else ""
        failed = self.failed_sub_jobs
        if failed:
            items = []
            for sub in failed:
                item = f"{sub.job_id}"
                if sub.job_type:
                    item += f" ({sub.job_type})"
                if sub.error_code:
                    item += f" {sub.error_code}"
                if sub.fail_reason:
                    item += f": {sub.fail_reason}"
                items.append(item)
            text += ". Failed sub-jobs: " + "; ".join(items)
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict in the shape of the SDRS document, plus ``duration_seconds``.

        ``SdrsJob.from_api(job.to_dict())`` gives back an equal job.
        """
        entities: dict[str, Any] = dict(self.entities)
        if self.sub_jobs:
            entities["sub_jobs"] = [sub.to_dict() for sub in self.sub_jobs]
        return {
            "job_id": self.job_id,
            "job_type": self.job_type,
            "status": self.raw_status,
            "entities": entities,
            "begin_time": _format_time(self.begin_time),
            "end_time": _format_time(self.end_time),
            "error_code": self.error_code,
            "fail_reason": self.fail_reason,
            "duration_seconds": self.duration,
        }
