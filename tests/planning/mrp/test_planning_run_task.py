"""The planning run through the real Celery worker, the one-run-at-a-time rule and
double delivery."""

from __future__ import annotations

import threading

from django.db import connection

from planning.models import PlannedOrder, PlanningRun, PurchaseRequisition
from planning.mrp.run import RUN_LOCK, _try_session_lock, _unlock, planning_run_execute
from planning.mrp.services import planning_run_start
from tests.conftest import wait_until
from tests.planning.mrp.conftest import forecast


def test_planning_run_start_through_the_worker_shows_progress_and_summary(celery_worker, tree, planner_api):
    # given demand for FIN
    forecast(tree.fin, d10=10)
    # when the planner starts a run over REST
    started = planner_api.post("/api/v1/planning-runs/", {"mode": "regenerative"}, format="json")
    assert started.status_code == 202, started.json()
    run_id = started.json()["id"]
    # then the worker plans it; its status, progress and summary are visible over REST
    body = wait_until(
        lambda: (r := planner_api.get(f"/api/v1/planning-runs/{run_id}/").json())["status"] == "done" and r
    )
    assert body["progress"] == {"level": 3, "levels": 3, "items_done": 3, "items_total": 3}
    assert body["summary"]["planned_orders"] == 2
    assert body["summary"]["purchase_requisitions"] == 2
    assert PlannedOrder.objects.filter(run_id=run_id).count() == 2


def test_planning_run_start_refuses_a_second_run_while_one_is_queued(db, tree, planner, planner_api):
    # given a queued run (no worker picks it up here)
    planning_run_start(mode="regenerative", user=planner)
    # when another is requested
    second = planner_api.post("/api/v1/planning-runs/", {"mode": "net_change"}, format="json")
    # then it is refused, nothing queued
    assert (second.status_code, second.json()["code"]) == (409, "run_in_progress")
    assert PlanningRun.objects.count() == 1


def test_planning_run_start_validates_mode_and_scenario(db, tree, planner_api):
    bad_mode = planner_api.post("/api/v1/planning-runs/", {"mode": "weekly"}, format="json")
    bad_item = planner_api.post(
        "/api/v1/planning-runs/",
        {"simulation": {"extra_demand": [{"item": 999999, "quantity": "5", "date": "2030-01-01"}]}},
        format="json",
    )
    too_precise = planner_api.post(
        "/api/v1/planning-runs/",
        {"simulation": {"stock": {str(tree.raw.pk): "1.00005"}}},
        format="json",
    )
    assert bad_mode.status_code == 400 and "mode" in bad_mode.json()["fields"]
    assert bad_item.status_code == 400 and "simulation.extra_demand[0].item" in bad_item.json()["fields"]
    assert too_precise.status_code == 400 and f"simulation.stock.{tree.raw.pk}" in too_precise.json()["fields"]
    assert not PlanningRun.objects.exists()


def test_planning_run_execute_delivered_twice_plans_once(transactional_db, tree):
    # given a queued run delivered to two workers at once
    forecast(tree.fin, d10=10)
    run = PlanningRun.objects.create(mode="regenerative")
    results: list[str] = []
    barrier = threading.Barrier(2)

    def deliver() -> None:
        barrier.wait()
        try:
            results.append(planning_run_execute(run_id=run.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then exactly one planned, the other saw the run taken
    assert sorted(results) == ["done", "taken"]
    assert PlannedOrder.objects.count() == 2
    assert PurchaseRequisition.objects.count() == 2
    # and a late third delivery changes nothing
    assert planning_run_execute(run_id=run.pk) == "taken"
    assert PlannedOrder.objects.count() == 2


def test_planning_run_execute_refused_while_another_run_holds_the_lock(transactional_db, tree):
    # given another session holds the planning lock (a run in progress elsewhere)
    run = PlanningRun.objects.create(mode="regenerative")
    holder: list[bool] = []
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        holder.append(_try_session_lock(RUN_LOCK))
        taken.set()
        release.wait(10)
        _unlock(RUN_LOCK)
        connection.close()

    t = threading.Thread(target=hold)
    t.start()
    taken.wait(10)
    # when the run is executed
    try:
        outcome = planning_run_execute(run_id=run.pk)
    finally:
        release.set()
        t.join()
    # then it does not plan and says why
    run.refresh_from_db()
    assert holder == [True]
    assert outcome == "locked"
    assert run.status == "failed" and run.error.startswith("run_in_progress")
    assert not PlannedOrder.objects.exists()


def test_planning_run_start_fails_an_abandoned_running_run(db, tree, planner):
    # given a run left "running" by a worker that died (nobody holds the run lock)
    dead = PlanningRun.objects.create(mode="regenerative", status="running")
    # when a new run is requested
    run = planning_run_start(mode="regenerative", user=planner)
    # then the dead one is failed and the new one queued
    dead.refresh_from_db()
    assert dead.status == "failed" and dead.error.startswith("abandoned")
    assert run.status == "queued"
