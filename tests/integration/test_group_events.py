"""SdrsProtectionGroupEventTrigger against the simulator: one event per transition, not per poll."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_sdrs.exceptions import SdrsValidationError
from airflow_provider_sdrs.triggers.sdrs import SdrsProtectionGroupEventTrigger

INTERVAL = 0.05
#: Listings per period: a status that stays put must not fire again meanwhile.
POLLS = 4
#: How long the shared-stream test lets its watchers run.
SETTLE = 0.4


def watcher(**kwargs: Any) -> SdrsProtectionGroupEventTrigger:
    return SdrsProtectionGroupEventTrigger(**{"poll_interval": INTERVAL, "poll_retry_delay": 0.01, **kwargs})


def watch(trigger: SdrsProtectionGroupEventTrigger, script: list[Callable[[], None]], sim=None) -> list[list[dict]]:
    """Run the trigger as the triggerer would; before each step of ``script`` and after the last, let it list
    the groups a few times. Returns the payloads fired during each of those periods.

    A period ends once the simulator ``sim`` has seen ``POLLS`` more listings: the trigger lists again only after
    it handled the previous listing, so every listing but the last of a period has been judged by then. Without
    ``sim``, a period lasts ``SETTLE`` seconds.
    """

    async def main() -> list[list[dict]]:
        fired: list[dict] = []
        periods: list[list[dict]] = []

        async def consume() -> None:
            async for event in trigger.run():
                fired.append(event.payload)

        task = asyncio.create_task(consume())
        try:
            for step in [*script, None]:
                if sim is None:
                    await asyncio.sleep(SETTLE)
                else:
                    target = listings(sim) + POLLS
                    deadline = time.monotonic() + 20
                    while listings(sim) < target:
                        assert time.monotonic() < deadline, "the watcher stopped listing the groups"
                        await asyncio.sleep(0.01)
                assert not task.done(), task.exception()
                periods.append(list(fired))
                fired.clear()
                if step is not None:
                    step()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return periods

    return asyncio.run(main())


def listings(sim) -> int:
    return sum(1 for r in sim.records if r.method == "GET" and r.raw_path.split("?")[0].endswith("/server-groups"))


def test_fires_once_per_transition_into_a_watched_status(sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected", name="erp")
    periods = watch(
        watcher(server_group_id=group_id),
        [
            lambda: sim.set_group(group_id, status="error-failing-over"),
            lambda: sim.set_group(group_id, status="failing-over"),
            lambda: sim.set_group(group_id, status="error-failing-over"),
            lambda: sim.set_group(group_id, status="failed-over"),
        ],
        sim,
    )
    assert periods[0] == []  # protected: not watched
    (broke,) = periods[1]  # several polls saw it broken: one event
    assert broke["server_group_id"] == group_id and broke["name"] == "erp"
    assert (broke["previous_status"], broke["status"]) == ("protected", "error-failing-over")
    assert broke["sdrs_conn_id"] == "sdrs_default" and broke["observed_at"].endswith("+00:00")
    assert periods[2] == []  # failing-over: not watched
    assert [(e["previous_status"], e["status"]) for e in periods[3]] == [("failing-over", "error-failing-over")]
    assert [(e["previous_status"], e["status"]) for e in periods[4]] == [("error-failing-over", "failed-over")]
    json.dumps(periods)  # payloads are JSON


def test_a_real_failover_fires_failed_over_once(sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected")
    sim.resources.durations = (0.0, 0.1)
    periods = watch(
        watcher(),
        [lambda: sim.model.resources_answer(lambda r: r.group_action(group_id, {"failover-server-group": {}}))],
        sim,
    )
    assert periods[0] == []
    assert [(e["server_group_id"], e["status"]) for e in periods[1]] == [(group_id, "failed-over")]
    assert periods[1][0]["previous_status"] in ("protected", "failing-over")


def test_a_group_first_seen_in_a_watched_status_fires_once(sdrs_connection):
    sim = sdrs_connection.simulator
    broken = sim.add_group(status="error-starting", name="broken")
    sim.add_group(status="protected", name="fine")
    periods = watch(watcher(), [lambda: None], sim)
    assert [(e["server_group_id"], e["previous_status"], e["status"]) for e in periods[0]] == [
        (broken, None, "error-starting")
    ]
    assert periods[1] == []


def test_watching_one_group_ignores_the_others(sdrs_connection):
    sim = sdrs_connection.simulator
    mine = sim.add_group(status="protected", name="mine")
    other = sim.add_group(status="protected", name="other")
    periods = watch(
        watcher(server_group_id=mine),
        [lambda: sim.set_group(other, status="error-stopping"), lambda: sim.set_group(mine, status="error-stopping")],
        sim,
    )
    assert periods[1] == []
    assert [e["server_group_id"] for e in periods[2]] == [mine]


def test_watched_statuses_can_be_chosen(sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected")
    periods = watch(
        watcher(statuses=["failed-over"]),
        [
            lambda: sim.set_group(group_id, status="error-failing-over"),
            lambda: sim.set_group(group_id, status="failed-over"),
        ],
        sim,
    )
    assert periods[1] == []
    assert [e["status"] for e in periods[2]] == ["failed-over"]


def test_failed_polls_fire_nothing_and_the_watch_goes_on(sdrs_connection):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected")

    def break_sdrs() -> None:
        sim.add_fault("status", status=503, count=-1, target="api")

    def change_while_down() -> None:
        sim.set_group(group_id, status="error-reversing")

    periods = watch(watcher(poll_retry_limit=0), [break_sdrs, change_while_down, sim.clear_faults], sim)
    assert periods[1] == [] and periods[2] == []
    # The listing after the outage is compared with the last statuses seen before it.
    assert [(e["previous_status"], e["status"]) for e in periods[3]] == [("protected", "error-reversing")]


def test_refused_credentials_fire_nothing_and_the_watch_goes_on_once_they_work(sdrs_connection):
    import dataclasses

    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="protected")
    good = sim.credentials

    def rotate() -> None:
        sim.credentials = dataclasses.replace(good, secret_key="rotated-secret-key")
        sim.set_group(group_id, status="error-stopping")

    def restore() -> None:
        sim.credentials = good

    periods = watch(watcher(poll_retry_limit=0), [rotate, restore], sim)
    assert periods[1] == []  # every listing refused (HTTP 401): nothing fired, still running
    assert [(e["previous_status"], e["status"]) for e in periods[2]] == [("protected", "error-stopping")]


def test_a_connection_that_cannot_be_loaded_does_not_end_the_watch(sdrs_connection, monkeypatch):
    sim = sdrs_connection.simulator
    group_id = sim.add_group(status="error-starting")
    periods = watch(watcher(sdrs_conn_id="sdrs_missing"), [])
    assert periods == [[]]  # logged, no event, still running (watch() asserts the task did not end)
    assert sim.resource_status("group", group_id) == "error-starting"


def test_restart_with_a_state_store_fires_only_for_what_changed(sdrs_connection):
    """Airflow 3.3 gives event triggers an asset state store; a restarted watcher reads its memory there."""
    sim = sdrs_connection.simulator
    stayed = sim.add_group(status="error-starting", name="stayed")
    changed = sim.add_group(status="protected", name="changed")

    class Store:
        def __init__(self) -> None:
            self.values: dict[str, Any] = {}

        async def aget(self, key: str, default: Any = None) -> Any:
            return self.values.get(key, default)

        async def aset(self, key: str, value: Any) -> None:
            self.values[key] = json.loads(json.dumps(value))

    store = Store()
    first = watcher()
    first.asset_state_store = store
    assert [e["server_group_id"] for e in watch(first, [], sim)[0]] == [stayed]
    sim.set_group(changed, status="error-stopping")  # while no watcher runs
    second = watcher()
    second.asset_state_store = store
    (period,) = watch(second, [], sim)
    assert [(e["server_group_id"], e["previous_status"], e["status"]) for e in period] == [
        (changed, "protected", "error-stopping")
    ]


def test_serialize_round_trips_without_secrets(sdrs_connection):
    trigger = watcher(server_group_id="5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1", statuses=["error-*"])
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_sdrs.triggers.sdrs.SdrsProtectionGroupEventTrigger"
    assert SdrsProtectionGroupEventTrigger(**kwargs).serialize() == (classpath, kwargs)
    conn = sdrs_connection.simulator.connection_dict()
    text = json.dumps(kwargs) + repr(trigger)
    assert conn["password"] not in text and conn["login"] not in text


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"statuses": []}, "statuses"),
        ({"statuses": "error-*"}, "statuses"),
        ({"statuses": ["*"]}, "statuses"),
        ({"statuses": ["err*r"]}, "statuses"),
        ({"server_group_id": "../x"}, "server_group_id"),
        ({"poll_interval": -1}, "poll_interval"),
        ({"sdrs_conn_id": ""}, "sdrs_conn_id"),
    ],
)
def test_bad_arguments_name_the_field(arguments, field):
    with pytest.raises(SdrsValidationError, match=field):
        SdrsProtectionGroupEventTrigger(**arguments)


def test_watchers_of_one_connection_share_one_listing_per_interval(sdrs_connection):
    """Where the triggerer shares streams (Airflow 3.3+), three watchers cost one listing per interval."""
    shared_stream = pytest.importorskip("airflow.triggers.shared_stream")
    sim = sdrs_connection.simulator
    first = sim.add_group(status="protected", name="first")
    second = sim.add_group(status="protected", name="second")
    triggers = [watcher(server_group_id=first), watcher(server_group_id=second), watcher()]
    keys = {trigger.shared_stream_key() for trigger in triggers}
    assert len(keys) == 1 and watcher(sdrs_conn_id="other").shared_stream_key() not in keys
    (key,) = keys

    async def main() -> tuple[list[list[dict]], int]:
        manager = shared_stream.SharedStreamManager()
        fired: list[list[dict]] = [[] for _ in triggers]

        async def consume(index: int) -> None:
            stream = manager.subscribe(trigger_id=index, trigger=triggers[index], key=key)
            async for event in triggers[index].filter_shared_stream(stream):
                fired[index].append(event.payload)

        tasks = [asyncio.create_task(consume(index)) for index in range(len(triggers))]
        await asyncio.sleep(SETTLE)
        before, started = listings(sim), time.monotonic()
        sim.set_group(second, status="error-failing-over")
        await asyncio.sleep(20 * INTERVAL)
        during, elapsed = listings(sim) - before, time.monotonic() - started
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await manager.stop_all()
        return fired, during, elapsed

    fired, during, elapsed = asyncio.run(main())
    assert [[e["server_group_id"] for e in events] for events in fired] == [[], [second], [second]]
    # At most one listing per interval for all three (each listing waits a full interval after the one before),
    # where three watchers on their own would make three.
    assert 3 <= during <= elapsed / INTERVAL + 1, (during, elapsed)


def test_hostile_listings_give_bounded_one_line_events_and_skip_unsafe_ids(sdrs_connection):
    sim = sdrs_connection.simulator
    sim.add_group(status="error-starting", name="sneaky", group_id="../../server-groups")
    group_id = sim.add_group(status="protected", name="erp\x1b[31m\nFAKE LOG LINE" + "n" * 5000)
    periods = watch(watcher(), [lambda: sim.set_group(group_id, status="error-" + "x" * 100_000 + "\r\nINJECTED")], sim)
    assert periods[0] == []  # the unsafe id fires nothing
    (event,) = periods[1]
    assert event["server_group_id"] == group_id
    for text in (event["status"], event["name"]):
        assert len(text) <= 128 and "\n" not in text and "\r" not in text and "\x1b" not in text
    assert event["status"].startswith("error-x")


@pytest.fixture
def hostile_listing(sdrs_connection):
    """A list of groups, served as the listing while the test runs, as a hostile SDRS may send it."""
    from aiohttp import web

    from airflow_provider_sdrs.testing.simulator.routes import SDRS_ROUTES

    sim = sdrs_connection.simulator
    groups: list[dict] = []

    async def listing(simulator, request, params):
        return web.json_response({"server_groups": list(groups)})

    sim.add_route("GET", "/v1/{project_id}/server-groups", listing, name="hostile-listing")
    yield groups
    # Added routes outlive the simulator's reset: take this one away for the next tests.
    sim._added_routes[:] = [route for route in sim._added_routes if route.name != "hostile-listing"]
    sim._routes = (*sim._added_routes, *SDRS_ROUTES)


def test_a_group_listed_twice_with_two_statuses_does_not_fire_on_every_listing(sdrs_connection, hostile_listing):
    sim = sdrs_connection.simulator
    group_id = "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1"
    groups = hostile_listing
    groups.append({"id": group_id, "name": "erp", "status": "protected"})

    def duplicate() -> None:
        # A listing that shows the group twice (a page boundary moving under a status change).
        groups.append({"id": group_id, "name": "erp", "status": "error-failing-over"})
        groups.append({"id": group_id, "name": "erp", "status": "protected"})

    periods = watch(watcher(), [duplicate, lambda: None], sim)
    assert periods[0] == []
    # What the group's status is cannot be told from such a listing: nothing fires, listing after listing.
    assert periods[1] == [] and periods[2] == []


def test_a_group_listed_once_without_a_status_does_not_fire_again_when_it_is_back(sdrs_connection, hostile_listing):
    sim = sdrs_connection.simulator
    group_id = "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1"
    groups = hostile_listing
    groups.append({"id": group_id, "name": "erp", "status": "error-starting"})

    def set_status(status: object) -> Callable[[], None]:
        return lambda: groups.__setitem__(0, {"id": group_id, "name": "erp", "status": status})

    periods = watch(watcher(), [set_status(None), set_status(7), set_status("error-starting")], sim)
    assert [(e["previous_status"], e["status"]) for e in periods[0]] == [(None, "error-starting")]
    # A listing without a readable status says nothing new about the group: it stayed in error-starting.
    assert periods[1] == [] and periods[2] == [] and periods[3] == []


def test_watching_one_group_by_an_upper_case_spelling_of_its_id_fires(sdrs_connection):
    """SDRS ids are UUIDs, which the sdrs:// asset scheme already takes in either case."""
    sim = sdrs_connection.simulator
    mine = sim.add_group(status="protected", name="mine")
    periods = watch(watcher(server_group_id=mine.upper()), [lambda: sim.set_group(mine, status="error-stopping")], sim)
    assert periods[0] == []
    assert [(e["server_group_id"], e["status"]) for e in periods[1]] == [(mine, "error-stopping")]


