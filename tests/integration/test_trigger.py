"""SdrsJobTrigger on its own: events, serialization, recovery, deadline, connection lookup."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from airflow_provider_sdrs.hooks.sdrs import SdrsHook
from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger
from tests.support import first_payload


def run(trigger: SdrsJobTrigger) -> dict:
    return asyncio.run(first_payload(trigger))


def trigger_for(job_id: str, **kwargs) -> SdrsJobTrigger:
    options = {"poll_interval": 0.05, "poll_retry_delay": 0.01, "end_time": time.time() + 10, **kwargs}
    return SdrsJobTrigger(job_id=job_id, **options)


def test_serialize_round_trips_with_json_safe_secret_free_kwargs(sdrs_connection):
    import json

    trigger = trigger_for("0000000062db92d70162db9d200f000a", end_time=1_900_000_000.0)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_sdrs.triggers.sdrs.SdrsJobTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert SdrsJobTrigger(**kwargs).serialize() == (classpath, kwargs)
    conn = sdrs_connection.simulator.connection_dict()
    text = json.dumps(kwargs) + repr(trigger)
    assert conn["password"] not in text and conn["login"] not in text
    try:
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:  # Airflow 3.1
        from airflow.serialization.serde import deserialize, serialize
    assert deserialize(serialize(kwargs)) == kwargs


def test_bad_job_id_is_refused_when_the_trigger_is_built():
    from airflow_provider_sdrs.exceptions import SdrsValidationError

    with pytest.raises(SdrsValidationError):
        SdrsJobTrigger(job_id="../../etc")


def test_success_event_carries_the_job(sdrs_connection):
    job_id = sdrs_connection.simulator.add_job(run_seconds=0.2, clock_from_first_poll=True)
    event = run(trigger_for(job_id))
    assert event["status"] == "success" and event["job_id"] == job_id
    assert event["job"]["status"] == "SUCCESS" and "succeeded" in event["message"]


def test_failed_event_names_code_and_reason(sdrs_connection):
    job_id = sdrs_connection.simulator.add_job(
        outcome="FAIL", run_seconds=0.1, error_code="SDRS.1003", fail_reason="the group has a drill"
    )
    event = run(trigger_for(job_id))
    assert event["status"] == "failed"
    assert "SDRS.1003" in event["message"] and "the group has a drill" in event["message"]
    assert event["job"]["error_code"] == "SDRS.1003"


def test_timeout_event_when_the_deadline_passes(sdrs_connection):
    job_id = sdrs_connection.simulator.add_job(lifecycle=[("RUNNING", 0)])
    started = time.monotonic()
    event = run(trigger_for(job_id, end_time=time.time() + 0.4, poll_interval=5))
    assert event["status"] == "timeout" and "RUNNING" in event["message"]
    assert 0.3 < time.monotonic() - started < 3


def test_a_deadline_already_passed_times_out_at_once(sdrs_connection):
    job_id = sdrs_connection.simulator.add_job(lifecycle=[("RUNNING", 0)])
    assert run(trigger_for(job_id, end_time=time.time() - 1))["status"] == "timeout"


def test_transient_failures_do_not_end_the_wait(sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(run_seconds=0.3, clock_from_first_poll=True)
    # Each poll gives up after one retry, so these make two failed polls in a row.
    sim.add_fault("status", status=502, count=4, job_id=job_id)
    event = run(trigger_for(job_id, poll_retry_limit=1, max_poll_failures=3))
    assert event["status"] == "success"


def test_sustained_failures_end_in_an_error_event_not_a_failed_one(sdrs_connection):
    sim = sdrs_connection.simulator
    job_id = sim.add_job()
    sim.add_fault("status", status=503, count=-1, job_id=job_id)
    event = run(trigger_for(job_id, poll_retry_limit=1, max_poll_failures=2))
    assert event["status"] == "error" and event["job"] is None
    assert "2 times in a row" in event["message"] and "HTTP 503" in event["message"]


def test_unknown_job_error_event_after_grace(sdrs_connection):
    event = run(trigger_for("0000000062db92d70162db9d200f000a", not_found_grace=0.2))
    assert event["status"] == "error" and event["reason"] == "not_found"


def test_bad_credentials_end_the_wait_at_once(sdrs_connection, monkeypatch):
    import json

    conn = sdrs_connection.simulator.connection_dict()
    conn["password"] = "wrong-secret-key-123"
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(conn))
    event = run(trigger_for(sdrs_connection.simulator.add_job()))
    assert event["status"] == "error" and "HTTP 401" in event["message"]
    assert "wrong-secret-key-123" not in json.dumps(event)


def test_a_broken_connection_is_an_error_event(monkeypatch, sdrs_simulator):
    import json

    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps({"conn_type": "sdrs", "login": "AK", "password": "x"}))
    event = run(trigger_for("0000000062db92d70162db9d200f000a"))
    assert event["status"] == "error" and "extra.project_id" in event["message"]


def run_recording_loop_thread(job_id: str) -> tuple[dict, int]:
    """Run a trigger to its event; return the event and the thread id of its event loop."""
    loop_thread: list[int] = []

    async def main():
        loop_thread.append(threading.get_ident())
        async for event in trigger_for(job_id).run():
            return event.payload

    return asyncio.run(main()), loop_thread[0]


def test_the_blocking_connection_lookup_never_runs_on_the_event_loop(sdrs_connection, monkeypatch):
    lookup_threads: list[int] = []
    original = SdrsHook.get_connection.__func__

    def spy(cls, conn_id):
        lookup_threads.append(threading.get_ident())
        return original(cls, conn_id)

    monkeypatch.setattr(SdrsHook, "get_connection", classmethod(spy))
    event, loop_thread = run_recording_loop_thread(sdrs_connection.simulator.add_job(run_seconds=0.1))
    assert event["status"] == "success"
    assert loop_thread not in lookup_threads


def test_each_status_change_is_logged_once(sdrs_connection, capsys):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0.2, run_seconds=0.3, clock_from_first_poll=True)
    run(trigger_for(job_id))
    lines = [line for line in capsys.readouterr().out.splitlines() if f"SDRS job {job_id}" in line]
    statuses = [line.split(" is ")[1].split(" after")[0] for line in lines if "[info" in line]
    assert statuses == ["INIT", "RUNNING", "SUCCESS"]
    assert sim.job_polls(job_id) > len(statuses)


def test_the_connection_extra_is_never_decoded_on_the_event_loop(sdrs_connection, monkeypatch):
    # Connection.extra_dejson masks secrets through a blocking supervisor call in a real triggerer.
    from airflow.providers.common.compat.sdk import Connection

    reads: list[int] = []
    original = Connection.extra_dejson

    def spy(self):
        reads.append(threading.get_ident())
        return original.fget(self)

    monkeypatch.setattr(Connection, "extra_dejson", property(spy))
    event, loop_thread = run_recording_loop_thread(sdrs_connection.simulator.add_job(run_seconds=0.1))
    assert event["status"] == "success"
    assert loop_thread not in reads


def test_a_job_answered_the_same_poll_after_poll_is_parsed_once_per_change(sdrs_connection, monkeypatch):
    from airflow_provider_sdrs.models import SdrsJob

    parsed: list[str] = []
    from_api = SdrsJob.from_api.__func__

    def counting(cls, document, *args, **kwargs):
        parsed.append(document.get("status"))
        return from_api(cls, document, *args, **kwargs)

    monkeypatch.setattr(SdrsJob, "from_api", classmethod(counting))
    simulator = sdrs_connection.simulator
    job_id = simulator.add_job(lifecycle=[("RUNNING", 0.6), ("SUCCESS", 0)], clock_from_first_poll=True)
    event = run(trigger_for(job_id))
    assert event["status"] == "success" and event["job"]["status"] == "SUCCESS"
    assert simulator.job_polls(job_id) >= 5
    # Once for RUNNING, once for SUCCESS: the same RUNNING answer was not parsed again.
    assert parsed == ["RUNNING", "SUCCESS"]
