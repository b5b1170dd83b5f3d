"""Reads of the sales app. Production does not import sales, so how far a line got is read
here, from its pegged production orders, its reservations and its deliveries."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest

from config.fields import ZERO
from inventory.enums import ReservationStatus, Strategy
from inventory.models import Reservation
from production.enums import OrderStatus
from sales.enums import DEMAND_STATUSES, LineFulfilment, LineStatus, PeggingKind, SalesOrderStatus
from sales.models import Customer, LinePegging, SalesOrder, SalesOrderLine

DOCUMENT_TYPE = "sales_order"
DONE = frozenset({OrderStatus.COMPLETED, OrderStatus.CLOSED})


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.all()


def sales_order_list() -> QuerySet[SalesOrder]:
    return SalesOrder.objects.select_related("customer").annotate(
        line_count=Count("lines", distinct=True),
        total_amount=Coalesce(
            Sum(F("lines__quantity") * F("lines__unit_price"), output_field=DecimalField()),
            Value(ZERO),
            output_field=DecimalField(),
        ),
    )


def sales_order_detail_qs() -> QuerySet[SalesOrder]:
    return SalesOrder.objects.select_related("customer").prefetch_related("lines__item__uom", "deliveries__lines")


@dataclass(frozen=True)
class PeggedOrder:
    production_order_id: int
    number: str
    item_id: int
    quantity: Decimal
    status: str
    order_type: str
    path: str
    level: int


@dataclass
class LineFulfilmentInfo:
    status: str
    reserved_open: Decimal = ZERO
    pegged: list[PeggedOrder] = field(default_factory=list)


def _fulfilment(line: SalesOrderLine, order_status: str, reserved_open: Decimal, pegged: list[PeggedOrder]) -> str:
    if line.status == LineStatus.CANCELLED:
        return LineFulfilment.CANCELLED
    if line.status == LineStatus.DELIVERED:
        return LineFulfilment.DELIVERED
    if line.delivered_quantity > 0:
        return LineFulfilment.PARTIALLY_DELIVERED
    if order_status in (
        SalesOrderStatus.DRAFT,
        SalesOrderStatus.CONFIRMED,
        SalesOrderStatus.GENERATION_FAILED,
    ):
        return LineFulfilment.PENDING
    top = next((p for p in pegged if p.path == "0"), None)
    if top is not None and top.status in DONE:
        return LineFulfilment.READY
    if (line.strategy or Strategy.MTS) == Strategy.MTS and reserved_open >= line.open_quantity:
        return LineFulfilment.READY
    if top is not None and top.status != OrderStatus.CANCELLED:
        return LineFulfilment.IN_PRODUCTION
    return LineFulfilment.AWAITING_SUPPLY


def line_fulfilment_map(*, line_ids: Iterable[int], generated: bool = False) -> dict[int, LineFulfilmentInfo]:
    """Per line: derived fulfilment status, open reservation and pegged production orders.
    Three queries whatever the number of lines. ``generated`` is for the generation itself,
    which asks before the order's new status is saved."""
    line_ids = list(line_ids)
    lines = list(SalesOrderLine.objects.filter(pk__in=line_ids).select_related("order"))
    reserved: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for line_id, open_qty in (
        Reservation.objects.filter(
            document_type=DOCUMENT_TYPE, document_line_id__in=line_ids, status=ReservationStatus.OPEN
        )
        .values("document_line_id")
        .annotate(q=Sum(F("quantity") - F("consumed_quantity")))
        .values_list("document_line_id", "q")
    ):
        reserved[line_id] = open_qty or ZERO
    pegged: dict[int, list[PeggedOrder]] = defaultdict(list)
    for p in (
        LinePegging.objects.filter(line_id__in=line_ids, kind=PeggingKind.PRODUCTION_ORDER)
        .select_related("production_order")
        .order_by("line_id", "level", "path")
    ):
        po = p.production_order
        if po is None:
            continue
        pegged[p.line_id].append(
            PeggedOrder(po.pk, po.number, po.item_id, po.quantity, po.status, po.order_type, p.path, p.level)
        )
    return {
        ln.pk: LineFulfilmentInfo(
            status=_fulfilment(
                ln,
                SalesOrderStatus.IN_PRODUCTION if generated else ln.order.status,
                reserved[ln.pk],
                pegged[ln.pk],
            ),
            reserved_open=reserved[ln.pk],
            pegged=pegged[ln.pk],
        )
        for ln in lines
    }


@dataclass(frozen=True)
class SalesDemand:
    line_id: int
    order_number: str
    item_id: int
    quantity_open: Decimal  # base unit: not delivered, not covered by its reservation or pegged order
    requested_date: dt.date
    strategy: str


def sales_demand_open(*, item_ids: Iterable[int] | None = None) -> list[SalesDemand]:
    """Open sales demand for the planning run, one query: per open line of a confirmed
    order, what is neither delivered nor covered by the line's own open reservation or its
    (not cancelled) top pegged production order. Lines with nothing open are left out."""
    reserved = (
        Reservation.objects.filter(
            document_type=DOCUMENT_TYPE, document_line_id=OuterRef("pk"), status=ReservationStatus.OPEN
        )
        .values("document_line_id")
        .annotate(q=Sum(F("quantity") - F("consumed_quantity")))
        .values("q")
    )
    pegged = (
        LinePegging.objects.filter(line_id=OuterRef("pk"), path="0", production_order__isnull=False)
        .exclude(production_order__status=OrderStatus.CANCELLED)
        .values("quantity")[:1]
    )
    decimal = DecimalField(max_digits=18, decimal_places=4)
    qs = (
        SalesOrderLine.objects.filter(order__status__in=DEMAND_STATUSES, status=LineStatus.OPEN)
        .annotate(
            covered=Coalesce(Subquery(reserved, output_field=decimal), Value(ZERO), output_field=decimal)
            + Coalesce(Subquery(pegged, output_field=decimal), Value(ZERO), output_field=decimal),
        )
        .annotate(open_qty=Greatest(F("quantity") - F("delivered_quantity") - F("covered"), Value(ZERO)))
        .filter(open_qty__gt=0)
        .order_by("requested_date", "pk")
        .values_list("pk", "order__number", "item_id", "open_qty", "requested_date", "strategy", "item__strategy")
    )
    if item_ids is not None:
        qs = qs.filter(item_id__in=list(item_ids))
    return [
        SalesDemand(
            line_id=pk,
            order_number=number,
            item_id=item_id,
            quantity_open=Decimal(open_qty),
            requested_date=requested,
            strategy=strategy or item_strategy,
        )
        for pk, number, item_id, open_qty, requested, strategy, item_strategy in qs
    ]
