"""The Disaster recovery page and the SDRS job tab, through Airflow's own API server app (plugins mounted)
with the simple auth manager and real sign-ins, against the simulator, after real DAG runs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from airflow_provider_sdrs._core import operations
from airflow_provider_sdrs.testing.simulator import SdrsSimulator, connection_for
from airflow_provider_sdrs.ui import posture, sdrs_reads
from airflow_provider_sdrs.ui.access import Access
from airflow_provider_sdrs.ui.settings import UiSettings
from tests.support import airflow_api, load_example_dag

GROUP_STATUSES = sorted(operations.GROUP_STATUSES)
#: Refuses connections at once: a connection whose SDRS is down.
DEAD_URL = "http://127.0.0.1:9"


class World:
    """What the module's tests look at: a simulator with a group in every status, a passed and a failed drill
    run, and a sensor task deferred on a job that is still running."""

    sim: SdrsSimulator
    groups: dict[str, str]
    passed_group: str
    failed_group: str
    passed_run: Any
    failed_run: Any
    failed_job: dict[str, Any]
    running_job: str
    deferred: dict[str, Any]


def _defer(dag_run: Any, task_id: str, job_id: str) -> dict[str, Any]:
    """Put a finished task back into ``deferred``, holding a trigger on ``job_id``, as the triggerer sees it."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        trigger = Trigger(
            classpath="airflow_provider_sdrs.triggers.sdrs.SdrsJobTrigger",
            kwargs={"job_id": job_id, "sdrs_conn_id": "sdrs_default", "poll_interval": 1.0},
        )
        session.add(trigger)
        session.flush()
        ti = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_run.dag_id,
                TaskInstance.run_id == dag_run.run_id,
                TaskInstance.task_id == task_id,
            )
        ).one()
        ti.state = "deferred"
        ti.end_date = None
        ti.trigger_id = trigger.id
    return {"dag_id": dag_run.dag_id, "run_id": dag_run.run_id, "task_id": task_id, "map_index": -1}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Any:
    reports = tmp_path_factory.mktemp("reports")
    with SdrsSimulator() as sim, pytest.MonkeyPatch.context() as patch:
        from airflow_provider_sdrs._core.process import reset_process_caches

        reset_process_caches()
        patch.setenv("AIRFLOW_CONN_SDRS_DEFAULT", sim.connection_json("aksk"))
        patch.setenv("AIRFLOW_CONN_SDRS_DEAD", json.dumps(connection_for(DEAD_URL, "aksk")))
        patch.setenv("AIRFLOW__SDRS__UI_CONNECTIONS", "sdrs_default,sdrs_dead")
        patch.setenv("SDRS_EXAMPLE_POLL_SECONDS", "0.1")
        sim.resources.durations = (0.2, 0.8)
        sim.resources.sub_jobs = 2
        w = World()
        w.sim = sim
        w.groups = {
            status: sim.add_group(
                status=status,
                name=f"grp-{status}",
                source_availability_zone="eu-de-01",
                target_availability_zone="eu-de-02",
            )
            for status in GROUP_STATUSES
        }
        w.passed_group = sim.add_group(status="protected", name="erp-passed")
        w.failed_group = sim.add_group(status="protected", name="erp-failed")
        drill = load_example_dag("sdrs_dr_drill")
        w.passed_run = drill.test(
            run_conf={"server_group_id": w.passed_group, "target_rto_seconds": 600, "report_dir": str(reports)}
        )
        sim.resources.fail_next("createDisasterRecoveryDrill")
        w.failed_run = load_example_dag("sdrs_dr_drill").test(
            run_conf={"server_group_id": w.failed_group, "target_rto_seconds": 600, "report_dir": str(reports)}
        )
        assert (str(w.passed_run.state), str(w.failed_run.state)) == ("success", "failed")
        failed_ti = {ti.task_id: ti for ti in w.failed_run.get_task_instances()}["create_drill"]
        assert str(failed_ti.state) == "failed"
        w.failed_job = {"dag_id": "sdrs_dr_drill", "run_id": w.failed_run.run_id, "task_id": "create_drill"}
        # A sensor deferred on a job that runs on: its trigger is all the page has to find the job by.
        done = sim.add_job(run_seconds=0.1)
        sensor_run = load_example_dag("sdrs_job_sensor").test(run_conf={"job_id": done})
        w.running_job = sim.add_job(lifecycle=[("RUNNING", 0)], sub_jobs=3)
        w.deferred = _defer(sensor_run, "wait_for_job", w.running_job)
        with airflow_api(tmp_path_factory.mktemp("auth")) as api:
            w.api = api
            yield w


