"""The SDRS job document as Python objects."""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from itertools import repeat
from typing import Any

import pendulum
from pendulum import DateTime

from airflow_provider_sdrs._core.text import clean, safe
from airflow_provider_sdrs.exceptions import SdrsApiError

__all__ = ["SdrsJob", "SdrsJobStatus", "bounded_document"]


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
        if type(value) is str:
            known = _MEMBERS.get(value)
            if known is not None:
                return known
        if isinstance(value, str) and len(value) <= 32:
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


# What a job keeps of what the server sent. Everything a server sends is hostile: a job with 100,000
# sub-jobs or a megabyte of fail_reason must not become a 25 MB event, 100,000 log lines or a 5 MB
# exception. Texts are escaped and clipped; sub-jobs beyond the first few are kept as counts.
MAX_ID = 128
MAX_WORD = 128
MAX_CODE = 64
MAX_REASON = 2000
MAX_SUB_JOB_REASON = 500
#: Sub-jobs kept as objects: the first ``MAX_SUB_JOBS``, plus up to ``MAX_FAILED_SUB_JOBS`` failed ones after them.
MAX_SUB_JOBS = 20
MAX_FAILED_SUB_JOBS = 5
# Below the top level, fewer: SDRS nests sub-jobs one level deep.
MAX_NESTED_SUB_JOBS = 5
MAX_NESTED_FAILED_SUB_JOBS = 2
# Levels of sub-jobs kept as objects; deeper ones are only counted.
MAX_SUB_JOB_DEPTH = 2
# Sub-job objects kept in the whole tree.
MAX_KEPT_SUB_JOBS = 64
# The entities object: keys per object, items per list, nesting, characters per string; and for the whole
# tree of a job (its sub-jobs' entities included), values and characters.
MAX_ENTITY_KEYS = 64
MAX_ENTITY_ITEMS = 64
MAX_ENTITY_DEPTH = 4
MAX_ENTITY_TEXT = 1024
MAX_ENTITY_VALUES = 1024
MAX_ENTITY_CHARS = 32 * 1024
# Integers past this many bits cannot be written as JSON by every reader (Python refuses > 4300 digits).
MAX_INT_BITS = 4096
MAX_TIME_TEXT = 64

_STATUS_NAMES = tuple(status.value for status in SdrsJobStatus)
# Statuses as SDRS spells them, looked up before any stripping and upper-casing.
_MEMBERS: dict[str, SdrsJobStatus] = {status.value: status for status in SdrsJobStatus}
# Distinct raw sub-job statuses each parsed one by one; past this many, only _SPELLINGS are recognised.
MAX_PARSED_STATUSES = 64
_SPELLINGS = {
    spelling: name
    for name in _STATUS_NAMES
    if name != "UNKNOWN"
    for spelling in (name, name.lower(), name.capitalize())
}


def _bad_answer(problem: str, job_id: str | None, what: str = "job") -> SdrsApiError:
    if what != "job":
        return SdrsApiError(status=None, code=None, message=problem, operation=f"read {what}")
    return SdrsApiError(
        status=None,
        code=None,
        message=problem,
        operation=f"read job {clean(job_id, MAX_ID)}" if job_id else "read job",
    )


# Times read recently: a job's begin_time comes back unchanged on every poll. Bounded, and emptied when full.
_TIMES: dict[str, DateTime | None] = {}
_MAX_TIMES = 4096


def _parse_time(value: object) -> DateTime | None:
    if not isinstance(value, str) or len(value) > MAX_TIME_TEXT:
        return None
    try:
        return _TIMES[value]
    except KeyError:
        pass
    moment = _read_time(value)
    if len(_TIMES) >= _MAX_TIMES:
        _TIMES.clear()
    _TIMES[value] = moment
    return moment


def _read_time(value: str) -> DateTime | None:
    if not value.strip():
        return None
    text = value.strip()
    try:
        # The documented form (2019-04-01T12:00:00.000Z) on the fast path: it is read on every poll.
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        pass
    else:
        try:
            # 0001-01-01T00:00:00+08:00 is a valid time whose UTC is before year 1.
            moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment
        except (OverflowError, ValueError):
            return None
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
        if not isinstance(parsed, DateTime):
            return None
        return parsed.in_timezone("UTC")
    except Exception:  # pendulum raises many kinds of error for a bad time; all mean "unreadable"
        return None


def _format_time(value: DateTime | None) -> str | None:
    if value is None:
        return None
    moment = value.astimezone(timezone.utc)
    # By hand: strftime writes year 1 as "1", which no parser reads back.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )


