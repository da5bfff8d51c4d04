"""Hostile and malformed ids are refused before any request, at every entry point; so are bad connections."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs.exceptions import SdrsConfigError, SdrsValidationError
from airflow_provider_sdrs.hooks.sdrs import SdrsHook
from airflow_provider_sdrs.operators.sdrs import (
    SdrsCreateDrillOperator,
    SdrsDeleteDrillOperator,
    SdrsFailoverOperator,
    SdrsPlannedFailoverOperator,
)
from airflow_provider_sdrs.sensors.sdrs import SdrsJobSensor
from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger
from tests.support import TaskInstanceStandIn

HOSTILE: list[Any] = [
    "../jobs/other",
    "..",
    "a/b",
    "abc%2Fdef",
    "%2e%2e",
    "abc?x=1",
    "abc#frag",
    "abc def",
    " abc",
    "abc\n",
    "\t",
    "",
    "jöb",
    "\uff4a\uff4f\uff42",  # "job" in full-width letters
    "a" * 10_000,
    None,
    42,
    ["abc"],
]
IDS = [repr(value)[:20] for value in HOSTILE]


def requests_seen(sim) -> int:
    return sum(sim.counters[route] for route in ("api", "job", "iam", "other"))


def entry_points(bad: Any) -> dict[str, Callable[[], Any]]:
    hook = SdrsHook(retry_delay=0.01)
    context: Any = {"ti": TaskInstanceStandIn()}

    async def aget() -> Any:
        async with SdrsHook() as async_hook:
            return await async_hook.aget_job(bad)

    return {
        "hook.get_job": lambda: hook.get_job(bad),
        "hook.aget_job": lambda: asyncio.run(aget()),
        "hook.get_protection_group": lambda: hook.get_protection_group(bad),
        "hook.get_drill": lambda: hook.get_drill(bad),
        "hook.list_drills": lambda: hook.list_drills(bad),
        "hook.failover": lambda: hook.failover(bad),
        "hook.delete_drill": lambda: hook.delete_drill(bad),
        "hook.create_drill(group)": lambda: hook.create_drill(bad, "drill"),
        "hook.create_drill(vpc)": lambda: hook.create_drill("abc", "drill", drill_vpc_id=bad),
        "trigger": lambda: SdrsJobTrigger(job_id=bad),
        "sensor": lambda: SdrsJobSensor(task_id="s", job_id=bad, deferrable=True).execute(context),
        "failover operator": lambda: SdrsFailoverOperator(task_id="o", server_group_id=bad).execute(context),
        "planned failover operator": lambda: SdrsPlannedFailoverOperator(task_id="o", server_group_id=bad).execute(
            context
        ),
        "create drill operator": lambda: SdrsCreateDrillOperator(task_id="o", server_group_id=bad, name="d").execute(
            context
        ),
        "delete drill operator": lambda: SdrsDeleteDrillOperator(task_id="o", drill_id=bad).execute(context),
    }


ENTRY_POINTS = sorted(entry_points("x"))


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("bad", HOSTILE, ids=IDS)
def test_hostile_ids_are_refused_before_any_request(sdrs_connection, entry, bad):
    sim = sdrs_connection.simulator
    if bad is None and entry in ("hook.create_drill(vpc)", "hook.list_drills"):
        pytest.skip("None is meaningful there: SDRS picks the VPC / every drill of the project")
    call = entry_points(bad)[entry]
    with pytest.raises((SdrsValidationError, AirflowFailException)) as refused:
        call()
    if isinstance(refused.value, AirflowFailException):
        # Tasks fail for good (a bad id does not get better on retry), naming the field.
        assert "_id" in str(refused.value)
    else:
        assert refused.value.field.endswith("_id")
    assert len(str(refused.value)) < 300  # a 10 kB id is not echoed whole
    assert requests_seen(sim) == 0
    assert all(str(bad) not in record.raw_path for record in sim.records if bad)


CONNECTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("no login", {"login": None}, "login"),
    ("no secret", {"password": None}, "password"),
    ("bad auth type", {"extra": {"auth_type": "kerberos"}}, "extra.auth_type"),
    ("bad cloud", {"extra": {"cloud": "aws"}}, "extra.cloud"),
    ("bad region", {"extra": {"region": "eu de/1"}}, "extra.region"),
    ("aksk without project", {"extra": {"project_id": None}}, "extra.project_id"),
    ("bad project id", {"extra": {"project_id": "../x"}}, "extra.project_id"),
    ("host not http", {"host": "ftp://sdrs.example"}, "host"),
    ("host with credentials", {"host": "https://user:pw@sdrs.example"}, "host"),
    ("bad iam endpoint", {"extra": {"iam_endpoint": "ftp://iam"}}, "extra.iam_endpoint"),
    ("bad verify", {"extra": {"verify": "maybe-not"}}, "extra.verify"),
    ("bad timeout", {"extra": {"timeout": "soon"}}, "extra.timeout"),
    ("negative timeout", {"extra": {"timeout": -1}}, "extra.timeout"),
    ("bad proxy", {"extra": {"proxy": "socks5://p"}}, "extra.proxy"),
    ("bad console url", {"extra": {"console_url": "javascript:alert(1)"}}, "extra.console_url"),
    ("extra not an object", {"extra": ["region"]}, "extra"),
    ("password auth without domain", {"extra": {"auth_type": "password"}}, "extra.domain_name"),
]


@pytest.mark.parametrize(("case", "change", "field"), CONNECTIONS, ids=[c[0] for c in CONNECTIONS])
def test_every_bad_connection_field_is_named_before_any_request(sdrs_connection, monkeypatch, case, change, field):
    sim = sdrs_connection.simulator
    conn = json.loads(os.environ["AIRFLOW_CONN_SDRS_DEFAULT"])
    for key, value in change.items():
        if key == "extra" and isinstance(value, dict):
            conn["extra"].update(value)
            conn["extra"] = {k: v for k, v in conn["extra"].items() if v is not None}
        else:
            conn[key] = value
    if isinstance(conn.get("extra"), dict) and conn["extra"].get("auth_type") == "password":
        conn["extra"].pop("domain_name", None)
    with pytest.raises(SdrsConfigError) as error:
        if isinstance(conn.get("extra"), list):
            # Airflow 3.1 cannot even load such a connection from an environment variable: read it directly.
            SdrsSettings.from_connection(SimpleNamespace(**{**conn, "conn_id": "sdrs_default", "extra": '["region"]'}))
        else:
            monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(conn))
            SdrsHook().get_job("0123456789abcdef0123456789abcdef")
    assert error.value.field.startswith(field), str(error.value)  # e.g. "login (access key)"
    assert f"'{error.value.field}'" in str(error.value)
    assert requests_seen(sim) == 0
