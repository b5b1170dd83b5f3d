"""Result endpoints: filters and constant query counts; simulations kept apart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from planning.models import PlannedOrder, PlanningRun
from planning.mrp.services import planning_run_commit, planning_run_discard
from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory
from tests.planning.factories import RoutingFactory, RoutingOperationFactory
from tests.planning.mrp.conftest import day, forecast, live_plan, run_plan

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/planned-orders/",
    "/api/v1/purchase-requisitions/",
    "/api/v1/planning-exceptions/",
    "/api/v1/planning-runs/",
]


def _plant(n: int) -> None:
    for i in range(n):
        item = ItemFactory(sku=f"MK-{n}-{i}", procurement="make", item_type="finished", lead_time_days=1)
        BomLineFactory(bom=BomFactory(item=item), component=ItemFactory(sku=f"BY-{n}-{i}", lead_time_days=40))
        RoutingOperationFactory(routing=RoutingFactory(item=item))
        forecast(item, d3=2)


@pytest.mark.parametrize("url", LISTS)
def test_mrp_lists_have_constant_query_counts(url, planner_api, django_assert_max_num_queries):
    # given one item planned, then 25
    _plant(1)
    run_plan()
    with django_assert_max_num_queries(8):
        small = planner_api.get(url)
    PlanningRun.objects.all().delete()
    _plant(25)
    run_plan()
    # when / then the same number of queries for 25 rows
    with django_assert_max_num_queries(8) as ctx:
        large = planner_api.get(url, {"page_size": 100})
    assert small.status_code == large.status_code == 200
    if url != "/api/v1/planning-runs/":
        assert large.json()["count"] >= 25
    assert len(ctx.captured_queries) <= 8


def test_mrp_lists_filter_by_item_date_and_kind(planner_api):
    # given two items planned
    _plant(2)
    run_plan()
    item = PlannedOrder.objects.order_by("pk").first().item_id
    # when / then
    by_item = planner_api.get("/api/v1/planned-orders/", {"item": item}).json()
    assert [r["item"] for r in by_item["results"]] == [item]
    assert planner_api.get("/api/v1/planned-orders/", {"due_from": str(day(4))}).json()["count"] == 0
    late = planner_api.get("/api/v1/planning-exceptions/", {"kind": "late"}).json()
    assert late["count"] == 2  # the bought parts need 40 days
    assert planner_api.get("/api/v1/purchase-requisitions/", {"due_to": str(day(2))}).json()["count"] == 2


def test_planning_run_simulation_is_kept_apart_compared_and_committed(tree, planner, planner_api):
    # given a live plan for 10 FIN
    forecast(tree.fin, d10=10)
    run_plan()
    live = live_plan()
    # when a what-if adds 5 FIN on day 12 and shortens RAW's lead time
    sim = run_plan(
        is_simulation=True,
        scenario={
            "extra_demand": [{"item": tree.fin.pk, "quantity": "5", "date": str(day(12))}],
            "lead_times": {str(tree.raw.pk): 1},
        },
    )
    # then the live plan is unchanged, and the comparison shows the extra FIN, SUB and RAW
    assert live_plan() == live
    diffs = {d["sku"]: d for d in planner_api.get(f"/api/v1/planning-runs/{sim.pk}/compare/").json()}
    assert Decimal(diffs["FIN"]["difference"]) == 5
    assert Decimal(diffs["SUB"]["difference"]) == 11
    assert set(diffs) == {"FIN", "SUB", "RAW"}
    capacity = planner_api.get(f"/api/v1/planning-runs/{sim.pk}/capacity/").json()
    assert capacity and all(Decimal(row["hours"]) > 0 for row in capacity)
    assert planner_api.get("/api/v1/planned-orders/", {"run": sim.pk}).json()["count"] == 4
    # when committed, it becomes the live plan
    planning_run_commit(run_id=sim.pk, user=planner)
    assert sorted(r[2] for r in live_plan() if r[1] == "FIN") == [5, 10]


def test_planning_run_discard_drops_the_simulation(tree, planner):
    # given a simulation
    forecast(tree.fin, d10=10)
    sim = run_plan(is_simulation=True, scenario={"stock": {str(tree.raw.pk): "500"}})
    assert PlannedOrder.objects.filter(run=sim).exists()
    # when
    planning_run_discard(run_id=sim.pk, user=planner)
    # then
    assert not PlannedOrder.objects.filter(run=sim).exists()
    assert PlanningRun.objects.get(pk=sim.pk).status == "discarded"
