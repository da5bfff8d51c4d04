"""Protection groups and DR drills of the SDRS simulator, with the documented state machines.

Every change is an asynchronous job, as in SDRS: the resource enters a transitional status at once
(``starting``, ``failing-over``, ``creating``...) and takes its final status from the job's outcome,
settled whenever the simulator next answers a request. Operations refused in the resource's current
status answer HTTP 400 with the SDRS error code the API reference gives for it, and so do names and
descriptions the reference does not allow.

The model speaks no HTTP: each operation answers an HTTP status and a JSON document, and the caller
settles finished jobs (:meth:`ResourceModel.settle`) before it asks.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JobFactory = Callable[..., str]
JobStatus = Callable[[str], str]
#: an HTTP status and the JSON document that goes with it
Answer = tuple[int, Any]

# SDRS error codes used below (from the SDRS API reference's error-code table).
GROUP_NOT_FOUND = "SDRS.1013"
DRILL_NOT_FOUND = "SDRS.1902"
NOT_ALLOWED_IN_STATE = "SDRS.1002"
GROUP_HAS_INSTANCE = "SDRS.1001"
GROUP_HAS_DRILL = "SDRS.1003"
GROUP_HAS_REPLICATION = "SDRS.1010"
DRILL_DELETE_NOT_ALLOWED = "SDRS.1913"
BAD_PARAMETER = "SDRS.0201"
INVALID_NAME = "SDRS.0202"
INVALID_DESCRIPTION = "SDRS.0212"

# "Creating a DR Drill" and "Creating a Protection Group": a name "can contain a maximum of 64 bytes" and "only
# letters (a to z and A to Z), digits (0 to 9), decimal points (.), underscores (_), and hyphens (-)"; a group's
# description "a maximum of 64 bytes" and not "the left angle bracket (<) or right angle bracket (>)".
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
# "Creating a DR Drill": "status of the protection group must be available, protected, failed-over,
# error-starting, error-stopping, error-reversing, error-reprotecting, or error-failing-over".
DRILL_GROUP_STATUSES = frozenset(
    {
        "available",
        "protected",
        "failed-over",
        "error-starting",
        "error-stopping",
        "error-reversing",
        "error-reprotecting",
        "error-failing-over",
    }
)


@dataclass(frozen=True)
class Transition:
    allowed_from: frozenset[str]
    during: str
    on_success: str
    on_failure: str
    job_type: str


# Body key of POST /server-groups/{id}/action -> transitions, tried in order.
GROUP_ACTIONS: dict[str, tuple[Transition, ...]] = {
    "start-server-group": (
        Transition(
            frozenset({"available", "error-starting"}),
            "starting",
            "protected",
            "error-starting",
            "startProtectionGroupNoCG",
        ),
        Transition(
            frozenset({"failed-over", "error-reprotecting"}),
            "reprotecting",
            "protected",
            "error-reprotecting",
            "reprotectProtectionGroupNoCG",
        ),
    ),
    "stop-server-group": (
        Transition(
            frozenset({"protected", "error-stopping"}),
            "stopping",
            "available",
            "error-stopping",
            "stopProtectionGroupNoCG",
        ),
    ),
    "failover-server-group": (
        Transition(
            frozenset({"protected", "error-failing-over", "error-reversing"}),
            "failing-over",
            "failed-over",
            "error-failing-over",
            "failoverProtectionGroupNoCG",
        ),
    ),
    "reverse-server-group": (
        Transition(
            frozenset({"protected", "error-reversing"}),
            "reversing",
            "protected",
            "error-reversing",
            "reverseProtectionGroupNoCG",
        ),
    ),
}
# "Deleting a Protection Group" sets no rule on the status, only on the contents; a group with a job of
# another operation running is not deleted under it.
GROUP_BUSY = frozenset({"creating", "deleting", "starting", "stopping", "reprotecting", "reversing", "failing-over"})
DRILL_DELETABLE = frozenset({"available", "error", "error-deleting"})


@dataclass
class Resource:
    id: str
    status: str
    fields: dict[str, Any]
    # (job id, status on success, status on failure); a success status of None deletes the resource.
    pending: tuple[str, str | None, str] | None = None


@dataclass
class ResourceModel:
    """Groups and drills, driven by jobs the simulator creates and times.

    :param add_job: creates a simulator job (``SdrsSimulator.add_job``).
    :param job_status: the current status of a job.
    """

    add_job: JobFactory
    job_status: JobStatus
    groups: dict[str, Resource] = field(default_factory=dict)
    drills: dict[str, Resource] = field(default_factory=dict)
    durations: tuple[float, float] = (0.2, 1.0)
    #: sub-jobs of every job, as SDRS splits a group operation per protected instance.
    sub_jobs: int = 1
    failing: Counter[str] = field(default_factory=Counter)
    submissions: Counter[str] = field(default_factory=Counter)
    #: the task center: failed jobs of group and drill operations, oldest first.
    failure_jobs: list[dict[str, Any]] = field(default_factory=list)
    _started: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    #: creation jobs leave out the id of what they create (``entities.disaster_recovery_drill_id``,
    #: ``entities.server_group_id``), which the job-status page does not promise.
    omit_created_ids: bool = False

    # -- scripting -----------------------------------------------------------------------------------

    def add_group(
        self, *, status: str = "protected", name: str = "group-1", group_id: str | None = None, **fields: Any
    ) -> str:
        group_id = group_id or str(uuid.uuid4())
        self.groups[group_id] = Resource(group_id, status, {"name": name, "priority_station": "source", **fields})
        return group_id

    def add_drill(self, server_group_id: str, *, status: str = "available", name: str = "drill-1") -> str:
        drill_id = str(uuid.uuid4())
        self.drills[drill_id] = Resource(drill_id, status, {"name": name, "server_group_id": server_group_id})
        return drill_id

    def set_group(self, group_id: str, *, status: str | None = None, **fields: Any) -> None:
        """Put a group into ``status`` at once, as SDRS itself might (a failover that broke on its side),
        and/or set fields of its document (``replication_status``, ``progress``). An operation in progress on
        it is forgotten: its job no longer decides the group's status."""
        group = self.groups.get(group_id)
        if group is None:
            raise KeyError(f"no protection group {group_id}")
        if status is not None:
            if not isinstance(status, str) or not status:
                raise ValueError("status must be a non-empty string")
            group.status = status
            group.pending = None
        group.fields.update(fields)

    def fail_next(self, job_type: str, times: int = 1) -> None:
        """Make the next ``times`` jobs of ``job_type`` end in FAIL."""
        self.failing[job_type] += times

    # -- requests ----------------------------------------------------------------------------------------

    def settle(self) -> None:
        for table in (self.groups, self.drills):
            for resource_id, resource in list(table.items()):
                if resource.pending is None:
                    continue
                job_id, on_success, on_failure = resource.pending
                status = self.job_status(job_id)
                if status == "SUCCESS":
                    resource.pending = None
                    if on_success is None:
                        del table[resource_id]
                    else:
                        resource.status = on_success
                elif status == "FAIL":
                    resource.pending = None
                    resource.status = on_failure
                    self._record_failure(job_id, resource_id)

    def _start(
        self, resource: Resource, transition: Transition, entities: dict[str, str], *, delete_on_success: bool = False
    ) -> Answer:
        self.submissions[transition.job_type] += 1
        fails = self.failing[transition.job_type] > 0
        if fails:
            self.failing[transition.job_type] -= 1
        init, run = self.durations
        job_id = self.add_job(
            job_type=transition.job_type,
            entities=entities,
            init_seconds=init,
            run_seconds=run,
            outcome="FAIL" if fails else "SUCCESS",
            sub_jobs=self.sub_jobs,
        )
        resource.status = transition.during
        resource.pending = (job_id, None if delete_on_success else transition.on_success, transition.on_failure)
        group_id = entities.get("server_group_id", resource.id)
        self._started[job_id] = (transition.job_type, group_id, transition.during)
        return 200, {"job_id": job_id}

    def _record_failure(self, job_id: str, resource_id: str) -> None:
        # "Querying Failed Tasks": failure_status names the operation that failed (startFail, failoverFail...).
        job_type, group_id, during = self._started.get(job_id, ("", resource_id, ""))
        failure = {
            "creating": "createFail",
            "deleting": "deleteFail",
            "starting": "startFail",
            "stopping": "stopFail",
            "reversing": "reverseFail",
            "failing-over": "failoverFail",
            "reprotecting": "reprotectFail",
        }.get(during, "")
        kind = "server_groups" if resource_id in self.groups else "disaster_recovery_drills"
        self.failure_jobs.append(
            {
                "job_id": job_id,
                "job_type": job_type,
                "failure_status": failure,
                "resource_id": resource_id,
                "resource_type": kind,
                "server_group_id": group_id,
                "error_code": "SDRS.0206",
                "fail_reason": "The job failed.",
            }
        )

    def list_failure_jobs(self, query: Mapping[str, str]) -> Answer:
        wanted = query.get("server_group_id")
        if wanted:
            jobs = [job for job in self.failure_jobs if job["server_group_id"] == wanted]
        else:
            jobs = [job for job in self.failure_jobs if job["resource_type"] == "server_groups"]
        return 200, {"failure_jobs": jobs, "count": len(jobs)}

    def list_groups(self, query: Mapping[str, str]) -> Answer:
        wanted = query.get("name")
        groups = [self._group(g) for g in self.groups.values() if not wanted or g.fields.get("name") == wanted]
        return 200, {"server_groups": groups}

    def create_group(self, body: Any) -> Answer:
        spec = body.get("server_group") if isinstance(body, dict) else None
        required = ("name", "source_availability_zone", "target_availability_zone", "domain_id", "source_vpc_id")
        missing = [key for key in required if not isinstance(spec, dict) or not spec.get(key)]
        if not isinstance(spec, dict) or missing:
            return _error(400, BAD_PARAMETER, f"Invalid server_group: missing {', '.join(missing)}.")
        refused = _invalid_name(spec["name"]) or _invalid_description(spec.get("description"))
        if refused:
            return refused
        group_id = str(uuid.uuid4())
        created = Resource(group_id, "creating", {**spec, "priority_station": "source"})
        self.groups[group_id] = created
        creation = Transition(frozenset(), "creating", "available", "error", "createProtectionGroupNoCG")
        return self._start(created, creation, {} if self.omit_created_ids else {"server_group_id": group_id})

    def get_group(self, group_id: str) -> Answer:
        group = self.groups.get(group_id)
        if group is None:
            return _group_not_found(group_id)
        return 200, {"server_group": self._group(group)}

    def delete_group(self, group_id: str) -> Answer:
        group = self.groups.get(group_id)
        if group is None:
            return _group_not_found(group_id)
        if group.status in GROUP_BUSY:
            return _not_allowed(group)
        if _count(group, "protected_instance_num"):
            return _error(400, GROUP_HAS_INSTANCE, "The protection group has protected instances.")
        if _count(group, "replication_num"):
            return _error(400, GROUP_HAS_REPLICATION, "The protection group has replication pairs.")
        if self._has_drill(group):
            return _error(400, GROUP_HAS_DRILL, "The protection group has DR drills; delete them first.")
        deletion = Transition(frozenset(), "deleting", "deleted", "error-deleting", "deleteProtectionGroupNoCG")
        return self._start(group, deletion, {"server_group_id": group.id}, delete_on_success=True)

    def group_action(self, group_id: str, body: Any) -> Answer:
        """``POST /server-groups/{id}/action``: the body's one key names the action."""
        group = self.groups.get(group_id)
        if group is None:
            return _group_not_found(group_id)
        action = next(iter(body), None) if isinstance(body, dict) and len(body) == 1 else None
        if action not in GROUP_ACTIONS:
            return _error(400, BAD_PARAMETER, f"Unknown protection group action {action!r}.")
        if action == "reverse-server-group":
            station = (body[action] or {}).get("priority_station")
            if station not in ("source", "target"):
                return _error(400, BAD_PARAMETER, "priority_station must be source or target.")
            group.fields["priority_station"] = station
        for transition in GROUP_ACTIONS[action]:
            if group.status in transition.allowed_from:
                if action in ("stop-server-group", "failover-server-group") and self._has_drill(group):
                    return _error(400, GROUP_HAS_DRILL, "The protection group has DR drills; delete them first.")
                return self._start(group, transition, {"server_group_id": group.id})
        return _not_allowed(group)

    def list_drills(self, query: Mapping[str, str]) -> Answer:
        wanted = query.get("server_group_id")
        drills = [_describe(d) for d in self.drills.values() if not wanted or d.fields["server_group_id"] == wanted]
        return 200, {"disaster_recovery_drills": drills}

    def create_drill(self, body: Any) -> Answer:
        spec = body.get("disaster_recovery_drill") if isinstance(body, dict) else None
        if not isinstance(spec, dict) or not spec.get("name") or not spec.get("server_group_id"):
            return _error(400, BAD_PARAMETER, "Invalid disaster_recovery_drill: name and server_group_id needed.")
        refused = _invalid_name(spec["name"])
        if refused:
            return refused
        group = self.groups.get(spec["server_group_id"])
        if group is None:
            return _group_not_found(spec["server_group_id"])
        if group.status not in DRILL_GROUP_STATUSES:
            return _not_allowed(group)
        drill_id = str(uuid.uuid4())
        fields = {"name": spec["name"], "server_group_id": group.id, "drill_vpc_id": spec.get("drill_vpc_id")}
        new_drill = Resource(drill_id, "creating", fields)
        self.drills[drill_id] = new_drill
        creation = Transition(frozenset(), "creating", "available", "error", "createDisasterRecoveryDrill")
        entities = {"disaster_recovery_drill_id": drill_id, "server_group_id": group.id}
        if self.omit_created_ids:
            del entities["disaster_recovery_drill_id"]
        return self._start(new_drill, creation, entities)

    def get_drill(self, drill_id: str) -> Answer:
        drill = self.drills.get(drill_id)
        if drill is None:
            return _drill_not_found(drill_id)
        return 200, {"disaster_recovery_drill": _describe(drill)}

    def delete_drill(self, drill_id: str) -> Answer:
        drill = self.drills.get(drill_id)
        if drill is None:
            return _drill_not_found(drill_id)
        if drill.status not in DRILL_DELETABLE:
            return _error(400, DRILL_DELETE_NOT_ALLOWED, f"The DR drill cannot be deleted in the {drill.status} state.")
        deletion = Transition(frozenset(), "deleting", "deleted", "error-deleting", "deleteDisasterRecoveryDrill")
        entities = {"disaster_recovery_drill_id": drill.id, "server_group_id": drill.fields["server_group_id"]}
        return self._start(drill, deletion, entities, delete_on_success=True)

    def _has_drill(self, group: Resource) -> bool:
        return any(drill.fields["server_group_id"] == group.id for drill in self.drills.values())

    def _group(self, group: Resource) -> dict[str, Any]:
        drills = sum(1 for drill in self.drills.values() if drill.fields["server_group_id"] == group.id)
        counts = {"protected_instance_num": 0, "replication_num": 0}
        return {**counts, **_describe(group), "disaster_recovery_drill_num": drills}


