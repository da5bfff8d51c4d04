"""The sdrs:// asset scheme (through Airflow's own URI normaliser) and the operators' outlet extras."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import pytest
from airflow.sdk import Asset
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_sdrs.assets.sdrs import drill_asset, protection_group_asset, sanitize_uri, sdrs_uri
from airflow_provider_sdrs.operators.sdrs import (
    SdrsDeleteDrillOperator,
    SdrsFailoverOperator,
    SdrsPlannedFailoverOperator,
)
from tests.support import TaskInstanceStandIn, first_payload

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef]

PROJECT = "0123456789abcdef0123456789abcdef"
GROUP = "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1"
CANONICAL = f"sdrs://eu-de/{PROJECT}/server-groups/{GROUP}"


@pytest.mark.parametrize(
    "spelling",
    [
        CANONICAL,
        f"SDRS://EU-DE/{PROJECT.upper()}/server-groups/{GROUP.upper()}",
        f"sdrs://eu-de/{PROJECT}/protection-groups/{GROUP}/",
        f"sdrs://eu-de/{PROJECT}/server-groups/{GROUP}#fragment",
    ],
)
def test_spellings_of_one_group_are_one_asset(spelling):
    # Asset() runs Airflow's normaliser, which calls the handler registered in the provider info.
    assert Asset(uri=spelling, name="g").uri == CANONICAL


@pytest.mark.parametrize("region", ["eu-ch2", "ap-southeast-3", "cn-north-4", "la-south-2", "eu-west-101"])
def test_every_region_a_connection_accepts_names_assets(region):
    """Open Telekom Cloud Switzerland is eu-ch2: a connection there must be able to name its groups."""
    uri = f"sdrs://{region.upper()}/{PROJECT}/server-groups/{GROUP}"
    assert Asset(uri=uri, name="g").uri == f"sdrs://{region}/{PROJECT}/server-groups/{GROUP}"
    assert protection_group_asset(GROUP, region=region, project_id=PROJECT).uri.startswith(f"sdrs://{region}/")


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        (f"sdrs://eu_de/{PROJECT}/server-groups/{GROUP}", "region"),
        (f"sdrs://eu-de/{PROJECT[:-1]}/server-groups/{GROUP}", "project id"),
        (f"sdrs://eu-de/{PROJECT}/volumes/{GROUP}", "server-groups or disaster-recovery-drills"),
        (f"sdrs://eu-de/{PROJECT}/server-groups/{GROUP}/extra", "path"),
        (f"sdrs://eu-de/{PROJECT}/server-groups/a.b", "resource id"),
        (f"sdrs://eu-de/{PROJECT}/disaster-recovery-drills", "only server-groups"),
        (f"sdrs://eu-de:443/{PROJECT}/server-groups/{GROUP}", "port"),
        (f"sdrs://eu-de/{PROJECT}/server-groups/{GROUP}?x=1", "query"),
        ("sdrs://eu-de", "path"),
    ],
)
def test_bad_uris_are_refused_saying_what_is_wrong(uri, says):
    with pytest.raises(ValueError, match=says):
        Asset(uri=uri, name="bad")


def test_the_handler_keeps_airflows_contract():
    result = sanitize_uri(urlsplit(f"sdrs://EU-DE/{PROJECT}/drills/{GROUP.upper()}"))
    assert result.geturl() == f"sdrs://eu-de/{PROJECT}/disaster-recovery-drills/{GROUP}"
    assert sanitize_uri(result) == result  # idempotent


def test_the_provider_info_registers_the_scheme():
    from importlib import import_module

    from airflow_provider_sdrs.get_provider_info import get_provider_info

    (entry,) = get_provider_info()["asset-uris"]
    module, _, name = entry["handler"].rpartition(".")
    assert entry["schemes"] == ["sdrs"] and getattr(import_module(module), name) is sanitize_uri


@pytest.mark.parametrize(
    ("ids", "field"),
    [
        ({"server_group_id": ""}, "server_group_id"),
        ({"server_group_id": f"{GROUP}#x"}, "server_group_id"),
        ({"drill_id": f"{GROUP}#"}, "drill_id"),
        ({"drill_id": f"{GROUP}?x=1"}, "drill_id"),
    ],
)
def test_helpers_refuse_an_id_that_would_name_another_resource(ids, field):
    """An empty id (an unset variable) must not become every group of the project, nor "id#x" the group "id"."""
    with pytest.raises(ValueError, match=field):
        sdrs_uri(region="eu-de", project_id=PROJECT, **ids)
    with pytest.raises(ValueError, match=field):
        (drill_asset if "drill_id" in ids else protection_group_asset)(
            next(iter(ids.values())), region="eu-de", project_id=PROJECT
        )


def test_helpers_build_normalised_assets():
    group = protection_group_asset(GROUP.upper(), region="eu-de", project_id=PROJECT)
    assert (group.uri, group.name) == (CANONICAL, f"sdrs-group-{GROUP}")
    drill = drill_asset(GROUP, region="eu-de", project_id=PROJECT, name="weekly-drill")
    assert drill.uri == f"sdrs://eu-de/{PROJECT}/disaster-recovery-drills/{GROUP}" and drill.name == "weekly-drill"
    assert sdrs_uri(region="eu-de", project_id=PROJECT) == f"sdrs://eu-de/{PROJECT}/server-groups"
    with pytest.raises(ValueError, match="not both"):
        sdrs_uri(region="eu-de", project_id=PROJECT, server_group_id=GROUP, drill_id=GROUP)
    with pytest.raises(ValueError, match="region"):
        protection_group_asset(GROUP, region="", project_id=PROJECT)


# -- outlet extras ------------------------------------------------------------------------------------


def run_with_outlets(operator: Any) -> tuple[Any, OutletEventAccessors]:
    """Run an operator as the task runner and the triggerer would, with Airflow's outlet event accessors."""
    ti = TaskInstanceStandIn()
    events = OutletEventAccessors()
    context: Any = {"ti": ti, "outlet_events": events}
    step, arguments = operator.execute, {}
    while True:
        try:
            return step(context, **arguments), events
        except TaskDeferred as deferred:
            payload = asyncio.run(first_payload(deferred.trigger))
            step, arguments = getattr(operator, deferred.method_name), {**(deferred.kwargs or {}), "event": payload}


