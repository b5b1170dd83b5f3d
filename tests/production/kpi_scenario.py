"""A known week of production for the KPI tests, with every figure worked out by hand.

The week of Monday 3 March 2025 (Mon-Fri 06:00-14:00 calendars: 40 h = 2,400 min available
per work center). The plant's FIN has op 10 at WC-A (setup 30, 6 min/unit) and op 20 at WC-B
(3 min/unit); FIN2, made here, has one operation at WC-B (10 min/unit) and one forward-
flushed P-FWD per unit.

A, FIN × 10, due 03-06, released 03-01 12:00, scheduled 03-04..03-05: op 10 9 good 1 scrap
  (setup 30, labour 45, machine 75) 03-03 10:00; op 20 9 good (labour 30) 03-04 12:00.
  Completed 03-04: on time, started before its window (not adherent), lead time 3 days.
B, FIN × 5, due 03-05, released 03-02 10:00, scheduled 03-04..03-06: op 10 5 good (setup 30,
  labour 30) 03-05 08:00; op 20 4 good 1 scrap (labour 20) 03-05 09:00, reversed; op 20 5 good
  (labour 15) 03-07 10:00. Completed 03-07: late, not adherent, 5 days. Closed 03-08.
C, FIN × 4, due 03-20, released now: op 10 2 good (labour 12, machine 12) 03-06 08:00; op 20
  1 good (labour 6) 03-06 09:00. In progress: the WIP.
E, FIN2 × 2, due 03-10, released 03-04 00:00, scheduled 03-06..03-06: op 10 1 good 1 scrap
  (labour 20) 03-06 12:00. Completed 03-06: on time, adherent, 2.5 days.

Yield over the confirmations (the reversed one and its reversal left out): good 9+9+5+5+2+1+1
= 32, scrap 1+1 = 2: yield 32/34, scrap rate 2/34.

WC-A: good 16, scrap 1; setup 60; run max(45,75) + max(30,0) + max(12,12) = 117; standard
10×6 + 5×6 + 2×6 = 102. Utilization 177/2400 = 0.07375; availability 117/2400; performance
102/117; quality 16/17; OEE = 102/2400 × 16/17 = 0.04.
WC-B: good 9+5+1+1 = 16, scrap 1; run 30+15+6+20 = 71; standard 9×3 + 5×3 + 1×3 + 2×10 = 65.
Utilization = availability = 71/2400; performance 65/71; quality 16/17; OEE = 65/2400 × 16/17.

WIP (C, the one open order): forward flush 4 P-FWD × 5 = 20; op 20 is the reporting point, so
its 1 unit backflushes 2 P-BACK × 2 = 4 (op 10's part) and 3 P-PHA × 1 = 3: material 27;
conversion WC-A 12 min × (40+10)/60 + 12 min × 20/60 = 14 and WC-B 6 min × 50/60 = 5: 19;
received 1 unit at the planned unit cost 147/4 = 36.75 (material 16+20+12+22 = 70, op10
0.9 h × 70 = 63, op20 0.2 h × 70 = 14). WIP = 9.25.

Cost variance (B, closed 03-08): planned material 20+25+15+27.5 = 87.5, op10 1 h × 70, op20
0.25 h × 70 = 17.5: 175. Actual material 25 forward + 20 P-BACK + 15 P-PHA backflushed at op 20
(the reversal took the first 35 back) = 60, labour + overhead WC-A 60 min × 50/60 = 50, WC-B
15 min × 50/60 = 12.5: 122.5. Variance −52.5 = −30 %.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from inventory.enums import ItemType, Procurement
from inventory.models import Item
from planning.calendars import from_local
from production import services
from production.enums import OrderStatus
from production.models import OrderStatusChange, ProductionOrder
from production.services import ConfirmationInput
from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory
from tests.planning.factories import RoutingFactory, RoutingOperationFactory

WEEK_FROM = dt.date(2025, 3, 3)
WEEK_TO = dt.date(2025, 3, 9)


def at(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """A moment of March 2025 in the factory's time zone."""
    return from_local(dt.datetime(2025, 3, day, hour, minute))