@pytest.fixture(autouse=True)
def _fresh_answers():
    sdrs_reads.CACHE.clear()
    yield
    sdrs_reads.CACHE.clear()


def get_posture(world: World, user: str = "admin") -> dict[str, Any]:
    answer = world.api.client.get("/sdrs/api/posture", headers=world.api.login(user))
    assert answer.status_code == 200, answer.text
    return answer.json()


def card(document: dict[str, Any], conn_id: str) -> dict[str, Any]:
    return next(c for c in document["connections"] if c["conn_id"] == conn_id)


def group(document: dict[str, Any], group_id: str) -> dict[str, Any]:
    return next(g for g in card(document, "sdrs_default")["groups"] if g["id"] == group_id)


# -- who may see what ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/sdrs/posture",
        "/sdrs/api/posture",
        "/sdrs/job?dag_id=sdrs_dr_drill&run_id=x&task_id=create_drill",
        "/sdrs/api/job?dag_id=sdrs_dr_drill&run_id=x&task_id=create_drill",
    ],
)
def test_signed_out_requests_are_refused_and_see_nothing(world, path):
    anonymous = world.api.client.get(path)
    assert anonymous.status_code == 401
    assert "grp-" not in anonymous.text and "sdrs_default" not in anonymous.text
    forged = world.api.client.get(path, headers={"Authorization": "Bearer not.a.jwt"})
    assert forged.status_code in (401, 403) and "grp-" not in forged.text
    cookie = world.api.client.get(path, cookies={"_token": "not.a.jwt"})
    assert cookie.status_code in (401, 403)
    world.api.client.cookies.clear()


def test_a_viewer_sees_the_dags_work_but_no_connection_nor_anything_read_through_one(world):
    seen = get_posture(world, "viewer")
    assert seen["connections"] == []
    assert [t["job_id"] for t in seen["in_flight"] if t["task_id"] == "wait_for_job"] == [world.running_job]
    # The failed drill's job cannot be read through a connection the viewer may not read: its task is listed
    # as failed with its job unknown, never as a failed SDRS job.
    assert seen["failed_jobs"] == []
    unknown = [t for t in seen["failed_tasks_job_unknown"] if t["run_id"] == world.failed_job["run_id"]]
    assert [t["task_id"] for t in unknown] == ["create_drill"]
    for task in seen["in_flight"] + seen["failed_tasks_job_unknown"]:
        assert task["job_status"] is None and task["error_code"] is None
        assert "not readable" in task["job_error"]
    page = world.api.client.get("/sdrs/posture", headers=world.api.login("viewer")).text
    assert "No SDRS connection you may read" in page and "grp-protected" not in page
    assert "whose job could not be read" in page and "No SDRS job failed in the last 7 days" in page
    tab = world.api.client.get("/sdrs/api/job", params=world.deferred, headers=world.api.login("viewer")).json()
    assert tab["job"] is None and "may not read connection sdrs_default" in tab["error"]


def test_an_operator_user_sees_the_connections(world):
    seen = get_posture(world, "op")
    assert [c["conn_id"] for c in seen["connections"]] == ["sdrs_default", "sdrs_dead"]


