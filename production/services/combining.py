"""Combining production orders: merging orders for the same item into one, and splitting a
quantity off an order into an order of its own.

Both work only while nothing is posted on the orders involved (no confirmation, no stock
posting, no receipt): once material moved or work was reported, the ledger ties it to one
order, and moving quantities between orders would leave issued material and confirmed work
on the wrong one. For such orders the planner closes the order short and plans anew.

Merge: the target takes over the sources' quantity; each source becomes ``merged`` (a
terminal status) and points at the target. ``OrderMergeSource`` keeps every share (the
target's own quantity and each source's) with its demand link and due date, so output and
cost can be allocated back (``production.selectors.merge_allocation``).

Split: the quantity moves to a new order of the same item, BOM and routing (a copy of the
order's own structure, scaled), which points at its origin (``split_from``) and carries the
same demand links (sales order line, parent order): the sales app reads the line's supply as
the pegged order and everything split off it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction

from config.exceptions import NotFound, StateConflict, ValidationFailed
from inventory.models import StockPosting
from inventory.services import reservations_release
from planning.services import capacity_requirements_clear
from production.enums import COMBINABLE_STATUSES, DOCUMENT_TYPE, OrderStatus, OrderType
from production.locks import production_order_qs_select_for_update
from production.models import (
    Confirmation,
    OrderComponent,
    OrderCost,
    OrderMergeSource,
    OrderOperation,
    OrderReceived,
    OrderStatusChange,
    ProductionOrder,
)
from production.selectors import production_order_shortages
from production.services.common import audit, ensure_version, mark_planning_dirty, order_numbers_next, set_status
from production.services.costs import order_costs_plan
from production.services.lifecycle import components_reserve
from production.services.orders import _locked_order, q, required
from production.services.scheduling import SOURCE_TYPE, production_orders_schedule

# More than this in one merge is a mistake in the request, not a plan.
MAX_MERGE_SOURCES = 50


def _status_label(order: ProductionOrder) -> str:
    return OrderStatus(order.status).label.lower()


def _posted_order_ids(order_ids: Sequence[int]) -> set[int]:
    """Orders with anything posted: a confirmation (reversed ones too: they posted), a stock
    posting (forward flush, issue, receipt) or received output. Three queries."""
    ids = list(order_ids)
    posted = set(Confirmation.objects.filter(order_id__in=ids).values_list("order_id", flat=True).distinct())
    posted.update(
        StockPosting.objects.filter(document_type=DOCUMENT_TYPE, document_id__in=ids)
        .values_list("document_id", flat=True)
        .distinct()
    )
    posted.update(OrderReceived.objects.filter(order_id__in=ids, quantity__gt=0).values_list("order_id", flat=True))
    return posted


def _ensure_nothing_posted(orders: Sequence[ProductionOrder], action: str) -> None:
    posted = _posted_order_ids([o.pk for o in orders])
    if posted:
        numbers = ", ".join(o.number for o in orders if o.pk in posted)
        raise StateConflict(
            f"{numbers}: something is already posted (confirmations, material issues or receipts); only orders "
            f"with nothing posted can be {action}. Close the order short and plan a new one instead.",
            code="has_postings",
            fields={"order": numbers},
        )


def _rescale(order: ProductionOrder) -> None:
    """Components' required quantities for the order's (new) quantity, from its own structure
    copy (per-unit quantities, scrap included), in each component unit's precision."""
    components = list(OrderComponent.objects.filter(order=order).select_related("item__uom").order_by("pk"))
    for component in components:
        component.required_quantity = required(component.quantity_per_unit, order.quantity, component.item.uom.decimals)
    OrderComponent.objects.bulk_update(components, ["required_quantity"])


def _reserve(order: ProductionOrder, user) -> bool:
    """(Re)reserve a released order's components for their open requirement, in the global
    (item, location) lock order. The stock was reserved for the same demand before the merge
    or split (only unit rounding can add a little), so a shortage does not refuse: it is
    recorded on the order, as a forced release would. Returns whether anything is short."""
    components = components_reserve(
        order,
        OrderComponent.objects.filter(order=order).select_for_update(of=("self",)).order_by("pk"),
        user=user,
        allow_shortage=True,
    )
    return bool(production_order_shortages(order=order, components=components))


# --------------------------------------------------------------------------- merge


