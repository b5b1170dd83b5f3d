"""Firming planned orders into production orders, by service and over REST."""

from __future__ import annotations

import pytest

from planning.models import PlannedOrder, PlanningRun
from production.models import ProductionOrder
from production.services import planned_orders_firm
from tests.planning.mrp.conftest import day, forecast, run_plan

pytestmark = pytest.mark.django_db


def test_planned_orders_firm_creates_production_orders_and_next_run_keeps_them(tree, planner):
    # given a plan for 10 FIN on day 10
    forecast(tree.fin, d10=10)
    run_plan()
    fin = PlannedOrder.objects.get(item=tree.fin)
    sub = PlannedOrder.objects.get(item=tree.sub)
    # when the planner firms both, FIN with 12 instead of 10
    orders = planned_orders_firm(
        planned_order_ids=[fin.pk, sub.pk], overrides={fin.pk: {"quantity": "12"}}, user=planner
    )
    # then two MTS production orders exist and the planned orders point at them
    assert [(o.item_id, o.quantity, o.order_type, o.status) for o in orders] == [
        (tree.fin.pk, 12, "MTS", "planned"),
        (tree.sub.pk, 22, "MTS", "planned"),
    ]
    fin.refresh_from_db()
    assert (fin.status, fin.production_order_id) == ("firmed", orders[0].pk)
    # when the next regenerative run plans
    run_plan()
    # then the firmed planned orders are untouched, FIN's production order covers the demand,
    # and SUB's demand now comes from the FIN production order's components: 2 x 12 x 1.1 =
    # 26.4, rounded up to 27 whole pieces by production; SUB's firmed order brings 22
    assert PlannedOrder.objects.filter(status="firmed").count() == 2
    assert not PlannedOrder.objects.filter(item=tree.fin, status="planned").exists()
    sub_new = PlannedOrder.objects.get(item=tree.sub, status="planned")
    assert sub_new.quantity == 27 - 22
    assert sub_new.peggings.get().source_type == "production_order"


def test_planned_orders_firm_refuses_twice_and_writes_nothing(tree, planner):
    # given a firmed planned order
    forecast(tree.fin, d10=10)
    run_plan()
    fin = PlannedOrder.objects.get(item=tree.fin)
    planned_orders_firm(planned_order_ids=[fin.pk], user=planner)
    sub = PlannedOrder.objects.get(item=tree.sub, status="planned")
    # when firming it again together with another
    from config.exceptions import StateConflict

    with pytest.raises(StateConflict) as err:
        planned_orders_firm(planned_order_ids=[fin.pk, sub.pk], user=planner)
    # then nothing was written
    assert err.value.code == "already_firmed"
    assert ProductionOrder.objects.count() == 1
    assert PlannedOrder.objects.get(pk=sub.pk).status == "planned"


def test_planned_orders_firm_api_bulk_and_single(tree, planner_api, viewer_api):
    # given a plan
    forecast(tree.fin, d10=10, d12=5)
    run_plan()
    fins = list(PlannedOrder.objects.filter(item=tree.fin).order_by("due_date"))
    # when a viewer tries, then 403
    assert (
        viewer_api.post("/api/v1/planned-orders/firm/", {"planned_order_ids": [fins[0].pk]}, format="json").status_code
        == 403
    )
    # when the planner firms one with a new due date, and the other in bulk
    one = planner_api.post(f"/api/v1/planned-orders/{fins[0].pk}/firm/", {"due_date": str(day(11))}, format="json")
    bulk = planner_api.post("/api/v1/planned-orders/firm/", {"planned_order_ids": [fins[1].pk]}, format="json")
    # then
    assert one.status_code == 201, one.json()
    assert bulk.status_code == 201, bulk.json()
    assert ProductionOrder.objects.get(pk=one.json()[0]["production_order"]).due_date == day(11)
    again = planner_api.post("/api/v1/planned-orders/firm/", {"planned_order_ids": [fins[1].pk]}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_firmed")
    missing = planner_api.post("/api/v1/planned-orders/firm/", {"planned_order_ids": [999999]}, format="json")
    assert missing.status_code == 404


def test_planned_orders_firm_refuses_simulation_orders(tree, planner):
    # given a simulation run's planned order
    forecast(tree.fin, d10=10)
    run_plan(is_simulation=True)
    sim = PlannedOrder.objects.get(item=tree.fin, run__is_simulation=True)
    # when / then
    from config.exceptions import StateConflict

    with pytest.raises(StateConflict):
        planned_orders_firm(planned_order_ids=[sim.pk], user=planner)
    assert PlanningRun.objects.count() == 1
