"""Every way of waiting decides each poll through the one decision, ``Watch.judge``.

The decision is replaced here by a recorder that calls the real one: a mode that judged a poll by itself (as
the sensor's poke once did) would leave the recorder short of the polls the simulator served.
"""

from __future__ import annotations

import pytest

from airflow_provider_sdrs._waiting import Watch
from airflow_provider_sdrs.operators.sdrs import SdrsFailoverOperator
from tests.support import MODES, run_operator, run_sensor


@pytest.fixture
def judged(monkeypatch):
    seen: list[str] = []
    real = Watch.judge

    def recording(self, outcome):
        seen.append(type(self).__name__)
        return real(self, outcome)

    monkeypatch.setattr(Watch, "judge", recording)
    return seen


@pytest.mark.parametrize("mode", MODES)
def test_the_sensor_judges_every_poll_through_the_one_decision(mode, sdrs_connection, judged):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0.1, run_seconds=0.2)
    assert run_sensor(mode, job_id)["status"] == "SUCCESS"
    assert judged and set(judged) == {"JobWatch"}
    assert len(judged) == sim.job_polls(job_id)


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferrable"])
def test_operators_judge_every_poll_of_the_job_and_of_an_operation_in_progress(sdrs_connection, judged, deferrable):
    sim = sdrs_connection.simulator
    sim.resources.durations = (0.1, 0.3)
    group_id = sim.add_group(status="protected")
    sim.add_fault("lost_answer", target="submit", count=1)
    with pytest.raises(Exception, match="may have reached SDRS"):
        run_operator(SdrsFailoverOperator(task_id="failover", server_group_id=group_id, poll_interval=0.05))
    judged.clear()

    operator = SdrsFailoverOperator(
        task_id="failover", server_group_id=group_id, poll_interval=0.05, deferrable=deferrable
    )
    result, ti = run_operator(operator)
    assert result["submitted"] is False and result["resource_status"] == "failed-over"
    # The wait for the failover already in progress: in the worker, or in SdrsResourceTrigger.
    assert judged and set(judged) == {"ResourceWatch"}
    assert len(ti.deferrals) == (1 if deferrable else 0)
