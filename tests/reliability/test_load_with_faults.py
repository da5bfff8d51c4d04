"""1,000 deferred waits in one event loop while ~10% of the requests fail transiently.

Every wait must end with its job's true outcome, and the event loop must end with no more tasks, sockets or
memory than the waits need. The simulator runs in its own process, so every socket counted here is a
client's. The figures are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_sdrs.testing.simulator import connection_for
from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger
from tests.support import first_payload

WAITS = 1000
POOL_SIZE = 64
FAULT_RATE = 0.05  # per fault kind; two kinds: ~10% of the job reads fail


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def control(url: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"{}")


@pytest.fixture
def simulator_url(monkeypatch) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_sdrs.testing.simulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                control(url, "GET", "/_sim/stats")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        monkeypatch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", json.dumps(connection_for(url, "aksk")))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def wait_all(triggers: list[SdrsJobTrigger]) -> tuple[list[dict[str, Any]], int]:
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, len(asyncio.all_tasks()))
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    payloads = await asyncio.gather(*(first_payload(trigger) for trigger in triggers))
    watcher.cancel()
    await asyncio.sleep(0.1)  # let the last session close
    leftover = len(asyncio.all_tasks()) - 1  # this coroutine's own task
    return list(payloads), leftover if leftover >= 0 else 0


def test_a_thousand_waits_with_transient_faults_all_end_with_their_true_outcome(simulator_url, capsys):
    outcomes = {}
    for index in range(WAITS):
        outcome = "FAIL" if index % 10 == 0 else "SUCCESS"
        job = control(
            simulator_url,
            "POST",
            "/_sim/jobs",
            {"init_seconds": 0.5, "run_seconds": 1.5 + (index % 7) * 0.2, "outcome": outcome},
        )
        outcomes[job["job_id"]] = outcome
    for kind in ("status", "reset"):
        control(
            simulator_url,
            "POST",
            "/_sim/faults",
            {"kind": kind, "status": 503, "target": "job", "count": -1, "probability": FAULT_RATE},
        )

    triggers = [
        SdrsJobTrigger(job_id=job_id, poll_interval=0.5, end_time=time.time() + 120, poll_retry_delay=0.05)
        for job_id in outcomes
    ]
    sockets_before, rss_before = sockets(), rss_kb()
    started = time.monotonic()
    payloads, leftover_tasks = asyncio.run(wait_all(triggers))
    elapsed = time.monotonic() - started
    sockets_after, rss_after = sockets(), rss_kb()
    stats = control(simulator_url, "GET", "/_sim/stats")

    wrong = [
        (p["job_id"], p["status"], p["message"])
        for p in payloads
        if p["status"] != {"SUCCESS": "success", "FAIL": "failed"}[outcomes[p["job_id"]]]
    ]
    faults = stats.get("job:503", 0) + stats.get("job:599", 0)
    figures = {
        "waits": WAITS,
        "seconds": round(elapsed, 1),
        "job reads": stats.get("job", 0),
        "faulty answers": faults,
        "resets": stats.get("job:599", 0),
        "fault share": round(faults / max(1, stats.get("job", 1)), 3),
        "wrong outcomes": len(wrong),
        "connections opened": stats.get("connections"),
        "sockets before/after": f"{sockets_before}/{sockets_after}",
        "tasks left in the loop": leftover_tasks,
        "RSS growth KB": rss_after - rss_before,
    }
    with capsys.disabled():
        print("\nload with faults:", json.dumps(figures))

    assert wrong == [], wrong[:5]
    assert 0.05 < figures["fault share"] < 0.2, figures  # the faults really were there
    assert leftover_tasks == 0, figures
    assert sockets_after <= sockets_before, figures  # the shared session closed with the last wait
    # Every reset costs one connection; apart from those, the pool is the bound.
    assert stats["connections"] <= POOL_SIZE + stats.get("job:599", 0), figures
    assert rss_after - rss_before < 60_000, figures  # ~60 KB per wait at most, all transient state included
