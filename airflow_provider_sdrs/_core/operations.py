"""One declarative spec per SDRS DR operation: its arguments, its request and its state table.

A spec (:class:`Operation`) says everything the provider knows about an operation, in one place:

* the arguments and how each is checked (before anything is sent);
* the request (method, path and body);
* what the operation needs and leads to, in resource statuses, which makes re-runs safe. Before
  submitting, an operator reads the resource and decides (:meth:`Operation.decide`):

  - ``done``: the resource is already where the operation would take it (or, for a deletion, gone):
    nothing is submitted;
  - ``wait``: the operation (or its twin) is in progress, e.g. a retry after a lost answer: wait for it to
    end rather than submit a second, conflicting one;
  - ``submit``: the status allows the operation;
  - ``refuse``: it does not; the error names the status and what is needed.

The hook's submission methods and the operators are derived from these specs.

Reads are idempotent. Submissions (POST/DELETE that start a job) are not: the core resends one only when the
request certainly never reached SDRS (the connection was refused, or the gateway throttled it with 429).
After a timeout or a broken connection the operation may have started, so the caller gets an error that says
so, and must read the resource's state before submitting again (the operators do exactly that).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_sdrs._core.exchange import ApiCall
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs._core.reads import DRILL, DRILLS, GROUP, GROUPS, short_text
from airflow_provider_sdrs.exceptions import SdrsValidationError

Decision = Literal["done", "wait", "submit", "refuse"]

#: The status of a resource that does not exist.
GONE = None
PRIORITY_STATIONS = ("source", "target")

# The SDRS API reference ("Creating a DR Drill", "Creating a Protection Group"): a name "can contain a maximum of
# 64 bytes" and "only letters (a to z and A to Z), digits (0 to 9), decimal points (.), underscores (_), and
# hyphens (-)"; SDRS refuses any other with HTTP 400 SDRS.0202 "Invalid name".
NAME_MAX_BYTES = 64
NAME_CHARACTERS = re.compile(r"[A-Za-z0-9._-]+")
_NOT_A_NAME_CHARACTER = re.compile(r"[^A-Za-z0-9._-]")
# "Creating a Protection Group": a description "can contain a maximum of 64 bytes" and "cannot contain the left
# angle bracket (<) or right angle bracket (>)" (else SDRS.0212 "Invalid description").
DESCRIPTION_MAX_BYTES = 64
_SHOWN = 80


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def resource_name(value: object, field: str = "name") -> str:
    """A DR drill or protection group name as SDRS accepts it; otherwise :class:`SdrsValidationError`.

    :param field: the argument's name, for the error.
    """
    rule = "letters (a-z, A-Z), digits (0-9), '.', '_' and '-', at most 64 bytes (SDRS answers SDRS.0202 otherwise)"
    if not isinstance(value, str) or not value:
        raise SdrsValidationError(field, f"must be a non-empty string of {rule}")
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > NAME_MAX_BYTES:
        raise SdrsValidationError(field, f"must be {rule}; got {size} bytes: {_shown(value)}")
    if NAME_CHARACTERS.fullmatch(value) is None:
        bad = _NOT_A_NAME_CHARACTER.search(value)
        where = f"{bad.group()!r} at position {bad.start()} is not allowed" if bad else "not allowed"
        raise SdrsValidationError(field, f"may contain only {rule}; got {_shown(value)}: {where}")
    return value


def description(value: object, field: str = "description") -> str:
    """A protection group description as SDRS accepts it; otherwise :class:`SdrsValidationError`."""
    rule = "at most 64 bytes, without '<' or '>' (SDRS answers SDRS.0212 otherwise)"
    if not isinstance(value, str):
        raise SdrsValidationError(field, f"must be a string of {rule}")
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > DESCRIPTION_MAX_BYTES:
        raise SdrsValidationError(field, f"must be {rule}; got {size} bytes: {_shown(value)}")
    if "<" in value or ">" in value:
        raise SdrsValidationError(field, f"must be {rule}; got {_shown(value)}")
    return value


def priority_station(value: object, field: str = "priority_station") -> str:
    if value not in PRIORITY_STATIONS:
        raise SdrsValidationError(field, f"must be 'source' or 'target', got {value!r}")
    return str(value)


@dataclass(frozen=True)
class Param:
    """One argument of an operation.

    :param check: returns the accepted value or raises :class:`SdrsValidationError` naming ``name``.
    :param default: used when the argument is not given; ``None`` (the default) leaves it out of the body.
    :param required: the argument must be given.
    """

    name: str
    check: Callable[[object, str], Any]
    required: bool = True
    default: Any = None


@dataclass(frozen=True)
class Operation:
    """One DR operation, declared.

    :param name: the hook method that submits it (``failover``).
    :param action: what it does, for messages (``fail over``).
    :param resource: :data:`~airflow_provider_sdrs._core.reads.GROUP` or
        :data:`~airflow_provider_sdrs._core.reads.DRILL`.
    :param params: its arguments, in order.
    :param build: the request, from the checked arguments.
    :param allowed: statuses in which SDRS accepts it (``None``: the resource must not exist yet).
    :param during: the transitional statuses it puts the resource in.
    :param done: statuses in which there is nothing left to do (``None``: the resource is gone).
    :param failed: statuses the resource is left in when the operation's job fails.
    :param already_done: for a resource in an allowed status, whether the arguments ask for where it is
        already (a planned failover to the site that is already the production site).
    """

    name: str
    action: str
    resource: str
    params: tuple[Param, ...]
    build: Callable[[Mapping[str, Any]], ApiCall]
    allowed: frozenset[str | None]
    during: frozenset[str]
    done: frozenset[str | None]
    failed: frozenset[str] = frozenset()
    already_done: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] | None = field(default=None, repr=False)

    def check(self, **arguments: Any) -> dict[str, Any]:
        """The arguments, checked and completed with defaults.

        :raises SdrsValidationError: an argument is missing, unknown or not acceptable; it names it.
        """
        known = {param.name for param in self.params}
        unknown = sorted(set(arguments) - known)
        if unknown:
            raise SdrsValidationError(unknown[0], f"is not an argument of '{self.action}'")
        checked: dict[str, Any] = {}
        for param in self.params:
            value = arguments.get(param.name, param.default)
            if value is None:
                if param.required:
                    raise SdrsValidationError(param.name, "is required")
                continue
            checked[param.name] = param.check(value, param.name)
        return checked

    def request(self, **arguments: Any) -> ApiCall:
        """The call that submits the operation; the arguments are checked first."""
        return self.build(self.check(**arguments))

    def decide(
        self, status: str | None, resource: Mapping[str, Any] | None = None, arguments: Mapping[str, Any] = {}
    ) -> Decision:
        """What to do about a resource in ``status`` (``None``: it does not exist)."""
        if status in self.done:
            return "done"
        if status in self.during:
            return "wait"
        if status in self.allowed:
            if self.already_done is not None and resource is not None and self.already_done(resource, arguments):
                return "done"
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


def _group_action(
    key: str, label: str, body: Callable[[Mapping[str, Any]], dict[str, Any]] = lambda arguments: {}
) -> Callable[[Mapping[str, Any]], ApiCall]:
    """``POST server-groups/{id}/action`` with ``{key: body}``; ``label`` may name arguments."""

    def build(arguments: Mapping[str, Any]) -> ApiCall:
        group_id = arguments["server_group_id"]
        return ApiCall(
            "POST",
            (GROUPS, group_id, "action"),
            f"{label.format(**arguments)} for protection group {group_id}",
            body={key: body(arguments)},
            idempotent=False,
        )

    return build


_GROUP_ID = (Param("server_group_id", validate_id),)

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
#: The statuses a protection group passes through while one of its operations runs.
GROUP_BUSY_STATUSES = frozenset(
    {"creating", "deleting", "starting", "stopping", "reprotecting", "reversing", "failing-over"}
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

START_PROTECTION = Operation(
    name="start_protection",
    action="enable protection",
    resource=GROUP,
    params=_GROUP_ID,
    build=_group_action("start-server-group", "enable protection"),
    allowed=_set("available", "error-starting"),
    during=frozenset({"starting"}),
    done=_set("protected"),
    failed=frozenset({"error-starting"}),
)
# SDRS re-enables protection of a failed-over group with the same action as the first start.
REPROTECT = Operation(
    name="reprotect",
    action="re-enable protection",
    resource=GROUP,
    params=_GROUP_ID,
    build=_group_action("start-server-group", "re-enable protection"),
    allowed=_set("failed-over", "error-reprotecting"),
    during=frozenset({"reprotecting"}),
    done=_set("protected"),
    failed=frozenset({"error-reprotecting"}),
)
STOP_PROTECTION = Operation(
    name="stop_protection",
    action="disable protection",
    resource=GROUP,
    params=_GROUP_ID,
    build=_group_action("stop-server-group", "disable protection"),
    allowed=_set("protected", "error-stopping"),
    during=frozenset({"stopping"}),
    done=_set("available"),
    failed=frozenset({"error-stopping"}),
)
FAILOVER = Operation(
    name="failover",
    action="fail over",
    resource=GROUP,
    params=_GROUP_ID,
    build=_group_action("failover-server-group", "fail over"),
    allowed=_set("protected", "error-failing-over", "error-reversing"),
    during=frozenset({"failing-over"}),
    done=_set("failed-over"),
    failed=frozenset({"error-failing-over"}),
)
PLANNED_FAILOVER = Operation(
    name="planned_failover",
    action="run a planned failover",
    resource=GROUP,
    params=(*_GROUP_ID, Param("priority_station", priority_station, default="target")),
    build=_group_action(
        "reverse-server-group",
        "planned failover (to {priority_station})",
        lambda arguments: {"priority_station": arguments["priority_station"]},
    ),
    allowed=_set("protected", "error-reversing"),
    during=frozenset({"reversing"}),
    done=frozenset(),
    failed=frozenset({"error-reversing"}),
    # A protected group whose production site is already the one asked for needs nothing.
    already_done=lambda group, arguments: (
        group.get("status") == "protected" and group.get("priority_station") == arguments.get("priority_station")
    ),
)
# SDRS API reference, "Deleting a Protection Group": "The protection group does not have protected instances,
# replication pairs, or DR drills" (SDRS.1001, SDRS.1010, SDRS.1003 otherwise). It sets no rule on the status;
# a group in the middle of another operation is not deleted under it (SDRS.1002).
DELETE_GROUP = Operation(
    name="delete_protection_group",
    action="delete the protection group",
    resource=GROUP,
    params=_GROUP_ID,
    build=lambda arguments: ApiCall(
        "DELETE",
        (GROUPS, arguments["server_group_id"]),
        f"delete protection group {arguments['server_group_id']}",
        idempotent=False,
    ),
    allowed=frozenset(GROUP_STATUSES - GROUP_BUSY_STATUSES),
    during=frozenset({"deleting"}),
    done=_set(GONE),
    failed=frozenset({"error-deleting"}),
)
#: The counts a protection group's document gives that keep it from being deleted, and the codes SDRS refuses
#: a deletion with while they are not 0.
GROUP_CONTENTS = (
    ("protected_instance_num", "protected instance", "SDRS.1001"),
    ("replication_num", "replication pair", "SDRS.1010"),
    ("disaster_recovery_drill_num", "DR drill", "SDRS.1003"),
)


def group_contents(group: Mapping[str, Any] | None) -> list[str]:
    """What keeps a protection group from being deleted, in words (``2 DR drills``); empty when nothing does."""
    found = []
    for key, label, _ in GROUP_CONTENTS:
        count = (group or {}).get(key)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            found.append(f"{count} {label}{'s' if count > 1 else ''}")
    return found


def _create_group(arguments: Mapping[str, Any]) -> ApiCall:
    spec = dict(arguments)
    return ApiCall(
        "POST", (GROUPS,), f"create protection group {spec['name']!r}", body={"server_group": spec}, idempotent=False
    )


CREATE_GROUP = Operation(
    name="create_protection_group",
    action="create the protection group",
    resource=GROUP,
    params=(
        Param("name", resource_name),
        Param("source_availability_zone", short_text),
        Param("target_availability_zone", short_text),
        Param("domain_id", validate_id),
        Param("source_vpc_id", validate_id),
        Param("dr_type", short_text, default="migration"),
        Param("description", description, required=False),
    ),
    build=_create_group,
    allowed=_set(GONE),
    during=frozenset({"creating"}),
    # A group of that name that exists and is usable: creation has nothing left to do.
    done=frozenset(GROUP_STATUSES - {"creating", "deleting", "error", "error-deleting"}),
    failed=frozenset({"error"}),
)


def _create_drill(arguments: Mapping[str, Any]) -> ApiCall:
    return ApiCall(
        "POST",
        (DRILLS,),
        f"create DR drill {arguments['name']!r} for protection group {arguments['server_group_id']}",
        body={"disaster_recovery_drill": dict(arguments)},
        idempotent=False,
    )


CREATE_DRILL = Operation(
    name="create_drill",
    action="create the DR drill",
    resource=DRILL,
    params=(
        Param("server_group_id", validate_id),
        Param("name", resource_name),
        Param("drill_vpc_id", validate_id, required=False),
    ),
    build=_create_drill,
    allowed=_set(GONE),
    during=frozenset({"creating"}),
    done=_set("available"),
    failed=frozenset({"error"}),
)
DELETE_DRILL = Operation(
    name="delete_drill",
    action="delete the DR drill",
    resource=DRILL,
    params=(Param("drill_id", validate_id),),
    build=lambda arguments: ApiCall(
        "DELETE", (DRILLS, arguments["drill_id"]), f"delete DR drill {arguments['drill_id']}", idempotent=False
    ),
    allowed=_set("available", "error", "error-deleting"),
    during=frozenset({"deleting"}),
    done=_set(GONE),
    failed=frozenset({"error-deleting"}),
)

#: Every operation, by the name of the hook method that submits it.
OPERATIONS: dict[str, Operation] = {
    operation.name: operation
    for operation in (
        START_PROTECTION,
        STOP_PROTECTION,
        FAILOVER,
        PLANNED_FAILOVER,
        REPROTECT,
        CREATE_GROUP,
        DELETE_GROUP,
        CREATE_DRILL,
        DELETE_DRILL,
    )
}
