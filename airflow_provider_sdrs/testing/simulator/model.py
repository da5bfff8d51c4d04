"""What the simulated SDRS knows: its jobs, protection groups and DR drills, behind one lock.

The server's thread answers requests while a test's thread scripts jobs and reads results, so every
read and change goes through this lock. A resource whose job has ended takes its final status when it
is next read (:meth:`SdrsModel.resources_answer`, :meth:`SdrsModel.resource_status`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_sdrs.testing.simulator.jobs import SimJob, new_job_id, running_document, script_job
from airflow_provider_sdrs.testing.simulator.resources import Answer, ResourceModel


class SdrsModel:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.jobs: dict[str, SimJob] = {}
        self.resources = self._new_resources()

    def reset(self) -> None:
        with self.lock:
            self.jobs.clear()
            self.resources = self._new_resources()

    def _new_resources(self) -> ResourceModel:
        def job_status(job_id: str) -> str:
            return self.jobs[job_id].state_at(time.time())[0]

        return ResourceModel(add_job=self.add_job, job_status=job_status)

    # -- jobs ----------------------------------------------------------------------------------------

    def add_job(self, job_id: str | None = None, **options: Any) -> str:
        job_id = job_id or new_job_id()
        job = script_job(job_id, now=time.time(), **options)
        with self.lock:
            self.jobs[job_id] = job
        return job_id

    def poll_job(self, job_id: str) -> dict[str, Any] | None:
        """The job's document as a read answers it (the read counts as a poll), ``None`` if unknown."""
        with self.lock:
            job = self.jobs.get(job_id)
            return job.poll(time.time()) if job is not None else None

    def job_document(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            return self.jobs[job_id].document(time.time())

    def other_job_document(self, job_id: str) -> dict[str, Any] | None:
        """The document of ``job_id`` without counting a poll, ``None`` if unknown."""
        with self.lock:
            job = self.jobs.get(job_id)
            return job.document(time.time()) if job is not None else None

    def job_polls(self, job_id: str) -> int:
        with self.lock:
            return self.jobs[job_id].polls

    def polled_or_running(self, job_id: str | None) -> dict[str, Any]:
        """The document of the job a request reads, polled as usual, or a running job's if there is none."""
        document = self.poll_job(job_id) if job_id is not None else None
        return document or running_document(job_id or new_job_id(), time.time())

    # -- groups and drills -----------------------------------------------------------------------------

    def resources_answer(self, operation: Callable[[ResourceModel], Answer]) -> Answer:
        """Settle finished jobs, then run ``operation`` on the groups and drills."""
        with self.lock:
            self.resources.settle()
            return operation(self.resources)

    def add_group(self, *, status: str, name: str, **fields: Any) -> str:
        with self.lock:
            return self.resources.add_group(status=status, name=name, **fields)

    def set_group(self, group_id: str, *, status: str | None = None, **fields: Any) -> None:
        with self.lock:
            self.resources.settle()
            self.resources.set_group(group_id, status=status, **fields)

    def add_drill(self, server_group_id: str, *, status: str, name: str) -> str:
        with self.lock:
            return self.resources.add_drill(server_group_id, status=status, name=name)

    def resource_status(self, kind: str, resource_id: str) -> str | None:
        with self.lock:
            self.resources.settle()
            table = self.resources.groups if kind == "group" else self.resources.drills
            resource = table.get(resource_id)
            return resource.status if resource else None

    def resources_view(self) -> dict[str, Any]:
        with self.lock:
            self.resources.settle()
            return {
                "groups": {key: {"status": r.status, **r.fields} for key, r in self.resources.groups.items()},
                "drills": {key: {"status": r.status, **r.fields} for key, r in self.resources.drills.items()},
                "submissions": dict(self.resources.submissions),
            }