def _validate_source_ids(target_id: int, source_ids: Sequence[int]) -> list[int]:
    ids = [int(i) for i in source_ids]
    if not ids:
        raise ValidationFailed(
            "Name at least one order to merge into this one.", code="required", fields={"source_orders": "required"}
        )
    if len(ids) > MAX_MERGE_SOURCES:
        raise ValidationFailed(
            f"At most {MAX_MERGE_SOURCES} orders can be merged at once.",
            code="too_many_sources",
            fields={"source_orders": f"at most {MAX_MERGE_SOURCES}"},
        )
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValidationFailed(
            f"Order(s) {', '.join(map(str, duplicates))} are named more than once.",
            code="duplicate_source",
            fields={"source_orders": "duplicates"},
        )
    if target_id in ids:
        raise ValidationFailed(
            "An order cannot be merged into itself.", code="self_merge", fields={"source_orders": "contains the target"}
        )
    return ids


def _lock_orders(order_ids: Sequence[int]) -> dict[int, ProductionOrder]:
    """Lock every order of a merge in one statement, in id order: two merges over the same
    orders queue instead of deadlocking, whatever order their requests named them in."""
    return {o.pk: o for o in production_order_qs_select_for_update().filter(pk__in=list(order_ids)).order_by("pk")}


def _ensure_compatible(target: ProductionOrder, sources: Sequence[ProductionOrder]) -> None:
    """The rules of a merge, checked on locked rows: same item, BOM version, routing, type
    and output location; all planned, or all released; ETO orders carry an engineered
    structure of their own and are never merged; and orders pegged to a sales line (that
    customer's supply) are merged only with pegged orders, free stock orders with free ones
    (planning counts the one as the customer's, the other as free supply)."""
    if target.status not in COMBINABLE_STATUSES:
        raise StateConflict(
            f"Order {target.number} is {_status_label(target)}; only planned or released orders can take over "
            "other orders.",
            code="invalid_status",
            fields={"order": target.status},
        )
    checks = (
        ("item_id", "item_mismatch", "item", "is for another item"),
        ("bom_id", "bom_mismatch", "bom", "has another BOM version"),
        ("routing_id", "routing_mismatch", "routing", "has another routing"),
        ("order_type", "order_type_mismatch", "order_type", "is of another order type"),
        ("receipt_location_id", "location_mismatch", "receipt_location", "delivers to another location"),
    )
    for source in sources:
        if source.status not in COMBINABLE_STATUSES:
            raise StateConflict(
                f"Order {source.number} is {_status_label(source)}; only planned or released orders can be merged.",
                code="invalid_status",
                fields={"source_orders": f"{source.number} is {source.status}"},
            )
        if source.status != target.status:
            raise StateConflict(
                f"Order {source.number} is {_status_label(source)} and {target.number} is {_status_label(target)}; "
                "merge planned orders with planned ones and released with released ones (release the others first).",
                code="status_mismatch",
                fields={"source_orders": f"{source.number} is {source.status}"},
            )
        for attribute, code, field, text in checks:
            if getattr(source, attribute) != getattr(target, attribute):
                raise ValidationFailed(
                    f"Order {source.number} {text} than {target.number}; only orders for the same item, BOM "
                    "version, routing, order type and receipt location can be merged.",
                    code=code,
                    fields={"source_orders": f"{source.number}: {field} differs"},
                )
        if (source.sales_order_line_id is None) != (target.sales_order_line_id is None):
            raise ValidationFailed(
                f"One of {source.number} and {target.number} is pegged to a sales order line and the other is "
                "not; an order made for a customer is merged only with orders made for customers.",
                code="pegging_mismatch",
                fields={"source_orders": f"{source.number}: pegging differs"},
            )
    for order in (target, *sources):
        if order.is_campaign:
            raise ValidationFailed(
                f"Order {order.number} is a campaign: its quantity is a target for its period, so it is not "
                "merged with other orders.",
                code="campaign_not_mergeable",
                fields={"source_orders" if order is not target else "order": f"{order.number} is a campaign"},
            )
        if order.order_type == OrderType.ETO:
            raise ValidationFailed(
                f"Order {order.number} is engineer-to-order: its structure is engineered for it alone, so it "
                "cannot be merged.",
                code="eto_not_mergeable",
                fields={"source_orders" if order is not target else "order": f"{order.number} is ETO"},
            )


def _share(order: ProductionOrder, *, target: ProductionOrder, user) -> OrderMergeSource:
    return OrderMergeSource(
        target=target,
        source=order,
        quantity=order.quantity,
        due_date=order.due_date,
        sales_order_line_id=order.sales_order_line_id,
        parent_id=order.parent_id,
        merged_by=user,
    )


