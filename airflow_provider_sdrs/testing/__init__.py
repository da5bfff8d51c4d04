"""Offline testing support: a local SDRS simulator and pytest fixtures around it.

>>> from airflow_provider_sdrs.testing import SdrsSimulator
>>> with SdrsSimulator() as sim:  # doctest: +SKIP
...     job_id = sim.add_job(run_seconds=2)
...     # point an ``sdrs`` connection at sim.connection_json() and wait on job_id
"""

from __future__ import annotations

from airflow_provider_sdrs.testing.simulator import Fault, SdrsSimulator, SimulatorCredentials

__all__ = ["Fault", "SdrsSimulator", "SimulatorCredentials"]
