"""Reads of production orders: lists, details, availability."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Prefetch, QuerySet, Sum

from config.fields import ZERO
from inventory.models import Location, Reservation, StockBalance
from inventory.selectors import stock_available
from production.models import OrderComponent, OrderCost, OrderOperation, ProductionOrder


def production_order_list() -> QuerySet[ProductionOrder]:
    return ProductionOrder.objects.select_related(
        "item", "item__uom", "cost_center", "issue_location", "receipt_location", "received"
    )


def production_order_detail_qs() -> QuerySet[ProductionOrder]:
    return production_order_list().prefetch_related(
        Prefetch(
            "components",
            queryset=OrderComponent.objects.select_related("item", "item__uom", "issue_location"),
        ),
        Prefetch("operations", queryset=OrderOperation.objects.select_related("work_center")),
        Prefetch("costs", queryset=OrderCost.objects.select_related("cost_center")),
        "confirmations",
    )


@dataclass(frozen=True)
class ComponentAvailability:
    component_id: int
    item_id: int
    sku: str
    location_id: int
    location_code: str
    required: Decimal
    issued: Decimal
    reserved_for_order: Decimal
    open_requirement: Decimal
    available: Decimal  # at the issue location, net of every reservation (this order's too)
    short: Decimal


@dataclass(frozen=True)
class Shortage:
    sku: str
    location_code: str
    required: Decimal
    available: Decimal
    short: Decimal


def production_order_availability(
    *, order: ProductionOrder, components: list[OrderComponent] | None = None
) -> list[ComponentAvailability]:
    """Per component: what is still needed and whether the issue location can cover it.
    Stock this order already reserved counts as covering it. A few queries, whatever the
    number of components."""
    if components is None:
        components = list(OrderComponent.objects.filter(order=order).select_related("item").order_by("position"))
    locations = {c.issue_location_id for c in components}
    codes = dict(Location.objects.filter(pk__in=locations).values_list("pk", "code"))
    available: dict[tuple[int, int], Decimal] = {}
    for location_id in locations:
        item_ids = {c.item_id for c in components if c.issue_location_id == location_id}
        for item_id, qty in stock_available(item_ids=item_ids, location_ids=[location_id]).items():
            available[(item_id, location_id)] = qty
    reserved = defaultdict(lambda: ZERO)
    for row in (
        Reservation.objects.filter(document_type="production_order", document_id=order.pk, status="open")
        .values("document_line_id")
        .annotate(open=Sum("quantity") - Sum("consumed_quantity"))
    ):
        reserved[row["document_line_id"]] = row["open"] or ZERO
    # Several components may draw on the same stock: allocate it in position order.
    remaining = dict(available)
    result = []
    for c in components:
        open_requirement = max(c.required_quantity - c.issued_quantity, ZERO)
        own = reserved[c.pk]
        need_from_free = max(open_requirement - own, ZERO)
        key = (c.item_id, c.issue_location_id)
        free = max(remaining.get(key, ZERO), ZERO)
        covered = min(free, need_from_free)
        remaining[key] = remaining.get(key, ZERO) - covered
        result.append(
            ComponentAvailability(
                component_id=c.pk,
                item_id=c.item_id,
                sku=c.item.sku,
                location_id=c.issue_location_id,
                location_code=codes.get(c.issue_location_id, ""),
                required=c.required_quantity,
                issued=c.issued_quantity,
                reserved_for_order=own,
                open_requirement=open_requirement,
                available=available.get(key, ZERO),
                short=need_from_free - covered,
            )
        )
    return result


def production_order_shortages(*, order: ProductionOrder, components: list[OrderComponent]) -> list[Shortage]:
    return [
        Shortage(
            sku=a.sku,
            location_code=a.location_code,
            required=a.open_requirement,
            available=a.available,
            short=a.short,
        )
        for a in production_order_availability(order=order, components=components)
        if a.short > 0
    ]


@dataclass(frozen=True)
class ConsumptionPreview:
    component_id: int
    item_id: int
    sku: str
    flushing: str
    operation_sequence: int | None
    bom_quantity_per_unit: Decimal
    required: Decimal
    reserved: Decimal
    issued: Decimal
    backflush_now: Decimal
    available: Decimal


def confirmation_preview(
    *, operation_id: int, good_quantity: Decimal, scrap_quantity: Decimal
) -> list[ConsumptionPreview]:
    """What a confirmation would backflush, next to what the order requires, has reserved and
    has issued per component: shown before the operator confirms."""
    from production.services.confirmations import ComponentRow, backflush_lines

    operation = OrderOperation.objects.select_related("order").filter(pk=operation_id).first()
    if operation is None:
        from config.exceptions import NotFound

        raise NotFound(f"Operation {operation_id} does not exist.", fields={"operation": "unknown"})
    order = operation.order
    operations = list(OrderOperation.objects.filter(order=order).order_by("sequence"))
    components = list(OrderComponent.objects.filter(order=order).select_related("item__uom").order_by("position"))
    before = operation.confirmed_good + operation.confirmed_scrap
    lines = {
        ln.component_id: ln.quantity
        for ln in backflush_lines(
            order=order,
            operation=operation,
            operations=operations,
            components=[ComponentRow.of(c) for c in components],
            quantity_before=before,
            quantity_after=before + good_quantity + scrap_quantity,
        )
    }
    availability = {a.component_id: a for a in production_order_availability(order=order, components=components)}
    return [
        ConsumptionPreview(
            component_id=c.pk,
            item_id=c.item_id,
            sku=c.item.sku,
            flushing=c.flushing,
            operation_sequence=c.operation_sequence,
            bom_quantity_per_unit=c.quantity_per_unit,
            required=c.required_quantity,
            reserved=availability[c.pk].reserved_for_order,
            issued=c.issued_quantity,
            backflush_now=lines.get(c.pk, ZERO),
            available=availability[c.pk].available,
        )
        for c in components
    ]


def confirmation_list() -> QuerySet:
    from production.models import Confirmation

    return Confirmation.objects.select_related("order", "operation", "work_center", "operator")


def confirmation_list_for(*, user) -> QuerySet:
    """The confirmations ``user`` may read: a shop-floor operator (with no office role) those
    of their own work centers, the spec's "confirmations at their work centers only"; every
    other role all of them."""
    from config.roles import OFFICE_ROLES, Role, user_roles
    from production.models import Operator

    roles = user_roles(user)
    if Role.OPERATOR not in roles or roles & OFFICE_ROLES:
        return confirmation_list()
    own = Operator.work_centers.through.objects.filter(operator__user_id=user.pk).values("workcenter_id")
    return confirmation_list().filter(work_center_id__in=own)


@dataclass(frozen=True)
class QueueEntry:
    operation: OrderOperation
    open_quantity: Decimal
    short_skus: list[str]
    running: bool


def floor_queue(*, work_center_ids: Iterable[int], user=None, limit: int = 100) -> list[QueueEntry]:
    """Released and in-progress operations of the given work centers in schedule order, with
    the open quantity and which components are short. A fixed number of queries however long
    the queue is."""
    from production.enums import OperationStatus, OrderStatus
    from production.models import OperationClock

    operations = list(
        OrderOperation.objects.filter(
            work_center_id__in=list(work_center_ids),
            order__status__in=[OrderStatus.RELEASED, OrderStatus.IN_PROGRESS],
        )
        .exclude(status=OperationStatus.CONFIRMED)
        .select_related("order", "order__item", "order__item__uom", "work_center")
        .order_by(F("scheduled_start").asc(nulls_last=True), "order__priority", "order__due_date", "pk")[:limit]
    )
    order_ids = {op.order_id for op in operations}
    components = list(OrderComponent.objects.filter(order_id__in=order_ids).select_related("item"))
    reserved: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in (
        Reservation.objects.filter(document_type="production_order", document_id__in=order_ids, status="open")
        .values("document_line_id")
        .annotate(open=Sum("quantity") - Sum("consumed_quantity"))
    ):
        reserved[row["document_line_id"]] = row["open"] or ZERO
    free: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for item_id, location_id, on_hand, held in StockBalance.objects.filter(
        item_id__in={c.item_id for c in components}, location_id__in={c.issue_location_id for c in components}
    ).values_list("item_id", "location_id", "on_hand", "reserved"):
        free[(item_id, location_id)] += on_hand - held
    short: dict[int, list[str]] = defaultdict(list)
    for c in components:
        missing = c.required_quantity - c.issued_quantity - reserved[c.pk]
        if missing > 0 and free[(c.item_id, c.issue_location_id)] < missing:
            short[c.order_id].append(c.item.sku)
    running = set()
    if user is not None:
        running = set(
            OperationClock.objects.filter(operation__in=operations, operator=user, stopped_at__isnull=True).values_list(
                "operation_id", flat=True
            )
        )
    return [
        QueueEntry(
            operation=op,
            open_quantity=max(op.order.quantity - op.confirmed_good - op.confirmed_scrap, ZERO),
            short_skus=short[op.order_id],
            running=op.pk in running,
        )
        for op in operations
    ]


@dataclass(frozen=True)
class OrderAudit:
    transitions: list
    changes: list


def production_order_audit(*, order: ProductionOrder) -> OrderAudit:
    """Status transitions (who, when, from, to, why) and every field change of the order,
    its components and operations: the API's ``/audit/`` and the detail page read the same."""
    from pghistory.models import Events

    return OrderAudit(
        transitions=list(order.status_changes.select_related("user")),
        changes=list(Events.objects.references(order).order_by("pgh_created_at", "pgh_id")),
    )


