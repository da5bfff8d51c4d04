"""A local SDRS: the IAM token endpoint, the API gateway's authentication and SDRS jobs, over real HTTP.

It serves what the provider talks to, the way the cloud does it:

* ``POST /v3/auth/tokens``: project-scoped IAM tokens for its one user (HTTP 201, ``X-Subject-Token``);
* the gateway's authentication of every ``/v1/...`` request: a valid ``X-Auth-Token``, or an
  SDK-HMAC-SHA256 signature that it recomputes from the request as received, with the 15-minute
  ``X-Sdk-Date`` window; failures answer 401 as the gateway does;
* ``GET /v1/{project_id}/jobs/{job_id}``: jobs that move through scripted statuses over time, with
  sub-jobs, ``error_code``, ``fail_reason`` and begin/end times;
* protection groups and DR drills with the documented state machines, each change an asynchronous job;
* ``GET /v1/{project_id}/sdrs/quotas``: a cheap authenticated read, used by connection tests;
* fault injection, for every request or only some: error statuses, throttling with ``Retry-After``,
  delays, dropped connections, malformed or empty bodies, HTML error pages, revoked tokens, hostile
  documents and transports.

**It is an independent oracle.** It implements the SDRS, IAM and gateway APIs from their documentation
on its own, and deliberately shares no code with the provider: not its operation specs, state tables,
parsers or signer (``airflow_provider_sdrs._core``, the hooks, the operators). A test that passes
against it therefore checks the provider against a second, separate reading of the docs, and a
misreading in the provider cannot hide by being repeated here. Keep it that way: import nothing from
the provider into this package.

Modules: :mod:`.jobs` and :mod:`.resources` (the state machines), :mod:`.model` (that state behind a
lock), :mod:`.gateway` and :mod:`.iam` (authentication), :mod:`.routes` and :mod:`.api` (declared routes
and their handlers), :mod:`.faults` and :mod:`.transport` (fault injection), :mod:`.control` (the
``/_sim`` API), :mod:`.server` (:class:`SdrsSimulator`: scripting, the request pipeline, serving) and
:mod:`.cli`.

Use it in-process (``with SdrsSimulator() as sim:``), from pytest (the ``sdrs_simulator`` fixture), or as
a server: ``python -m airflow_provider_sdrs.testing.simulator --port 8080``. Other processes can drive it
through ``/_sim/...`` (see :meth:`SdrsSimulator.control_routes`). Tests and benchmarks can serve more
paths with :meth:`SdrsSimulator.add_route`.
"""

from __future__ import annotations

from airflow_provider_sdrs.testing.simulator.cli import main
from airflow_provider_sdrs.testing.simulator.credentials import PROJECT_ID, SimulatorCredentials, connection_for
from airflow_provider_sdrs.testing.simulator.faults import Fault
from airflow_provider_sdrs.testing.simulator.gateway import SKEW_LIMIT
from airflow_provider_sdrs.testing.simulator.jobs import NULL_JOB_CODE, SimJob, new_job_id
from airflow_provider_sdrs.testing.simulator.routes import Route
from airflow_provider_sdrs.testing.simulator.server import RequestRecord, SdrsSimulator

__all__ = [
    "NULL_JOB_CODE",
    "PROJECT_ID",
    "SKEW_LIMIT",
    "Fault",
    "RequestRecord",
    "Route",
    "SdrsSimulator",
    "SimJob",
    "SimulatorCredentials",
    "connection_for",
    "main",
    "new_job_id",
]