def _describe(resource: Resource) -> dict[str, Any]:
    return {"id": resource.id, "status": resource.status, **resource.fields}


def _count(resource: Resource, key: str) -> int:
    value = resource.fields.get(key)
    return value if isinstance(value, int) else 0


def _invalid_name(name: object) -> Answer | None:
    if isinstance(name, str) and NAME.fullmatch(name):
        return None
    return _error(400, INVALID_NAME, "Invalid name.")


def _invalid_description(description: object) -> Answer | None:
    if description is None:
        return None
    if not isinstance(description, str) or {"<", ">"} & set(description):
        return _error(400, INVALID_DESCRIPTION, "Invalid description.")
    if len(description.encode(errors="surrogatepass")) <= 64:
        return None
    return _error(400, INVALID_DESCRIPTION, "Invalid description.")


def _error(status: int, code: str, message: str) -> Answer:
    return status, {"error": {"code": code, "message": message}}


def _not_allowed(group: Resource) -> Answer:
    return _error(
        400, NOT_ALLOWED_IN_STATE, f"The operation is not allowed when the protection group is {group.status}."
    )


def _group_not_found(group_id: str) -> Answer:
    return _error(400, GROUP_NOT_FOUND, f"The protection group {group_id} does not exist.")


def _drill_not_found(drill_id: str) -> Answer:
    return _error(400, DRILL_NOT_FOUND, f"The DR drill {drill_id} does not exist.")
