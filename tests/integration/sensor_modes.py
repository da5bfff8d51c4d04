"""Run SdrsJobSensor as Airflow would, in poke, reschedule or deferrable mode; shared by the scenario tables."""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import datetime, timezone

from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

try:
    from airflow.sdk.exceptions import AirflowRescheduleException, TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowRescheduleException, TaskDeferred  # type: ignore[no-redef]

from airflow_provider_sdrs.sensors.sdrs import SdrsJobSensor
from airflow_provider_sdrs.triggers.sdrs import SdrsJobTrigger

MODES = ["poke", "reschedule", "deferrable"]


class TaskInstanceStandIn:
    """The one thing reschedule mode asks of the task instance: when the first try began."""

    def __init__(self) -> None:
        self.first_reschedule: datetime | None = None
        self.xcom: dict[str, object] = {}

    def get_first_reschedule_date(self, context):
        return self.first_reschedule

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = value


async def first_event(trigger: SdrsJobTrigger):
    async for event in trigger.run():
        return event
    raise AssertionError("the trigger ended without an event")


def run_sensor(mode: str, job_id: str, *, timeout: float = 5.0, **kwargs):
    """Run the sensor as Airflow would in ``mode`` and return its result (or raise its error)."""
    template = SdrsJobSensor(
        task_id="wait",
        job_id=job_id,
        poke_interval=0.05,
        timeout=timeout,
        mode="reschedule" if mode == "reschedule" else "poke",
        deferrable=mode == "deferrable",
        **{"not_found_grace": 0.3, "poll_retry_delay": 0.01, **kwargs},
    )
    ti = TaskInstanceStandIn()
    context = {"ti": ti}
    if mode == "poke":
        return template.execute(context)
    if mode == "reschedule":
        while True:
            sensor = copy.deepcopy(template)  # every try runs in a fresh process
            try:
                return sensor.execute(context)
            except AirflowRescheduleException as reschedule:
                ti.first_reschedule = ti.first_reschedule or datetime.now(timezone.utc)
                time.sleep(max(0.0, (reschedule.reschedule_date - datetime.now(timezone.utc)).total_seconds()))
    try:
        return template.execute(context)
    except TaskDeferred as deferred:
        classpath, kwargs = deferred.trigger.serialize()
        assert classpath == "airflow_provider_sdrs.triggers.sdrs.SdrsJobTrigger"
        event = asyncio.run(first_event(SdrsJobTrigger(**kwargs)))
        resumed = copy.deepcopy(template)  # resumed on a worker, as a new task instance
        try:
            return getattr(resumed, deferred.method_name)(context, event.payload)
        except (AirflowSensorTimeout, AirflowFailException) as error:
            # BaseSensorOperator.resume_execution applies soft_fail to resumed sensors.
            if template.soft_fail:
                raise AirflowSkipException("Skipping due to soft_fail is set to True.") from error
            raise