def test_dags_the_user_may_not_read_are_left_out(world):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    admin = SimpleAuthManagerUser(username="admin", role="admin")
    everything = posture.build(Access(admin, frozenset({"sdrs_dr_drill", "sdrs_job_sensor"})), UiSettings.read())
    assert everything["in_flight"] and everything["failed_jobs"]
    assert group(everything, world.passed_group)["last_airflow_drill"]
    no_dags = posture.build(Access(admin, frozenset()), UiSettings.read())
    assert (no_dags["in_flight"], no_dags["failed_jobs"]) == ([], [])
    assert group(no_dags, world.passed_group)["last_airflow_drill"] is None
    only_drills = posture.build(Access(admin, frozenset({"sdrs_dr_drill"})), UiSettings.read())
    assert not any(t["dag_id"] == "sdrs_job_sensor" for t in only_drills["in_flight"])


# -- the posture page ------------------------------------------------------------------------------------


def test_every_group_status_is_listed_and_coloured(world):
    seen = get_posture(world)
    for status, group_id in world.groups.items():
        shown = group(seen, group_id)
        assert (shown["name"], shown["status"]) == (f"grp-{status}", status)
        assert (shown["source_availability_zone"], shown["target_availability_zone"]) == ("eu-de-01", "eu-de-02")
        assert shown["tone"] == posture.status_tone(status)
        assert (shown["tone"] == "bad") == status.startswith("error"), status
    assert group(seen, world.groups["protected"])["tone"] == "good"
    assert group(seen, world.groups["failing-over"])["tone"] == "busy"
    page = world.api.client.get("/sdrs/posture", headers=world.api.login("admin")).text
    for status in GROUP_STATUSES:
        badge = re.search(rf'<span class="badge tone-(\w+)" data-status="{status}">', page)
        assert badge, status
        assert (badge.group(1) == "bad") == status.startswith("error"), status


def test_a_dead_connection_is_an_error_on_its_own_card_and_the_rest_renders(world):
    seen = get_posture(world)
    dead = card(seen, "sdrs_dead")
    assert dead["groups"] == [] and dead["error"]
    assert "127.0.0.1:9" in dead["error"] or "connect" in dead["error"].lower()
    assert len(card(seen, "sdrs_default")["groups"]) == len(GROUP_STATUSES) + 2
    page = world.api.client.get("/sdrs/posture", headers=world.api.login("admin")).text
    dead_card = re.search(r'<section class="card failed" data-conn-id="sdrs_dead">.*?</section>', page)
    assert dead_card and "SDRS could not be read" in dead_card.group(0)
    assert "grp-error-reversing" in page


def test_the_last_drill_from_airflow_and_sdrs_with_its_recovery_time(world):
    seen = get_posture(world)
    passed = group(seen, world.passed_group)
    report = passed["last_airflow_drill"]
    assert report["outcome"] == "passed" and report["run_id"] == world.passed_run.run_id
    assert report["rto_met"] is True and 0 < report["recovery_seconds"] < report["target_rto_seconds"] == 600
    assert passed["trend"][-1]["recovery_seconds"] == report["recovery_seconds"]
    failed = group(seen, world.failed_group)["last_airflow_drill"]
    assert failed["outcome"] == "failed" and failed["recovery_seconds"] is None
    # The example DAG deletes its drills: SDRS has none left for these groups.
    assert passed["last_sdrs_drill"] is None and passed["sdrs_drills"] == 0
    page = world.api.client.get("/sdrs/posture", headers=world.api.login("admin")).text
    row = re.search(rf'<tr class="group" data-group-id="{world.passed_group}">.*?</tr>', page).group(0)
    assert "RTO " in row and "/ target 10.0 min" in row and ">met<" in row and '<svg class="trend"' in row
    assert f"../dags/sdrs_dr_drill/runs/{world.passed_run.run_id.replace('+', '%2B').replace(':', '%3A')}" in row


