"""What each DR operation needs and leads to, in resource statuses: the basis of re-run safety.

Before submitting, an operator reads the resource and decides:

* ``done``: the resource is already where the operation would take it (or, for a deletion, gone):
  nothing is submitted;
* ``wait``: the operation (or its twin) is in progress, e.g. a retry after a lost answer: wait for
  it to end rather than submit a second, conflicting one;
* ``submit``: the status allows the operation;
* ``refuse``: it does not; the error names the status and what is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Decision = Literal["done", "wait", "submit", "refuse"]

#: The status of a resource that does not exist.
GONE = None

GROUP_STATUSES = frozenset(
    {
        "creating",
        "available",
        "protected",
        "deleting",
        "starting",
        "stopping",
        "reprotecting",
        "reversing",
        "failing-over",
        "failed-over",
        "error",
        "error-deleting",
        "error-starting",
        "error-stopping",
        "error-reprotecting",
        "error-reversing",
        "error-failing-over",
    }
)


@dataclass(frozen=True)
class OperationStates:
    """The statuses that matter to one operation.

    :param action: what the operation does, for messages (``enable protection``).
    :param resource: ``protection group`` or ``DR drill``.
    :param allowed: statuses in which SDRS accepts it (``None``: the resource must not exist yet).
    :param during: the transitional statuses it puts the resource in.
    :param done: statuses in which there is nothing left to do (``None``: the resource is gone).
    :param failed: statuses the resource is left in when the operation's job fails.
    """

    action: str
    resource: str
    allowed: frozenset[str | None]
    during: frozenset[str]
    done: frozenset[str | None]
    failed: frozenset[str] = frozenset()

    def decide(self, status: str | None) -> Decision:
        if status in self.done:
            return "done"
        if status in self.during:
            return "wait"
        if status in self.allowed:
            return "submit"
        return "refuse"

    @property
    def needs(self) -> str:
        """The allowed statuses in words, for error messages."""
        named = sorted(status for status in self.allowed if status is not None)
        text = " or ".join(named)
        if None in self.allowed:
            text = f"no {self.resource} of that name" + (f", or one that is {text}" if text else "")
        elif text:
            text = f"a {self.resource} that is {text}"
        return text or "nothing it can be given"


def _set(*statuses: str | None) -> frozenset[str | None]:
    return frozenset(statuses)


START_PROTECTION = OperationStates(
    "enable protection",
    "protection group",
    allowed=_set("available", "error-starting"),
    during=frozenset({"starting"}),
    done=_set("protected"),
    failed=frozenset({"error-starting"}),
)
REPROTECT = OperationStates(
    "re-enable protection",
    "protection group",
    allowed=_set("failed-over", "error-reprotecting"),
    during=frozenset({"reprotecting"}),
    done=_set("protected"),
    failed=frozenset({"error-reprotecting"}),
)
STOP_PROTECTION = OperationStates(
    "disable protection",
    "protection group",
    allowed=_set("protected", "error-stopping"),
    during=frozenset({"stopping"}),
    done=_set("available"),
    failed=frozenset({"error-stopping"}),
)
FAILOVER = OperationStates(
    "fail over",
    "protection group",
    allowed=_set("protected", "error-failing-over", "error-reversing"),
    during=frozenset({"failing-over"}),
    done=_set("failed-over"),
    failed=frozenset({"error-failing-over"}),
)
# Done-ness also depends on the production site; the operator checks priority_station.
PLANNED_FAILOVER = OperationStates(
    "run a planned failover",
    "protection group",
    allowed=_set("protected", "error-reversing"),
    during=frozenset({"reversing"}),
    done=frozenset(),
    failed=frozenset({"error-reversing"}),
)
#: The statuses a protection group passes through while one of its operations runs.
GROUP_BUSY_STATUSES = frozenset(
    {"creating", "deleting", "starting", "stopping", "reprotecting", "reversing", "failing-over"}
)
# SDRS API reference, "Deleting a Protection Group": "The protection group does not have protected instances,
# replication pairs, or DR drills" (SDRS.1001, SDRS.1010, SDRS.1003 otherwise). It sets no rule on the status;
# a group in the middle of another operation is not deleted under it (SDRS.1002).
DELETE_GROUP = OperationStates(
    "delete the protection group",
    "protection group",
    allowed=frozenset(GROUP_STATUSES - GROUP_BUSY_STATUSES),
    during=frozenset({"deleting"}),
    done=_set(GONE),
    failed=frozenset({"error-deleting"}),
)
CREATE_GROUP = OperationStates(
    "create the protection group",
    "protection group",
    allowed=_set(GONE),
    during=frozenset({"creating"}),
    # A group of that name that exists and is usable: creation has nothing left to do.
    done=frozenset(GROUP_STATUSES - {"creating", "deleting", "error", "error-deleting"}),
    failed=frozenset({"error"}),
)
# SDRS API reference, "Creating a DR Drill": "status of the protection group must be available, protected,
# failed-over, error-starting, error-stopping, error-reversing, error-reprotecting, or error-failing-over".
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
CREATE_DRILL = OperationStates(
    "create the DR drill",
    "DR drill",
    allowed=_set(GONE),
    during=frozenset({"creating"}),
    done=_set("available"),
    failed=frozenset({"error"}),
)
DELETE_DRILL = OperationStates(
    "delete the DR drill",
    "DR drill",
    allowed=_set("available", "error", "error-deleting"),
    during=frozenset({"deleting"}),
    done=_set(GONE),
    failed=frozenset({"error-deleting"}),
)
