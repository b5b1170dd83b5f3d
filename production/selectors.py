"""Reads of production orders: lists, details, availability."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DateField, Exists, F, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from config.exceptions import ValidationFailed
from config.fields import MONEY_PLACES, QTY_PLACES, ZERO
from inventory.models import Location, StockMovement
from inventory.selectors import stock_cover
from planning.models import WorkCenter
from production.enums import DOCUMENT_TYPE, CostCategory, OrderStatus
from production.models import Confirmation, OrderComponent, OrderCost, OrderOperation, OrderReceived, ProductionOrder

CENT = Decimal(1).scaleb(-MONEY_PLACES)
SIXTY = Decimal(60)
CostKey = tuple[str, int | None]  # (cost category, cost center id)


def m(value: Decimal) -> Decimal:
    """Money rounded to the stored places."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def production_order_list() -> QuerySet[ProductionOrder]:
    return ProductionOrder.objects.select_related(
        "item", "item__uom", "cost_center", "issue_location", "receipt_location", "received"
    )


def production_order_detail_qs() -> QuerySet[ProductionOrder]:
    return (
        production_order_list()
        .select_related("merged_into", "split_from")
        .prefetch_related(
            Prefetch(
                "components",
                queryset=OrderComponent.objects.select_related("item", "item__uom", "issue_location"),
            ),
            Prefetch("operations", queryset=OrderOperation.objects.select_related("work_center")),
            Prefetch("costs", queryset=OrderCost.objects.select_related("cost_center")),
            "confirmations",
        )
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
    reserved_for_order: Decimal  # this component's open reservations
    reserved_on_hand: Decimal  # the part of them stock on hand backs
    open_requirement: Decimal  # required - issued
    available: Decimal  # to this order at the issue location: reserved_on_hand + stock nobody reserved
    short: Decimal  # open_requirement that available does not cover


@dataclass(frozen=True)
class Shortage:
    sku: str
    location_code: str
    required: Decimal
    available: Decimal
    short: Decimal


def _components_availability(components: list[OrderComponent]) -> dict[int, ComponentAvailability]:
    """Availability of the components of any number of orders, the one rule every page, the API
    and the release check read. A component is short by its open requirement (required − issued)
    less what is physically available to it: its own reservation only as far as stock on hand
    backs it (``stock_cover``: oldest claim first, so a reservation forced beyond the stock is
    not cover), then on hand that nobody reserved, shared by the order's components on the same
    stock in position order. Three queries, whatever the number of orders and components."""
    if not components:
        return {}
    pairs = {(c.item_id, c.issue_location_id) for c in components}
    cover = stock_cover(pairs=pairs)
    codes = dict(Location.objects.filter(pk__in={loc for _, loc in pairs}).values_list("pk", "code"))
    line_order = {c.pk: c.order_id for c in components}
    reserved: dict[int, Decimal] = defaultdict(lambda: ZERO)
    backed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for r in cover.reservations:
        if r.document_type == DOCUMENT_TYPE and line_order.get(r.document_line_id) == r.document_id:
            reserved[r.document_line_id] += r.open_quantity
            backed[r.document_line_id] += r.on_hand
    free_left: dict[tuple[int, int, int], Decimal] = {}
    result: dict[int, ComponentAvailability] = {}
    for c in sorted(components, key=lambda c: (c.order_id, c.position, c.pk)):
        pair = (c.item_id, c.issue_location_id)
        open_requirement = max(c.required_quantity - c.issued_quantity, ZERO)
        need = open_requirement - min(backed[c.pk], open_requirement)
        key = (c.order_id, *pair)
        free = free_left.setdefault(key, cover.free[pair])
        taken = min(free, need)
        free_left[key] = free - taken
        result[c.pk] = ComponentAvailability(
            component_id=c.pk,
            item_id=c.item_id,
            sku=c.item.sku,
            location_id=c.issue_location_id,
            location_code=codes.get(c.issue_location_id, ""),
            required=c.required_quantity,
            issued=c.issued_quantity,
            reserved_for_order=reserved[c.pk],
            reserved_on_hand=backed[c.pk],
            open_requirement=open_requirement,
            available=backed[c.pk] + cover.free[pair],
            short=need - taken,
        )
    return result


def _short_skus_by_order(components: QuerySet[OrderComponent]) -> dict[int, list[str]]:
    """Order id -> the SKUs of its short components, in position order."""
    components = list(components.select_related("item").order_by("order_id", "position", "pk"))
    availability = _components_availability(components)
    short: dict[int, list[str]] = defaultdict(list)
    for c in components:
        if availability[c.pk].short > 0:
            short[c.order_id].append(c.item.sku)
    return short


def production_order_availability(
    *, order: ProductionOrder, components: list[OrderComponent] | None = None
) -> list[ComponentAvailability]:
    """Per component: what is still needed and whether the issue location can cover it (see
    ``_components_availability``). A few queries, whatever the number of components."""
    if components is None:
        components = list(OrderComponent.objects.filter(order=order).select_related("item").order_by("position"))
    availability = _components_availability(components)
    return [availability[c.pk] for c in components]


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
    short: bool  # this confirmation would write off more than is available to the order


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
            short=lines.get(c.pk, ZERO) > availability[c.pk].available,
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

    @property
    def ready_to_finish(self) -> bool:
        """Every piece is confirmed but the operation is not finished: it waits for a final
        confirmation, not for more work. Never for a campaign, which has no final quantity
        and takes no final confirmation."""
        return self.open_quantity == 0 and not self.operation.order.is_campaign


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
    short = _short_skus_by_order(
        OrderComponent.objects.filter(
            order_id__in={op.order_id for op in operations}, required_quantity__gt=F("issued_quantity")
        )
    )
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
    """Released and in-progress orders with a short component (``production_order_availability``
    for every such order at once). A constant number of queries for any number of orders."""
    from production.enums import OrderStatus

    short = _short_skus_by_order(
        OrderComponent.objects.filter(
            order__status__in=[OrderStatus.RELEASED, OrderStatus.IN_PROGRESS],
            required_quantity__gt=F("issued_quantity"),
        )
    )
    if not short:
        return []
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


def production_order_actual_costs(*, order: ProductionOrder) -> dict[CostKey, Decimal]:
    """Actual cost so far per (category, cost center): material and output from the order's
    postings in the ledger, labour, machine and overhead from the confirmed times at the work
    centers' rates. Three queries."""
    totals: dict[CostKey, Decimal] = defaultdict(lambda: ZERO)
    movements = (
        StockMovement.objects.filter(posting__document_type=DOCUMENT_TYPE, posting__document_id=order.pk)
        .values("item_id")
        .annotate(value=Sum("value"))
    )
    for row in movements:
        value = row["value"] or ZERO
        if row["item_id"] == order.item_id:
            totals[(CostCategory.OUTPUT, order.cost_center_id)] -= value
        else:
            # Issues are negative movements: consumption is a positive cost.
            totals[(CostCategory.MATERIAL, order.cost_center_id)] -= value
    operations = list(OrderOperation.objects.filter(order=order))
    centers = WorkCenter.objects.in_bulk({op.work_center_id for op in operations})
    for op in operations:
        wc = centers[op.work_center_id]
        labor_hours = (op.actual_setup_minutes + op.actual_labor_minutes) / SIXTY
        totals[(CostCategory.LABOR, wc.cost_center_id)] += labor_hours * wc.labor_rate
        totals[(CostCategory.MACHINE, wc.cost_center_id)] += op.actual_machine_minutes / SIXTY * wc.machine_rate
        totals[(CostCategory.OVERHEAD, wc.cost_center_id)] += labor_hours * wc.overhead_rate
    return totals


def production_order_costs(*, order: ProductionOrder) -> list[OrderCost]:
    """The order's cost rows as of now: planned as fixed at release; actual from the postings
    and confirmed times up to this moment while the order is open (the stored figures, fixed
    at close, once it is closed or cancelled); variance as fixed at close. Uses the order's
    prefetched ``costs`` when there are any."""
    rows = sorted(order.costs.all(), key=lambda c: (c.category, c.cost_center_id or 0))
    if order.status in (OrderStatus.PLANNED, OrderStatus.CLOSED, OrderStatus.CANCELLED, OrderStatus.MERGED):
        return rows
    actual = production_order_actual_costs(order=order)
    by_key = {(c.category, c.cost_center_id): c for c in rows}
    for key in sorted(actual.keys() - by_key.keys(), key=lambda k: (k[0], k[1] or 0)):
        # Cost incurred where nothing was planned (an unplanned component, another centre).
        by_key[key] = OrderCost(order=order, category=key[0], cost_center_id=key[1], planned=ZERO)
        rows.append(by_key[key])
    for key, row in by_key.items():
        row.actual = m(actual.get(key, ZERO))
    return rows


CAMPAIGN_BUCKETS = ("day", "week", "month")


def bucket_start(day: dt.date, bucket: str) -> dt.date:
    """The first day of the report period ``day`` falls in (weeks start on Monday, as
    Postgres' ``date_trunc('week')``)."""
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def bucket_next(start: dt.date, bucket: str) -> dt.date:
    if bucket == "week":
        return start + dt.timedelta(days=7)
    if bucket == "month":
        return (start + dt.timedelta(days=32)).replace(day=1)
    return start + dt.timedelta(days=1)


@dataclass(frozen=True)
class CampaignConsumption:
    item_id: int
    sku: str
    uom: str
    quantity: Decimal  # consumed (a by-product received: negative)


@dataclass(frozen=True)
class CampaignPeriod:
    start: dt.date
    end: dt.date  # last day of the period
    target: Decimal  # the campaign's quantity prorated over the days of its period in this one
    good: Decimal  # received into stock (ledger)
    scrap: Decimal  # reported on the last operation
    consumption: list[CampaignConsumption]


@dataclass(frozen=True)
class CampaignReport:
    order: ProductionOrder
    bucket: str
    periods: list[CampaignPeriod]
    good: Decimal
    scrap: Decimal
    consumption: list[CampaignConsumption]


def production_order_campaign_report(*, order: ProductionOrder, bucket: str) -> CampaignReport:
    """Output and consumption of a campaign per day, week or month: good output is what the
    ledger received of the order's item, consumption what it issued (or received as a
    by-product, negative) of every other item, both net of reversals and by the local date
    they were posted; scrap is what confirmations of the last operation reported, by their
    confirmation date. Every period from the campaign's start to its end (or today, if
    earlier) is listed, with the part of the target that falls in it. Two queries, however
    long the campaign and however many components and movements."""
    if bucket not in CAMPAIGN_BUCKETS:
        raise ValidationFailed(
            f"bucket must be one of {', '.join(CAMPAIGN_BUCKETS)}.",
            code="invalid_bucket",
            fields={"bucket": f"one of {', '.join(CAMPAIGN_BUCKETS)}"},
        )
    if not order.is_campaign:
        raise ValidationFailed(
            f"{order.number} is not a campaign order; it has no campaign report.",
            code="not_a_campaign",
            fields={"order": "not a campaign"},
        )
    tz = timezone.get_current_timezone()
    moved = (
        StockMovement.objects.filter(posting__document_type=DOCUMENT_TYPE, posting__document_id=order.pk)
        .annotate(period=Trunc("posted_at", bucket, output_field=DateField(), tzinfo=tz))
        .values("period", "item_id", "item__sku", "item__uom__code")
        .annotate(quantity=Sum("quantity"))
        .order_by()
    )
    last_operation = OrderOperation.objects.filter(order_id=order.pk).order_by("-sequence").values("pk")[:1]
    scrapped = (
        Confirmation.objects.filter(order_id=order.pk, operation_id=Subquery(last_operation))
        .exclude(scrap_quantity=0)
        .annotate(period=Trunc("confirmed_at", bucket, output_field=DateField(), tzinfo=tz))
        .values("period")
        .annotate(quantity=Sum("scrap_quantity"))
        .order_by()
    )
    good: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    scrap: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    used: dict[dt.date, dict[int, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    items: dict[int, tuple[str, str]] = {}
    for row in moved:
        if row["item_id"] == order.item_id:
            good[row["period"]] += row["quantity"]
        else:
            used[row["period"]][row["item_id"]] -= row["quantity"]
            items[row["item_id"]] = (row["item__sku"], row["item__uom__code"])
    for row in scrapped:
        scrap[row["period"]] += row["quantity"]

    start, end = order.campaign_start, order.campaign_end
    last = min(end, max(timezone.localdate(), start))
    active = [*good, *scrap, *used]
    first_day = min([start, *active])
    last_day = max([last, *active])
    campaign_days = Decimal((end - start).days + 1)
    periods = []
    day = bucket_start(first_day, bucket)
    while day <= last_day:
        following = bucket_next(day, bucket)
        overlap = (min(following - dt.timedelta(days=1), end) - max(day, start)).days + 1
        periods.append(
            CampaignPeriod(
                start=day,
                end=following - dt.timedelta(days=1),
                target=_q(order.quantity * max(overlap, 0) / campaign_days),
                good=good.get(day, ZERO),
                scrap=scrap.get(day, ZERO),
                consumption=_consumption(used.get(day, {}), items),
            )
        )
        day = following
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for per_item in used.values():
        for item_id, quantity in per_item.items():
            totals[item_id] += quantity
    return CampaignReport(
        order=order,
        bucket=bucket,
        periods=periods,
        good=sum(good.values(), ZERO),
        scrap=sum(scrap.values(), ZERO),
        consumption=_consumption(totals, items),
    )


def _q(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal(1).scaleb(-QTY_PLACES), rounding=ROUND_HALF_UP)


def _consumption(quantities: dict[int, Decimal], items: dict[int, tuple[str, str]]) -> list[CampaignConsumption]:
    return [
        CampaignConsumption(item_id=item_id, sku=items[item_id][0], uom=items[item_id][1], quantity=quantity)
        for item_id, quantity in sorted(quantities.items(), key=lambda kv: items[kv[0]][0])
    ]


# --------------------------------------------------------------------------- merge and split

# Sales registers how a sales order line is named (production does not import sales):
# a callable taking line ids and answering {line id: "SO-2026-000012/10"}.
_sales_line_labels: list = []


def register_sales_line_labels(describe) -> None:
    if describe not in _sales_line_labels:
        _sales_line_labels.append(describe)


def sales_line_labels(line_ids: Iterable[int]) -> dict[int, str]:
    ids = {i for i in line_ids if i is not None}
    labels: dict[int, str] = {}
    if ids:
        for describe in _sales_line_labels:
            labels.update(describe(ids))
    return {i: labels.get(i, f"sales order line {i}") for i in ids}


@dataclass(frozen=True)
class MergeShareAllocation:
    """One share of a merged order and what it gets of the order's output and cost."""

    source_id: int
    source_number: str
    is_target: bool  # the target's own quantity
    quantity: Decimal
    due_date: object
    sales_order_line_id: int | None
    parent_id: int | None
    demand: str  # what the quantity was made for, in words
    allocated_output: Decimal  # received output allocated to it, in due-date order
    allocated_cost: Decimal  # actual cost so far, in proportion to its quantity
    planned_cost: Decimal

    @property
    def open_quantity(self) -> Decimal:
        return self.quantity - self.allocated_output

    @property
    def covered(self) -> bool:
        return self.allocated_output >= self.quantity


def allocate_output(shares: list, received: Decimal) -> list[Decimal]:
    """Received output to shares in their order (due date first): each takes what it needs
    until the output runs out."""
    left = max(received, ZERO)
    out = []
    for share in shares:
        take = min(left, share.quantity)
        out.append(take)
        left -= take
    return out


def _prorate(total: Decimal, quantities: list[Decimal]) -> list[Decimal]:
    """``total`` in proportion to ``quantities``, rounded to cents, the last taking the
    rounding difference so the parts add up to the total exactly."""
    whole = sum(quantities, ZERO)
    if not quantities or whole <= 0:
        return [ZERO for _ in quantities]
    parts = [m(total * qty / whole) for qty in quantities[:-1]]
    return [*parts, m(total) - sum(parts, ZERO)]


def merge_allocation(*, order: ProductionOrder, costs: list[OrderCost] | None = None) -> list[MergeShareAllocation]:
    """The shares of a merged order (the target's own and each merged order's), in due-date
    order, with the received output allocated to them in that order and the actual and
    planned cost in proportion to their quantity. For a merged (source) order, the shares
    of the order it was merged into. Empty for an order that was never merged."""
    from production.models import OrderMergeSource

    target = order.merged_into if order.merged_into_id else order
    shares = list(
        OrderMergeSource.objects.filter(target_id=target.pk)
        .select_related("source", "parent")
        .order_by("due_date", "pk")
    )
    if not shares:
        return []
    received = OrderReceived.objects.filter(order_id=target.pk).values_list("quantity", flat=True).first() or ZERO
    if costs is None or target.pk != order.pk:
        costs = production_order_costs(order=target)
    actual = sum((c.actual for c in costs if c.category != CostCategory.OUTPUT), ZERO)
    planned = sum((c.planned for c in costs if c.category != CostCategory.OUTPUT), ZERO)
    quantities = [s.quantity for s in shares]
    labels = sales_line_labels(s.sales_order_line_id for s in shares)
    rows = []
    outputs = allocate_output(shares, received)
    costs_actual, costs_planned = _prorate(actual, quantities), _prorate(planned, quantities)
    for share, output, cost, plan in zip(shares, outputs, costs_actual, costs_planned, strict=True):
        demands = []
        if share.sales_order_line_id is not None:
            demands.append(labels[share.sales_order_line_id])
        if share.parent_id is not None:
            demands.append(f"order {share.parent.number}")
        rows.append(
            MergeShareAllocation(
                source_id=share.source_id,
                source_number=share.source.number,
                is_target=share.source_id == target.pk,
                quantity=share.quantity,
                due_date=share.due_date,
                sales_order_line_id=share.sales_order_line_id,
                parent_id=share.parent_id,
                demand=", ".join(demands) or "stock",
                allocated_output=output,
                allocated_cost=cost,
                planned_cost=plan,
            )
        )
    return rows


@dataclass(frozen=True)
class ShareState:
    """How far the share of an order in a merge is supplied, for the demand behind it."""

    target_id: int
    target_number: str
    target_status: str
    quantity: Decimal
    allocated_output: Decimal


def merge_share_states(*, order_ids: Iterable[int]) -> dict[int, ShareState]:
    """Per order that is part of a merge (a merged order, or a merge target for its own
    quantity): its share and the output allocated to it so far. One query, whatever the
    number of orders."""
    from production.models import OrderMergeSource

    ids = list(set(order_ids))
    if not ids:
        return {}
    by_target: dict[int, list] = defaultdict(list)
    for share in (
        OrderMergeSource.objects.filter(
            target_id__in=OrderMergeSource.objects.filter(source_id__in=ids).values("target_id")
        )
        .select_related("target", "target__received")
        .order_by("target_id", "due_date", "pk")
    ):
        by_target[share.target_id].append(share)
    states = {}
    for shares in by_target.values():
        target = shares[0].target
        for share, output in zip(shares, allocate_output(shares, target.received_quantity), strict=True):
            states[share.source_id] = ShareState(target.pk, target.number, target.status, share.quantity, output)
    return {k: v for k, v in states.items() if k in ids}


def production_order_merge_candidates(*, order: ProductionOrder, limit: int = 100) -> QuerySet[ProductionOrder]:
    """Orders that could be merged into ``order``, as far as their headers tell (the service
    checks everything again under the lock, postings included): same item, BOM version,
    routing, order type, receipt location and status, pegged alike; never ETO, never a campaign."""
    from inventory.models import StockPosting
    from production.enums import COMBINABLE_STATUSES, OrderType
    from production.models import Confirmation

    if order.status not in COMBINABLE_STATUSES or order.order_type == OrderType.ETO or order.is_campaign:
        return ProductionOrder.objects.none()
    return (
        production_order_list()
        .filter(
            item_id=order.item_id,
            bom_id=order.bom_id,
            routing_id=order.routing_id,
            order_type=order.order_type,
            receipt_location_id=order.receipt_location_id,
            status=order.status,
            sales_order_line_id__isnull=order.sales_order_line_id is None,
            is_campaign=False,
        )
        .exclude(pk=order.pk)
        .exclude(Exists(Confirmation.objects.filter(order_id=OuterRef("pk"))))
        .exclude(Exists(StockPosting.objects.filter(document_type=DOCUMENT_TYPE, document_id=OuterRef("pk"))))
        .order_by("due_date", "pk")[:limit]
    )