def _opt_str(value: object, limit: int = MAX_WORD) -> str | None:
    """A scalar as one line of clipped text; ``None`` for anything else."""
    if value is None:
        return None
    if isinstance(value, str):
        # Any field may echo a secret, not only fail_reason: a server can put anything anywhere.
        return safe(value, limit)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        # str() of an int with more than 4300 digits raises.
        return clean(str(value), limit) if value.bit_length() <= MAX_INT_BITS else None
    if isinstance(value, float):
        return str(value) if math.isfinite(value) else None
    return None


class _Budget:
    """What one job document may still keep: values and characters of entities, sub-job objects.

    Spent in document order, so that reading a job's :meth:`SdrsJob.to_dict` spends it the same way and
    keeps everything again.
    """

    __slots__ = ("chars", "jobs", "left")

    def __init__(self, left: int, chars: int, jobs: int = 0) -> None:
        self.left = left
        self.chars = chars
        self.jobs = jobs

    @property
    def spent(self) -> bool:
        return self.left <= 0 or self.chars <= 0


def _entity_value(value: object, depth: int, budget: _Budget, job_id: str | None, limits: _Limits) -> Any:
    """A bounded, JSON-safe copy of ``value``; copying the copy gives it back unchanged.

    :raises SdrsApiError: a non-finite number or an integer too large for JSON.
    """
    budget.left -= 1
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = safe(value, limits.text)
        budget.chars -= len(text)
        return text
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise _bad_answer("the document holds an integer too large for JSON", job_id, limits.what)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            problem = f"the document holds a non-finite number ({value}), which is not JSON"
            raise _bad_answer(problem, job_id, limits.what)
        return value
    if depth >= limits.depth:
        return None
    if isinstance(value, Mapping):
        return _entity_object(value, depth + 1, budget, job_id, limits)
    if isinstance(value, (list, tuple)):
        items = []
        for item in value[: limits.items]:
            if budget.spent:
                break
            items.append(_entity_value(item, depth + 1, budget, job_id, limits))
        return items
    return None


def _entity_object(
    value: Mapping[Any, Any], depth: int, budget: _Budget, job_id: str | None, limits: _Limits
) -> dict[str, Any]:
    copy: dict[str, Any] = {}
    for key, item in value.items():
        if len(copy) >= limits.keys or budget.spent:
            break
        if not isinstance(key, str) or (depth == 0 and key == "sub_jobs" and limits.what == "job"):
            continue
        name = safe(key, MAX_WORD)
        budget.chars -= len(name)
        copy[name] = _entity_value(item, depth, budget, job_id, limits)
    return copy


@dataclass(frozen=True)
class _Limits:
    what: str
    keys: int = MAX_ENTITY_KEYS
    items: int = MAX_ENTITY_ITEMS
    depth: int = MAX_ENTITY_DEPTH
    values: int = MAX_ENTITY_VALUES
    text: int = MAX_ENTITY_TEXT
    chars: int = MAX_ENTITY_CHARS


_ENTITY_LIMITS = _Limits("job")
_RESOURCE_LIMITS = _Limits("resource", keys=256, items=256, depth=8, values=4096, text=4096, chars=256 * 1024)