@dataclass
class Scenario:
    a: ProductionOrder
    b: ProductionOrder
    c: ProductionOrder
    e: ProductionOrder
    fin2: Item


def _confirm(order, sequence, user, *, when, **values) -> int:
    operation = order.operations.get(sequence=sequence)
    final = values.pop("final", False)
    quantities = {name: Decimal(value) for name, value in values.items()}
    data = ConfirmationInput(
        operation_id=operation.pk,
        confirmed_at=when,
        final=final,
        scrap_reason="material" if quantities.get("scrap_quantity") else "",
        **quantities,
    )
    confirmation = services.confirmation_create(data=data, user=user)
    services.confirmation_post(confirmation_id=confirmation.pk)
    return confirmation.pk


def _history(order, *, released, scheduled=None) -> None:
    """Give the order the release time and schedule of the story (the services stamp now)."""
    OrderStatusChange.objects.filter(order=order, to_status=OrderStatus.RELEASED).update(at=released)
    if scheduled:
        ProductionOrder.objects.filter(pk=order.pk).update(scheduled_start=scheduled[0], scheduled_end=scheduled[1])


def build_week(plant, planner) -> Scenario:
    plant.stock()
    fin2 = ItemFactory(sku="FIN2", item_type=ItemType.FINISHED, procurement=Procurement.MAKE)
    BomLineFactory(bom=BomFactory(item=fin2), component=plant.part_fwd, quantity=Decimal(1), flushing="forward")
    routing = RoutingFactory(item=fin2)
    RoutingOperationFactory(
        routing=routing, sequence=10, work_center=plant.wc_b, setup_minutes=0, run_minutes_per_unit=10
    )

    def order(item, quantity, due):
        created = services.production_order_create(item_id=item.pk, quantity=quantity, due_date=due, user=planner)
        services.production_order_release(order_id=created.pk, user=planner)
        return created

    a = order(plant.finished, 10, dt.date(2025, 3, 6))
    b = order(plant.finished, 5, dt.date(2025, 3, 5))
    c = order(plant.finished, 4, dt.date(2025, 3, 20))
    e = order(fin2, 2, dt.date(2025, 3, 10))

    _confirm(
        a, 10, planner, when=at(3, 10), good_quantity=9, scrap_quantity=1, setup_minutes=30, labor_minutes=45,
        machine_minutes=75, final=True,
    )  # fmt: skip
    _confirm(a, 20, planner, when=at(4, 12), good_quantity=9, labor_minutes=30, final=True)
    _history(a, released=at(1, 12), scheduled=(at(4, 6), at(5, 14)))

    _confirm(b, 10, planner, when=at(5, 8), good_quantity=5, setup_minutes=30, labor_minutes=30, final=True)
    wrong = _confirm(b, 20, planner, when=at(5, 9), good_quantity=4, scrap_quantity=1, labor_minutes=20)
    services.confirmation_reverse(confirmation_id=wrong, user=planner, reason="wrong counts")
    _confirm(b, 20, planner, when=at(7, 10), good_quantity=5, labor_minutes=15, final=True)
    _history(b, released=at(2, 10), scheduled=(at(4, 6), at(6, 14)))
    services.production_order_close(order_id=b.pk, user=planner, reason="done")
    OrderStatusChange.objects.filter(order=b, to_status=OrderStatus.CLOSED).update(at=at(8, 9))

    _confirm(c, 10, planner, when=at(6, 8), good_quantity=2, labor_minutes=12, machine_minutes=12)
    _confirm(c, 20, planner, when=at(6, 9), good_quantity=1, labor_minutes=6)

    _confirm(e, 10, planner, when=at(6, 12), good_quantity=1, scrap_quantity=1, labor_minutes=20, final=True)
    _history(e, released=at(4), scheduled=(at(6, 6), at(6, 14)))

    for o in (a, b, c, e):
        o.refresh_from_db()
    assert (a.status, b.status, c.status, e.status) == ("completed", "closed", "in_progress", "completed")
    return Scenario(a=a, b=b, c=c, e=e, fin2=fin2)
