"""A small MRP plant and helpers: run a planning run synchronously and read the live plan."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from config.roles import Role
from inventory.enums import ItemType, Procurement
from inventory.models import Item, Location
from planning.models import Forecast, PlannedOrder, PlanningRun, PurchaseRequisition
from planning.mrp.run import planning_run_execute
from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory, LocationFactory
from tests.planning.factories import RoutingFactory, RoutingOperationFactory, WorkCenterFactory

TODAY = dt.date.today()


def day(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def forecast(item: Item, **per_day: int) -> None:
    """``forecast(item, d1=10, d3=5)``: forecast rows on today + n days."""
    Forecast.objects.bulk_create(
        Forecast(item=item, date=day(int(k[1:])), quantity=Decimal(v)) for k, v in per_day.items() if v
    )


def run_plan(mode: str = "regenerative", **kwargs) -> PlanningRun:
    run = PlanningRun.objects.create(mode=mode, **kwargs)
    assert planning_run_execute(run_id=run.pk, today=TODAY) == "done", PlanningRun.objects.get(pk=run.pk).error
    run.refresh_from_db()
    return run


def live_plan() -> list[tuple[str, str, Decimal, dt.date, dt.date]]:
    """(kind, sku, quantity, start, due) of the live plan, sorted."""
    rows = [
        ("make", o.item.sku, o.quantity, o.start_date, o.due_date)
        for o in PlannedOrder.objects.filter(run__is_simulation=False, status="planned").select_related("item")
    ] + [
        ("buy", r.item.sku, r.quantity, r.release_date, r.due_date)
        for r in PurchaseRequisition.objects.filter(run__is_simulation=False, status="planned").select_related("item")
    ]
    return sorted(rows)


def receipts_of(item: Item) -> dict[int, Decimal]:
    """Planned receipts of an item by day offset."""
    rows = list(PlannedOrder.objects.filter(item=item, status="planned", run__is_simulation=False)) + list(
        PurchaseRequisition.objects.filter(item=item, status="planned", run__is_simulation=False)
    )
    out: dict[int, Decimal] = {}
    for r in rows:
        out[(r.due_date - TODAY).days] = out.get((r.due_date - TODAY).days, Decimal(0)) + r.quantity
    return out


@dataclass
class Tree:
    """FIN (make, LT 1) = 2 x SUB (scrap 10 %) + 1 x PHA (phantom: 3 x RAW);
    SUB (make, LT 2) = 4 x RAW; RAW bought, LT 5."""

    fin: Item
    sub: Item
    pha: Item
    raw: Item
    rm: Location
    fg: Location


@pytest.fixture
def tree(db, settings) -> Tree:
    rm, fg = LocationFactory(code="RM-STORE"), LocationFactory(code="FG-STORE")
    settings.PRODUCTION_ISSUE_LOCATION = "RM-STORE"
    settings.PRODUCTION_RECEIPT_LOCATION = "FG-STORE"
    fin = ItemFactory(sku="FIN", item_type=ItemType.FINISHED, procurement=Procurement.MAKE, lead_time_days=1)
    sub = ItemFactory(sku="SUB", item_type=ItemType.SEMI_FINISHED, procurement=Procurement.MAKE, lead_time_days=2)
    pha = ItemFactory(sku="PHA", item_type=ItemType.SEMI_FINISHED, procurement=Procurement.MAKE)
    raw = ItemFactory(sku="RAW", lead_time_days=5)
    bom = BomFactory(item=fin)
    BomLineFactory(bom=bom, position=10, component=sub, quantity=Decimal(2), scrap_percent=Decimal(10))
    BomLineFactory(bom=bom, position=20, component=pha, quantity=Decimal(1), phantom=True)
    BomLineFactory(bom=BomFactory(item=pha), component=raw, quantity=Decimal(3))
    BomLineFactory(bom=BomFactory(item=sub), component=raw, quantity=Decimal(4))
    wc = WorkCenterFactory()
    for item in (fin, sub):
        RoutingOperationFactory(routing=RoutingFactory(item=item), sequence=10, work_center=wc)
    return Tree(fin, sub, pha, raw, rm, fg)


@pytest.fixture
def planner(user_with_role):
    return user_with_role(Role.PLANNER)
