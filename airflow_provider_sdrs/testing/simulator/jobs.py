"""SDRS jobs, as ``GET /v1/{project_id}/jobs/{job_id}`` shows them ("Querying the Job Status").

A job is scripted: it goes through a list of (status, seconds) from its creation, the last status for
ever, and its sub-jobs go through the same steps a little faster. Only ``FAIL`` carries ``error_code``
and ``fail_reason``, and ``end_time`` is set once the job is ``SUCCESS`` or ``FAIL``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

#: "Null job": the code the SDRS error table gives (with HTTP 500) when there is no such job.
NULL_JOB_CODE = "SDRS.0408"
TERMINAL = ("SUCCESS", "FAIL")


@dataclass
class SimJob:
    """A scripted job: ``lifecycle`` is a list of (status, seconds) from creation; the last one lasts."""

    job_id: str
    job_type: str
    lifecycle: list[tuple[str, float]]
    entities: dict[str, Any]
    created: float
    error_code: str | None = None
    fail_reason: str | None = None
    sub_jobs: list[SimJob] = field(default_factory=list)
    polls: int = 0
    clock_from_first_poll: bool = False

    def poll(self, now: float) -> dict[str, Any]:
        """The document a job read answers at ``now``; counts the read."""
        if self.polls == 0 and self.clock_from_first_poll:
            self.restart(now)
        self.polls += 1
        return self.document(now)

    def restart(self, now: float) -> None:
        self.created = now
        for sub in self.sub_jobs:
            sub.restart(now)

    def state_at(self, now: float) -> tuple[str, float | None]:
        """The status at ``now`` and, if that status is terminal, when it was reached."""
        elapsed = now - self.created
        mark = 0.0
        for index, (status, seconds) in enumerate(self.lifecycle):
            last = index == len(self.lifecycle) - 1
            if last or elapsed < mark + seconds:
                terminal_since = self.created + mark if status in TERMINAL else None
                return status, terminal_since
            mark += seconds
        raise AssertionError("unreachable")  # pragma: no cover

    def document(self, now: float) -> dict[str, Any]:
        status, ended = self.state_at(now)
        entities = dict(self.entities)
        if self.sub_jobs:
            entities["sub_jobs"] = [sub.document(now) for sub in self.sub_jobs]
        failed = status == "FAIL"
        return {
            "job_id": self.job_id,
            "job_type": self.job_type,
            "status": status,
            "entities": entities,
            "begin_time": iso(self.created),
            "end_time": iso(ended) if ended is not None else None,
            "error_code": self.error_code if failed else None,
            "fail_reason": self.fail_reason if failed else None,
        }


def script_job(
    job_id: str,
    *,
    now: float,
    outcome: str = "SUCCESS",
    init_seconds: float = 0.2,
    run_seconds: float = 1.0,
    job_type: str = "createDisasterRecoveryDrill",
    entities: dict[str, Any] | None = None,
    error_code: str | None = None,
    fail_reason: str | None = None,
    sub_jobs: int = 0,
    lifecycle: list[tuple[str, float]] | None = None,
    clock_from_first_poll: bool = False,
) -> SimJob:
    """A job ``INIT`` for ``init_seconds``, ``RUNNING`` for ``run_seconds``, then ``outcome``.

    ``lifecycle`` replaces those steps; with ``sub_jobs``, the last sub-job is the one that fails.
    """
    if outcome not in TERMINAL:
        raise ValueError(f"outcome must be SUCCESS or FAIL, got {outcome!r}")
    if outcome == "FAIL":
        error_code = error_code or "SDRS.0206"
        fail_reason = fail_reason or "The replication of the protected instance failed."
    steps = lifecycle or [("INIT", init_seconds), ("RUNNING", run_seconds), (outcome, 0.0)]
    subs: list[SimJob] = []
    for index in range(sub_jobs):
        sub_fails = outcome == "FAIL" and index == sub_jobs - 1
        sub_steps = [(status, seconds * 0.9) for status, seconds in steps[:-1]]
        sub_steps.append(("FAIL" if sub_fails else "SUCCESS", 0.0))
        subs.append(
            SimJob(
                job_id=new_job_id(),
                # SDRS names the per-instance sub-jobs of a NoCG operation "...RepNoCG".
                job_type=job_type.replace("NoCG", "RepNoCG") if "NoCG" in job_type else job_type + "Sub",
                lifecycle=sub_steps,
                entities={k: v for k, v in (entities or {}).items() if k != "sub_jobs"},
                created=now,
                error_code=error_code if sub_fails else None,
                fail_reason=fail_reason if sub_fails else None,
            )
        )
    return SimJob(
        job_id=job_id,
        job_type=job_type,
        lifecycle=list(steps),
        entities=dict(entities) if entities is not None else {"server_group_id": str(uuid.uuid4())},
        created=now,
        error_code=error_code,
        fail_reason=fail_reason,
        sub_jobs=subs,
        clock_from_first_poll=clock_from_first_poll,
    )


def running_document(job_id: str, now: float) -> dict[str, Any]:
    """The document of a running job with no entities, for answers about a job the simulator lacks."""
    return {
        "job_id": job_id,
        "job_type": "createDisasterRecoveryDrill",
        "status": "RUNNING",
        "entities": {},
        "begin_time": iso(now),
        "end_time": None,
        "error_code": None,
        "fail_reason": None,
    }


def iso(epoch: float) -> str:
    """A time as SDRS writes it: UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_job_id() -> str:
    """A 32-hex-character id like the ones SDRS issues."""
    return uuid.uuid4().hex