def test_a_drill_kept_in_sdrs_shows_as_its_last_drill(world):
    drill_id = world.sim.resources.add_drill(world.groups["protected"], status="error", name="kept-drill")
    try:
        shown = group(get_posture(world), world.groups["protected"])
        assert shown["last_sdrs_drill"]["id"] == drill_id and shown["last_sdrs_drill"]["status"] == "error"
    finally:
        del world.sim.resources.drills[drill_id]


def test_work_in_flight_and_the_failed_job_with_its_sdrs_code(world):
    seen = get_posture(world)
    flying = next(t for t in seen["in_flight"] if t["job_id"] == world.running_job)
    assert (flying["state"], flying["operator"], flying["job_status"]) == ("deferred", "SdrsJobSensor", "RUNNING")
    assert flying["triggerer"] == "waiting for a triggerer" and flying["running_seconds"] >= 0
    failed = next(t for t in seen["failed_jobs"] if t["run_id"] == world.failed_job["run_id"])
    assert failed["task_id"] == "create_drill" and failed["job_status"] == "FAIL"
    job = world.sim.job_document(failed["job_id"])
    assert failed["error_code"] == job["error_code"] and failed["error_code"]
    assert failed["fail_reason"] == job["fail_reason"]
    page = world.api.client.get("/sdrs/posture", headers=world.api.login("admin")).text
    assert job["error_code"] in page and world.running_job in page


def list_calls(sim: SdrsSimulator, since: int) -> dict[str, int]:
    """The list requests SDRS received after the first ``since`` requests, by path."""
    calls: dict[str, int] = {}
    for record in sim.records[since:]:
        path = record.raw_path.split("?")[0]
        if record.method == "GET" and path.endswith(("/server-groups", "/disaster-recovery-drills")):
            calls[path.rsplit("/", 1)[1]] = calls.get(path.rsplit("/", 1)[1], 0) + 1
    return calls


def test_a_view_costs_one_list_per_connection_and_the_cache_spares_the_next(world):
    since = len(world.sim.records)
    get_posture(world)
    assert list_calls(world.sim, since) == {"server-groups": 1, "disaster-recovery-drills": 1}
    get_posture(world, "op")
    world.api.client.get("/sdrs/posture", headers=world.api.login("admin"))
    assert list_calls(world.sim, since) == {"server-groups": 1, "disaster-recovery-drills": 1}


def test_the_cache_time_is_configurable(world, monkeypatch):
    monkeypatch.setenv("AIRFLOW__SDRS__UI_CACHE_SECONDS", "0")
    since = len(world.sim.records)
    get_posture(world)
    get_posture(world)
    assert list_calls(world.sim, since) == {"server-groups": 2, "disaster-recovery-drills": 2}
    monkeypatch.setenv("AIRFLOW__SDRS__UI_CACHE_SECONDS", "soon")
    with pytest.raises(ValueError, match=r"\[sdrs\] ui_cache_seconds"):
        UiSettings.read()


def test_by_default_every_sdrs_connection_of_the_database_is_shown(world, monkeypatch):
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    monkeypatch.delenv("AIRFLOW__SDRS__UI_CONNECTIONS")
    stored = Connection.from_json(world.sim.connection_json("aksk"), conn_id="sdrs_stored")
    with create_session() as session:
        session.add(stored)
    try:
        seen = get_posture(world)
        assert [c["conn_id"] for c in seen["connections"]] == ["sdrs_default", "sdrs_stored"]
        assert card(seen, "sdrs_stored")["error"] is None, card(seen, "sdrs_stored")["error"]
        assert len(card(seen, "sdrs_stored")["groups"]) == len(GROUP_STATUSES) + 2
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == "sdrs_stored").delete()


# -- the SDRS job tab ------------------------------------------------------------------------------------


def test_the_tab_shows_a_deferred_tasks_job_and_its_sub_jobs(world):
    headers = world.api.login("op")
    view = world.api.client.get("/sdrs/api/job", params=world.deferred, headers=headers).json()
    assert view["task"]["state"] == "deferred" and view["job"]["job_id"] == world.running_job
    assert view["job"]["status"] == "RUNNING" and len(view["job"]["entities"]["sub_jobs"]) == 3
    page = world.api.client.get("/sdrs/job", params=world.deferred, headers=headers).text
    assert page.count('<tr class="sub-job">') == 3 and '<svg class="timeline"' in page


