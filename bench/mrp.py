"""Planning run (MRP) on a synthetic factory: N items in BOMs 5 levels deep (~8 components
per BOM), 2·N forecast rows as open demand, stock on half the items, released purchase
requisitions and open production orders (with components) as open supply. All bulk
inserted. Reports the regenerative run, a net-change run with nothing changed, net-change
runs after one new demand, and a second regenerative run that replaces the live plan: wall
time, the run's own load/fingerprint/plan/write split, and peak RSS.

    python bench/mrp.py [--items 10000] [--keep]

Uses DATABASE_URL / REDIS_URL. The planning run plans every active item in the database,
so run it on a database that holds only demo data; bench rows (SKU prefix MRPB-) are
removed afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

PREFIX = "MRPB-"
LEVEL_SHARE = [0.10, 0.12, 0.14, 0.16, 0.48]  # share of items per BOM level, raw last


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cleanup() -> None:
    from inventory.models import Bom, BomLine, Item, Location, StockBalance
    from planning.models import (
        Forecast,
        ItemPlanningPolicy,
        Pegging,
        PlannedOrder,
        PlanningDirtyItem,
        PlanningException,
        PlanningItemState,
        PlanningRun,
        PurchaseRequisition,
        Routing,
        RoutingOperation,
    )
    from production.models import OrderComponent, ProductionOrder

    items = Item.objects.filter(sku__startswith=PREFIX).values("pk")

    def raw(qs) -> None:
        qs._raw_delete(qs.db)

    raw(Pegging.objects.all())
    raw(PlannedOrder.objects.all())
    raw(PurchaseRequisition.objects.all())
    raw(PlanningException.objects.all())
    raw(PlanningItemState.objects.all())
    raw(PlanningDirtyItem.objects.all())
    raw(PlanningRun.objects.all())
    raw(Forecast.objects.filter(item__in=items))
    raw(ItemPlanningPolicy.objects.filter(item__in=items))
    raw(OrderComponent.objects.filter(order__item__in=items))
    raw(ProductionOrder.objects.filter(item__in=items))
    raw(StockBalance.objects.filter(item__in=items))
    raw(BomLine.objects.filter(bom__item__in=items))
    raw(Bom.objects.filter(item__in=items))
    raw(RoutingOperation.objects.filter(routing__item__in=items))
    raw(Routing.objects.filter(item__in=items))
    raw(Item.objects.filter(sku__startswith=PREFIX))
    raw(Location.objects.filter(code__startswith=PREFIX))


def build(n: int, seed: int = 7) -> dict:
    from inventory.models import Bom, BomLine, Item, Location, StockBalance, UnitOfMeasure, Warehouse
    from planning.models import (
        Calendar,
        CalendarShift,
        Forecast,
        ItemPlanningPolicy,
        PlanningRun,
        PurchaseRequisition,
        Routing,
        RoutingOperation,
        WorkCenter,
    )
    from production.models import OrderComponent, ProductionOrder

    rnd = random.Random(seed)
    today = dt.date.today()
    user, _ = get_user_model().objects.get_or_create(username="mrp-bench")
    pcs, _ = UnitOfMeasure.objects.get_or_create(code="pcs", defaults={"name": "Pieces", "decimals": 0})
    wh, _ = Warehouse.objects.get_or_create(code="BENCH", defaults={"name": "Bench"})
    loc = Location.objects.create(warehouse=wh, code=f"{PREFIX}STORE")
    calendar, _ = Calendar.objects.get_or_create(code="MRPB", defaults={"name": "bench"})
    if not calendar.shifts.exists():
        CalendarShift.objects.bulk_create(
            CalendarShift(calendar=calendar, weekday=d, start_time=dt.time(6), end_time=dt.time(22)) for d in range(5)
        )
    wc, _ = WorkCenter.objects.get_or_create(code="MRPB-WC", defaults={"name": "bench", "calendar": calendar})

    by_level: list[list[Item]] = []
    for level, share in enumerate(LEVEL_SHARE):
        count = int(n * share)
        make = level < len(LEVEL_SHARE) - 1
        by_level.append(
            Item.objects.bulk_create(
                Item(
                    sku=f"{PREFIX}L{level}-{i:06d}",
                    name="bench",
                    item_type="finished" if level == 0 else ("semi_finished" if make else "purchased"),
                    uom=pcs,
                    procurement="make" if make else "buy",
                    lead_time_days=rnd.randint(1, 3) if make else rnd.randint(2, 15),
                    low_level_code=level,
                    lot_multiple=Decimal(rnd.choice([0, 0, 5])),
                    safety_stock=Decimal(rnd.choice([0, 0, 0, 20])),
                )
                for i in range(count)
            )
        )
    # Weekly period lots, as a planner would set for a real factory: daily lot-for-lot on a
    # synthetic 5-level tree proposes an order per item and day.
    all_items = [i for lvl in by_level for i in lvl]
    ItemPlanningPolicy.objects.bulk_create(
        (ItemPlanningPolicy(item=i, lot_sizing="period", period_days=7) for i in all_items), batch_size=5000
    )
    made = [i for level in by_level[:-1] for i in level]
    boms = Bom.objects.bulk_create(Bom(item=i, status="active") for i in made)
    level_of = {i.pk: lvl for lvl, items in enumerate(by_level) for i in items}
    lines = []
    for bom in boms:
        below = level_of[bom.item_id] + 1
        # Mostly the next level, some deeper (a part used at several levels).
        pool = by_level[below] if rnd.random() < 0.8 else by_level[rnd.randint(below, len(by_level) - 1)]
        for pos, comp in enumerate(rnd.sample(pool, min(8, len(pool)))):
            lines.append(
                BomLine(
                    bom=bom,
                    position=(pos + 1) * 10,
                    component=comp,
                    quantity=Decimal(rnd.choice([1, 1, 2, 3])),
                    scrap_percent=Decimal(rnd.choice([0, 0, 2, 5])),
                )
            )
    BomLine.objects.bulk_create(lines, batch_size=5000)
    routings = Routing.objects.bulk_create(
        Routing(item=i, status="active", valid_from=dt.date(2020, 1, 1)) for i in made
    )
    RoutingOperation.objects.bulk_create(
        RoutingOperation(routing=r, sequence=10, work_center=wc, setup_minutes=30, run_minutes_per_unit=2)
        for r in routings
    )
    # 2·N demand rows: forecasts of finished items, a few of semi-finished (spare parts).
    demand_items = by_level[0] * 9 + by_level[1]
    seen: set[tuple[int, int]] = set()
    forecasts = []
    while len(forecasts) < 2 * n:
        item = rnd.choice(demand_items)
        offset = rnd.randint(1, 120)
        if (item.pk, offset) in seen:
            continue
        seen.add((item.pk, offset))
        forecasts.append(
            Forecast(item=item, date=today + dt.timedelta(days=offset), quantity=Decimal(rnd.randint(1, 30)))
        )
    Forecast.objects.bulk_create(forecasts, batch_size=5000)
    StockBalance.objects.bulk_create(
        (StockBalance(item=i, location=loc, on_hand=Decimal(rnd.randint(0, 200))) for i in all_items[::2]),
        batch_size=5000,
    )
    run0 = PlanningRun.objects.create(mode="regenerative", status="done")
    PurchaseRequisition.objects.bulk_create(
        (
            PurchaseRequisition(
                run=run0,
                item=rnd.choice(by_level[-1]),
                quantity=Decimal(rnd.randint(10, 500)),
                release_date=today,
                due_date=today + dt.timedelta(days=rnd.randint(-5, 60)),
                status="released",
            )
            for _ in range(n // 5)
        ),
        batch_size=5000,
    )
    orders = ProductionOrder.objects.bulk_create(
        ProductionOrder(
            number=f"{PREFIX}{k:07d}",
            item=item,
            quantity=Decimal(rnd.randint(5, 50)),
            order_type="MTS",
            status=rnd.choice(["planned", "released"]),
            due_date=today + dt.timedelta(days=rnd.randint(1, 40)),
            issue_location=loc,
            receipt_location=loc,
            created_by=user,
        )
        for k, item in enumerate(rnd.sample(by_level[1], min(len(by_level[1]), n // 20)))
    )
    comps = []
    bom_lines: dict[int, list[BomLine]] = {}
    for line in lines:
        bom_lines.setdefault(line.bom.item_id, []).append(line)
    for order in orders:
        for pos, line in enumerate(bom_lines.get(order.item_id, [])):
            comps.append(
                OrderComponent(
                    order=order,
                    position=(pos + 1) * 10,
                    item_id=line.component_id,
                    quantity_per_unit=line.quantity,
                    required_quantity=line.quantity * order.quantity,
                    issue_location=loc,
                )
            )
    OrderComponent.objects.bulk_create(comps, batch_size=5000)
    return {
        "items": len(all_items),
        "bom_lines": len(lines),
        "forecasts": len(forecasts),
        "production_orders": len(orders),
        "order_components": len(comps),
        "requisitions": n // 5,
        "demo_top": by_level[0][0],
        "demo_part": by_level[-1][0],
    }


def timed_run(mode: str) -> tuple[float, dict]:
    from planning.models import PlanningRun
    from planning.mrp.run import planning_run_execute

    run = PlanningRun.objects.create(mode=mode)
    t0 = time.perf_counter()
    outcome = planning_run_execute(run_id=run.pk)
    wall = time.perf_counter() - t0
    run.refresh_from_db()
    assert outcome == "done", run.error
    return wall, run.summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    cleanup()
    t0 = time.perf_counter()
    facts = build(args.items)
    shown = {k: v for k, v in facts.items() if not k.startswith("demo_")}
    print(f"built {shown} in {time.perf_counter() - t0:.1f}s")
    from planning.models import Forecast

    try:
        base = rss_mb()
        wall, summary = timed_run("regenerative")
        print(f"regenerative: {wall:.2f}s  peak RSS {rss_mb():.0f} MB (+{rss_mb() - base:.0f})  {summary}")
        wall, summary = timed_run("net_change")
        print(f"net change, nothing changed: {wall:.2f}s  {summary}")
        Forecast.objects.create(
            item=facts["demo_top"], date=dt.date.today() + dt.timedelta(days=200), quantity=Decimal(7)
        )
        wall, summary = timed_run("net_change")
        print(f"net change after one new demand on a finished item: {wall:.2f}s  {summary}")
        Forecast.objects.create(
            item=facts["demo_part"], date=dt.date.today() + dt.timedelta(days=30), quantity=Decimal(3)
        )
        wall, summary = timed_run("net_change")
        print(f"net change after one new demand on a bought part: {wall:.2f}s  {summary}")
        # The usual case in a working factory: a regenerative run replaces a live plan (its
        # delete of ~60 rows per item is part of the write).
        wall, summary = timed_run("regenerative")
        print(f"regenerative again, replacing the live plan: {wall:.2f}s  peak RSS {rss_mb():.0f} MB  {summary}")
    finally:
        if not args.keep:
            cleanup()


if __name__ == "__main__":
    main()
