"""Demo production orders: a released city-bike order, planned sub-assembly orders, and one
urgent order due tomorrow. Loaded once (skipped when any order exists)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from inventory.models import Item
from production.models import ProductionOrder


def load() -> None:
    _floor()
    _orders()


def _floor() -> None:
    """Terminals and the demo operator's badge (1001, PIN 1234)."""
    from planning.models import WorkCenter
    from production.models import Operator, Terminal
    from production.services.floor import operator_pin_set

    centers = {wc.code: wc for wc in WorkCenter.objects.all()}
    for code, name, wcs in [
        ("T-ASSY", "Assembly line tablet", ["WC-ASSY", "WC-WHEEL"]),
        ("T-FAB", "Fabrication kiosk", ["WC-CUT", "WC-WELD", "WC-PAINT"]),
    ]:
        terminal, _ = Terminal.objects.get_or_create(code=code, defaults={"name": name})
        terminal.work_centers.add(*[centers[c] for c in wcs if c in centers])
    user = get_user_model().objects.filter(username="operator").first()
    if user is None:
        return
    operator, created = Operator.objects.get_or_create(user=user, defaults={"badge": "1001"})
    operator.work_centers.add(*centers.values())
    if created:
        operator_pin_set(operator_id=operator.pk, pin="1234")


def _orders() -> None:
    from production import services

    if ProductionOrder.objects.exists():
        return
    items = {i.sku: i for i in Item.objects.filter(sku__in=["FG-1000", "FG-2000", "SA-100", "SA-200"])}
    if len(items) < 4:
        return
    planner = get_user_model().objects.get(username="planner")
    today = timezone.localdate()

    def create(sku: str, qty: int, days: int, priority: int = 5):
        return services.production_order_create(
            item_id=items[sku].pk,
            quantity=Decimal(qty),
            due_date=today + dt.timedelta(days=days),
            priority=priority,
            user=planner,
        )

    city = create("FG-1000", 4, 7, priority=3)
    services.production_order_release(order_id=city.pk, user=planner, reason="demo")
    create("SA-200", 10, 5)
    create("SA-100", 6, 9)
    create("FG-2000", 2, 1, priority=1)  # urgent: due tomorrow
