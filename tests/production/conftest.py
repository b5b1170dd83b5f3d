"""A small plant for production order tests: one finished item with a BOM (a backflushed
part, a forward-flushed part, a phantom with one component, a lot-tracked manual part) and a
two-operation routing on a Mon-Fri calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from config.roles import Role
from inventory.enums import ItemType, Procurement
from inventory.models import Item, Location
from planning.models import WorkCenter
from tests.inventory.factories import (
    BomFactory,
    BomLineFactory,
    ItemFactory,
    LocationFactory,
    LotFactory,
    UnitFactory,
)
from tests.inventory.helpers import receive
from tests.planning.factories import RoutingFactory, RoutingOperationFactory, WorkCenterFactory


@dataclass
class Plant:
    finished: Item
    part_back: Item  # 2 per unit, backward, op 10
    part_fwd: Item  # 1 per unit, forward
    phantom: Item
    part_in_phantom: Item  # 3 per phantom, via phantom line at op 20
    part_lot: Item  # 0.5 per unit, lot tracked, manual, scrap 10 %
    rm: Location
    fg: Location
    wc_a: WorkCenter
    wc_b: WorkCenter
    lots: list

    def stock(self, *, back=100, fwd=100, phantom_part=100, lot=(30, 30)) -> None:
        receive(self.part_back, self.rm, back)
        receive(self.part_fwd, self.rm, fwd)
        receive(self.part_in_phantom, self.rm, phantom_part)
        for lot_obj, qty in zip(self.lots, lot, strict=True):
            if qty:
                receive(self.part_lot, self.rm, qty, lot=lot_obj)


@pytest.fixture
def plant(db, settings) -> Plant:
    rm = LocationFactory(code="RM-STORE")
    fg = LocationFactory(code="FG-STORE")
    settings.PRODUCTION_ISSUE_LOCATION = "RM-STORE"
    settings.PRODUCTION_RECEIPT_LOCATION = "FG-STORE"
    finished = ItemFactory(
        sku="FIN", item_type=ItemType.FINISHED, procurement=Procurement.MAKE, standard_cost=Decimal("50")
    )
    phantom = ItemFactory(sku="PHA", item_type=ItemType.SEMI_FINISHED, procurement=Procurement.MAKE)
    part_back = ItemFactory(sku="P-BACK", standard_cost=Decimal("2"))
    part_fwd = ItemFactory(sku="P-FWD", standard_cost=Decimal("5"))
    part_in_phantom = ItemFactory(sku="P-PHA", standard_cost=Decimal("1"))
    part_lot = ItemFactory(
        sku="P-LOT", lot_tracked=True, standard_cost=Decimal("10"), uom=UnitFactory(code="kg", decimals=3)
    )
    bom = BomFactory(item=finished)
    BomLineFactory(
        bom=bom,
        position=10,
        component=part_back,
        quantity=Decimal(2),
        flushing="backward",
        operation_sequence=10,
    )
    BomLineFactory(bom=bom, position=20, component=part_fwd, quantity=Decimal(1), flushing="forward")
    BomLineFactory(bom=bom, position=30, component=phantom, quantity=Decimal(1), phantom=True, operation_sequence=20)
    BomLineFactory(
        bom=bom,
        position=40,
        component=part_lot,
        quantity=Decimal("0.5"),
        scrap_percent=Decimal(10),
        flushing="manual",
    )
    phantom_bom = BomFactory(item=phantom)
    BomLineFactory(bom=phantom_bom, component=part_in_phantom, quantity=Decimal(3), flushing="backward")
    wc_a, wc_b = WorkCenterFactory(code="WC-A"), WorkCenterFactory(code="WC-B")
    routing = RoutingFactory(item=finished)
    RoutingOperationFactory(routing=routing, sequence=10, work_center=wc_a, setup_minutes=30, run_minutes_per_unit=6)
    RoutingOperationFactory(
        routing=routing,
        sequence=20,
        work_center=wc_b,
        setup_minutes=0,
        run_minutes_per_unit=3,
        reporting_point=True,
    )
    lots = [
        LotFactory(item=part_lot, lot_number="LOT-LATE", expiry_date=dt.date(2031, 1, 1)),
        LotFactory(item=part_lot, lot_number="LOT-EARLY", expiry_date=dt.date(2030, 1, 1)),
    ]
    return Plant(finished, part_back, part_fwd, phantom, part_in_phantom, part_lot, rm, fg, wc_a, wc_b, lots)


@pytest.fixture
def simple(plant):
    """An item whose orders post nothing at release (no forward-flushed part): 2 P-BACK per
    unit, backflushed at its one operation."""
    item = ItemFactory(sku="SIMPLE", item_type=ItemType.FINISHED, procurement=Procurement.MAKE)
    BomLineFactory(
        bom=BomFactory(item=item),
        component=plant.part_back,
        quantity=Decimal(2),
        flushing="backward",
        operation_sequence=10,
    )
    routing = RoutingFactory(item=item)
    RoutingOperationFactory(
        routing=routing, sequence=10, work_center=plant.wc_a, setup_minutes=30, run_minutes_per_unit=6
    )
    return item


@pytest.fixture
def planner(user_with_role):
    return user_with_role(Role.PLANNER)


def in_days(n: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=n)
