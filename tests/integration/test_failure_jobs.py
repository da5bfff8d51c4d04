"""The task center's failed jobs, read through the hook from the simulator."""

from __future__ import annotations

import time

import pytest

from airflow_provider_sdrs.exceptions import SdrsValidationError
from airflow_provider_sdrs.hooks.sdrs import SdrsHook


def test_a_failed_failover_is_listed_for_its_group_only(sdrs_connection):
    sim = sdrs_connection.simulator
    sim.resources.durations = (0.0, 0.05)
    broken = sim.add_group(status="protected", name="broken")
    fine = sim.add_group(status="protected", name="fine")
    sim.resources.fail_next("failoverProtectionGroupNoCG")
    hook = SdrsHook()
    job_id = hook.failover(broken)
    time.sleep(0.2)
    assert hook.get_protection_group(broken)["status"] == "error-failing-over"
    (job,) = hook.list_failure_jobs(broken)
    assert (job["job_id"], job["job_type"], job["failure_status"]) == (
        job_id,
        "failoverProtectionGroupNoCG",
        "failoverFail",
    )
    assert hook.list_failure_jobs(fine) == []


def test_a_bad_group_id_is_refused_before_any_request(sdrs_connection):
    with pytest.raises(SdrsValidationError, match="server_group_id"):
        SdrsHook().list_failure_jobs("../x")
    assert sdrs_connection.simulator.records == []
