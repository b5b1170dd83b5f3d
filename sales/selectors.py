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
from production.models import ProductionOrder
from production.selectors import merge_share_states
from sales.enums import DEMAND_STATUSES, LineFulfilment, LineStatus, PeggingKind, SalesOrderStatus
from sales.models import Customer, LinePegging, SalesOrder, SalesOrderLine

DOCUMENT_TYPE = "sales_order"
DONE = frozenset({OrderStatus.COMPLETED, OrderStatus.CLOSED})
TOP_PATH = "0"


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
    split_from: str = ""  # the number of the order this one was split off
    merged_into: str = ""  # the number of the order that took this one over


@dataclass
class LineFulfilmentInfo:
    status: str
    reserved_open: Decimal = ZERO
    pegged: list[PeggedOrder] = field(default_factory=list)


# How far one production order carrying a line's demand got.
_SUPPLY_DONE, _SUPPLY_OPEN, _SUPPLY_CANCELLED = "done", "open", "cancelled"


def _supply_state(order: PeggedOrder, shares: dict) -> str:
    """A plain order is done when completed or closed. An order in a merge (merged, or the
    target for its own quantity) is done when the output received on the merged order,
    allocated to the merge's demands in due-date order, covers its share, or when the merged
    order is completed or closed."""
    share = shares.get(order.production_order_id)
    if share is not None:
        if share.target_status == OrderStatus.CANCELLED:
            return _SUPPLY_CANCELLED
        if share.target_status in DONE or share.allocated_output >= share.quantity:
            return _SUPPLY_DONE
        return _SUPPLY_OPEN
    if order.status == OrderStatus.CANCELLED:
        return _SUPPLY_CANCELLED
    return _SUPPLY_DONE if order.status in DONE else _SUPPLY_OPEN


def _top_supply(pegged: list[PeggedOrder], shares: dict) -> str | None:
    """The state of the line's top supply: the top pegged order and every order split off it
    (each may be part of a merge). None when nothing was pegged; cancelled when all of it is;
    done when all that is not cancelled is done."""
    top = [p for p in pegged if p.path == TOP_PATH]
    if not top:
        return None
    states = {_supply_state(p, shares) for p in top} - {_SUPPLY_CANCELLED}
    if not states:
        return _SUPPLY_CANCELLED
    return _SUPPLY_DONE if states == {_SUPPLY_DONE} else _SUPPLY_OPEN


def _fulfilment(
    line: SalesOrderLine, order_status: str, reserved_open: Decimal, pegged: list[PeggedOrder], shares: dict
) -> str:
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
    top = _top_supply(pegged, shares)
    if top == _SUPPLY_DONE:
        return LineFulfilment.READY
    if (line.strategy or Strategy.MTS) == Strategy.MTS and reserved_open >= line.open_quantity:
        return LineFulfilment.READY
    if top == _SUPPLY_OPEN:
        return LineFulfilment.IN_PRODUCTION
    return LineFulfilment.AWAITING_SUPPLY


def line_fulfilment_map(*, line_ids: Iterable[int], generated: bool = False) -> dict[int, LineFulfilmentInfo]:
    """Per line: derived fulfilment status, open reservation and pegged production orders
    (with the orders split off them, and how far a merged order's output covers them). Five
    queries whatever the number of lines. ``generated`` is for the generation itself,
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
        .select_related("production_order", "production_order__merged_into")
        .order_by("line_id", "level", "path")
    ):
        po = p.production_order
        if po is None:
            continue
        pegged[p.line_id].append(_pegged(po, p.path, p.level))
    _add_split_offs(pegged, line_ids)
    shares = merge_share_states(
        order_ids=[p.production_order_id for orders in pegged.values() for p in orders if p.path == TOP_PATH]
    )
    return {
        ln.pk: LineFulfilmentInfo(
            status=_fulfilment(
                ln,
                SalesOrderStatus.IN_PRODUCTION if generated else ln.order.status,
                reserved[ln.pk],
                pegged[ln.pk],
                shares,
            ),
            reserved_open=reserved[ln.pk],
            pegged=pegged[ln.pk],
        )
        for ln in lines
    }


def _pegged(po: ProductionOrder, path: str, level: int, split_from: str = "") -> PeggedOrder:
    merged_into = po.merged_into.number if po.merged_into_id else ""
    return PeggedOrder(
        po.pk, po.number, po.item_id, po.quantity, po.status, po.order_type, path, level, split_from, merged_into
    )


def _add_split_offs(pegged: dict[int, list[PeggedOrder]], line_ids: list[int]) -> None:
    """Orders split off a pegged order carry the line's demand too (they inherit its
    ``sales_order_line_id``): list each after its origin with the origin's path, however
    often it was split. One query."""
    splits = list(
        ProductionOrder.objects.filter(sales_order_line_id__in=line_ids, split_from__isnull=False)
        .select_related("merged_into")
        .order_by("pk")
    )
    if not splits:
        return
    for line_id, orders in pegged.items():
        known = {p.production_order_id: p for p in orders}
        added = True
        while added:
            added = False
            for po in splits:
                origin = known.get(po.split_from_id)
                if po.sales_order_line_id == line_id and po.pk not in known and origin is not None:
                    known[po.pk] = _pegged(po, origin.path, origin.level, split_from=origin.number)
                    orders.append(known[po.pk])
                    added = True


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
        # A merged order's demand is covered by the order it was merged into, unless that
        # one was cancelled.
        .exclude(production_order__merged_into__status=OrderStatus.CANCELLED)
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


def sales_line_labels(line_ids: Iterable[int]) -> dict[int, str]:
    """How a sales order line is named on other apps' pages: order number / position."""
    return {
        pk: f"{number}/{position}"
        for pk, number, position in SalesOrderLine.objects.filter(pk__in=list(line_ids)).values_list(
            "pk", "order__number", "position"
        )
    }