@transaction.atomic
def production_orders_merge(
    *,
    target_id: int,
    source_ids: Sequence[int],
    user,
    expected_version: int | None = None,
    reason: str = "",
) -> ProductionOrder:
    """Merge the source orders into the target: the target's quantity becomes the sum, its
    due date the earliest and its priority the most urgent of all; its components are
    rescaled from its own structure copy and it is scheduled again. Each source becomes
    ``merged`` (recorded in its audit trail) with ``merged_into`` set; its capacity
    requirements go, and for released orders its reservations are released and the target's
    made anew for the new quantities. A source that was itself a merge target hands its
    shares on. ``expected_version`` is the target's (If-Match)."""
    source_ids = _validate_source_ids(target_id, source_ids)
    locked = _lock_orders([target_id, *source_ids])
    if target_id not in locked:
        raise NotFound(f"Production order {target_id} does not exist.")
    missing = [i for i in source_ids if i not in locked]
    if missing:
        raise ValidationFailed(
            f"Production order(s) {', '.join(map(str, missing))} do not exist.",
            code="unknown_order",
            fields={"source_orders": f"unknown: {', '.join(map(str, missing))}"},
        )
    target = locked[target_id]
    sources = [locked[i] for i in source_ids]
    # The guards run on the locked rows: a concurrent confirmation or release has committed
    # or waits for us.
    ensure_version(target, expected_version)
    _ensure_compatible(target, sources)
    _ensure_nothing_posted([target, *sources], "merged")

    released = target.status == OrderStatus.RELEASED
    why = reason.strip()
    with audit(user, "merge", why):
        # Shares: the target's own quantity (unless it already is a merge target), then each
        # source's; a source that took over others before hands its shares on.
        handed_on = OrderMergeSource.objects.filter(target_id__in=source_ids)
        handed_on_sources = set(handed_on.values_list("target_id", flat=True))
        handed_on.update(target=target)
        new_shares = []
        if not OrderMergeSource.objects.filter(source=target).exists():
            new_shares.append(_share(target, target=target, user=user))
        new_shares += [_share(s, target=target, user=user) for s in sources if s.pk not in handed_on_sources]
        OrderMergeSource.objects.bulk_create(new_shares)

        involved = [target, *sources]
        shortages_before = any(o.released_with_shortages for o in involved)
        if released:
            for order in involved:
                reservations_release(document_type=DOCUMENT_TYPE, document_id=order.pk, user=user)
        for source in sources:
            capacity_requirements_clear(source_type=SOURCE_TYPE, source_id=source.pk)
            source.merged_into = target
            source.save(update_fields=["merged_into"])
            set_status(source, OrderStatus.MERGED, user=user, reason=_merge_reason(f"Merged into {target.number}", why))
        # The sources' planned cost is now part of the target's plan.
        OrderCost.objects.filter(order__in=sources).delete()

        target.quantity = q(sum((o.quantity for o in involved), Decimal(0)))
        target.due_date = min(o.due_date for o in involved)
        target.priority = min(o.priority for o in involved)
        target.version += 1
        target.save(update_fields=["quantity", "due_date", "priority", "version", "updated_at"])
        OrderStatusChange.objects.create(
            order=target,
            from_status=target.status,
            to_status=target.status,
            reason=_merge_reason(f"Took over {', '.join(s.number for s in sources)}", why),
            user=user,
        )
        _rescale(target)
        if released:
            target.released_with_shortages = _reserve(target, user) or shortages_before
            target.save(update_fields=["released_with_shortages"])
            order_costs_plan(order=target)
        production_orders_schedule(orders=[target])
    mark_planning_dirty(involved)
    return target


def _merge_reason(what: str, why: str) -> str:
    return f"{what}: {why}" if why else what


# --------------------------------------------------------------------------- split