def group_outlet(sim, group_id: str) -> Asset:
    return protection_group_asset(group_id, region="eu-de", project_id=sim.credentials.project_id)


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_planned_failover_tells_its_sdrs_outlets_what_happened(deferrable, sdrs_connection):
    sim = sdrs_connection.simulator
    sim.resources.durations = (0.0, 0.1)
    group_id = sim.add_group(status="protected")
    mine = group_outlet(sim, group_id)
    other = Asset(uri="s3://bucket/report.json", name="report")
    operator = SdrsPlannedFailoverOperator(
        task_id="switch",
        server_group_id=group_id,
        outlets=[mine, other],
        deferrable=deferrable,
        poll_interval=0.05,
    )
    result, events = run_with_outlets(operator)
    extra = events[mine].extra
    assert extra == {
        "operation": "planned_failover",
        "action": "run a planned failover",
        "resource": "protection group",
        "server_group_id": group_id,
        "submitted": True,
        "job_id": result["job_id"],
        "job_status": "SUCCESS",
        "resource_status": "protected",
        "priority_station": "target",
        "duration_seconds": result["duration_seconds"],
        "sdrs_conn_id": "sdrs_default",
    }
    assert isinstance(extra["duration_seconds"], (int, float)) and extra["job_id"]
    assert events[other].extra == {}  # another scheme: left alone


def test_an_operation_already_done_says_nothing_was_submitted(sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="failed-over")
    mine = group_outlet(sim, group_id)
    _, events = run_with_outlets(SdrsFailoverOperator(task_id="failover", server_group_id=group_id, outlets=[mine]))
    extra = events[mine].extra
    assert extra["submitted"] is False and extra["job_id"] is None and extra["duration_seconds"] is None
    assert extra["resource_status"] == "failed-over" and extra["operation"] == "failover"
    assert sim.resources_view()["submissions"] == {}


def test_a_deleted_drill_is_reported_gone(sdrs_connection):
    sim = sdrs_connection.simulator
    sim.resources.durations = (0.0, 0.05)
    group_id = sim.add_group(status="protected")
    drill_id = sim.add_drill(group_id)
    outlet = drill_asset(drill_id, region="eu-de", project_id=sim.credentials.project_id)
    operator = SdrsDeleteDrillOperator(task_id="delete", drill_id=drill_id, outlets=[outlet], poll_interval=0.05)
    _, events = run_with_outlets(operator)
    assert events[outlet].extra["resource_status"] == "gone" and events[outlet].extra["drill_id"] == drill_id


def test_a_failed_operation_gives_no_extra(sdrs_connection):
    from airflow_provider_sdrs.exceptions import SdrsJobFailedError

    sim = sdrs_connection.simulator
    sim.resources.durations = (0.0, 0.05)
    group_id = sim.add_group(status="protected")
    sim.resources.fail_next("failoverProtectionGroupNoCG")
    mine = group_outlet(sim, group_id)
    events = OutletEventAccessors()
    operator = SdrsFailoverOperator(task_id="failover", server_group_id=group_id, outlets=[mine], poll_interval=0.05)
    with pytest.raises(SdrsJobFailedError):
        operator.execute({"ti": TaskInstanceStandIn(), "outlet_events": events})
    assert events[mine].extra == {}
