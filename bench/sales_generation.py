"""Bench: generation of the production orders of one 1,000-line MTO sales order with
3-level structures (MTO finished item -> MTO semi-finished -> bought parts). BOMs and
routings are created in bulk; the generation runs in-process by calling the task function.

    DATABASE_URL=postgres://... python bench/sales_generation.py [lines]

Everything it creates is rolled back at the end."""

from __future__ import annotations

import cProfile
import datetime as dt
import os
import pstats
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from inventory.models import Bom, BomLine, Item, Location, UnitOfMeasure, Warehouse  # noqa: E402
from planning.models import Calendar, CalendarShift, CostCenter, Routing, RoutingOperation, WorkCenter  # noqa: E402
from production.models import ProductionOrder  # noqa: E402
from sales import services  # noqa: E402
from sales.models import Customer, SalesOrder  # noqa: E402
from sales.tasks import sales_order_generate_task  # noqa: E402

LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
FAMILIES = 50  # distinct finished items; lines cycle through them
PROFILE = os.environ.get("BENCH_PROFILE") == "1"


class Rollback(Exception):
    pass


def build() -> SalesOrder:
    user, _ = get_user_model().objects.get_or_create(username="bench-sales")
    pcs, _ = UnitOfMeasure.objects.get_or_create(code="pcs", defaults={"name": "pcs", "decimals": 0})
    wh, _ = Warehouse.objects.get_or_create(code="BENCH", defaults={"name": "Bench"})
    for code in (settings.PRODUCTION_ISSUE_LOCATION, settings.PRODUCTION_RECEIPT_LOCATION):
        Location.objects.get_or_create(code=code, defaults={"warehouse": wh})
    calendar = Calendar.objects.create(code="BENCH-CAL", name="bench")
    CalendarShift.objects.bulk_create(
        CalendarShift(calendar=calendar, weekday=d, start_time=dt.time(6), end_time=dt.time(22)) for d in range(5)
    )
    cc = CostCenter.objects.create(code="BENCH-CC", name="bench")
    wcs = WorkCenter.objects.bulk_create(
        WorkCenter(code=f"BENCH-WC{i}", name="bench", calendar=calendar, cost_center=cc) for i in range(4)
    )

    def items(prefix: str, n: int, **kw) -> list[Item]:
        return Item.objects.bulk_create(
            Item(sku=f"BENCH-{prefix}-{i}", name=prefix, uom=pcs, standard_cost=Decimal(1), **kw) for i in range(n)
        )

    parts = items("PP", 20, item_type="purchased", procurement="buy", strategy="MTS")
    fgs = items("FG", FAMILIES, item_type="finished", procurement="make", strategy="MTO")
    sas = items("SA", FAMILIES, item_type="semi_finished", procurement="make", strategy="MTO")
    boms = Bom.objects.bulk_create(Bom(item=i, status="active", valid_from=dt.date(2020, 1, 1)) for i in fgs + sas)
    lines = []
    for n, bom in enumerate(boms):
        if n < FAMILIES:  # FG: its SA and two parts
            lines.append(BomLine(bom=bom, position=10, component=sas[n], quantity=Decimal(2), operation_sequence=10))
        for k in range(2):
            part = parts[(n + k) % len(parts)]
            lines.append(BomLine(bom=bom, position=20 + k * 10, component=part, quantity=Decimal(3)))
    BomLine.objects.bulk_create(lines)
    routings = Routing.objects.bulk_create(
        Routing(item=i, status="active", valid_from=dt.date(2020, 1, 1)) for i in fgs + sas
    )
    RoutingOperation.objects.bulk_create(
        RoutingOperation(
            routing=r,
            sequence=seq,
            work_center=wcs[(n + seq // 10) % len(wcs)],
            setup_minutes=10,
            run_minutes_per_unit=2,
        )
        for n, r in enumerate(routings)
        for seq in (10, 20)
    )
    customer = Customer.objects.create(code="BENCH-C", name="bench")
    order = services.sales_order_create(
        customer_id=customer.pk,
        lines=[
            services.LineInput(
                item_id=fgs[n % FAMILIES].pk,
                quantity=Decimal(1 + n % 5),
                requested_date=dt.date.today() + dt.timedelta(days=30 + n % 60),
            )
            for n in range(LINES)
        ],
        user=user,
    )
    services.sales_order_confirm(order_id=order.pk, user=user)  # queues on commit: never, rolled back
    return order


def main() -> None:
    call_command("migrate", verbosity=0)
    try:
        with transaction.atomic():
            order = build()
            before = ProductionOrder.objects.count()
            queries_before = len(connection.queries)
            profiler = cProfile.Profile() if PROFILE else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            result = sales_order_generate_task(order.pk)
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - started
            created = ProductionOrder.objects.count() - before
            print(
                f"lines={LINES} production_orders={created} status={result['status']} "
                f"seconds={elapsed:.2f} orders_per_s={created / elapsed:.0f}"
                # connection.queries keeps at most 9,000 entries: only meaningful for small runs.
                + (f" queries={len(connection.queries) - queries_before}" if LINES <= 100 else "")
            )
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
