"""The planning run's netting, checked against MRP tables worked out by hand.

Periods are days: period n is today + n days."""

from __future__ import annotations

from decimal import Decimal

import pytest

from planning.enums import LotSizing, RunStatus
from planning.models import (
    ItemPlanningPolicy,
    Pegging,
    PlannedOrder,
    PlanningException,
    PlanningRun,
    PurchaseRequisition,
)
from tests.inventory.factories import ItemFactory, LocationFactory
from tests.inventory.helpers import receive
from tests.planning.mrp.conftest import TODAY, day, forecast, receipts_of, run_plan

pytestmark = pytest.mark.django_db

GROSS = {"d1": 10, "d2": 35, "d3": 20, "d4": 0, "d5": 30, "d6": 10, "d7": 25, "d8": 20}


def _textbook_item(**params):
    """On hand 40, a scheduled receipt of 20 on day 2, lead time 2 days, gross requirements GROSS."""
    item = ItemFactory(sku="A", lead_time_days=2, **params)
    receive(item, LocationFactory(), 40)
    earlier = PlanningRun.objects.create(mode="regenerative", status=RunStatus.DONE)
    PurchaseRequisition.objects.create(
        run=earlier, item=item, quantity=Decimal(20), release_date=TODAY, due_date=day(2), status="released"
    )
    forecast(item, **GROSS)
    return item


def test_planning_run_execute_textbook_table_lot_for_lot():
    # given the textbook table
    #   period               1   2   3   4   5   6   7   8
    #   gross requirements  10  35  20   0  30  10  25  20
    #   scheduled receipts       20
    #   projected on hand   30  15   0   0   0   0   0   0   (40 at start)
    #   net requirements             5      30  10  25  20
    #   planned receipts             5      30  10  25  20
    #   planned releases     5      30  10  25  20
    item = _textbook_item()
    # when
    run = run_plan()
    # then
    reqs = list(PurchaseRequisition.objects.filter(item=item, status="planned").order_by("due_date"))
    assert [((r.due_date - TODAY).days, r.quantity) for r in reqs] == [(3, 5), (5, 30), (6, 10), (7, 25), (8, 20)]
    assert [(r.release_date - TODAY).days for r in reqs] == [1, 3, 4, 5, 6]
    assert run.summary["purchase_requisitions"] == 5
    # the receipt is needed on its date: no reschedule or cancel message
    assert not PlanningException.objects.filter(item=item).exists()
    # pegging: the day-3 requisition covers 5 of day 3's forecast
    peg = Pegging.objects.get(requisition=reqs[0])
    assert (peg.source_type, peg.quantity, peg.demand_date) == ("forecast", 5, day(3))


@pytest.mark.parametrize(
    ("params", "policy", "expected"),
    [
        # fixed lot 30: POH 30 15 -5→25 25 -5→25 15 -10→20 0
        ({"min_lot": Decimal(30)}, LotSizing.FIXED, {3: 30, 5: 30, 7: 30}),
        # at least 20 in steps of 5: 3: 5→20 (15), 5: -15→20 (5), 6: -5→20 (15), 7: -10→20 (10), 8: -10→20 (10)
        ({"min_lot": Decimal(20), "lot_multiple": Decimal(5)}, None, {3: 20, 5: 20, 6: 20, 7: 20, 8: 20}),
        # up to max stock 60: 3: -5 → 65 (60), 4: 60, 5: 30, 6: 20, 7: -5 → 65 (60), 8: 40
        ({"max_stock": Decimal(60)}, None, {3: 65, 7: 65}),
        # reorder point 20, min lot 25: 2: 15<20 → 25 (40), 3: 20, 5: -10 → 30 (20),
        # 6: 10 → 25 (35), 7: 10 → 25 (35), 8: 15 → 25 (40)
        ({"reorder_point": Decimal(20), "min_lot": Decimal(25)}, None, {2: 25, 5: 30, 6: 25, 7: 25, 8: 25}),
        # period of 3 days: 3: -5 + (0 + 30 on days 4, 5) → 35 (30, 30, 0), 6: -10 + 25 + 20 → 55 (45, 20, 0)
        ({}, LotSizing.PERIOD, {3: 35, 6: 55}),
    ],
    ids=["fixed", "min_multiple", "max_stock", "reorder_point", "period"],
)
def test_planning_run_execute_lot_sizing(params, policy, expected):
    # given the textbook item with a lot-sizing rule
    item = _textbook_item(**params)
    if policy:
        ItemPlanningPolicy.objects.create(item=item, lot_sizing=policy, period_days=3)
    # when
    run_plan()
    # then
    assert receipts_of(item) == expected


