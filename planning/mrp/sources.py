"""Independent and open demand for the planning run, through a provider registry.

A provider is ``fn(item_ids: set[int] | None) -> Iterable[Demand]``; ``None`` means all
items. Providers are plain functions so an app that planning must not import (sales) can be
wired in from here, and tests can register their own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.db.models import DecimalField, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from config.fields import ZERO


class Demand(NamedTuple):
    # A named tuple: cheaper to create than a frozen dataclass, and a run creates one per
    # demand row.
    item_id: int
    quantity: Decimal
    date: dt.date
    source_type: str
    source_id: int | None
    source_ref: str


def rows(qs) -> list[tuple]:
    """A values_list queryset's rows as the driver returns them. The snapshot reads tens of
    thousands of rows: Django's per-row conversion and a server-side cursor (one round trip
    per chunk, fast-start plans) each cost more than the query itself."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


Provider = Callable[[set[int] | None], Iterable[Demand]]
_providers: dict[str, Provider] = {}


def register_demand_provider(name: str, fn: Provider) -> None:
    """Register (or replace) a demand provider under a name."""
    _providers[name] = fn


def unregister_demand_provider(name: str) -> None:
    _providers.pop(name, None)


def demand_providers() -> dict[str, Provider]:
    return dict(_providers)


def demand_collect(item_ids: set[int] | None = None) -> list[Demand]:
    """Every registered provider's demand with a positive quantity."""
    out: list[Demand] = []
    for fn in _providers.values():
        out.extend(d for d in fn(item_ids) if d.quantity > 0)
    return out


def forecast_demand(item_ids: set[int] | None) -> list[Demand]:
    from planning.models import Forecast

    qs = Forecast.objects.all()
    if item_ids is not None:
        qs = qs.filter(item_id__in=item_ids)
    return [
        Demand(item_id, qty, day, "forecast", pk, f"forecast {day}")
        for pk, item_id, qty, day in rows(qs.values_list("pk", "item_id", "quantity", "date"))
    ]


def safety_stock_demand(item_ids: set[int] | None) -> list[Demand]:
    """Safety stock as a demand due today that is never consumed: the plan keeps that much
    on hand, and its pegging shows why the stock is held."""
    from inventory.models import Item

    today = dt.date.today()
    qs = Item.objects.filter(is_active=True, safety_stock__gt=0)
    if item_ids is not None:
        qs = qs.filter(pk__in=item_ids)
    return [
        Demand(pk, qty, today, "safety_stock", pk, "safety stock") for pk, qty in qs.values_list("pk", "safety_stock")
    ]


def production_component_demand(item_ids: set[int] | None) -> list[Demand]:
    """What open production orders still need of each component: required − issued − what
    their own open reservation already holds (reserved stock is not counted as available
    supply, so counting it here again would plan it twice). By-products are left out."""
    from inventory.enums import ReservationStatus
    from inventory.models import Reservation
    from production.enums import OrderStatus
    from production.models import OrderComponent

    decimal = DecimalField(max_digits=18, decimal_places=4)
    reserved = Reservation.objects.filter(pk=OuterRef("reservation_id"), status=ReservationStatus.OPEN).values(
        open=F("quantity") - F("consumed_quantity")
    )[:1]
    qs = (
        OrderComponent.objects.filter(
            order__status__in=[OrderStatus.PLANNED, OrderStatus.RELEASED, OrderStatus.IN_PROGRESS],
            required_quantity__gt=F("issued_quantity"),
        )
        .annotate(held=Coalesce(Subquery(reserved, output_field=decimal), Value(ZERO), output_field=decimal))
        .annotate(open_qty=F("required_quantity") - F("issued_quantity") - F("held"))
        .filter(open_qty__gt=0)
    )
    if item_ids is not None:
        qs = qs.filter(item_id__in=item_ids)
    out = []
    for order_id, item_id, qty, start, due, number in rows(
        qs.values_list("order_id", "item_id", "open_qty", "order__scheduled_start", "order__due_date", "order__number")
    ):
        # Components are needed when the order starts; without a schedule, by its due date.
        day = start.date() if start is not None else due
        out.append(Demand(item_id, qty, day, "production_order", order_id, number))
    return out


def sales_demand(item_ids: set[int] | None) -> list[Demand]:
    """Open make-to-stock sales lines. MTO/ATO/ETO lines get their own pegged orders from
    sales order confirmation; planning them here too would make the item twice."""
    from inventory.enums import Strategy
    from sales.selectors import sales_demand_open

    return [
        Demand(d.item_id, d.quantity_open, d.requested_date, "sales_order_line", d.line_id, d.order_number)
        for d in sales_demand_open(item_ids=item_ids)
        if d.strategy == Strategy.MTS
    ]


register_demand_provider("forecast", forecast_demand)
register_demand_provider("safety_stock", safety_stock_demand)
register_demand_provider("production_components", production_component_demand)
register_demand_provider("sales", sales_demand)
