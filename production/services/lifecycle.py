"""Status transitions: release, close, cancel, engineering approval."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from config.exceptions import InsufficientStock, StateConflict, ValidationFailed
from config.fields import ZERO
from inventory.enums import MovementType
from inventory.models import StockPosting
from inventory.services import DocumentRef, PostingLine, reservation_create, reservations_release, stock_post
from planning.services import capacity_requirements_clear
from production.enums import DOCUMENT_TYPE, Flushing, OperationStatus, OrderStatus, OrderType, PostingStatus
from production.models import OrderComponent, OrderReceived, ProductionOrder
from production.selectors import Shortage, production_order_shortages
from production.services.common import audit, ensure_transition, ensure_version, set_status
from production.services.costs import order_costs_actualize, order_costs_plan
from production.services.orders import _locked_order
from production.services.scheduling import production_order_schedule


def document_ref(order: ProductionOrder, line_id: int | None = None) -> DocumentRef:
    return DocumentRef(
        document_type=DOCUMENT_TYPE,
        document_id=order.pk,
        document_number=order.number,
        document_line_id=line_id,
    )


def _shortage_fields(shortages: list[Shortage]) -> dict:
    return {
        "components": [
            f"{s.sku} at {s.location_code}: needed {s.required}, available {s.available}, short {s.short}"
            for s in shortages
        ]
    }


def components_reserve(order: ProductionOrder, components, *, user, allow_shortage: bool) -> list[OrderComponent]:
    """Reserve each component's open requirement (required - issued) at its issue location,
    in (item, location) order: the same global lock order as every posting. Returns the
    components that have an open requirement, each with its new ``reservation_id``."""
    consumable = sorted(
        (c for c in components if c.required_quantity > c.issued_quantity),
        key=lambda c: (c.item_id, c.issue_location_id, c.pk),
    )
    for component in consumable:
        reservation = reservation_create(
            item_id=component.item_id,
            location_id=component.issue_location_id,
            quantity=component.required_quantity - component.issued_quantity,
            reference=document_ref(order, component.pk),
            user=user,
            allow_shortage=allow_shortage,
        )
        component.reservation_id = reservation.pk
    OrderComponent.objects.bulk_update(consumable, ["reservation_id"])
    return consumable


@transaction.atomic
def production_order_release(
    *, order_id: int, user, force: bool = False, reason: str = "", expected_version: int | None = None
) -> ProductionOrder:
    """Approve the order for the floor: check availability, reserve the components, issue the
    forward-flushed ones, schedule. With shortages the release is refused unless the planner
    forces it, which is recorded."""
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    ensure_transition(order, OrderStatus.RELEASED)
    if order.in_engineering:
        raise StateConflict(
            f"Order {order.number} is still in engineering; approve its structure before release.",
            code="engineering_not_approved",
        )
    components = list(
        OrderComponent.objects.filter(order=order).select_related("item").select_for_update(of=("self",)).order_by("pk")
    )
    if not components and not order.operations.exists():
        raise StateConflict(
            f"Order {order.number} has no components and no operations; nothing can be released.",
            code="empty_structure",
        )
    if force and not reason.strip():
        raise ValidationFailed(
            "A forced release needs a reason.",
            code="reason_required",
            fields={"reason": "required when force is set"},
        )
    shortages = production_order_shortages(order=order, components=components)
    if shortages and not force:
        raise InsufficientStock(
            f"Order {order.number} cannot be released: {len(shortages)} component(s) short. "
            "Release with force (and a reason) to release anyway.",
            code="shortages",
            fields=_shortage_fields(shortages),
        )

    with audit(user, "release", reason):
        consumable = components_reserve(order, components, user=user, allow_shortage=force)

        forward = [c for c in consumable if c.flushing == Flushing.FORWARD]
        if forward:
            _issue_forward(order, forward, user)

        order.released_with_shortages = bool(shortages)
        order.save(update_fields=["released_with_shortages"])
        order.operations.update(status=OperationStatus.RELEASED)
        set_status(order, OrderStatus.RELEASED, user=user, reason=reason)
        production_order_schedule(order=order)
        order_costs_plan(order=order)
    return order


def _issue_forward(order: ProductionOrder, components: list[OrderComponent], user) -> None:
    lines: list[PostingLine] = []
    for component in components:
        quantity = component.required_quantity - component.issued_quantity
        lines.append(
            PostingLine(
                item_id=component.item_id,
                location_id=component.issue_location_id,
                quantity=-quantity,
                reservation_id=component.reservation_id,
                document_line_id=component.pk,
                pick_lots=True,  # lot-tracked: first expiry first, under the stock lock
            )
        )
        component.issued_quantity += quantity
    stock_post(
        movement_type=MovementType.PRODUCTION_ISSUE,
        lines=lines,
        reference=document_ref(order),
        user=user,
        posting_key=f"{DOCUMENT_TYPE}:{order.pk}:forward-flush",
        note="Forward flush at release",
    )
    OrderComponent.objects.bulk_update(components, ["issued_quantity"])


def _has_postings(order: ProductionOrder) -> bool:
    return StockPosting.objects.filter(document_type=DOCUMENT_TYPE, document_id=order.pk).exists()


@transaction.atomic
def production_order_cancel(
    *, order_id: int, user, reason: str = "", expected_version: int | None = None
) -> ProductionOrder:
    """Cancel a planned or released order on which nothing was posted; its reservations and
    capacity are released."""
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    ensure_transition(order, OrderStatus.CANCELLED)
    confirmed = order.operations.exclude(confirmed_good=0, confirmed_scrap=0).exists()
    if confirmed or _has_postings(order):
        raise StateConflict(
            f"Order {order.number} already has postings; it cannot be cancelled. Close it instead.",
            code="has_postings",
        )
    with audit(user, "cancel", reason):
        reservations_release(document_type=DOCUMENT_TYPE, document_id=order.pk, user=user)
        capacity_requirements_clear(source_type="production_order", source_id=order.pk)
        set_status(order, OrderStatus.CANCELLED, user=user, reason=reason)
    return order


@transaction.atomic
def production_order_close(
    *, order_id: int, user, reason: str = "", expected_version: int | None = None
) -> ProductionOrder:
    """Technically complete the order: release what is still reserved, fix actual costs and
    variances, and refuse every further posting. This is how a campaign ends (it takes no
    final confirmation): from in progress, with its planned cost restated for the quantity
    it received."""
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    ensure_transition(order, OrderStatus.CLOSED)
    open_postings = order.confirmations.filter(posting_status__in=[PostingStatus.PENDING, PostingStatus.FAILED]).count()
    if open_postings:
        raise StateConflict(
            f"Order {order.number} has {open_postings} confirmation posting(s) pending or failed; resolve "
            "them (posting errors) before closing, or their material would never be posted.",
            code="postings_open",
        )
    with audit(user, "close", reason):
        reservations_release(document_type=DOCUMENT_TYPE, document_id=order.pk, user=user)
        capacity_requirements_clear(source_type="production_order", source_id=order.pk)
        if order.actual_end is None:
            order.actual_end = timezone.now()
            order.save(update_fields=["actual_end"])
        if order.is_campaign:
            # A campaign has no final quantity: its plan is restated for what it produced.
            received = OrderReceived.objects.filter(order=order).values_list("quantity", flat=True).first()
            order_costs_plan(order=order, quantity=received or ZERO)
        elif order.status == OrderStatus.RELEASED and not order.costs.exists():
            order_costs_plan(order=order)
        set_status(order, OrderStatus.CLOSED, user=user, reason=reason)
        order_costs_actualize(order=order, fix_variance=True)
    return order


@transaction.atomic
def production_order_engineering_approve(
    *, order_id: int, user, reason: str = "", expected_version: int | None = None
) -> ProductionOrder:
    """ETO: engineering has completed the structure; from now on it is locked like any other."""
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    if order.order_type != OrderType.ETO:
        raise StateConflict(f"Order {order.number} is not an ETO order.", code="not_eto")
    if order.engineering_approved_at is not None:
        raise StateConflict(f"Order {order.number} is already approved by engineering.", code="already_approved")
    if order.status != OrderStatus.PLANNED:
        raise StateConflict(f"Order {order.number} is not planned.", code="invalid_transition")
    if not order.components.exists() or not order.operations.exists():
        raise StateConflict(
            f"Order {order.number} needs at least one component and one operation before approval.",
            code="empty_structure",
        )
    with audit(user, "engineering_approve", reason):
        order.engineering_approved_at = timezone.now()
        order.version += 1
        order.save(update_fields=["engineering_approved_at", "version", "updated_at"])
    return order
