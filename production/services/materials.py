"""Manual material issue and return against an order, and FEFO lot picking."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from config.exceptions import StateConflict, ValidationFailed
from config.fields import ZERO
from inventory.enums import MovementType
from inventory.models import Item, StockPosting
from inventory.services import DocumentRef, PostingLine, ReserveAgain, stock_post
from production.enums import DOCUMENT_TYPE, Flushing, OrderStatus
from production.models import OrderComponent, ProductionOrder
from production.services.common import audit, ensure_version


@dataclass(frozen=True)
class IssueLine:
    """Issue (positive) or return (negative) of one component. ``item_id`` of an item that is
    not on the order adds an unplanned component (extra consumption)."""

    quantity: Decimal
    component_id: int | None = None
    item_id: int | None = None
    lot_id: int | None = None
    location_id: int | None = None


@transaction.atomic
def production_order_issue(
    *,
    order_id: int,
    lines: list[IssueLine],
    user,
    expected_version: int | None = None,
    posting_key: str | None = None,
    note: str = "",
) -> StockPosting:
    """Post the lines as one issue (or return) against the order. A line for an item the order
    does not list adds it as an unplanned component: the order's structure changed, so its
    version moves; issuing a listed component leaves the version as it is."""
    from production.services.orders import _bump, _locked_order

    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    if order.status not in (OrderStatus.RELEASED, OrderStatus.IN_PROGRESS):
        raise StateConflict(
            f"Order {order.number} is {OrderStatus(order.status).label.lower()}; material can be issued only "
            "to released or in-progress orders.",
            code="order_not_open_for_postings",
        )
    if not lines:
        raise ValidationFailed("At least one line is required.", fields={"lines": "empty"})
    components = {
        c.pk: c
        for c in OrderComponent.objects.filter(order=order)
        .select_related("item")
        .select_for_update(of=("self",))
        .order_by("pk")
    }
    by_item = {}
    for c in components.values():
        by_item.setdefault(c.item_id, c)
    posting_lines: list[PostingLine] = []
    touched: dict[int, OrderComponent] = {}
    structure_changed = False
    with audit(user, "material_issue", note):
        for index, line in enumerate(lines):
            field = f"lines[{index}]"
            quantity = Decimal(line.quantity)
            if quantity == 0:
                raise ValidationFailed("quantity must not be zero.", fields={f"{field}.quantity": "must not be 0"})
            component = components.get(line.component_id) if line.component_id else by_item.get(line.item_id)
            if line.component_id and component is None:
                raise ValidationFailed(
                    f"Component {line.component_id} is not on order {order.number}.",
                    fields={f"{field}.component": "not on this order"},
                )
            if component is None:
                component = _unplanned_component(order, line, field)
                components[component.pk] = component
                by_item[component.item_id] = component
                structure_changed = True
            issued_after = (
                component.issued_quantity
                + sum((-pl.quantity for pl in posting_lines if pl.document_line_id == component.pk), ZERO)
                + quantity
            )
            if issued_after < 0:
                raise ValidationFailed(
                    f"Cannot return more {component.item.sku} than was issued ({component.issued_quantity}).",
                    code="return_exceeds_issued",
                    fields={f"{field}.quantity": "exceeds the issued quantity"},
                )
            posting_lines.append(
                PostingLine(
                    item_id=component.item_id,
                    location_id=line.location_id or component.issue_location_id,
                    quantity=-quantity,
                    lot_id=line.lot_id,
                    reservation_id=component.reservation_id if quantity > 0 else None,
                    document_line_id=component.pk,
                    # An issue that names no lot takes lots first expiry first, under the lock.
                    pick_lots=line.lot_id is None and quantity > 0,
                )
            )
            touched[component.pk] = component
        issues = [pl for pl in posting_lines if pl.quantity < 0]
        returns = [pl for pl in posting_lines if pl.quantity > 0]
        if issues and returns:
            raise ValidationFailed(
                "Issue and return lines cannot be mixed in one posting.", fields={"lines": "mixed signs"}
            )
        posting = stock_post(
            movement_type=MovementType.PRODUCTION_ISSUE if issues else MovementType.PRODUCTION_RETURN,
            reserve_again=_reserve_again(touched, returns),
            lines=posting_lines,
            reference=DocumentRef(document_type=DOCUMENT_TYPE, document_id=order.pk, document_number=order.number),
            user=user,
            posting_key=posting_key,
            note=note,
        )
        for component in touched.values():
            moved = sum((-pl.quantity for pl in posting_lines if pl.document_line_id == component.pk), ZERO)
            OrderComponent.objects.filter(pk=component.pk).update(issued_quantity=F("issued_quantity") + moved)
        if structure_changed:
            _bump(order)
    return posting


def _reserve_again(components: dict[int, OrderComponent], returns: list[PostingLine]) -> list[ReserveAgain]:
    """What a return gives back to the reservations its issues consumed: what comes back to
    each component's issue location (where its reservation is), keeping the reservation open
    for no more than the component still needs after the return."""
    again = []
    for component in components.values():
        lines = [pl for pl in returns if pl.document_line_id == component.pk]
        if component.reservation_id is None or not lines:
            continue
        returned = sum((pl.quantity for pl in lines if pl.location_id == component.issue_location_id), ZERO)
        still_needed = component.required_quantity - (component.issued_quantity - sum(pl.quantity for pl in lines))
        if returned > 0 and still_needed > 0:
            again.append(ReserveAgain(component.reservation_id, returned, still_needed))
    return again


def _unplanned_component(order: ProductionOrder, line: IssueLine, field: str) -> OrderComponent:
    if line.item_id is None:
        raise ValidationFailed("component or item is required.", fields={f"{field}.item": "required"})
    item = Item.objects.filter(pk=line.item_id).first()
    if item is None:
        raise ValidationFailed("Unknown item.", code="unknown_item", fields={f"{field}.item": "unknown"})
    if item.pk == order.item_id:
        raise ValidationFailed(
            f"An order for {item.sku} cannot consume {item.sku}.",
            fields={f"{field}.item": "equals the order's item"},
        )
    last = (
        OrderComponent.objects.filter(order=order).order_by("-position").values_list("position", flat=True).first() or 0
    )
    return OrderComponent.objects.create(
        order=order,
        position=last + 10,
        item=item,
        quantity_per_unit=ZERO,
        required_quantity=ZERO,
        flushing=Flushing.MANUAL,
        issue_location_id=line.location_id or order.issue_location_id,
    )
