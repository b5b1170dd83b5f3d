"""Net change re-plans only what changed and ends where a regenerative run would."""

from __future__ import annotations

from decimal import Decimal

import pytest

from planning.models import PlanningDirtyItem
from planning.mrp.services import planning_mark_dirty
from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory
from tests.inventory.helpers import receive
from tests.planning.mrp.conftest import day, forecast, live_plan, run_plan

pytestmark = pytest.mark.django_db


def test_planning_run_net_change_matches_regenerative_after_new_demand(tree):
    # given a live plan, and an unrelated item with its own plan
    other = ItemFactory(sku="OTHER", procurement="make", item_type="finished", lead_time_days=1)
    BomLineFactory(bom=BomFactory(item=other), component=ItemFactory(sku="OTHER-RAW"), quantity=Decimal(1))
    forecast(tree.fin, d10=10)
    forecast(other, d6=7)
    run_plan()
    # when a new demand arrives for FIN and stock of RAW is received, then net change runs
    forecast(tree.fin, d12=4)
    receive(tree.raw, tree.rm, 50)
    net = run_plan(mode="net_change")
    after_net_change = live_plan()
    # then only FIN's branch was re-planned (FIN, SUB, RAW; the phantom is exploded through,
    # OTHER and OTHER-RAW are left alone)...
    assert net.summary["affected_items"] == 3
    # ...and the plan equals what a regenerative run makes of the same data
    run_plan()
    assert after_net_change == live_plan()
    assert [(r[2], r[4]) for r in after_net_change if r[1] == "FIN"] == [(4, day(12)), (10, day(10))]


def test_planning_run_net_change_with_nothing_changed_plans_nothing(tree):
    # given a live plan
    forecast(tree.fin, d10=10)
    run_plan()
    before = live_plan()
    # when nothing changed
    net = run_plan(mode="net_change")
    # then
    assert net.summary["affected_items"] == 0
    assert live_plan() == before


def test_planning_mark_dirty_is_replanned_and_cleared(tree):
    # given a live plan and an explicit mark on SUB
    forecast(tree.fin, d10=10)
    run_plan()
    planning_mark_dirty(item_ids=[tree.sub.pk, tree.sub.pk])
    # when
    net = run_plan(mode="net_change")
    # then SUB was re-planned; its proposal came out the same, so its live row is kept and
    # RAW below it is not touched; the mark is consumed
    assert net.summary["affected_items"] == 1
    assert net.summary["kept_unchanged"] == 1
    assert not PlanningDirtyItem.objects.exists()


def test_planning_mark_dirty_called_by_production_order_create(tree, planner):
    # given no marks
    from production.services import production_order_create
    from tests.planning.mrp.conftest import day as in_days

    assert not PlanningDirtyItem.objects.exists()
    # when production creates an order for FIN
    production_order_create(item_id=tree.fin.pk, quantity=Decimal(3), due_date=in_days(10), user=planner)
    # then FIN (supply) and its components (demand: SUB, RAW through the phantom) are marked
    marked = set(PlanningDirtyItem.objects.values_list("item__sku", flat=True))
    assert marked == {"FIN", "SUB", "RAW"}