def bounded_document(document: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """A bounded, strict-JSON copy of a resource document (a protection group, a DR drill).

    Texts are escaped and clipped, and size and nesting are bounded, so the copy is safe to log, raise
    and push to XCom.

    :param what: names the document in errors, e.g. ``server_group``.
    :raises SdrsApiError: the document holds a non-finite number or an integer too large for JSON.
    """
    limits = replace(_RESOURCE_LIMITS, what=what)
    return _entity_object(document, 0, _Budget(limits.values, limits.chars), None, limits)


def _count_sub_jobs(raw: list[Any], keep: int, keep_failed: int) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Counts by status of the sub-job objects in ``raw``, and the ones to keep as objects.

    Counting runs in C (``map``, ``set``, ``list.count``): 200,000 sub-jobs with as many distinct statuses
    cost tens of milliseconds, not the second a Python call per status would block an event loop for.
    """
    try:
        subs = raw
        # dict.get refuses anything that is not a dict, and set an unhashable status: both rare.
        statuses = list(map(dict.get, subs, repeat("status")))
        distinct = set(statuses)
    except TypeError:
        subs = [sub for sub in raw if type(sub) is dict]
        statuses = [_hashable(sub.get("status")) for sub in subs]
        distinct = set(statuses)
    counts, failing = _status_counts(statuses, distinct)
    chosen = list(range(min(keep, len(subs))))
    # A few failed sub-jobs past the first ones, so that a failure can name them.
    failed_positions: list[int] = []
    for status in failing:
        start = keep
        while len(failed_positions) < keep_failed:
            try:
                start = statuses.index(status, start) + 1
            except ValueError:
                break
            failed_positions.append(start - 1)
    chosen += sorted(failed_positions)[:keep_failed] if keep else []
    return counts, [subs[index] for index in chosen]


def _status_counts(statuses: list[Any], distinct: set[Any]) -> tuple[dict[str, int], list[Any]]:
    """Counts by status name of the raw ``statuses``, and the raw values among them that mean ``FAIL``.

    A few distinct values are each parsed as :meth:`SdrsJobStatus.parse` does. Past that, only the
    spellings in ``_SPELLINGS`` are looked up, and every other value counts as ``UNKNOWN``: a server
    sending 200,000 distinct statuses must not cost 200,000 Python calls on an event loop.
    """
    counts: dict[str, int] = {}
    failing: list[Any] = []
    if len(distinct) <= MAX_PARSED_STATUSES:
        for status, number in Counter(statuses).items():
            name = SdrsJobStatus.parse(status).value
            counts[name] = counts.get(name, 0) + number
            if name == "FAIL":
                failing.append(status)
        return counts, failing
    known = 0
    for spelling in sorted(_SPELLINGS.keys() & distinct):
        name = _SPELLINGS[spelling]
        number = statuses.count(spelling)
        counts[name] = counts.get(name, 0) + number
        known += number
        if name == "FAIL":
            failing.append(spelling)
    if len(statuses) > known:
        counts["UNKNOWN"] = counts.get("UNKNOWN", 0) + len(statuses) - known
    return counts, failing


def _hashable(value: object) -> object:
    try:
        hash(value)
    except TypeError:
        return None
    return value


def _counts_of(jobs: tuple[SdrsJob, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status.value] = counts.get(job.status.value, 0) + 1
    return counts


def _stated_counts(value: object, kept: tuple[SdrsJob, ...]) -> dict[str, int] | None:
    """The ``sub_job_counts`` of a document written by :meth:`SdrsJob.to_dict`, if it is consistent."""
    if not isinstance(value, dict) or not value:
        return None
    counts: dict[str, int] = {}
    for name, number in value.items():
        if name not in _STATUS_NAMES or type(number) is not int or not 0 < number < 2**53:
            return None
        counts[name] = number
    for name, number in _counts_of(kept).items():
        if counts.get(name, 0) < number:
            return None
    return counts


@dataclass(frozen=True)
class SdrsJob:
    """One SDRS job, as returned by ``GET /v1/{project_id}/jobs/{job_id}``.

    What a server sends is kept within bounds: texts are on one line (control characters escaped) and
    clipped, and of many sub-jobs only the first :data:`MAX_SUB_JOBS` (and a few failed ones after them)
    are kept as objects, all of them being counted in ``sub_job_counts``.

    :param job_id: the job id.
    :param job_type: e.g. ``createDisasterRecoveryDrill``; an open set.
    :param status: the parsed status; ``raw_status`` keeps what SDRS sent.
    :param entities: the ``entities`` object without ``sub_jobs`` (resource ids of the job).
    :param sub_jobs: the sub-jobs kept, each an :class:`SdrsJob`.
    :param begin_time: start, UTC; ``None`` when absent or unreadable.
    :param end_time: end, UTC; ``None`` while the job runs.
    :param error_code: SDRS error code on failure.
    :param fail_reason: SDRS failure text.
    :param sub_job_counts: every direct sub-job by status (``SUCCESS``: 99990...), kept or not.
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
    sub_job_counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.raw_status is None and self.status is not SdrsJobStatus.UNKNOWN:
            object.__setattr__(self, "raw_status", self.status.value)
        if not self.sub_job_counts and self.sub_jobs:
            object.__setattr__(self, "sub_job_counts", _counts_of(self.sub_jobs))

    @classmethod
    def from_api(cls, document: object, *, job_id: str | None = None) -> SdrsJob:
        """Build a job from the JSON document SDRS returned.

        Unknown keys are ignored, a missing or unknown status becomes ``UNKNOWN``, unreadable times
        become ``None``. Texts are escaped and clipped, many sub-jobs are summarised (see the class).

        :param document: the decoded JSON body.
        :param job_id: the id that was asked for; used when the document carries none.
        :raises SdrsApiError: the document is not a JSON object, or holds a non-finite number.
        """
        budget = _Budget(MAX_ENTITY_VALUES, MAX_ENTITY_CHARS, MAX_KEPT_SUB_JOBS)
        return cls._from_api(document, job_id, 0, budget)

    @classmethod
    def _from_api(cls, document: object, job_id: str | None, depth: int, budget: _Budget) -> SdrsJob:
        if not isinstance(document, dict):
            raise _bad_answer(f"the job document is a JSON {type(document).__name__}, not an object", job_id)
        raw_entities = document.get("entities")
        entities = (
            _entity_object(raw_entities, 0, budget, job_id, _ENTITY_LIMITS) if isinstance(raw_entities, dict) else {}
        )
        raw_sub_jobs = raw_entities.get("sub_jobs") if isinstance(raw_entities, dict) else None
        sub_jobs: tuple[SdrsJob, ...] = ()
        counts: dict[str, int] = {}
        if isinstance(raw_sub_jobs, list) and raw_sub_jobs:
            top = depth == 0
            keep = (MAX_SUB_JOBS if top else MAX_NESTED_SUB_JOBS) if depth < MAX_SUB_JOB_DEPTH else 0
            keep_failed = (MAX_FAILED_SUB_JOBS if top else MAX_NESTED_FAILED_SUB_JOBS) if keep else 0
            keep = min(keep, budget.jobs)
            keep_failed = min(keep_failed, budget.jobs - keep)
            counts, kept = _count_sub_jobs(raw_sub_jobs, keep, keep_failed)
            # Reserved before the sub-jobs are read, so that each level's choice depends on its own list.
            budget.jobs -= len(kept)
            sub_jobs = tuple(cls._from_api(sub, None, depth + 1, budget) for sub in kept)
        stated = _stated_counts(document.get("sub_job_counts"), sub_jobs)
        if stated is not None:
            counts = stated
        raw_status = document.get("status")
        fail_reason = document.get("fail_reason")
        return cls(
            job_id=_opt_str(document.get("job_id"), MAX_ID) or (clean(job_id, MAX_ID) if job_id else ""),
            status=SdrsJobStatus.parse(raw_status),
            raw_status=_opt_str(raw_status, MAX_CODE),
            job_type=_opt_str(document.get("job_type")),
            entities=entities,
            sub_jobs=sub_jobs,
            begin_time=_parse_time(document.get("begin_time")),
            end_time=_parse_time(document.get("end_time")),
            error_code=_opt_str(document.get("error_code"), MAX_CODE),
            # Free text: a server may echo anything in it, secrets included.
            fail_reason=(
                safe(fail_reason, MAX_REASON if depth == 0 else MAX_SUB_JOB_REASON)
                if isinstance(fail_reason, str)
                else _opt_str(fail_reason)
            ),
            sub_job_counts=counts,
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
    def sub_job_total(self) -> int:
        """How many direct sub-jobs the job has, kept as objects or not."""
        return sum(self.sub_job_counts.values())

    @property
    def failed_sub_jobs(self) -> list[SdrsJob]:
        """Every kept sub-job, at any depth, that ended in ``FAIL``."""
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
        total = self.sub_job_total
        if total:
            counts = self.sub_job_counts
            done = counts.get("SUCCESS", 0) + counts.get("FAIL", 0)
            text += f" ({done}/{total} sub-jobs done"
            text += f", {counts['FAIL']} failed)" if total > len(self.sub_jobs) and counts.get("FAIL") else ")"
        return text

    def failure_summary(self) -> str:
        """A message naming the job, its SDRS error code and reason, and the first failed sub-jobs."""
        kind = f" ({self.job_type})" if self.job_type else ""
        text = f"SDRS job {self.job_id}{kind} failed"
        text += f" with error code {self.error_code}" if self.error_code else " with no error code"
        text += f": {clean(self.fail_reason, 1000)}" if self.fail_reason else ""
        failed = self.failed_sub_jobs
        if failed:
            items = []
            for sub in failed[:MAX_FAILED_SUB_JOBS]:
                item = f"{sub.job_id}"
                if sub.job_type:
                    item += f" ({sub.job_type})"
                if sub.error_code:
                    item += f" {sub.error_code}"
                if sub.fail_reason:
                    item += f": {clean(sub.fail_reason, 300)}"
                items.append(item)
            total_failed = max(len(failed), self.sub_job_counts.get("FAIL", 0))
            more = total_failed - len(items)
            text += ". Failed sub-jobs: " + "; ".join(items) + (f"; and {more} more" if more > 0 else "")
        return text

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON dict in the shape of the SDRS document, plus ``duration_seconds``.

        When sub-jobs were left out, ``sub_job_counts`` gives all of them by status.
        ``SdrsJob.from_api(job.to_dict())`` gives back an equal job.
        """
        entities: dict[str, Any] = dict(self.entities)
        if self.sub_jobs:
            entities["sub_jobs"] = [sub.to_dict() for sub in self.sub_jobs]
        data: dict[str, Any] = {
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
        if self.sub_job_counts != _counts_of(self.sub_jobs):
            data["sub_job_counts"] = dict(self.sub_job_counts)
        return data
