"""Shop-floor confirmations, exactly-once backflush and goods receipt, reversal.

A confirmation is written with its outbox row in one transaction, under the order lock,
and decides there exactly what it will post (``PostingOutbox.payload``). The posting runs
in a Celery task, in its own transaction, keyed so that it can happen only once:
the confirmation row is locked and must still be ``pending``, and every stock posting
carries a unique ``posting_key``. A lost task is re-queued by the sweeper; a posting
refused for lack of stock is marked failed with the shortage list and retried when stock
arrives. Nothing is ever half-posted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.db import bulk_update_fields
from config.exceptions import Forbidden, InsufficientStock, NotFound, StateConflict, ValidationFailed
from config.fields import QTY_PLACES, ZERO
from config.roles import Role, user_roles
from inventory.enums import MovementType
from inventory.models import Lot, StockPosting
from inventory.services import DocumentRef, PostingLine, stock_post, stock_posting_reverse
from production.enums import Flushing, OperationStatus, OrderStatus, OutboxStatus, PostingStatus
from production.locks import production_order_qs_select_for_update
from production.models import Confirmation, OrderComponent, OrderOperation, PostingOutbox, ProductionOrder
from production.services.common import DOCUMENT_TYPE, audit, set_status
from production.services.costs import planned_unit_cost

HUNDRED = Decimal(100)
# In-process attempts when a posting meets a shortage: a concurrent posting may have taken
# the lot FEFO picked, and a fresh pick usually succeeds.
SHORTAGE_ATTEMPTS = 3


@dataclass(frozen=True)
class ConfirmationInput:
    operation_id: int
    good_quantity: Decimal = ZERO
    scrap_quantity: Decimal = ZERO
    scrap_reason: str = ""
    rework_quantity: Decimal = ZERO
    setup_minutes: Decimal = ZERO
    labor_minutes: Decimal = ZERO
    machine_minutes: Decimal = ZERO
    final: bool = False
    output_lot_number: str = ""
    confirmed_at: dt.datetime | None = None


@dataclass(frozen=True)
class BackflushLine:
    component_id: int
    item_id: int
    sku: str
    location_id: int
    quantity_per_unit: Decimal
    required: Decimal
    issued: Decimal
    quantity: Decimal  # what this confirmation writes off (negative: a by-product received)


def _round(value: Decimal, decimals: int) -> Decimal:
    places = Decimal(1).scaleb(-min(decimals, QTY_PLACES))
    return Decimal(value).quantize(places, rounding=ROUND_HALF_UP)


def _consuming_sequences(operation: OrderOperation, operations: list[OrderOperation]) -> set[int] | None:
    """Which operations' backflush components a confirmation of ``operation`` writes off:
    a reporting point (or the last operation) flushes its own and those of the operations
    since the previous reporting point. None when it flushes nothing."""
    sequences = sorted(op.sequence for op in operations)
    last = sequences[-1]
    if not (operation.reporting_point or operation.sequence == last):
        return None
    previous = max(
        (op.sequence for op in operations if op.reporting_point and op.sequence < operation.sequence),
        default=None,
    )
    return {s for s in sequences if (previous is None or s > previous) and s <= operation.sequence}


def backflush_lines(
    *,
    order: ProductionOrder,
    operation: OrderOperation,
    operations: list[OrderOperation],
    components: list[OrderComponent],
    quantity_before: Decimal,
    quantity_after: Decimal,
) -> list[BackflushLine]:
    """Backflush of a confirmation that moves the operation's confirmed (good + scrap) from
    ``quantity_before`` to ``quantity_after``: per component quantity per unit × the
    difference, rounded on the cumulative figures so that rounding never drifts."""
    covered = _consuming_sequences(operation, operations)
    if covered is None:
        return []
    all_sequences = {op.sequence for op in operations}
    last = max(all_sequences)
    lines = []
    for c in components:
        if c.flushing != Flushing.BACKWARD:
            continue
        # Components with no (or an unknown) consuming operation go with the last one.
        sequence = c.operation_sequence if c.operation_sequence in all_sequences else last
        if sequence not in covered:
            continue
        decimals = c.item.uom.decimals
        quantity = _round(c.quantity_per_unit * quantity_after, decimals) - _round(
            c.quantity_per_unit * quantity_before, decimals
        )
        if quantity == 0:
            continue
        lines.append(
            BackflushLine(
                component_id=c.pk,
                item_id=c.item_id,
                sku=c.item.sku,
                location_id=c.issue_location_id,
                quantity_per_unit=c.quantity_per_unit,
                required=c.required_quantity,
                issued=c.issued_quantity,
                quantity=quantity,
            )
        )
    return lines


def _validate(data: ConfirmationInput) -> None:
    fields = {}
    for name in (
        "good_quantity",
        "scrap_quantity",
        "rework_quantity",
        "setup_minutes",
        "labor_minutes",
        "machine_minutes",
    ):
        if Decimal(getattr(data, name)) < 0:
            fields[name] = "must not be negative"
    if fields:
        raise ValidationFailed(f"{', '.join(fields)} must not be negative.", code="invalid_quantity", fields=fields)
    reported = data.good_quantity + data.scrap_quantity + data.rework_quantity
    minutes = data.setup_minutes + data.labor_minutes + data.machine_minutes
    if reported == 0 and minutes == 0 and not data.final:
        raise ValidationFailed(
            "Nothing to confirm: report a quantity, times, or set final.",
            code="empty_confirmation",
            fields={"good_quantity": "report good, scrap or rework quantity"},
        )
    if data.scrap_quantity > 0 and not data.scrap_reason:
        raise ValidationFailed(
            "A scrap quantity needs a scrap reason.",
            code="scrap_reason_required",
            fields={"scrap_reason": "required"},
        )


def ensure_may_confirm(user, work_center_id: int) -> None:
    """Operators confirm at their own work centers only; planners, admins and machines
    (integration) anywhere."""
    roles = user_roles(user)
    if roles & {Role.PLANNER, Role.ADMIN, Role.INTEGRATION}:
        return
    if Role.OPERATOR in roles:
        operator = getattr(user, "operator", None)
        if operator is not None and operator.work_centers.filter(pk=work_center_id).exists():
            return
        raise Forbidden("You may confirm only at your own work centers.", code="not_your_work_center")
    raise Forbidden("Your role does not allow confirmations.")


def _lock_order_of_operation(
    operation_id: int,
) -> tuple[ProductionOrder, OrderOperation, list[OrderOperation]]:
    order_id = OrderOperation.objects.filter(pk=operation_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"Operation {operation_id} does not exist.", fields={"operation": "unknown"})
    order = production_order_qs_select_for_update().get(pk=order_id)
    operations = list(
        OrderOperation.objects.filter(order_id=order_id).select_for_update(of=("self",), no_key=True).order_by("pk")
    )
    operation = next(op for op in operations if op.pk == operation_id)
    operations.sort(key=lambda op: op.sequence)
    return order, operation, operations


def _order_components(order: ProductionOrder) -> list[OrderComponent]:
    return list(OrderComponent.objects.filter(order=order).select_related("item__uom").order_by("position"))


@transaction.atomic
def confirmation_create(*, data: ConfirmationInput, user, operator=None) -> Confirmation:
    """Record work on one operation; queue its backflush and goods receipt (exactly once)."""
    _validate(data)
    order, operation, operations = _lock_order_of_operation(data.operation_id)
    ensure_may_confirm(user, operation.work_center_id)
    if order.status not in (OrderStatus.RELEASED, OrderStatus.IN_PROGRESS):
        hint = " Reverse a confirmation first to reopen it." if order.status == OrderStatus.COMPLETED else ""
        raise StateConflict(
            f"Order {order.number} is {OrderStatus(order.status).label.lower()}; it takes no confirmations.{hint}",
            code="order_not_open_for_confirmations",
            fields={"status": order.status},
        )
    if operation.status == OperationStatus.CONFIRMED:
        raise StateConflict(
            f"Operation {operation.sequence} of {order.number} is finally confirmed; reverse that "
            "confirmation to report more.",
            code="operation_finally_confirmed",
        )
    before = operation.confirmed_good + operation.confirmed_scrap
    after = before + data.good_quantity + data.scrap_quantity
    tolerance = Decimal(settings.CONFIRMATION_TOLERANCE_PERCENT)
    limit = order.quantity * (1 + tolerance / HUNDRED)
    if after > limit:
        raise StateConflict(
            f"Operation {operation.sequence} of {order.number} would be confirmed for {after} of "
            f"{order.quantity} (tolerance {tolerance} %, at most {limit}).",
            code="over_confirmation",
            fields={"good_quantity": f"at most {max(limit - before - data.scrap_quantity, ZERO)} more"},
        )
    now = timezone.now()
    confirmed_at = data.confirmed_at or now
    is_last = operation.sequence == operations[-1].sequence
    lines = backflush_lines(
        order=order,
        operation=operation,
        operations=operations,
        components=_order_components(order),
        quantity_before=before,
        quantity_after=after,
    )
    receipt = data.good_quantity if is_last else ZERO
    needs_posting = bool(lines) or receipt > 0

    with audit(user, "confirm"):
        confirmation = Confirmation.objects.create(
            order=order,
            operation=operation,
            work_center_id=operation.work_center_id,
            good_quantity=data.good_quantity,
            scrap_quantity=data.scrap_quantity,
            scrap_reason=data.scrap_reason,
            rework_quantity=data.rework_quantity,
            setup_minutes=data.setup_minutes,
            labor_minutes=data.labor_minutes,
            machine_minutes=data.machine_minutes,
            final=data.final,
            output_lot_number=data.output_lot_number,
            operator=operator or user,
            created_by=user,
            confirmed_at=confirmed_at,
            posting_status=PostingStatus.PENDING if needs_posting else PostingStatus.NONE,
        )
        operation.confirmed_good += data.good_quantity
        operation.confirmed_scrap += data.scrap_quantity
        operation.confirmed_rework += data.rework_quantity
        operation.actual_setup_minutes += data.setup_minutes
        operation.actual_labor_minutes += data.labor_minutes
        operation.actual_machine_minutes += data.machine_minutes
        operation.actual_start = operation.actual_start or confirmed_at
        operation.status = OperationStatus.CONFIRMED if data.final else OperationStatus.STARTED
        if data.final:
            operation.actual_end = confirmed_at
        operation.save()

        if order.status == OrderStatus.RELEASED:
            order.actual_start = order.actual_start or confirmed_at
            order.save(update_fields=["actual_start"])
            set_status(order, OrderStatus.IN_PROGRESS, user=user, reason="first confirmation")
        if is_last and data.scrap_quantity:
            order.scrap_quantity += data.scrap_quantity
            order.save(update_fields=["scrap_quantity"])
        if is_last and data.final:
            order.actual_end = confirmed_at
            order.save(update_fields=["actual_end"])
            set_status(order, OrderStatus.COMPLETED, user=user, reason="final confirmation of the last operation")

        if needs_posting:
            PostingOutbox.objects.create(
                confirmation=confirmation,
                payload={
                    "backflush": [
                        {
                            "component_id": ln.component_id,
                            "item_id": ln.item_id,
                            "location_id": ln.location_id,
                            "quantity": str(ln.quantity),
                        }
                        for ln in lines
                    ],
                    "receipt": str(receipt),
                },
            )
            _queue_posting(confirmation.pk)
    return confirmation


def _queue_posting(confirmation_id: int) -> None:
    from production.tasks import confirmation_post_task

    transaction.on_commit(partial(confirmation_post_task.delay, confirmation_id))


def confirmation_post(*, confirmation_id: int) -> str:
    """Post what a confirmation owes the ledger. Safe to call any number of times: only the
    call that finds it pending posts. Returns the resulting posting status."""
    last_shortage: InsufficientStock | None = None
    for _ in range(SHORTAGE_ATTEMPTS):
        try:
            return _post_once(confirmation_id)
        except InsufficientStock as exc:
            last_shortage = exc
    assert last_shortage is not None
    return _mark_failed(confirmation_id, last_shortage)


@transaction.atomic
def _post_once(confirmation_id: int) -> str:
    order_id = Confirmation.objects.filter(pk=confirmation_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"Confirmation {confirmation_id} does not exist.")
    order = production_order_qs_select_for_update().get(pk=order_id)
    confirmation = Confirmation.objects.select_for_update(of=("self",)).get(pk=confirmation_id)
    if confirmation.posting_status != PostingStatus.PENDING:
        return confirmation.posting_status  # posted before, or nothing to post: a no-op
    outbox = PostingOutbox.objects.select_for_update().get(confirmation=confirmation)
    payload = outbox.payload
    reference = DocumentRef(
        document_type=DOCUMENT_TYPE,
        document_id=order.pk,
        document_number=order.number,
        document_line_id=confirmation.pk,
    )
    components = {
        c.pk: c
        for c in OrderComponent.objects.filter(pk__in=[ln["component_id"] for ln in payload["backflush"]])
        .select_related("item")
        .select_for_update(of=("self",), no_key=True)
        .order_by("pk")
    }
    from production.services.materials import lot_split

    consumption: list[PostingLine] = []
    by_products: list[PostingLine] = []
    issued: dict[int, Decimal] = {}
    for line in payload["backflush"]:
        component = components[line["component_id"]]
        quantity = Decimal(line["quantity"])
        issued[component.pk] = issued.get(component.pk, ZERO) + quantity
        if quantity > 0:
            for lot_id, lot_qty in lot_split(component.item, line["location_id"], quantity):
                consumption.append(
                    PostingLine(
                        item_id=component.item_id,
                        location_id=line["location_id"],
                        quantity=-lot_qty,
                        lot_id=lot_id,
                        reservation_id=component.reservation_id,
                        document_line_id=component.pk,
                    )
                )
        else:
            by_products.append(
                PostingLine(
                    item_id=component.item_id,
                    location_id=order.receipt_location_id,
                    quantity=-quantity,
                    lot_id=_output_lot(component.item, order, confirmation) if component.item.lot_tracked else None,
                    document_line_id=component.pk,
                )
            )
    key = f"{DOCUMENT_TYPE}:confirmation:{confirmation.pk}"
    if consumption:
        stock_post(
            movement_type=MovementType.BACKFLUSH,
            lines=consumption,
            reference=reference,
            user=confirmation.created_by,
            posting_key=f"{key}:backflush",
        )
    receipt = Decimal(payload["receipt"])
    if receipt > 0 or by_products:
        lines = list(by_products)
        if receipt > 0:
            lines.insert(
                0,
                PostingLine(
                    item_id=order.item_id,
                    location_id=order.receipt_location_id,
                    quantity=receipt,
                    lot_id=_output_lot(order.item, order, confirmation) if order.item.lot_tracked else None,
                    unit_cost=planned_unit_cost(order),
                ),
            )
        stock_post(
            movement_type=MovementType.PRODUCTION_RECEIPT,
            lines=lines,
            reference=reference,
            user=confirmation.created_by,
            posting_key=f"{key}:receipt",
        )
    # The components are locked above, so plain arithmetic is safe and one UPDATE does all.
    for component_id, quantity in issued.items():
        components[component_id].issued_quantity += quantity
    bulk_update_fields(list(components.values()), ["issued_quantity"])
    if receipt > 0:
        ProductionOrder.objects.filter(pk=order.pk).update(received_quantity=F("received_quantity") + receipt)
    now = timezone.now()
    Confirmation.objects.filter(pk=confirmation.pk).update(
        posting_status=PostingStatus.POSTED, posted_at=now, posting_error=None
    )
    outbox.status = OutboxStatus.DONE
    outbox.attempts += 1
    outbox.processed_at = now
    outbox.last_error = ""
    outbox.save(update_fields=["status", "attempts", "processed_at", "last_error"])
    return PostingStatus.POSTED


def _output_lot(item, order: ProductionOrder, confirmation: Confirmation) -> int:
    number = confirmation.output_lot_number or order.number
    lot, _ = Lot.objects.get_or_create(item=item, lot_number=number)
    return lot.pk


@transaction.atomic
def _mark_failed(confirmation_id: int, error: InsufficientStock) -> str:
    confirmation = Confirmation.objects.select_for_update(of=("self",)).get(pk=confirmation_id)
    if confirmation.posting_status != PostingStatus.PENDING:
        return confirmation.posting_status
    Confirmation.objects.filter(pk=confirmation_id).update(
        posting_status=PostingStatus.FAILED,
        posting_error={"code": error.code, "message": error.message, "fields": error.fields},
    )
    PostingOutbox.objects.filter(confirmation_id=confirmation_id).update(
        status=OutboxStatus.FAILED,
        attempts=F("attempts") + 1,
        last_error=error.message,
        processed_at=timezone.now(),
    )
    return PostingStatus.FAILED


@transaction.atomic
def confirmation_posting_retry(*, confirmation_id: int, user=None) -> Confirmation:
    """Put a failed posting back in the queue (a planner's retry, or the sweeper once the
    missing stock has arrived)."""
    confirmation = Confirmation.objects.select_for_update(of=("self",)).filter(pk=confirmation_id).first()
    if confirmation is None:
        raise NotFound(f"Confirmation {confirmation_id} does not exist.")
    if confirmation.posting_status != PostingStatus.FAILED:
        raise StateConflict(
            f"Confirmation {confirmation_id} is {PostingStatus(confirmation.posting_status).label.lower()}, "
            "not failed.",
            code="not_failed",
        )
    Confirmation.objects.filter(pk=confirmation_id).update(posting_status=PostingStatus.PENDING)
    PostingOutbox.objects.filter(confirmation_id=confirmation_id).update(
        status=OutboxStatus.PENDING, queued_at=timezone.now()
    )
    _queue_posting(confirmation_id)
    confirmation.refresh_from_db()
    return confirmation


def posting_outbox_sweep(*, older_than_seconds: int | None = None, batch: int = 500) -> dict[str, int]:
    """Re-queue postings whose task was lost (pending too long), and failed postings whose
    missing stock has arrived. Returns what it did."""
    from production.tasks import confirmation_post_task

    seconds = settings.POSTING_OUTBOX_REQUEUE_SECONDS if older_than_seconds is None else older_than_seconds
    now = timezone.now()
    stale = list(
        PostingOutbox.objects.filter(status=OutboxStatus.PENDING, queued_at__lte=now - dt.timedelta(seconds=seconds))
        .order_by("queued_at")
        .values_list("confirmation_id", flat=True)[:batch]
    )
    if stale:
        PostingOutbox.objects.filter(confirmation_id__in=stale).update(queued_at=now)
        for confirmation_id in stale:
            confirmation_post_task.delay(confirmation_id)
    ready = _failed_now_coverable(batch)
    for confirmation_id in ready:
        confirmation_posting_retry(confirmation_id=confirmation_id)
    return {"requeued": len(stale), "retried": len(ready)}


def _failed_now_coverable(batch: int) -> list[int]:
    from inventory.models import StockBalance

    failed = list(PostingOutbox.objects.filter(status=OutboxStatus.FAILED).order_by("processed_at")[:batch])
    if not failed:
        return []
    needed: dict[tuple[int, int], Decimal] = {}
    for outbox in failed:
        for line in outbox.payload.get("backflush", []):
            key = (line["item_id"], line["location_id"])
            needed.setdefault(key, ZERO)
    on_hand: dict[tuple[int, int], Decimal] = {}
    for item_id, location_id, qty in StockBalance.objects.filter(
        item_id__in={k[0] for k in needed}, location_id__in={k[1] for k in needed}
    ).values_list("item_id", "location_id", "on_hand"):
        on_hand[(item_id, location_id)] = on_hand.get((item_id, location_id), ZERO) + qty
    ready = []
    for outbox in failed:
        wants: dict[tuple[int, int], Decimal] = {}
        for line in outbox.payload.get("backflush", []):
            if Decimal(line["quantity"]) > 0:
                key = (line["item_id"], line["location_id"])
                wants[key] = wants.get(key, ZERO) + Decimal(line["quantity"])
        if all(on_hand.get(key, ZERO) >= qty for key, qty in wants.items()):
            ready.append(outbox.confirmation_id)
            for key, qty in wants.items():
                on_hand[key] = on_hand.get(key, ZERO) - qty
    return ready


@transaction.atomic
def confirmation_reverse(*, confirmation_id: int, user, reason: str = "") -> Confirmation:
    """Undo a confirmation: opposite counts and times on the operation, opposite movements
    for everything it posted, and the order reopened if it was completed. A reversal of a
    reversal, or a second reversal, is refused."""
    order_id = Confirmation.objects.filter(pk=confirmation_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"Confirmation {confirmation_id} does not exist.")
    order = production_order_qs_select_for_update().get(pk=order_id)
    original = Confirmation.objects.select_for_update(of=("self",)).get(pk=confirmation_id)
    ensure_may_confirm(user, original.work_center_id)
    if original.is_reversal:
        raise StateConflict("A reversal cannot be reversed; confirm again instead.", code="reversal_of_reversal")
    if Confirmation.objects.filter(reversal_of=original).exists():
        raise StateConflict(f"Confirmation {original.pk} is already reversed.", code="already_reversed")
    if original.posting_status == PostingStatus.PENDING:
        raise StateConflict(
            f"Confirmation {original.pk} is still being posted; reverse it in a moment.",
            code="posting_pending",
        )
    if order.status in (OrderStatus.CLOSED, OrderStatus.CANCELLED):
        raise StateConflict(
            f"Order {order.number} is {OrderStatus(order.status).label.lower()}; nothing can be reversed.",
            code="order_closed",
        )
    operation = OrderOperation.objects.select_for_update(of=("self",)).get(pk=original.operation_id)
    with audit(user, "confirmation_reverse", reason):
        reversal = Confirmation.objects.create(
            order=order,
            operation=operation,
            work_center_id=original.work_center_id,
            good_quantity=-original.good_quantity,
            scrap_quantity=-original.scrap_quantity,
            scrap_reason=original.scrap_reason,
            rework_quantity=-original.rework_quantity,
            setup_minutes=-original.setup_minutes,
            labor_minutes=-original.labor_minutes,
            machine_minutes=-original.machine_minutes,
            final=False,
            operator=user,
            created_by=user,
            confirmed_at=timezone.now(),
            reversal_of=original,
            reason=reason,
            posting_status=PostingStatus.NONE,
        )
        operation.confirmed_good -= original.good_quantity
        operation.confirmed_scrap -= original.scrap_quantity
        operation.confirmed_rework -= original.rework_quantity
        operation.actual_setup_minutes -= original.setup_minutes
        operation.actual_labor_minutes -= original.labor_minutes
        operation.actual_machine_minutes -= original.machine_minutes
        if original.final or operation.status == OperationStatus.CONFIRMED:
            operation.actual_end = None
        has_quantities = operation.confirmed_good + operation.confirmed_scrap + operation.confirmed_rework > 0
        operation.status = OperationStatus.STARTED if has_quantities else OperationStatus.RELEASED
        operation.save()

        if original.posting_status == PostingStatus.POSTED:
            _reverse_postings(order, original, reversal, user, reason)
        elif original.posting_status == PostingStatus.FAILED:
            # Nothing reached the ledger: the failed posting simply leaves the error queue.
            Confirmation.objects.filter(pk=original.pk).update(posting_status=PostingStatus.NONE)
            PostingOutbox.objects.filter(confirmation=original).update(
                status=OutboxStatus.DONE,
                last_error="reversed before it was posted",
                processed_at=timezone.now(),
            )
        is_last = not order.operations.filter(sequence__gt=operation.sequence).exists()
        if is_last and original.scrap_quantity:
            ProductionOrder.objects.filter(pk=order.pk).update(
                scrap_quantity=F("scrap_quantity") - original.scrap_quantity
            )
            order.refresh_from_db(fields=["scrap_quantity"])
        if order.status == OrderStatus.COMPLETED and (is_last and (original.final or original.good_quantity)):
            order.actual_end = None
            order.save(update_fields=["actual_end"])
            set_status(order, OrderStatus.IN_PROGRESS, user=user, reason=f"confirmation {original.pk} reversed")
    return reversal


def _reverse_postings(
    order: ProductionOrder, original: Confirmation, reversal: Confirmation, user, reason: str
) -> None:
    prefix = f"{DOCUMENT_TYPE}:confirmation:{original.pk}:"
    postings = list(
        StockPosting.objects.filter(posting_key__startswith=prefix).prefetch_related("movements").order_by("pk")
    )
    issued: dict[int, Decimal] = {}
    received = ZERO
    for posting in postings:
        for movement in posting.movements.all():
            if movement.item_id == order.item_id and posting.movement_type == MovementType.PRODUCTION_RECEIPT:
                received += movement.quantity
            elif movement.document_line_id:
                issued[movement.document_line_id] = issued.get(movement.document_line_id, ZERO) - movement.quantity
        stock_posting_reverse(
            posting_id=posting.pk,
            user=user,
            reason=reason or f"reversal of confirmation {original.pk}",
            posting_key=f"{DOCUMENT_TYPE}:confirmation:{reversal.pk}:reverses:{posting.pk}",
        )
    for component_id, quantity in issued.items():
        OrderComponent.objects.filter(pk=component_id, order=order).update(
            issued_quantity=F("issued_quantity") - quantity
        )
    if received:
        ProductionOrder.objects.filter(pk=order.pk).update(received_quantity=F("received_quantity") - received)
        order.refresh_from_db(fields=["received_quantity"])
