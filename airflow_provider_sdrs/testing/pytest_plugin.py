"""pytest fixtures for testing DAGs that use SDRS, offline.

Installed with the provider as the ``sdrs`` pytest plugin, so in any project's tests::

    def test_my_dag(sdrs_connection):
        job_id = sdrs_connection.simulator.add_job(run_seconds=1)
        ...  # dag.test(run_conf={"job_id": job_id})

Fixtures:

* ``sdrs_simulator`` — a running :class:`SdrsSimulator`, shared by the session, reset before each test;
* ``sdrs_connection`` — the same simulator, with the ``sdrs_default`` connection pointing at it (AK/SK)
  for the duration of the test; ``sdrs_connection.simulator`` is the simulator;
* ``sdrs_password_connection`` — the same with IAM password authentication.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from airflow_provider_sdrs.testing.simulator import SdrsSimulator


@dataclass(frozen=True)
class SimulatedConnection:
    conn_id: str
    simulator: SdrsSimulator
    auth_type: str


@pytest.fixture(scope="session")
def _sdrs_simulator_server() -> Iterator[SdrsSimulator]:
    with SdrsSimulator() as simulator:
        yield simulator


@pytest.fixture
def sdrs_simulator(_sdrs_simulator_server: SdrsSimulator) -> SdrsSimulator:
    """A running SDRS simulator with no jobs, faults or tokens."""
    _sdrs_simulator_server.reset()
    return _sdrs_simulator_server


def _connect(monkeypatch: pytest.MonkeyPatch, simulator: SdrsSimulator, auth_type: str) -> SimulatedConnection:
    from airflow_provider_sdrs._core.process import reset_process_caches

    reset_process_caches()
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", simulator.connection_json(auth_type))
    return SimulatedConnection("sdrs_default", simulator, auth_type)


@pytest.fixture
def sdrs_connection(monkeypatch: pytest.MonkeyPatch, sdrs_simulator: SdrsSimulator) -> SimulatedConnection:
    """``sdrs_default`` pointing at the simulator, with AK/SK signing."""
    return _connect(monkeypatch, sdrs_simulator, "aksk")


@pytest.fixture
def sdrs_password_connection(monkeypatch: pytest.MonkeyPatch, sdrs_simulator: SdrsSimulator) -> SimulatedConnection:
    """``sdrs_default`` pointing at the simulator, with IAM password authentication."""
    return _connect(monkeypatch, sdrs_simulator, "password")