def test_planning_run_execute_multi_level_phantom_scrap_lead_times(tree):
    # given 10 FIN due on day 10 and nothing in stock
    forecast(tree.fin, d10=10)
    # when
    run = run_plan()
    # then FIN: due 10, start 9 (LT 1); SUB: 2 x 10 x 1.1 = 22 due 9, start 7 (LT 2);
    # RAW: 4 x 22 = 88 due 7 and 3 x 10 = 30 through the phantom due 9, released 5 days earlier
    fin = PlannedOrder.objects.get(item=tree.fin)
    sub = PlannedOrder.objects.get(item=tree.sub)
    assert (fin.quantity, fin.start_date, fin.due_date) == (10, day(9), day(10))
    assert (sub.quantity, sub.start_date, sub.due_date) == (22, day(7), day(9))
    raws = list(PurchaseRequisition.objects.filter(item=tree.raw).order_by("due_date"))
    assert [(r.quantity, r.release_date, r.due_date) for r in raws] == [(88, day(2), day(7)), (30, day(4), day(9))]
    assert not PlannedOrder.objects.filter(item=tree.pha).exists()
    # pegging goes up the tree: RAW 88 to SUB's planned order, RAW 30 to FIN's, SUB to FIN's
    assert list(raws[0].peggings.values_list("source_type", "source_id")) == [("planned_order", sub.pk)]
    assert list(raws[1].peggings.values_list("source_type", "source_id")) == [("planned_order", fin.pk)]
    assert list(sub.peggings.values_list("source_type", "source_id", "quantity")) == [("planned_order", fin.pk, 22)]
    assert run.summary["levels"] == 3
    assert run.progress == {"level": 3, "levels": 3, "items_done": 3, "items_total": 3}


def test_planning_run_execute_routing_lead_time_and_late_message(tree):
    # given FIN without lead_time_days: routing of 10 min setup + 5 min/unit → 100 units = 510 min = 2 days
    tree.fin.lead_time_days = 0
    tree.fin.save()
    forecast(tree.fin, d1=100)
    # when
    run_plan()
    # then it should have started yesterday: late
    fin = PlannedOrder.objects.get(item=tree.fin)
    assert fin.start_date == day(-1)
    late = PlanningException.objects.get(item=tree.fin, kind="late")
    assert late.date == day(-1)


def test_planning_run_execute_messages_for_open_supply():
    # given released requisitions: one not needed, one due too early, one too late, one overdue
    item = ItemFactory(sku="B", lead_time_days=1)
    earlier = PlanningRun.objects.create(mode="regenerative", status=RunStatus.DONE)

    def released(qty, due):
        return PurchaseRequisition.objects.create(
            run=earlier, item=item, quantity=Decimal(qty), release_date=TODAY, due_date=due, status="released"
        )

    overdue = released(5, day(-3))
    early = released(10, day(2))
    late = released(10, day(6))
    spare = released(10, day(9))
    forecast(item, d1=5, d4=10, d5=10)
    # when
    run_plan()
    # then
    kinds = {(e.kind, e.source_id, e.suggested_date) for e in PlanningException.objects.filter(item=item)}
    assert ("expedite", overdue.pk, TODAY) in kinds
    assert ("reschedule_out", early.pk, day(4)) in kinds
    assert ("reschedule_in", late.pk, day(5)) in kinds
    assert ("cancel", spare.pk, None) in kinds
    # nothing new is proposed: open supply covers everything once moved
    assert not PurchaseRequisition.objects.filter(item=item, status="planned").exists()


def test_planning_run_execute_no_bom_and_no_routing_messages():
    # given a made item with demand but neither BOM nor routing
    item = ItemFactory(sku="BARE", procurement="make", item_type="finished")
    forecast(item, d3=4)
    # when
    run_plan()
    # then
    assert set(PlanningException.objects.filter(item=item).values_list("kind", flat=True)) >= {"no_bom", "no_routing"}
    assert PlannedOrder.objects.get(item=item).quantity == 4


def test_planning_run_execute_safety_stock_and_stock(tree):
    # given 5 SUB in stock, a safety stock of 3 and 6 needed on day 4
    tree.sub.safety_stock = Decimal(3)
    tree.sub.save()
    receive(tree.sub, tree.rm, 5)
    forecast(tree.sub, d4=6)
    # when
    run_plan()
    # then 5 on hand - 3 kept = 2 free → 4 to make on day 4
    assert receipts_of(tree.sub) == {4: 4}


def test_planning_run_execute_reports_progress_level_by_level(tree):
    # given demand for FIN
    forecast(tree.fin, d10=10)
    seen: list[tuple[int, int, int, int]] = []
    from planning.mrp import engine
    from planning.mrp.snapshot import snapshot_load

    # when the engine plans with a progress callback
    engine.plan(snapshot_load(today=TODAY), progress=lambda *p: seen.append(p))
    # then each level reports k of n and the items done so far
    assert seen == [(1, 3, 1, 3), (2, 3, 2, 3), (3, 3, 3, 3)]


def test_planning_run_execute_on_the_demo_factory(settings):
    # given the demo factory (its forecast for the MTS city bike included)
    from django.core.management import call_command

    call_command("demo_data")
    # when
    run = run_plan()
    # then the city bike gets planned orders pegged to the forecast, and its bought parts
    # get requisitions
    bikes = PlannedOrder.objects.filter(item__sku="FG-1000", status="planned")
    assert bikes.exists()
    assert set(Pegging.objects.filter(planned_order__in=bikes).values_list("source_type", flat=True)) == {"forecast"}
    assert PurchaseRequisition.objects.filter(item__procurement="buy").exists()
    assert run.summary["items_planned"] > 10
