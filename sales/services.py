"""Every write of the sales app: customers, sales orders, order generation, deliveries,
cancellation. Each service owns its transaction and locks the sales order row first, then
its lines in pk order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.db import bulk_update_fields
from config.exceptions import DomainError, InsufficientStock, NotFound, StateConflict, ValidationFailed
from config.fields import ZERO
from inventory.enums import MovementType, ReservationStatus, Strategy
from inventory.models import Bom, Item, Location, Reservation
from inventory.selectors import stock_available
from inventory.services import DocumentRef, PostingLine, reservation_create, reservations_release, stock_post
from production.enums import OrderStatus, OrderType
from production.models import OrderComponent, ProductionOrder
from production.services import (
    OrderDraft,
    production_order_cancel,
    production_order_create,
    production_orders_create_bulk,
)
from sales.enums import (
    DELIVERABLE,
    EDITABLE,
    SALES_ORDER_TRANSITIONS,
    LineStatus,
    PeggingKind,
    SalesOrderStatus,
)
from sales.models import (
    Customer,
    Delivery,
    DeliveryLine,
    LinePegging,
    SalesOrder,
    SalesOrderLine,
    SalesOrderNumberSequence,
)

DOCUMENT_TYPE = "sales_order"
TOP_PATH = "0"
RESERVATION_PATH = "res"
MAX_PEGGING_DEPTH = 10


# --- helpers -----------------------------------------------------------------------------


def _fmt(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def ensure_transition(order: SalesOrder, to_status: str) -> None:
    """The status guard; call it only after the order row is locked."""
    if to_status not in SALES_ORDER_TRANSITIONS[order.status]:
        raise StateConflict(
            f"Sales order {order.number} is {SalesOrderStatus(order.status).label.lower()}; it cannot become "
            f"{SalesOrderStatus(to_status).label.lower()}.",
            code="invalid_transition",
            fields={"status": order.status},
        )


def _locked_order(order_id: int) -> SalesOrder:
    try:
        return SalesOrder.objects.select_for_update(of=("self",), no_key=True).get(pk=order_id)
    except SalesOrder.DoesNotExist as exc:
        raise NotFound(f"Sales order {order_id} does not exist.") from exc


def _locked_lines(order: SalesOrder) -> list[SalesOrderLine]:
    return list(
        SalesOrderLine.objects.filter(order=order)
        .select_related("item")
        .select_for_update(of=("self",), no_key=True)
        .order_by("pk")
    )


def _number_next() -> str:
    year = timezone.localdate().year
    SalesOrderNumberSequence.objects.bulk_create([SalesOrderNumberSequence(year=year)], ignore_conflicts=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SalesOrderNumberSequence._meta.db_table} SET last_number = last_number + 1 "  # noqa: S608
            "WHERE year = %s RETURNING last_number",
            [year],
        )
        number = cursor.fetchone()[0]
    return f"SO-{year}-{number:06d}"


def fg_location() -> Location:
    """Finished goods: where MTS stock is reserved and deliveries are issued from."""
    code = settings.PRODUCTION_RECEIPT_LOCATION
    location = Location.objects.filter(code=code).first()
    if location is None:
        raise ValidationFailed(
            f"The finished-goods location {code!r} (PRODUCTION_RECEIPT_LOCATION) does not exist.",
            code="no_fg_location",
            fields={"location": "missing"},
        )
    return location


def document_ref(order: SalesOrder, line_id: int | None = None) -> DocumentRef:
    return DocumentRef(
        document_type=DOCUMENT_TYPE,
        document_id=order.pk,
        document_number=order.number,
        document_line_id=line_id,
    )


# --- customers ---------------------------------------------------------------------------


@transaction.atomic
def customer_create(*, code: str, name: str, user, email: str = "", currency: str | None = None) -> Customer:
    code = (code or "").strip()
    if not code:
        raise ValidationFailed("code is required.", code="required", fields={"code": "required"})
    if not (name or "").strip():
        raise ValidationFailed("name is required.", code="required", fields={"name": "required"})
    try:
        with transaction.atomic():
            return Customer.objects.create(
                code=code, name=name.strip(), email=email, currency=currency or settings.BASE_CURRENCY
            )
    except IntegrityError as exc:
        raise ValidationFailed(
            f"Customer {code} already exists.", code="duplicate", fields={"code": "already exists"}
        ) from exc


@transaction.atomic
def customer_update(*, customer_id: int, user, **fields) -> Customer:
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(f"Customer {customer_id} does not exist.")
    for name in ("name", "email", "currency", "is_active"):
        if name in fields and fields[name] is not None:
            setattr(customer, name, fields[name])
    customer.save()
    return customer


# --- sales orders ------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    item_id: int
    quantity: Decimal
    requested_date: dt.date
    unit_price: Decimal = ZERO


def _validate_customer(customer_id: int) -> Customer:
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise ValidationFailed(
            f"Customer {customer_id} does not exist.", code="unknown_customer", fields={"customer": "unknown"}
        )
    if not customer.is_active:
        raise ValidationFailed(
            f"Customer {customer.code} is inactive.",
            code="inactive_customer",
            fields={"customer": "inactive"},
        )
    return customer


def _validate_lines(lines: Sequence[LineInput]) -> dict[int, Item]:
    if not lines:
        raise ValidationFailed("A sales order needs at least one line.", code="required", fields={"lines": "required"})
    items = Item.objects.select_related("uom").in_bulk({ln.item_id for ln in lines})
    today = timezone.localdate()
    for index, ln in enumerate(lines):
        prefix = f"lines[{index}]"
        item = items.get(ln.item_id)
        if item is None:
            raise ValidationFailed(
                f"Item {ln.item_id} does not exist.",
                code="unknown_item",
                fields={f"{prefix}.item": "unknown"},
            )
        if not item.is_active:
            raise ValidationFailed(
                f"Item {item.sku} is inactive.", code="inactive_item", fields={f"{prefix}.item": "inactive"}
            )
        quantity = Decimal(ln.quantity)
        if quantity <= 0:
            raise ValidationFailed(
                f"{prefix}.quantity must be greater than zero.",
                code="invalid_quantity",
                fields={f"{prefix}.quantity": "must be > 0"},
            )
        places = Decimal(1).scaleb(-min(item.uom.decimals, 4))
        if quantity != quantity.quantize(places):
            raise ValidationFailed(
                f"{item.sku} is counted in {item.uom.code} with {item.uom.decimals} decimals; got {quantity}.",
                code="too_many_decimals",
                fields={f"{prefix}.quantity": f"at most {item.uom.decimals} decimals"},
            )
        if Decimal(ln.unit_price) < 0:
            raise ValidationFailed(
                f"{prefix}.unit_price must not be negative.",
                code="invalid_price",
                fields={f"{prefix}.unit_price": "must be >= 0"},
            )
        if ln.requested_date < today:
            raise ValidationFailed(
                f"{prefix}.requested_date {ln.requested_date} is in the past.",
                code="date_in_past",
                fields={f"{prefix}.requested_date": "must be today or later"},
            )
    return items


def _lines_write(order: SalesOrder, lines: Sequence[LineInput]) -> None:
    SalesOrderLine.objects.bulk_create(
        [
            SalesOrderLine(
                order=order,
                position=(index + 1) * 10,
                item_id=ln.item_id,
                quantity=Decimal(ln.quantity),
                requested_date=ln.requested_date,
                unit_price=Decimal(ln.unit_price),
            )
            for index, ln in enumerate(lines)
        ]
    )


@transaction.atomic
def sales_order_create(
    *,
    customer_id: int,
    lines: Sequence[LineInput],
    user,
    customer_reference: str = "",
    currency: str | None = None,
) -> SalesOrder:
    """A draft order with its lines, in one transaction: all of it or nothing."""
    customer = _validate_customer(customer_id)
    _validate_lines(lines)
    order = SalesOrder.objects.create(
        number=_number_next(),
        customer=customer,
        customer_reference=customer_reference,
        currency=currency or customer.currency,
        created_by=user,
    )
    _lines_write(order, lines)
    return order


@transaction.atomic
def sales_order_update(
    *,
    order_id: int,
    user,
    customer_id: int | None = None,
    customer_reference: str | None = None,
    currency: str | None = None,
    lines: Sequence[LineInput] | None = None,
) -> SalesOrder:
    """Edit a draft: header fields, and the lines replaced as a whole when given."""
    order = _locked_order(order_id)
    if order.status not in EDITABLE:
        raise StateConflict(
            f"Sales order {order.number} is {order.status}; only drafts can be edited.",
            code="order_locked",
            fields={"status": order.status},
        )
    if customer_id is not None:
        order.customer = _validate_customer(customer_id)
    if customer_reference is not None:
        order.customer_reference = customer_reference
    if currency is not None:
        order.currency = currency
    order.save()
    if lines is not None:
        _validate_lines(lines)
        SalesOrderLine.objects.filter(order=order).delete()
        _lines_write(order, lines)
    return order


@dataclass(frozen=True)
class LineAvailability:
    line_id: int
    position: int
    sku: str
    strategy: str
    quantity: Decimal
    available: Decimal  # free stock at the finished-goods location (MTS only)
    shortfall: Decimal


@dataclass(frozen=True)
class ConfirmResult:
    order: SalesOrder
    availability: list[LineAvailability]


@transaction.atomic
def sales_order_confirm(*, order_id: int, user) -> ConfirmResult:
    """Check availability, fix each line's strategy and queue the order generation. The task
    is queued on commit, so the worker always sees the confirmed order."""
    order = _locked_order(order_id)
    if order.status != SalesOrderStatus.DRAFT:
        raise StateConflict(
            f"Sales order {order.number} is already {SalesOrderStatus(order.status).label.lower()}.",
            code="already_confirmed" if order.status != SalesOrderStatus.CANCELLED else "invalid_transition",
            fields={"status": order.status},
        )
    lines = _locked_lines(order)
    if not lines:
        raise StateConflict(
            f"Sales order {order.number} has no lines; there is nothing to confirm.",
            code="empty_order",
            fields={"lines": "required"},
        )
    today = timezone.localdate()
    for index, line in enumerate(sorted(lines, key=lambda ln: ln.position)):
        if not line.item.is_active:
            raise ValidationFailed(
                f"Item {line.item.sku} is inactive.",
                code="inactive_item",
                fields={f"lines[{index}].item": "inactive"},
            )
        if line.requested_date < today:
            raise ValidationFailed(
                f"Line {line.position}: requested date {line.requested_date} is in the past.",
                code="date_in_past",
                fields={f"lines[{index}].requested_date": "must be today or later"},
            )
    location = fg_location()
    mts_items = {ln.item_id for ln in lines if ln.item.strategy == Strategy.MTS}
    free = stock_available(item_ids=mts_items, location_ids=[location.pk]) if mts_items else {}
    availability = []
    for line in sorted(lines, key=lambda ln: ln.position):
        line.strategy = line.item.strategy
        available = free.get(line.item_id, ZERO) if line.strategy == Strategy.MTS else ZERO
        shortfall = max(line.quantity - max(available, ZERO), ZERO) if line.strategy == Strategy.MTS else ZERO
        if line.strategy == Strategy.MTS:
            # Lines of the same item draw on the same free stock, in position order.
            free[line.item_id] = available - (line.quantity - shortfall)
        availability.append(
            LineAvailability(
                line_id=line.pk,
                position=line.position,
                sku=line.item.sku,
                strategy=line.strategy,
                quantity=line.quantity,
                available=max(available, ZERO),
                shortfall=shortfall,
            )
        )
    SalesOrderLine.objects.bulk_update(lines, ["strategy"])
    ensure_transition(order, SalesOrderStatus.CONFIRMED)
    order.status = SalesOrderStatus.CONFIRMED
    order.confirmed_at = timezone.now()
    order.confirmed_by = user
    order.save(update_fields=["status", "confirmed_at", "confirmed_by", "updated_at"])
    _queue_generation(order.pk)
    return ConfirmResult(order=order, availability=availability)


def _queue_generation(order_id: int) -> None:
    from sales.tasks import sales_order_generate_task

    transaction.on_commit(partial(sales_order_generate_task.delay, order_id))


@transaction.atomic
def sales_order_generation_retry(*, order_id: int, user) -> SalesOrder:
    """After the data was fixed: back to confirmed and queue the generation again."""
    order = _locked_order(order_id)
    if order.status != SalesOrderStatus.GENERATION_FAILED:
        raise StateConflict(
            f"Sales order {order.number} is {order.status}; only a failed generation can be retried.",
            code="invalid_transition",
            fields={"status": order.status},
        )
    ensure_transition(order, SalesOrderStatus.CONFIRMED)
    order.status = SalesOrderStatus.CONFIRMED
    order.save(update_fields=["status", "updated_at"])
    _queue_generation(order.pk)
    return order


# --- order generation --------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationResult:
    order_id: int
    status: str
    production_orders_created: int
    reservations_created: int
    error: str = ""


class _Counter:
    def __init__(self) -> None:
        self.orders = 0
        self.reservations = 0


def _claim(line: SalesOrderLine, *, path: str, level: int, kind: str, item_id: int, quantity: Decimal):
    """Insert the pegging row; None when it exists already (this part was generated before).
    The unique constraint decides, never a look-up first."""
    try:
        with transaction.atomic():
            return LinePegging.objects.create(
                line=line, path=path, level=level, kind=kind, item_id=item_id, quantity=quantity
            )
    except IntegrityError:
        return None


def _due_date(line: SalesOrderLine) -> dt.date:
    lead = settings.SALES_SHIPPING_LEAD_DAYS
    return max(line.requested_date - dt.timedelta(days=lead), timezone.localdate())


def _generate_mts(line: SalesOrderLine, *, order: SalesOrder, location: Location, user, counter: _Counter) -> None:
    available = max(stock_available(item_ids=[line.item_id], location_ids=[location.pk])[line.item_id], ZERO)
    reserve = min(available, line.quantity)
    if reserve > 0:
        pegging = _claim(
            line,
            path=RESERVATION_PATH,
            level=0,
            kind=PeggingKind.RESERVATION,
            item_id=line.item_id,
            quantity=reserve,
        )
        if pegging is not None:
            pegging.reservation = reservation_create(
                item_id=line.item_id,
                location_id=location.pk,
                quantity=reserve,
                reference=document_ref(order, line.pk),
                user=user,
            )
            pegging.save(update_fields=["reservation"])
            counter.reservations += 1
    shortfall = line.quantity - reserve
    if shortfall > 0 and line.item.produce_shortfall_immediately:
        pegging = _claim(
            line,
            path=TOP_PATH,
            level=0,
            kind=PeggingKind.PRODUCTION_ORDER,
            item_id=line.item_id,
            quantity=shortfall,
        )
        if pegging is not None:
            pegging.production_order = production_order_create(
                item_id=line.item_id,
                quantity=shortfall,
                due_date=_due_date(line),
                order_type=OrderType.MTS,
                sales_order_line_id=line.pk,
                user=user,
            )
            pegging.save(update_fields=["production_order"])
            counter.orders += 1
    # Otherwise the shortfall is demand for the planning run (sales_demand_open).


@dataclass
class _Pending:
    """A production order this generation run still has to create for a line."""

    line: SalesOrderLine
    path: str
    level: int
    item_id: int
    quantity: Decimal
    due_date: dt.date
    order_type: str
    copy_structure: bool = True
    parent: ProductionOrder | None = None


def _claim_many(pending: list[_Pending]) -> list[tuple[_Pending, int]]:
    """Insert the pegging rows of a whole level in one statement; what already exists (a
    previous run generated it) is skipped by the unique constraint, never by a look-up."""
    if not pending:
        return []
    table = LinePegging._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, now())"] * len(pending))
    params: list = []
    for p in pending:
        params += [p.line.pk, p.path, p.level, PeggingKind.PRODUCTION_ORDER, p.item_id, p.quantity]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (line_id, path, level, kind, item_id, quantity, created_at) "  # noqa: S608
            f"VALUES {values} ON CONFLICT (line_id, path) DO NOTHING RETURNING id, line_id, path",
            params,
        )
        claimed = {(line_id, path): pk for pk, line_id, path in cursor.fetchall()}
    return [(p, claimed[(p.line.pk, p.path)]) for p in pending if (p.line.pk, p.path) in claimed]


def _create_level(claimed: list[tuple[_Pending, int]], *, user) -> list[tuple[_Pending, ProductionOrder]]:
    drafts = [
        OrderDraft(
            item_id=p.item_id,
            quantity=p.quantity,
            due_date=p.due_date,
            order_type=p.order_type,
            sales_order_line_id=p.line.pk,
            parent_id=p.parent.pk if p.parent else None,
            copy_structure=p.copy_structure,
        )
        for p, _ in claimed
    ]
    try:
        with transaction.atomic():
            orders = production_orders_create_bulk(drafts=drafts, user=user)
    except DomainError:
        # Find the line to blame: the same drafts one at a time (only on failure).
        for (p, _pegging_id), draft in zip(claimed, drafts, strict=True):
            try:
                with transaction.atomic():
                    production_orders_create_bulk(drafts=[draft], user=user)
                    transaction.set_rollback(True)
            except DomainError as exc:
                raise _LineFailed(f"Line {p.line.position} ({p.line.item.sku}): {exc.message}") from exc
        raise
    peggings = []
    for (_, pegging_id), order in zip(claimed, orders, strict=True):
        peggings.append(LinePegging(pk=pegging_id, production_order_id=order.pk))
    bulk_update_fields(peggings, ["production_order"])
    return [(p, order) for (p, _), order in zip(claimed, orders, strict=True)]


def _mto_children(created: list[tuple[_Pending, ProductionOrder]]) -> list[_Pending]:
    """The MTO semi-finished components of the orders just created get pegged orders of
    their own, due when the parent is scheduled to start."""
    parents = {order.pk: (p, order) for p, order in created if p.order_type == OrderType.MTO}
    if not parents:
        return []
    children = []
    for order_id, position, item_id, required in (
        OrderComponent.objects.filter(
            order_id__in=list(parents),
            item__strategy=Strategy.MTO,
            item__procurement="make",
            required_quantity__gt=0,
        )
        .order_by("order_id", "position")
        .values_list("order_id", "position", "item_id", "required_quantity")
    ):
        p, parent = parents[order_id]
        if p.level + 1 > MAX_PEGGING_DEPTH:
            raise _LineFailed(
                f"Line {p.line.position} ({p.line.item.sku}): the MTO structure is deeper than "
                f"{MAX_PEGGING_DEPTH} levels."
            )
        start = parent.scheduled_start.date() if parent.scheduled_start else parent.due_date
        children.append(
            _Pending(
                line=p.line,
                path=f"{p.path}/{position}",
                level=p.level + 1,
                item_id=item_id,
                quantity=required,
                due_date=max(start, timezone.localdate()),
                order_type=OrderType.MTO,
                parent=parent,
            )
        )
    return children


def _generate_orders(lines: list[SalesOrderLine], *, user, counter: _Counter) -> None:
    """Pegged production orders for MTO, ATO and ETO lines, a level at a time in bulk: the
    top orders of all lines, then the MTO sub-assemblies of those, and so on."""
    eto_items = {ln.item_id for ln in lines if (ln.strategy or ln.item.strategy) == Strategy.ETO}
    with_bom = set(
        Bom.objects.filter(item_id__in=eto_items, status="active").values_list("item_id", flat=True).distinct()
    )
    pending = []
    for line in lines:
        strategy = line.strategy or line.item.strategy
        pending.append(
            _Pending(
                line=line,
                path=TOP_PATH,
                level=0,
                item_id=line.item_id,
                quantity=line.quantity,
                due_date=_due_date(line),
                order_type={Strategy.MTO: OrderType.MTO, Strategy.ATO: OrderType.ATO}.get(strategy, OrderType.ETO),
                # ETO without a BOM starts empty, for engineering to complete.
                copy_structure=strategy != Strategy.ETO or line.item_id in with_bom,
            )
        )
    while pending:
        created = _create_level(_claim_many(pending), user=user)
        counter.orders += len(created)
        pending = _mto_children(created)


def _status_after_generation(lines: list[SalesOrderLine]) -> str:
    from sales.selectors import line_fulfilment_map

    fulfilment = line_fulfilment_map(line_ids=[ln.pk for ln in lines], generated=True)
    open_lines = [ln for ln in lines if ln.status == LineStatus.OPEN]
    if open_lines and all(fulfilment[ln.pk].status == "ready" for ln in open_lines):
        return SalesOrderStatus.READY
    return SalesOrderStatus.IN_PRODUCTION


@transaction.atomic
def sales_order_generate(*, order_id: int) -> GenerationResult:
    """Create what the confirmed order's lines need: reservations for MTS, pegged production
    orders for MTO (with pegged MTO sub-assembly orders), ATO and ETO.

    Safe to run twice or concurrently: the order row is locked first, a finished order is
    left alone, and every created thing is claimed by a unique pegging row. A failure rolls
    back everything this run created and records the reason on the order."""
    order = _locked_order(order_id)
    if order.status != SalesOrderStatus.CONFIRMED:
        return GenerationResult(order.pk, order.status, 0, 0)
    lines = [ln for ln in _locked_lines(order) if ln.status == LineStatus.OPEN]
    user = order.confirmed_by or order.created_by
    counter = _Counter()
    order.generation_attempts += 1
    try:
        with transaction.atomic():
            location = fg_location()
            ordered = sorted(lines, key=lambda ln: ln.position)
            for line in ordered:
                if (line.strategy or line.item.strategy) == Strategy.MTS:
                    try:
                        _generate_mts(line, order=order, location=location, user=user, counter=counter)
                    except DomainError as exc:
                        raise _LineFailed(f"Line {line.position} ({line.item.sku}): {exc.message}") from exc
            _generate_orders(
                [ln for ln in ordered if (ln.strategy or ln.item.strategy) != Strategy.MTS], user=user, counter=counter
            )
    except _LineFailed as failure:
        ensure_transition(order, SalesOrderStatus.GENERATION_FAILED)
        order.status = SalesOrderStatus.GENERATION_FAILED
        order.generation_error = str(failure)
        order.save(update_fields=["status", "generation_error", "generation_attempts", "updated_at"])
        return GenerationResult(order.pk, order.status, 0, 0, error=order.generation_error)
    to_status = _status_after_generation(lines)
    ensure_transition(order, to_status)
    order.status = to_status
    order.generation_error = ""
    order.generated_at = timezone.now()
    order.save(update_fields=["status", "generation_error", "generation_attempts", "generated_at", "updated_at"])
    return GenerationResult(order.pk, order.status, counter.orders, counter.reservations)


class _LineFailed(Exception):
    pass


# --- deliveries --------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryLineInput:
    line_id: int
    quantity: Decimal
    lot_id: int | None = None


def _open_reservations(order: SalesOrder, line_ids: list[int]) -> dict[int, Reservation]:
    return {
        r.document_line_id: r
        for r in Reservation.objects.filter(
            document_type=DOCUMENT_TYPE,
            document_id=order.pk,
            document_line_id__in=line_ids,
            status=ReservationStatus.OPEN,
        ).order_by("pk")
    }


@transaction.atomic
def sales_order_deliver(*, order_id: int, lines: Sequence[DeliveryLineInput], user, note: str = "") -> Delivery:
    """Issue goods from the finished-goods store against the order's lines: the line's own
    reservation is consumed first, the rest must be free stock. Partial deliveries are
    allowed, over-delivery is refused; a fully delivered line releases what it still had
    reserved."""
    order = _locked_order(order_id)
    if order.status not in DELIVERABLE:
        raise StateConflict(
            f"Sales order {order.number} is {SalesOrderStatus(order.status).label.lower()}; "
            "goods can be delivered once its orders were generated.",
            code="not_deliverable",
            fields={"status": order.status},
        )
    if not lines:
        raise ValidationFailed("A delivery needs at least one line.", code="required", fields={"lines": "required"})
    order_lines = {ln.pk: ln for ln in _locked_lines(order)}
    location = fg_location()
    requested: dict[int, Decimal] = {}
    for index, entry in enumerate(lines):
        prefix = f"lines[{index}]"
        line = order_lines.get(entry.line_id)
        if line is None:
            raise ValidationFailed(
                f"Line {entry.line_id} is not a line of {order.number}.",
                code="unknown_line",
                fields={f"{prefix}.line": "unknown"},
            )
        if line.status != LineStatus.OPEN:
            raise StateConflict(
                f"Line {line.position} is {line.status}.",
                code="line_closed",
                fields={f"{prefix}.line": line.status},
            )
        quantity = Decimal(entry.quantity)
        if quantity <= 0:
            raise ValidationFailed(
                f"{prefix}.quantity must be greater than zero.",
                code="invalid_quantity",
                fields={f"{prefix}.quantity": "must be > 0"},
            )
        requested[line.pk] = requested.get(line.pk, ZERO) + quantity
        if requested[line.pk] > line.open_quantity:
            raise StateConflict(
                f"Line {line.position} ({line.item.sku}): delivering {_fmt(requested[line.pk])} "
                f"exceeds the open quantity {_fmt(line.open_quantity)}.",
                code="over_delivery",
                fields={f"{prefix}.quantity": f"at most {_fmt(line.open_quantity)}"},
            )
    reservations = _open_reservations(order, list(requested))
    # Beyond its own reservation a line may only take stock nobody else reserved.
    free = stock_available(item_ids={order_lines[i].item_id for i in requested}, location_ids=[location.pk])
    for index, entry in enumerate(lines):
        line = order_lines[entry.line_id]
        res = reservations.get(line.pk)
        own = res.quantity - res.consumed_quantity if res else ZERO
        from_free = max(Decimal(entry.quantity) - own, ZERO)
        if from_free > free[line.item_id]:
            raise InsufficientStock(
                f"Line {line.position} ({line.item.sku}): {_fmt(entry.quantity)} to deliver, "
                f"{_fmt(own + max(free[line.item_id], ZERO))} available at {location.code}.",
                fields={f"lines[{index}].quantity": f"available {_fmt(own + max(free[line.item_id], ZERO))}"},
            )
        free[line.item_id] -= from_free
    delivery = Delivery.objects.create(
        order=order,
        number=f"{order.number}-D{order.deliveries.count() + 1}",
        delivered_at=timezone.now(),
        note=note,
        user=user,
    )
    posting = stock_post(
        movement_type=MovementType.DELIVERY,
        lines=[
            PostingLine(
                item_id=order_lines[e.line_id].item_id,
                location_id=location.pk,
                quantity=-Decimal(e.quantity),
                lot_id=e.lot_id,
                reservation_id=reservations[e.line_id].pk if e.line_id in reservations else None,
                document_line_id=e.line_id,
            )
            for e in lines
        ],
        reference=document_ref(order),
        user=user,
        posting_key=f"sales_delivery:{delivery.pk}",
        note=note or f"Delivery {delivery.number}",
    )
    delivery.stock_posting = posting
    delivery.save(update_fields=["stock_posting"])
    DeliveryLine.objects.bulk_create(
        [DeliveryLine(delivery=delivery, line_id=e.line_id, quantity=e.quantity, lot_id=e.lot_id) for e in lines]
    )
    changed = []
    for line_id, quantity in requested.items():
        line = order_lines[line_id]
        line.delivered_quantity += quantity
        if line.delivered_quantity >= line.quantity:
            line.status = LineStatus.DELIVERED
            reservations_release(document_type=DOCUMENT_TYPE, document_id=order.pk, document_line_id=line.pk, user=user)
        changed.append(line)
    SalesOrderLine.objects.bulk_update(changed, ["delivered_quantity", "status"])
    remaining = [ln for ln in order_lines.values() if ln.status == LineStatus.OPEN]
    to_status = SalesOrderStatus.PARTIALLY_DELIVERED if remaining else SalesOrderStatus.DELIVERED
    ensure_transition(order, to_status)
    order.status = to_status
    order.save(update_fields=["status", "updated_at"])
    return delivery


# --- cancellation ------------------------------------------------------------------------


_STARTED = frozenset({OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED})
_FINISHED = frozenset({OrderStatus.CLOSED, OrderStatus.CANCELLED})


def _line_unwind(order: SalesOrder, line: SalesOrderLine, *, user, reason: str) -> None:
    """Cancel what generation made for the line: unstarted pegged orders are cancelled
    (children first), started ones are flagged for the planner, reservations released."""
    peggings = list(
        LinePegging.objects.filter(line=line, production_order__isnull=False)
        .select_related("production_order", "production_order__merged_into")
        .order_by("-level", "path")
    )
    # Orders split off a pegged order carry the line's demand too: cancelled with it.
    pegged_ids = {p.production_order_id for p in peggings}
    split_offs = list(
        ProductionOrder.objects.filter(sales_order_line_id=line.pk, split_from__isnull=False)
        .exclude(pk__in=pegged_ids)
        .select_related("merged_into")
        .order_by("-pk")
    )
    flags = []
    for po in [*split_offs, *(p.production_order for p in peggings)]:
        if po.status == OrderStatus.MERGED:
            flags.append(
                f"{po.number} was merged into {po.merged_into.number}: reduce or cancel that order for this line's "
                "share."
            )
            continue
        if po.status in _FINISHED:
            continue
        if po.status in _STARTED:
            flags.append(f"{po.number} is {po.status}: finish it to stock or close it.")
            continue
        try:
            production_order_cancel(order_id=po.pk, user=user, reason=f"Sales order {order.number} cancelled: {reason}")
        except StateConflict as exc:
            flags.append(f"{po.number}: {exc.message}")
    reservations_release(document_type=DOCUMENT_TYPE, document_id=order.pk, document_line_id=line.pk, user=user)
    line.status = LineStatus.CANCELLED
    line.cancel_reason = reason
    if flags:
        line.planner_flag = True
        line.planner_flag_reason = " ".join(flags)
    line.save(update_fields=["status", "cancel_reason", "planner_flag", "planner_flag_reason", "updated_at"])


def _require_reason(reason: str) -> str:
    if not (reason or "").strip():
        raise ValidationFailed("A reason is required.", code="required", fields={"reason": "required"})
    return reason.strip()


@transaction.atomic
def sales_order_cancel(*, order_id: int, user, reason: str) -> SalesOrder:
    reason = _require_reason(reason)
    order = _locked_order(order_id)
    ensure_transition(order, SalesOrderStatus.CANCELLED)
    for line in _locked_lines(order):
        if line.status == LineStatus.OPEN:
            _line_unwind(order, line, user=user, reason=reason)
    order.status = SalesOrderStatus.CANCELLED
    order.cancel_reason = reason
    order.save(update_fields=["status", "cancel_reason", "updated_at"])
    return order


@transaction.atomic
def sales_order_line_cancel(*, order_id: int, line_id: int, user, reason: str) -> SalesOrderLine:
    """Cancel one line; the order is cancelled with its last open line, or delivered when the
    remaining lines all are."""
    reason = _require_reason(reason)
    order = _locked_order(order_id)
    lines = {ln.pk: ln for ln in _locked_lines(order)}
    line = lines.get(line_id)
    if line is None:
        raise NotFound(f"Line {line_id} is not a line of {order.number}.", fields={"line": "unknown"})
    if order.status in (SalesOrderStatus.DELIVERED, SalesOrderStatus.CANCELLED):
        raise StateConflict(f"Sales order {order.number} is {order.status}.", code="invalid_transition")
    if line.status != LineStatus.OPEN:
        raise StateConflict(f"Line {line.position} is {line.status}.", code="line_closed", fields={"line": line.status})
    if line.delivered_quantity > 0:
        raise StateConflict(
            f"Line {line.position} is partially delivered; it cannot be cancelled.",
            code="line_partially_delivered",
            fields={"line": "partially delivered"},
        )
    if order.status == SalesOrderStatus.DRAFT:
        line.status = LineStatus.CANCELLED
        line.cancel_reason = reason
        line.save(update_fields=["status", "cancel_reason", "updated_at"])
    else:
        _line_unwind(order, line, user=user, reason=reason)
    others = [ln for ln in lines.values() if ln.pk != line.pk]
    if all(ln.status == LineStatus.CANCELLED for ln in others):
        ensure_transition(order, SalesOrderStatus.CANCELLED)
        order.status = SalesOrderStatus.CANCELLED
        order.cancel_reason = reason
        order.save(update_fields=["status", "cancel_reason", "updated_at"])
    elif all(ln.status != LineStatus.OPEN for ln in others) and order.status in DELIVERABLE:
        ensure_transition(order, SalesOrderStatus.DELIVERED)
        order.status = SalesOrderStatus.DELIVERED
        order.save(update_fields=["status", "updated_at"])
    elif order.status in (SalesOrderStatus.IN_PRODUCTION, SalesOrderStatus.READY):
        # The cancelled line may have been the only one not ready yet.
        to_status = _status_after_generation(others)
        if to_status != order.status:
            ensure_transition(order, to_status)
            order.status = to_status
            order.save(update_fields=["status", "updated_at"])
    return line


def sales_orders_status_refresh(*, batch: int = 500) -> int:
    """Move orders between "in production" and "ready" as their pegged production orders
    complete (or are reopened). Production does not know sales, so sales looks. Each order
    is re-checked under its row lock; returns how many changed."""
    from sales.selectors import line_fulfilment_map

    candidates = list(
        SalesOrder.objects.filter(status__in=[SalesOrderStatus.IN_PRODUCTION, SalesOrderStatus.READY])
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    if not candidates:
        return 0
    lines = list(
        SalesOrderLine.objects.filter(order_id__in=candidates, status=LineStatus.OPEN).values_list("pk", "order_id")
    )
    fulfilment = line_fulfilment_map(line_ids=[pk for pk, _ in lines])
    ready: dict[int, bool] = dict.fromkeys(candidates, False)
    for order_id in candidates:
        own = [pk for pk, o in lines if o == order_id]
        ready[order_id] = bool(own) and all(fulfilment[pk].status == "ready" for pk in own)
    changed = 0
    for order_id, is_ready in ready.items():
        wanted = SalesOrderStatus.READY if is_ready else SalesOrderStatus.IN_PRODUCTION
        with transaction.atomic():
            order = _locked_order(order_id)
            if order.status not in (SalesOrderStatus.IN_PRODUCTION, SalesOrderStatus.READY) or order.status == wanted:
                continue
            ensure_transition(order, wanted)
            order.status = wanted
            order.save(update_fields=["status", "updated_at"])
            changed += 1
    return changed
