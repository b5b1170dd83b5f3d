from __future__ import annotations

from decimal import Decimal

from sales import services
from tests.sales.conftest import in_days


def order_for(plant, user, *lines: tuple, days: int = 30):
    """Given-step: a draft order with (item, quantity) lines, requested in ``days`` days."""
    return services.sales_order_create(
        customer_id=plant.customer.pk,
        lines=[
            services.LineInput(
                item_id=item.pk, quantity=Decimal(qty), requested_date=in_days(days), unit_price=Decimal("99")
            )
            for item, qty in lines
        ],
        user=user,
    )
