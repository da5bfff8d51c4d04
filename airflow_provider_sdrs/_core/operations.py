"""The SDRS calls behind the hook's operations: paths, bodies and what each one means when repeated.

Reads are idempotent. Submissions (POST/DELETE that start a job) are not: the core resends one only when
the request certainly never reached SDRS (the connection was refused, or the gateway throttled it with 429).
After a timeout or a broken connection the operation may have started, so the caller gets an error that
says so, and must read the resource's state before submitting again (the operators do exactly that).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_sdrs._core.exchange import ApiCall
from airflow_provider_sdrs._core.ids import validate_id
from airflow_provider_sdrs.exceptions import SdrsValidationError

GROUPS = "server-groups"
DRILLS = "disaster-recovery-drills"
PRIORITY_STATIONS = ("source", "target")


def _name(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SdrsValidationError(field, "must be a non-empty string")
    if len(value) > 64:
        raise SdrsValidationError(field, f"must be at most 64 characters, got {len(value)}")
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
        "name": _name(name, "name"),
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
        "name": _name(name, "name"),
        "source_availability_zone": _name(source_availability_zone, "source_availability_zone"),
        "target_availability_zone": _name(target_availability_zone, "target_availability_zone"),
        "domain_id": validate_id(domain_id, "domain_id"),
        "source_vpc_id": validate_id(source_vpc_id, "source_vpc_id"),
        "dr_type": dr_type,
    }
    if description is not None:
        spec["description"] = description
    return ApiCall(
        "POST", (GROUPS,), f"create protection group {name!r}", body={"server_group": spec}, idempotent=False
    )


def delete_group(server_group_id: str) -> ApiCall:
    validate_id(server_group_id, "server_group_id")
    return ApiCall("DELETE", (GROUPS, server_group_id), f"delete protection group {server_group_id}", idempotent=False)