def test_a_group_missing_from_one_listing_does_not_fire_again_when_it_is_back(sdrs_connection, hostile_listing):
    sim = sdrs_connection.simulator
    group_id = "5b2a07bb-2a66-4f2c-9c23-c2b1b3c9e0a1"
    groups = hostile_listing
    groups.append({"id": group_id, "name": "erp", "status": "error-failing-over"})
    periods = watch(
        watcher(),
        [groups.clear, lambda: groups.append({"id": group_id, "name": "erp", "status": "error-failing-over"})],
        sim,
    )
    assert [(e["previous_status"], e["status"]) for e in periods[0]] == [(None, "error-failing-over")]
    # Gone from the listings for a while, then back where it was: no new transition.
    assert periods[1] == [] and periods[2] == []


def test_a_group_watch_remembers_a_bounded_number_of_groups():
    import logging

    from airflow_provider_sdrs._waiting import MAX_REMEMBERED_GROUPS, GroupTransitions

    watch = GroupTransitions(logging.getLogger(__name__))
    for start in range(0, MAX_REMEMBERED_GROUPS * 2, 1000):
        watch.judge([{"id": f"{index:032x}", "status": "protected"} for index in range(start, start + 1000)])
    assert len(watch.known) == MAX_REMEMBERED_GROUPS
    newest = f"{MAX_REMEMBERED_GROUPS * 2 - 1:032x}"
    assert newest in watch.known and f"{0:032x}" not in watch.known
