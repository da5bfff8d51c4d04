"""The core's work for one poll of a job, step by step, without any I/O.

Each poll builds and authenticates ``GET /v1/{project}/jobs/{job_id}`` (AK/SK signing, or an IAM token),
decodes the answer as strict JSON, and turns the document into an :class:`SdrsJob` (bounded, escaped,
scrubbed, id-checked). This times each step over many iterations of a typical job document, the one the
simulator serves, and prints microseconds per call::

    .venv/bin/python benchmarks/core_per_poll.py              # 20,000 iterations, best of 5
    .venv/bin/python benchmarks/core_per_poll.py --profile    # and a cProfile of each step

The connection's secrets and a token are remembered first, as they are in a running worker or triggerer,
so that scrubbing does the work it does there.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
import timeit
from collections.abc import Callable
from typing import Any

from airflow_provider_sdrs._core.body import decode_json
from airflow_provider_sdrs._core.exchange import build_api_request, job_call
from airflow_provider_sdrs._core.http import HttpResponse
from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs._core.text import remember_secret
from airflow_provider_sdrs._core.tokens import IamToken

JOB_ID = "0000000062db92d70162db9d200f000a"
PROJECT = "0123456789abcdef0123456789abcdef"


def _settings(auth_type: str) -> SdrsSettings:
    extra: dict[str, Any] = {"auth_type": auth_type, "project_id": PROJECT}
    if auth_type == "password":
        extra["domain_name"] = "acme"
    return SdrsSettings.from_fields(
        conn_id="sdrs_bench",
        host="https://sdrs.eu-de.otc.t-systems.com",
        port=None,
        login="AKIDEXAMPLEACCESSKEY" if auth_type == "aksk" else "dr-operator",
        password="sk-EXAMPLE-secret-key-0123456789abcdefghij",
        extra=extra,
    )


def job_document(sub_jobs: int = 0) -> dict[str, Any]:
    """A job as the simulator (and SDRS) sends it while it runs."""

    def one(job_id: str, job_type: str) -> dict[str, Any]:
        return {
            "job_id": job_id,
            "job_type": job_type,
            "status": "RUNNING",
            "entities": {"server_group_id": "5a8e3c1f-6f0b-4a4e-9d55-2b1c9e7f0a11"},
            "begin_time": "2024-05-02T09:41:07.123Z",
            "end_time": None,
            "error_code": None,
            "fail_reason": None,
        }

    document = one(JOB_ID, "createDisasterRecoveryDrill")
    if sub_jobs:
        document["entities"]["sub_jobs"] = [
            one(f"{index:032x}", "createDisasterRecoveryDrillSub") for index in range(1, sub_jobs + 1)
        ]
    return document


def steps() -> dict[str, Callable[[], Any]]:
    from airflow_provider_sdrs._core.answers import job_from_answer

    aksk = _settings("aksk")
    password = _settings("password")
    now = time.time()
    token = IamToken("MIIT" + "x" * 6000, now + 86400, now, PROJECT)
    for secret in (*aksk.secrets, *password.secrets, token.value):
        remember_secret(secret)
    call = job_call(JOB_ID)
    body = json.dumps(job_document()).encode()
    body_subs = json.dumps(job_document(sub_jobs=3)).encode()
    response = HttpResponse(200, {"content-type": "application/json"}, body)
    response_subs = HttpResponse(200, {"content-type": "application/json"}, body_subs)
    secrets = aksk.secrets
    document = decode_json(response, call.operation, secrets)
    document_subs = decode_json(response_subs, call.operation, secrets)
    return {
        "build_api_request (AK/SK)": lambda: build_api_request(aksk, call, project_id=PROJECT, token=None),
        "build_api_request (token)": lambda: build_api_request(password, call, project_id=PROJECT, token=token),
        "decode_json": lambda: decode_json(response, call.operation, secrets),
        "job_from_answer": lambda: job_from_answer(document, JOB_ID),
        "job_from_answer (3 sub-jobs)": lambda: job_from_answer(document_subs, JOB_ID),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each step")
    args = parser.parse_args()
    measured = steps()
    total = 0.0
    for name, step in measured.items():
        step()  # warm: first-call imports and caches are not a poll's cost
        best = min(timeit.repeat(step, number=args.iterations, repeat=args.repeat)) / args.iterations
        if "sub-jobs" not in name and "token" not in name:
            total += best
        print(f"{name:32s} {best * 1e6:8.2f} µs")
    print(f"{'one AK/SK poll (the rows above)':32s} {total * 1e6:8.2f} µs")
    if args.profile:
        for name, step in measured.items():
            print(f"\n== {name}")
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.iterations):
                step()
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
