"""A small plant for sales tests: finished items of every strategy, each with a BOM and a
routing, an MTO sub-assembly below the MTO item, stock in FG-STORE for the MTS items."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from config.roles import Role
from inventory.enums import ItemType, Procurement, Strategy
from inventory.models import Item, Location
from planning.models import WorkCenter
from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory, LocationFactory
from tests.inventory.helpers import receive
from tests.planning.factories import RoutingFactory, RoutingOperationFactory, WorkCenterFactory
from tests.sales.factories import CustomerFactory


@dataclass
class SalesPlant:
    mts: Item  # 10 in FG-STORE
    mts_short: Item  # 2 in FG-STORE
    mts_make_now: Item  # none in stock, produce_shortfall_immediately
    mto: Item  # BOM: SA-MTO x2 (MTO), PP-A x1
    sa_mto: Item  # BOM: SA-MTO2 x1 (MTO), PP-B x3
    sa_mto2: Item  # BOM: PP-B x1 (third level)
    ato: Item  # BOM: SA-STK x1 (MTS, from stock), PP-A x1
    sa_stock: Item
    eto: Item  # no BOM, but a routing
    part_a: Item
    part_b: Item
    rm: Location
    fg: Location
    wc: WorkCenter
    customer: object

    def routing(self, item: Item) -> None:
        routing = RoutingFactory(item=item)
        RoutingOperationFactory(
            routing=routing, sequence=10, work_center=self.wc, setup_minutes=10, run_minutes_per_unit=5
        )


def make(sku: str, strategy: str, item_type: str = ItemType.FINISHED, **kwargs) -> Item:
    return ItemFactory(
        sku=sku,
        item_type=item_type,
        procurement=Procurement.MAKE,
        strategy=strategy,
        standard_cost=Decimal("100"),
        **kwargs,
    )


@pytest.fixture
def splant(db, settings) -> SalesPlant:
    settings.PRODUCTION_ISSUE_LOCATION = "RM-STORE"
    settings.PRODUCTION_RECEIPT_LOCATION = "FG-STORE"
    settings.SALES_SHIPPING_LEAD_DAYS = 1
    rm, fg = LocationFactory(code="RM-STORE"), LocationFactory(code="FG-STORE")
    wc = WorkCenterFactory(code="WC-S")
    part_a, part_b = ItemFactory(sku="PP-A"), ItemFactory(sku="PP-B")
    mts = make("FG-MTS", Strategy.MTS)
    mts_short = make("FG-MTS-SHORT", Strategy.MTS)
    mts_make_now = make("FG-MTS-NOW", Strategy.MTS, produce_shortfall_immediately=True)
    mto = make("FG-MTO", Strategy.MTO)
    sa_mto = make("SA-MTO", Strategy.MTO, ItemType.SEMI_FINISHED)
    sa_mto2 = make("SA-MTO2", Strategy.MTO, ItemType.SEMI_FINISHED)
    ato = make("FG-ATO", Strategy.ATO)
    sa_stock = make("SA-STK", Strategy.MTS, ItemType.SEMI_FINISHED)
    eto = make("FG-ETO", Strategy.ETO)
    plant = SalesPlant(
        mts,
        mts_short,
        mts_make_now,
        mto,
        sa_mto,
        sa_mto2,
        ato,
        sa_stock,
        eto,
        part_a,
        part_b,
        rm,
        fg,
        wc,
        CustomerFactory(code="C-TEST"),
    )
    for item in (mts, mts_short, mts_make_now):
        BomLineFactory(bom=BomFactory(item=item), component=part_a, quantity=Decimal(1))
    mto_bom = BomFactory(item=mto)
    BomLineFactory(bom=mto_bom, position=10, component=sa_mto, quantity=Decimal(2))
    BomLineFactory(bom=mto_bom, position=20, component=part_a, quantity=Decimal(1))
    sa_bom = BomFactory(item=sa_mto)
    BomLineFactory(bom=sa_bom, position=10, component=sa_mto2, quantity=Decimal(1))
    BomLineFactory(bom=sa_bom, position=20, component=part_b, quantity=Decimal(3))
    BomLineFactory(bom=BomFactory(item=sa_mto2), component=part_b, quantity=Decimal(1))
    ato_bom = BomFactory(item=ato)
    BomLineFactory(bom=ato_bom, position=10, component=sa_stock, quantity=Decimal(1))
    BomLineFactory(bom=ato_bom, position=20, component=part_a, quantity=Decimal(1))
    BomLineFactory(bom=BomFactory(item=sa_stock), component=part_b, quantity=Decimal(1))
    for item in (mts, mts_short, mts_make_now, mto, sa_mto, sa_mto2, ato, sa_stock, eto):
        plant.routing(item)
    receive(mts, fg, 10)
    receive(mts_short, fg, 2)
    return plant


@pytest.fixture
def planner(user_with_role):
    return user_with_role(Role.PLANNER)


def in_days(n: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=n)