def test_the_tab_shows_a_failed_job_with_its_code(world):
    headers = world.api.login("admin")
    view = world.api.client.get("/sdrs/api/job", params=world.failed_job, headers=headers).json()
    job = view["job"]
    assert view["task"]["state"] == "failed" and job["status"] == "FAIL" and job["error_code"]
    assert len(job["entities"]["sub_jobs"]) == 2
    page = world.api.client.get("/sdrs/job", params=world.failed_job, headers=headers).text
    assert job["error_code"] in page and page.count('<tr class="sub-job">') == 2


def test_the_tab_of_other_tasks_says_so_and_unknown_ones_are_404(world):
    headers = world.api.login("admin")
    other = {**world.failed_job, "task_id": "publish_report"}
    view = world.api.client.get("/sdrs/api/job", params=other, headers=headers).json()
    assert view["job"] is None and "not an SDRS operator" in view["message"]
    missing = world.api.client.get("/sdrs/api/job", params={**other, "run_id": "nope"}, headers=headers)
    assert missing.status_code == 404


def test_the_tab_finds_a_run_id_whose_plus_came_unencoded(world):
    """Airflow 3.1 puts the run id into the tab's URL as it is: its '+' arrives as a space. The UI leaves the
    map index placeholder of a task that is not mapped."""
    run_id = world.failed_job["run_id"]
    assert "+" in run_id
    params = {**world.failed_job, "run_id": run_id.replace("+", " "), "map_index": "{MAP_INDEX}"}
    view = world.api.client.get("/sdrs/api/job", params=params, headers=world.api.login("admin")).json()
    assert view["task"]["run_id"] == run_id and view["job"]["status"] == "FAIL"
    bad = world.api.client.get("/sdrs/api/job", params={**params, "map_index": "two"}, headers=world.api.login("admin"))
    assert bad.status_code == 422 and "map_index" in bad.text


@pytest.mark.parametrize("map_index", ["99999999999999999999", "-2", "4294967296"])
def test_a_map_index_no_task_can_have_is_refused_naming_it(world, map_index):
    params = {**world.failed_job, "map_index": map_index}
    for path in ("/sdrs/api/job", "/sdrs/job"):
        answer = world.api.client.get(path, params=params, headers=world.api.login("admin"))
        assert answer.status_code == 422 and "map_index" in answer.text, answer.text


def test_airflow_lists_the_plugin_with_its_page_and_tab(world):
    answer = world.api.client.get("/api/v2/plugins", headers=world.api.login("admin"))
    assert answer.status_code == 200, answer.text
    plugin = next(p for p in answer.json()["plugins"] if p["name"] == "sdrs")
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/sdrs"]
    views = {view["url_route"]: view for view in plugin["external_views"]}
    assert views["sdrs-posture"]["destination"] == "nav" and views["sdrs-posture"]["href"] == "sdrs/posture"
    assert views["sdrs-job"]["destination"] == "task_instance"
    assert not any(view["href"].startswith(("/", "http")) for view in views.values())


@pytest.mark.parametrize(("option", "value"), [("UI_CACHE_SECONDS", "half a minute"), ("UI_TIMEOUT", "0")])
def test_a_bad_option_is_named_to_the_signed_in_user(world, monkeypatch, option, value):
    monkeypatch.setenv(f"AIRFLOW__SDRS__{option}", value)
    for path in ("/sdrs/api/posture", "/sdrs/posture"):
        answer = world.api.client.get(path, headers=world.api.login("admin"))
        assert answer.status_code == 500
        assert f"ui_{option.lower()[3:]}" in answer.json()["detail"], answer.text
    assert world.api.client.get("/sdrs/api/posture").status_code == 401