@transaction.atomic
def production_order_split(
    *,
    order_id: int,
    quantity: Decimal,
    user,
    due_date: dt.date | None = None,
    expected_version: int | None = None,
    reason: str = "",
) -> ProductionOrder:
    """Move ``quantity`` out of a planned or released order into a new order of the same item,
    BOM and routing, in the same status: a copy of the order's own structure scaled to the
    quantity, its own number, ``split_from`` pointing at the origin, the same demand links,
    due on ``due_date`` (default: the origin's). Both orders are rescheduled; for a released
    order the reservations are split too and both keep their planned cost.

    Refused once anything is posted on the order (in progress, completed, or a released
    order whose forward-flushed parts were issued): issued material and confirmed work belong
    to the order they were posted on, and a split would leave them on the wrong one. Also
    refused for an order that took over merged orders (its output is allocated to their
    demands). Returns the new order."""
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    if order.status not in COMBINABLE_STATUSES:
        raise StateConflict(
            f"Order {order.number} is {_status_label(order)}; only planned or released orders with nothing posted "
            "can be split. For an order in progress, close it short when its work is done and plan a new order "
            "for the rest.",
            code="invalid_status",
            fields={"order": order.status},
        )
    if order.is_campaign:
        raise StateConflict(
            f"Order {order.number} is a campaign: shorten its period or change its target instead of splitting it.",
            code="campaign_not_splittable",
            fields={"order": "campaign"},
        )
    if OrderMergeSource.objects.filter(target=order).exists():
        raise StateConflict(
            f"Order {order.number} took over merged orders and its output is allocated to their demands; it "
            "cannot be split.",
            code="merged_order",
            fields={"order": "merge target"},
        )
    _ensure_nothing_posted([order], "split")
    quantity = Decimal(quantity) if quantity is not None else Decimal(0)
    if quantity <= 0:
        raise ValidationFailed(
            "quantity must be greater than zero.", code="invalid_quantity", fields={"quantity": "must be > 0"}
        )
    quantity = q(quantity)
    if quantity >= order.quantity:
        raise ValidationFailed(
            f"quantity must be less than the open quantity of {order.number} ({order.quantity.normalize():f}); "
            "to move all of it, change the order instead.",
            code="quantity_too_large",
            fields={"quantity": f"must be < {order.quantity.normalize():f}"},
        )
    why = reason.strip()
    released = order.status == OrderStatus.RELEASED
    with audit(user, "split", why):
        new = ProductionOrder.objects.create(
            number=order_numbers_next(1)[0],
            item_id=order.item_id,
            quantity=quantity,
            order_type=order.order_type,
            status=order.status,
            priority=order.priority,
            due_date=due_date or order.due_date,
            cost_center_id=order.cost_center_id,
            bom_id=order.bom_id,
            routing_id=order.routing_id,
            issue_location_id=order.issue_location_id,
            receipt_location_id=order.receipt_location_id,
            sales_order_line_id=order.sales_order_line_id,
            parent_id=order.parent_id,
            engineering_approved_at=order.engineering_approved_at,
            split_from=order,
            created_by=user,
        )
        OrderComponent.objects.bulk_create(
            OrderComponent(
                order=new,
                position=c.position,
                item_id=c.item_id,
                quantity_per_unit=c.quantity_per_unit,
                scrap_percent=c.scrap_percent,
                required_quantity=c.required_quantity,  # rescaled below
                flushing=c.flushing,
                operation_sequence=c.operation_sequence,
                issue_location_id=c.issue_location_id,
            )
            for c in OrderComponent.objects.filter(order=order).order_by("position", "pk")
        )
        OrderOperation.objects.bulk_create(
            OrderOperation(
                order=new,
                sequence=op.sequence,
                work_center_id=op.work_center_id,
                description=op.description,
                setup_minutes=op.setup_minutes,
                run_minutes_per_unit=op.run_minutes_per_unit,
                queue_minutes=op.queue_minutes,
                move_minutes=op.move_minutes,
                instructions=op.instructions,
                reporting_point=op.reporting_point,
                status=op.status,
            )
            for op in OrderOperation.objects.filter(order=order).order_by("sequence")
        )
        OrderStatusChange.objects.create(
            order=new,
            from_status="",
            to_status=new.status,
            reason=_merge_reason(f"Split from {order.number}", why),
            user=user,
        )
        order.quantity -= quantity
        order.version += 1
        order.save(update_fields=["quantity", "version", "updated_at"])
        OrderStatusChange.objects.create(
            order=order,
            from_status=order.status,
            to_status=order.status,
            reason=_merge_reason(f"Split {quantity.normalize():f} off into {new.number}", why),
            user=user,
        )
        _rescale(order)
        _rescale(new)
        if released:
            reservations_release(document_type=DOCUMENT_TYPE, document_id=order.pk, user=user)
            shortages_before = order.released_with_shortages
            order.released_with_shortages = _reserve(order, user) or shortages_before
            new.released_with_shortages = _reserve(new, user) or shortages_before
            order.save(update_fields=["released_with_shortages"])
            new.save(update_fields=["released_with_shortages"])
            order_costs_plan(order=order)
            order_costs_plan(order=new)
        production_orders_schedule(orders=[order, new])
    mark_planning_dirty([order, new])
    return new
