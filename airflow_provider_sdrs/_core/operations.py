"""The SDRS calls behind the hook's operations: paths, bodies and what each one means when repeated.

Reads are idempotent. Submissions (POST/DELETE that start a job) are not: the core resends one only when
the request certainly never reached SDRS (the connection was refused, or the gateway throttled it with 429).
After a timeout or a broken connection the operation may have started, so the caller gets an error that
says so, and must read the resource's state before submitting again (the operators do exactly that).
"""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_sdrs._core.exchange import ApiCall
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs.exceptions import SdrsValidationError

GROUPS = "server-groups"
DRILLS = "disaster-recovery-drills"
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


def _name(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SdrsValidationError(field, "must be a non-empty string")
    if len(value) > 64:
        raise SdrsValidationError(field, f"must be at most 64 characters, got {len(value)}")
    return value


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


def _description(value: object, field: str = "description") -> str:
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


def get_group(server_group_id: str) -> ApiCall:
    validate_id(server_group_id, "server_group_id")
    return ApiCall("GET", (GROUPS, server_group_id), f"read protection group {server_group_id}")


def list_groups(name: str | None = None) -> ApiCall:
    query: tuple[tuple[str, str], ...] = ()
    if name is not None:
        query = (("name", _name(name, "name")),)
    return ApiCall("GET", (GROUPS,), "list protection groups", query=query)


def get_drill(drill_id: str) -> ApiCall:
    validate_id(drill_id, "drill_id")
    return ApiCall("GET", (DRILLS, drill_id), f"read DR drill {drill_id}")


def list_drills(server_group_id: str | None = None) -> ApiCall:
    query: tuple[tuple[str, str], ...] = ()
    if server_group_id is not None:
        query = (("server_group_id", validate_id(server_group_id, "server_group_id")),)
    return ApiCall("GET", (DRILLS,), "list DR drills", query=query)


def group_action(server_group_id: str, action: str, body: dict[str, Any], label: str) -> ApiCall:
    validate_id(server_group_id, "server_group_id")
    return ApiCall(
        "POST",
        (GROUPS, server_group_id, "action"),
        f"{label} for protection group {server_group_id}",
        body={action: body},
        idempotent=False,
    )


def start_protection(server_group_id: str) -> ApiCall:
    return group_action(server_group_id, "start-server-group", {}, "enable protection")


def reprotect(server_group_id: str) -> ApiCall:
    # SDRS re-enables protection of a failed-over group with the same action as the first start.
    return group_action(server_group_id, "start-server-group", {}, "re-enable protection")


def stop_protection(server_group_id: str) -> ApiCall:
    return group_action(server_group_id, "stop-server-group", {}, "disable protection")


def failover(server_group_id: str) -> ApiCall:
    return group_action(server_group_id, "failover-server-group", {}, "fail over")


def planned_failover(server_group_id: str, priority_station: str = "target") -> ApiCall:
    if priority_station not in PRIORITY_STATIONS:
        raise SdrsValidationError("priority_station", f"must be 'source' or 'target', got {priority_station!r}")
    return group_action(
        server_group_id,
        "reverse-server-group",
        {"priority_station": priority_station},
        f"planned failover (to {priority_station})",
    )


def create_drill(server_group_id: str, name: str, drill_vpc_id: str | None = None) -> ApiCall:
    spec: dict[str, Any] = {
        "server_group_id": validate_id(server_group_id, "server_group_id"),
        "name": resource_name(name, "name"),
    }
    if drill_vpc_id is not None:
        spec["drill_vpc_id"] = validate_id(drill_vpc_id, "drill_vpc_id")
    return ApiCall(
        "POST",
        (DRILLS,),
        f"create DR drill {name!r} for protection group {server_group_id}",
        body={"disaster_recovery_drill": spec},
        idempotent=False,
    )


def delete_drill(drill_id: str) -> ApiCall:
    validate_id(drill_id, "drill_id")
    return ApiCall("DELETE", (DRILLS, drill_id), f"delete DR drill {drill_id}", idempotent=False)


def create_group(
    *,
    name: str,
    source_availability_zone: str,
    target_availability_zone: str,
    domain_id: str,
    source_vpc_id: str,
    description: str | None = None,
    dr_type: str = "migration",
) -> ApiCall:
    spec: dict[str, Any] = {
        "name": resource_name(name, "name"),
        "source_availability_zone": _name(source_availability_zone, "source_availability_zone"),
        "target_availability_zone": _name(target_availability_zone, "target_availability_zone"),
        "domain_id": validate_id(domain_id, "domain_id"),
        "source_vpc_id": validate_id(source_vpc_id, "source_vpc_id"),
        "dr_type": dr_type,
    }
    if description is not None:
        spec["description"] = _description(description)
    return ApiCall(
        "POST", (GROUPS,), f"create protection group {name!r}", body={"server_group": spec}, idempotent=False
    )


def delete_group(server_group_id: str) -> ApiCall:
    validate_id(server_group_id, "server_group_id")
    return ApiCall("DELETE", (GROUPS, server_group_id), f"delete protection group {server_group_id}", idempotent=False)
