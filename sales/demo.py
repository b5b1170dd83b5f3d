"""Demo data for the sales app; called by `manage.py demo_data` in dependency order:
the customers of docs/demo-factory.md and two draft sales orders. Idempotent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from inventory.models import Item
from sales.models import Customer, SalesOrder

CUSTOMERS = [
    ("C-ACME", "Acme Cycles"),
    ("C-VELO", "Velo City GmbH"),
    ("C-SHOP", "Web shop (integration)"),
]
# (customer, reference, [(sku, quantity, days from today, unit price)])
ORDERS = [
    (
        "C-ACME",
        "DEMO-MIXED",
        [
            ("FG-1000", 3, 10, "499.00"),
            ("FG-2000", 1, 21, "1890.00"),
            ("FG-4000", 2, 14, "329.00"),
            ("FG-3000", 1, 45, "4200.00"),
        ],
    ),
    ("C-SHOP", "DEMO-SHOP", [("FG-1000", 2, 7, "519.00")]),
]


def load() -> None:
    from sales import services

    for code, name in CUSTOMERS:
        Customer.objects.get_or_create(code=code, defaults={"name": name})
    User = get_user_model()
    planner = User.objects.filter(username="planner").first()
    if planner is None:
        return
    today = timezone.localdate()
    for customer_code, reference, lines in ORDERS:
        if SalesOrder.objects.filter(customer_reference=reference).exists():
            continue
        items = dict(Item.objects.filter(sku__in=[sku for sku, *_ in lines]).values_list("sku", "pk"))
        if len(items) < len(lines):
            continue  # the inventory demo is not loaded
        services.sales_order_create(
            customer_id=Customer.objects.get(code=customer_code).pk,
            customer_reference=reference,
            lines=[
                services.LineInput(
                    item_id=items[sku],
                    quantity=Decimal(qty),
                    requested_date=today + dt.timedelta(days=days),
                    unit_price=Decimal(price),
                )
                for sku, qty, days, price in lines
            ],
            user=planner,
        )
