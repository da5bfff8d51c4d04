"""The fault matrix: every fault the network and the API can produce, in every sensor mode, at two doses.

Below the retry budget the sensor must report the job's true outcome (SUCCESS, or the job's FAIL); above it,
a "could not poll" error that is retryable, says what failed, and is never a job failure.

``SDRS_FAULT_MATRIX_OUT=docs/fault-matrix.md pytest tests/integration/test_fault_matrix.py`` (or
``make fault-matrix``) writes the observed outcomes as a table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout

from airflow_provider_sdrs.exceptions import SdrsError, SdrsJobFailedError
from tests.support import MODES, run_sensor

# One poll: 3 attempts. Deferrable: 2 failed polls in a row end the wait.
BUDGET = {"poll_retry_limit": 2, "max_poll_failures": 2}
BELOW = 2  # faulty answers in a row: fewer than one poll's attempts
# The simulator's IAM tokens start so; no message may carry one, even from a server that echoes the request.
TOKEN_PREFIX = "MIIsim"


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Any, str, int], None]  # (simulator, job id, count; -1 = until the end)
    says: str  # what the "could not poll" error must mention
    auth: str = "aksk"
    below: bool = True  # False: there is no harmless dose (a clock off by an hour stays off)
    timeout: float | None = None  # the connection's per-request timeout, seconds
    # Faulty answers in a row of the harmless dose. A fault the hook does not retry costs a whole poll per
    # answer, so its harmless dose is one answer (fewer than max_poll_failures polls).
    dose: int = BELOW
    extra: tuple[tuple[str, Any], ...] = ()  # other connection extras


def _status(code: int) -> Callable[[Any, str, int], None]:
    return lambda sim, job, n: sim.add_fault("status", status=code, job_id=job, count=n)


def _skew(sim: Any, job: str, n: int) -> None:
    sim.clock_offset = 3600.0


FAULTS = [
    Fault("HTTP 500", _status(500), "HTTP 500"),
    Fault("HTTP 502", _status(502), "HTTP 502"),
    Fault("HTTP 503", _status(503), "HTTP 503"),
    Fault("HTTP 504", _status(504), "HTTP 504"),
    Fault(
        "429 with Retry-After",
        lambda sim, job, n: sim.add_fault("throttle", retry_after="0", job_id=job, count=n),
        "HTTP 429",
    ),
    Fault("429 without Retry-After", lambda sim, job, n: sim.add_fault("throttle", job_id=job, count=n), "HTTP 429"),
    Fault("connection reset", lambda sim, job, n: sim.add_fault("reset", job_id=job, count=n), "reset"),
    Fault(
        "read timeout",
        lambda sim, job, n: sim.add_fault("delay", delay=0.6, job_id=job, count=n),
        "timeout",
        timeout=0.2,
    ),
    Fault("malformed JSON", lambda sim, job, n: sim.add_fault("malformed", job_id=job, count=n), "not a JSON object"),
    Fault("empty body", lambda sim, job, n: sim.add_fault("empty", job_id=job, count=n), "empty body"),
    Fault(
        "HTML error page",
        lambda sim, job, n: sim.add_fault("html", status=502, job_id=job, count=n),
        "HTTP 502",
    ),
    Fault(
        "IAM token expired mid-wait",
        lambda sim, job, n: sim.add_fault("revoke_tokens", job_id=job, count=1 if n > 0 else -1),
        "401",
        auth="password",
    ),
    Fault(
        "IAM endpoint down",
        lambda sim, job, n: sim.add_fault("status", status=503, target="iam", count=n),
        "HTTP 503",
        auth="password",
    ),
    Fault("clock skew (signature refused)", _skew, "15 minutes", below=False),
    # Hostile answers: each ends as a failed poll, never as the job's outcome.
    Fault(
        "gateway 404 (APIGW) after the job was seen",
        lambda sim, job, n: sim.add_fault("gateway_404", job_id=job, count=n, after=1),
        "APIGW.0101",
        dose=1,
    ),
    Fault(
        "another job's document",
        lambda sim, job, n: sim.add_fault("other_job", job_id=job, count=n, after=1),
        "instead of job",
        dose=1,
    ),
    Fault(
        "body over max_response_bytes",
        lambda sim, job, n: sim.add_fault("oversized", size=600 * 2**20, job_id=job, count=n),
        "max_response_bytes",
        dose=1,
    ),
    Fault(
        "gzip bomb",
        lambda sim, job, n: sim.add_fault("gzip_bomb", size=1024 * 2**20, job_id=job, count=n),
        "max_response_bytes",
        dose=1,
    ),
    Fault(
        "body trickling a byte at a time",
        lambda sim, job, n: sim.add_fault("trickle", part="body", delay=0.1, size=200, job_id=job, count=n),
        "timeout",
        timeout=0.3,
    ),
    Fault(
        "black hole (never answers)",
        lambda sim, job, n: sim.add_fault("black_hole", delay=2.0, job_id=job, count=n),
        "timeout",
        timeout=0.2,
    ),
    Fault(
        "NaN / Infinity in the document",
        lambda sim, job, n: sim.add_fault("non_finite", number="Infinity", job_id=job, count=n),
        "non-finite",
    ),
    Fault(
        "JSON nested 100,000 deep",
        lambda sim, job, n: sim.add_fault("deep", job_id=job, count=n),
        "nest",
    ),
    Fault(
        "error page echoing the request",
        lambda sim, job, n: sim.add_fault("echo", status=502, job_id=job, count=n),
        "HTTP 502",
        auth="password",
    ),
]
RESULTS: list[tuple[str, str, str, str]] = []


def describe(outcome: Any) -> str:
    if isinstance(outcome, dict):
        return f"job {outcome['status']}"
    if isinstance(outcome, SdrsJobFailedError):
        return "job FAIL: SdrsJobFailedError (not retried)"
    if isinstance(outcome, AirflowSensorTimeout):
        return "AirflowSensorTimeout"
    return f"could not poll: {type(outcome).__name__} (retryable)"


def attempt(mode: str, job_id: str, **kwargs: Any) -> Any:
    try:
        return run_sensor(mode, job_id, **kwargs)
    except Exception as error:
        return error


def connect(sim: Any, monkeypatch: pytest.MonkeyPatch, fault: Fault) -> None:
    overrides: dict[str, Any] = {"timeout": fault.timeout} if fault.timeout else {}
    overrides.update(fault.extra)
    monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", sim.connection_json(fault.auth, **overrides))


@pytest.fixture(scope="module", autouse=True)
def _table() -> Any:
    yield
    out = os.environ.get("SDRS_FAULT_MATRIX_OUT")
    if out and RESULTS:
        write_table(Path(out))


@pytest.mark.parametrize("outcome", ["SUCCESS", "FAIL"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", [f for f in FAULTS if f.below], ids=lambda f: f.name)
def test_below_the_retry_budget_the_true_outcome_is_reported(sdrs_connection, monkeypatch, fault, mode, outcome):
    sim = sdrs_connection.simulator
    connect(sim, monkeypatch, fault)
    job_id = sim.add_job(init_seconds=0, run_seconds=0.2, outcome=outcome, clock_from_first_poll=True)
    fault.inject(sim, job_id, fault.dose)
    result = attempt(mode, job_id, **BUDGET)
    RESULTS.append((fault.name, mode, f"below ({fault.dose}), job {outcome}", describe(result)))
    if outcome == "SUCCESS":
        assert isinstance(result, dict) and result["status"] == "SUCCESS", result
    else:
        assert isinstance(result, SdrsJobFailedError), result
        assert "SDRS.0206" in str(result)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_above_the_retry_budget_it_is_a_retryable_could_not_poll_error(sdrs_connection, monkeypatch, fault, mode):
    sim = sdrs_connection.simulator
    connect(sim, monkeypatch, fault)
    job_id = sim.add_job(lifecycle=[("RUNNING", 0)])
    fault.inject(sim, job_id, -1)
    result = attempt(mode, job_id, timeout=30, **BUDGET)
    RESULTS.append((fault.name, mode, "above", describe(result)))
    assert isinstance(result, SdrsError), result
    assert not isinstance(result, (AirflowFailException, SdrsJobFailedError)), result
    assert fault.says in str(result) and job_id in str(result), str(result)
    secrets = (sim.credentials.secret_key, sim.credentials.password, TOKEN_PREFIX)
    assert "\n" not in str(result) and not any(secret in str(result) for secret in secrets), str(result)


SHAPES = {
    "unknown status, then SUCCESS": {"lifecycle": [("RUNNING", 0.1), ("PAUSED", 0.2), ("SUCCESS", 0)]},
    "RUNNING flips back to INIT": {"lifecycle": [("RUNNING", 0.1), ("INIT", 0.1), ("RUNNING", 0.1), ("SUCCESS", 0)]},
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_odd_but_valid_lifecycles_end_with_the_true_outcome(sdrs_connection, mode, shape):
    job_id = sdrs_connection.simulator.add_job(clock_from_first_poll=True, **SHAPES[shape])
    result = attempt(mode, job_id)
    RESULTS.append((shape, mode, "-", describe(result)))
    assert isinstance(result, dict) and result["status"] == "SUCCESS", result


HOSTILE_DOCUMENTS: dict[str, dict[str, Any]] = {
    "100,000 sub-jobs": {"kind": "huge_sub_jobs"},
    "control characters and 1 MB of fail_reason": {"kind": "control_chars"},
}


@pytest.mark.parametrize("outcome", ["SUCCESS", "FAIL"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("document", sorted(HOSTILE_DOCUMENTS))
def test_hostile_but_valid_documents_give_the_true_outcome_in_bounded_text(sdrs_connection, mode, document, outcome):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0.2, outcome=outcome, clock_from_first_poll=True)
    sim.add_fault(job_id=job_id, count=-1, **HOSTILE_DOCUMENTS[document])
    result = attempt(mode, job_id)
    RESULTS.append((f"job document: {document}", mode, f"-, job {outcome}", describe(result)))
    text = json.dumps(result, allow_nan=False) if isinstance(result, dict) else str(result)
    assert len(text) < 64 * 1024 and "\r\n[" not in text and "\x1b" not in text, text[:500]
    if outcome == "SUCCESS":
        assert isinstance(result, dict) and result["status"] == "SUCCESS", result
    else:
        assert isinstance(result, SdrsJobFailedError), result


RESHAPES: dict[str, dict[str, Any]] = {
    "fields missing (times, entities, job_type)": {"drop": ("begin_time", "end_time", "entities", "job_type")},
    "extra fields": {"add": {"progress": 50, "region": {"id": "eu-de"}, "tags": ["x"]}},
    "status missing": {"drop": ("status",)},
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reshape", sorted(RESHAPES))
def test_a_job_document_that_changes_shape_mid_wait_is_read_sensibly(sdrs_connection, mode, reshape):
    sim = sdrs_connection.simulator
    job_id = sim.add_job(init_seconds=0, run_seconds=0.3, clock_from_first_poll=True)
    sim.add_fault("reshape", job_id=job_id, count=2, **RESHAPES[reshape])
    result = attempt(mode, job_id)
    RESULTS.append((f"job document: {reshape}", mode, "-", describe(result)))
    assert isinstance(result, dict) and result["status"] == "SUCCESS", result


@pytest.mark.parametrize("mode", MODES)
def test_a_job_that_never_ends_times_out_in_every_mode(sdrs_connection, mode):
    job_id = sdrs_connection.simulator.add_job(lifecycle=[("RUNNING", 0)])
    result = attempt(mode, job_id, timeout=0.5)
    RESULTS.append(("job never ends", mode, "-", describe(result)))
    assert isinstance(result, AirflowSensorTimeout), result


def write_table(path: Path) -> None:
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for name, mode, dose, outcome in RESULTS:
        rows.setdefault((name, dose), {})[mode] = outcome
    lines = [
        "# Fault matrix",
        "",
        "Observed by `tests/integration/test_fault_matrix.py` (regenerate: `make fault-matrix`). One poll may make",
        f"{BUDGET['poll_retry_limit'] + 1} attempts; a wait (in every mode) gives up after "
        f"{BUDGET['max_poll_failures']} failed polls in a row. *Below (n)* = n faulty answers in a row (one for a "
        "fault the hook does not retry, such as an oversized or foreign answer: each costs a poll), *above* = "
        "every answer faulty. *Above* always ends in a retryable error that names the job and what failed, on one "
        "line, with no secret in it; a hostile answer's content is never used.",
        "",
        "| fault | dose | " + " | ".join(MODES) + " |",
        "|---|---|" + "---|" * len(MODES),
    ]
    for (name, dose), by_mode in rows.items():
        lines.append(f"| {name} | {dose} | " + " | ".join(by_mode.get(mode, "") for mode in MODES) + " |")
    path.write_text("\n".join(lines) + "\n")
    print(json.dumps({"fault_matrix": str(path), "rows": len(rows)}))