@dataclass(frozen=True)
class OrderShortage:
    order: ProductionOrder
    short_skus: list[str]


def production_order_shortage_list(*, limit: int = 50) -> list[OrderShortage]:
    """Released and in-progress orders whose open component requirement is neither reserved
    for them nor free at the issue location. Set-based: four queries for any number of orders
    (what ``production_order_availability`` gives per order, without the per-order loop)."""
    from production.enums import OrderStatus

    components = list(
        OrderComponent.objects.filter(
            order__status__in=[OrderStatus.RELEASED, OrderStatus.IN_PROGRESS],
            required_quantity__gt=F("issued_quantity"),
        )
        .select_related("item")
        .order_by("order_id", "position")
    )
    if not components:
        return []
    order_ids = {c.order_id for c in components}
    reserved: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in (
        Reservation.objects.filter(document_type="production_order", document_id__in=order_ids, status="open")
        .values("document_line_id")
        .annotate(open=Sum("quantity") - Sum("consumed_quantity"))
    ):
        reserved[row["document_line_id"]] = row["open"] or ZERO
    free: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for item_id, location_id, on_hand, held in StockBalance.objects.filter(
        item_id__in={c.item_id for c in components}, location_id__in={c.issue_location_id for c in components}
    ).values_list("item_id", "location_id", "on_hand", "reserved"):
        free[(item_id, location_id)] += on_hand - held
    short: dict[int, list[str]] = defaultdict(list)
    for c in components:
        missing = c.required_quantity - c.issued_quantity - reserved[c.pk]
        if missing > 0 and free[(c.item_id, c.issue_location_id)] < missing:
            short[c.order_id].append(c.item.sku)
    orders = production_order_list().filter(pk__in=list(short)).order_by("due_date", "pk")[:limit]
    return [OrderShortage(order=o, short_skus=short[o.pk]) for o in orders]


def order_operation_schedule(*, date_from, date_to, work_center_ids: Iterable[int] | None = None) -> QuerySet:
    """Scheduled operations of open orders overlapping [date_from, date_to): the Gantt."""
    from production.enums import OPEN_STATUSES

    qs = (
        OrderOperation.objects.filter(
            order__status__in=OPEN_STATUSES,
            scheduled_start__isnull=False,
            scheduled_start__date__lt=date_to,
            scheduled_end__date__gte=date_from,
        )
        .select_related("order", "order__item", "work_center")
        .order_by("work_center__code", "scheduled_start", "pk")
    )
    if work_center_ids:
        qs = qs.filter(work_center_id__in=list(work_center_ids))
    return qs
