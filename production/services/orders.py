"""Creating production orders, copying their structure, editing while planned, scheduling."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.exceptions import NotFound, ValidationFailed
from config.fields import QTY_PLACES, ZERO
from inventory.enums import ItemType, Procurement
from inventory.models import Item, Location
from planning.models import CostCenter, WorkCenter
from production.enums import Flushing, OrderStatus, OrderType
from production.locks import production_order_qs_select_for_update
from production.models import OrderComponent, OrderOperation, ProductionOrder
from production.services import structure
from production.services.common import (
    audit,
    ensure_structure_editable,
    ensure_version,
    mark_planning_dirty,
    order_numbers_next,
)
from production.services.scheduling import production_order_schedule, production_orders_schedule

QUANT = Decimal(1).scaleb(-QTY_PLACES)
HUNDRED = Decimal(100)


def q(value: Decimal) -> Decimal:
    return Decimal(value).quantize(QUANT, rounding=ROUND_HALF_UP)


def required(per_unit: Decimal, quantity: Decimal, decimals: int) -> Decimal:
    """Requirement of a component in its unit's precision, rounded away from zero: 5.5 pieces
    are 6 pieces to pick, and a by-product of -2.5 pieces is -3."""
    exact = Decimal(per_unit) * Decimal(quantity)
    places = Decimal(1).scaleb(-min(decimals, QTY_PLACES))
    rounded = abs(exact).quantize(places, rounding=ROUND_CEILING)
    return q(rounded if exact >= 0 else -rounded)


def _unit_decimals(item_ids) -> dict[int, int]:
    return dict(Item.objects.filter(pk__in=set(item_ids)).values_list("pk", "uom__decimals"))


@dataclass(frozen=True)
class ComponentInput:
    item_id: int
    quantity_per_unit: Decimal
    scrap_percent: Decimal = ZERO
    flushing: str = Flushing.MANUAL
    operation_sequence: int | None = None
    issue_location_id: int | None = None


@dataclass(frozen=True)
class OperationInput:
    sequence: int
    work_center_id: int
    setup_minutes: Decimal = ZERO
    run_minutes_per_unit: Decimal = ZERO
    queue_minutes: Decimal = ZERO
    move_minutes: Decimal = ZERO
    description: str = ""
    instructions: str = ""
    reporting_point: bool = False


def _default_location(setting: str, field: str) -> Location:
    code = getattr(settings, setting)
    location = Location.objects.filter(code=code).first()
    if location is None:
        raise ValidationFailed(
            f"{field} is required: the default location {code!r} does not exist.", fields={field: "required"}
        )
    return location


def _validate_quantity(quantity: Decimal, field: str = "quantity") -> Decimal:
    if quantity is None or Decimal(quantity) <= 0:
        raise ValidationFailed(
            f"{field} must be greater than zero.", code="invalid_quantity", fields={field: "must be > 0"}
        )
    return q(quantity)


@dataclass(frozen=True)
class OrderDraft:
    """One order to create; see ``production_order_create`` for the meaning of the fields."""

    item_id: int
    quantity: Decimal
    due_date: dt.date
    order_type: str | None = None
    priority: int = 5
    start_date: dt.date | None = None
    cost_center_id: int | None = None
    issue_location_id: int | None = None
    receipt_location_id: int | None = None
    sales_order_line_id: int | None = None
    parent_id: int | None = None
    copy_structure: bool = True
    is_campaign: bool = False
    campaign_start: dt.date | None = None
    campaign_end: dt.date | None = None


@transaction.atomic
def production_order_create(
    *,
    item_id: int,
    quantity: Decimal,
    user,
    due_date: dt.date | None = None,
    order_type: str | None = None,
    priority: int = 5,
    start_date: dt.date | None = None,
    cost_center_id: int | None = None,
    issue_location_id: int | None = None,
    receipt_location_id: int | None = None,
    sales_order_line_id: int | None = None,
    parent_id: int | None = None,
    copy_structure: bool = True,
    is_campaign: bool = False,
    campaign_start: dt.date | None = None,
    campaign_end: dt.date | None = None,
) -> ProductionOrder:
    """Create a planned order and copy its structure: components from the BOM valid on the
    start date (phantoms exploded, scrap applied, scaled to the quantity) and operations
    from the routing; then schedule it. ETO orders start in engineering and may start empty
    (``copy_structure=False``).

    A campaign (``is_campaign``) runs from ``campaign_start`` to ``campaign_end``; its
    quantity is the target for the whole period. It is due at the campaign's end and starts
    (BOM date, forward schedule) at its start unless ``start_date`` says otherwise."""
    draft = OrderDraft(
        item_id=item_id,
        quantity=quantity,
        due_date=due_date,
        order_type=order_type,
        priority=priority,
        start_date=start_date,
        cost_center_id=cost_center_id,
        issue_location_id=issue_location_id,
        receipt_location_id=receipt_location_id,
        sales_order_line_id=sales_order_line_id,
        parent_id=parent_id,
        copy_structure=copy_structure,
        is_campaign=is_campaign,
        campaign_start=campaign_start,
        campaign_end=campaign_end,
    )
    return production_orders_create_bulk(drafts=[draft], user=user)[0]


def validate_campaign_period(is_campaign: bool, start: dt.date | None, end: dt.date | None) -> None:
    """A campaign needs both ends of its period, start on or before end; any other order has
    no period. The database checks the same (``production_order_campaign_period``)."""
    period = (("campaign_start", start), ("campaign_end", end))
    if not is_campaign:
        given = {name: "only for campaign orders" for name, v in period if v}
        if given:
            raise ValidationFailed(
                "A campaign period is given for an order that is not a campaign; set is_campaign.",
                code="not_a_campaign",
                fields=given,
            )
        return
    missing = {name: "required for a campaign" for name, v in period if not v}
    if missing:
        raise ValidationFailed(
            f"A campaign order needs {' and '.join(missing)}.", code="campaign_period_required", fields=missing
        )
    if start > end:
        raise ValidationFailed(
            f"The campaign ends ({end}) before it starts ({start}).",
            code="invalid_campaign_period",
            fields={"campaign_end": "must be on or after campaign_start"},
        )


def _with_campaign_dates(d: OrderDraft) -> OrderDraft:
    """A campaign is due when it ends and starts (BOM date, forward schedule) when it starts."""
    if not d.is_campaign:
        return d
    return replace(d, due_date=d.due_date or d.campaign_end, start_date=d.start_date or d.campaign_start)


def _validate_drafts(drafts: Sequence[OrderDraft]) -> dict[int, Item]:
    items = Item.objects.in_bulk({d.item_id for d in drafts})
    cost_centers = {d.cost_center_id for d in drafts if d.cost_center_id is not None}
    known_cost_centers = set(CostCenter.objects.filter(pk__in=cost_centers).values_list("pk", flat=True))
    for d in drafts:
        _validate_quantity(d.quantity)
        validate_campaign_period(d.is_campaign, d.campaign_start, d.campaign_end)
        if d.is_campaign and d.due_date is not None and d.due_date != d.campaign_end:
            raise ValidationFailed(
                f"A campaign is due when it ends ({d.campaign_end}); leave due_date out or give the same date.",
                code="campaign_due_date",
                fields={"due_date": "must equal campaign_end"},
            )
        if d.due_date is None and not d.is_campaign:
            raise ValidationFailed("due_date is required.", fields={"due_date": "required"})
        item = items.get(d.item_id)
        if item is None:
            raise ValidationFailed(f"Item {d.item_id} does not exist.", code="unknown_item", fields={"item": "unknown"})
        if not item.is_active:
            raise ValidationFailed(f"Item {item.sku} is inactive.", code="inactive_item", fields={"item": "inactive"})
        if item.procurement != Procurement.MAKE:
            raise ValidationFailed(
                f"Item {item.sku} is bought, not made; it gets a purchase requisition, not a production order.",
                code="item_not_made",
                fields={"item": "procurement is buy"},
            )
        if not 1 <= int(d.priority) <= 9:
            raise ValidationFailed("priority must be between 1 and 9.", fields={"priority": "1..9"})
        if (d.order_type or item.strategy) not in OrderType.values:
            raise ValidationFailed(
                f"order_type must be one of {', '.join(OrderType.values)}.", fields={"order_type": "invalid"}
            )
        if d.cost_center_id is not None and d.cost_center_id not in known_cost_centers:
            raise ValidationFailed("Unknown cost center.", fields={"cost_center": "unknown"})
    return items


def _locations(drafts: Sequence[OrderDraft]) -> tuple[dict[int, Location], Location | None, Location | None]:
    explicit = {d.issue_location_id for d in drafts if d.issue_location_id} | {
        d.receipt_location_id for d in drafts if d.receipt_location_id
    }
    known = Location.objects.in_bulk(explicit)
    for d in drafts:
        if d.issue_location_id and d.issue_location_id not in known:
            raise ValidationFailed("Unknown issue location.", fields={"issue_location": "unknown"})
        if d.receipt_location_id and d.receipt_location_id not in known:
            raise ValidationFailed("Unknown receipt location.", fields={"receipt_location": "unknown"})
    default_issue = default_receipt = None
    if any(not d.issue_location_id or not d.receipt_location_id for d in drafts):
        default_issue = _default_location("PRODUCTION_ISSUE_LOCATION", "issue_location")
    if any(not d.receipt_location_id for d in drafts):
        default_receipt = _default_location("PRODUCTION_RECEIPT_LOCATION", "receipt_location")
    return known, default_issue, default_receipt


def _receipt_location_id(draft, item, known, parent_issue, default_issue, default_receipt) -> int:
    """Where the output goes: as given; else a sub-assembly goes where its consumer issues
    from (the parent order's issue location, or the production issue store), and a finished
    good to the finished-goods store."""
    if draft.receipt_location_id:
        return known[draft.receipt_location_id].pk
    if draft.parent_id and draft.parent_id in parent_issue:
        return parent_issue[draft.parent_id]
    if item.item_type == ItemType.SEMI_FINISHED and default_issue is not None:
        return default_issue.pk
    return default_receipt.pk


@transaction.atomic
def production_orders_create_bulk(*, drafts: Sequence[OrderDraft], user) -> list[ProductionOrder]:
    """Create many planned orders at once, with the same rules as ``production_order_create``:
    structure loaded once per item and date, a block of gap-free numbers, bulk inserts, and
    scheduling in memory. All or nothing."""
    if not drafts:
        return []
    items = _validate_drafts(drafts)
    drafts = [_with_campaign_dates(d) for d in drafts]
    known_locations, default_issue, default_receipt = _locations(drafts)
    today = timezone.localdate()

    structures: dict[tuple[int, dt.date, bool, bool], tuple] = {}
    for d in drafts:
        item = items[d.item_id]
        order_type = d.order_type or item.strategy
        on_date = d.start_date or today
        key = (item.pk, on_date, d.copy_structure, order_type == OrderType.ETO)
        if key in structures:
            continue
        bom = routing = None
        components: list[structure.ComponentDraft] = []
        operations: list[structure.OperationDraft] = []
        if d.copy_structure:
            bom = structure.bom_for_item(item_id=item.pk, on_date=on_date)
            routing = structure.routing_for(item_id=item.pk, on_date=on_date)
            if order_type != OrderType.ETO:
                if bom is None:
                    raise ValidationFailed(
                        f"Item {item.sku} has no active BOM valid on {on_date}.",
                        code="no_bom",
                        fields={"item": "no active BOM"},
                    )
                if routing is None:
                    raise ValidationFailed(
                        f"Item {item.sku} has no active routing valid on {on_date}.",
                        code="no_routing",
                        fields={"item": "no active routing"},
                    )
            if bom is not None:
                components = structure.components_from_bom(bom=bom, on_date=on_date)
            if routing is not None:
                operations = structure.operations_from_routing(routing=routing)
        structures[key] = (bom, routing, components, operations)
    decimals = _unit_decimals(c.item_id for (_, _, comps, _) in structures.values() for c in comps)
    numbers = order_numbers_next(len(drafts))

    with audit(user, "create"):
        orders = []
        parent_issue = dict(
            ProductionOrder.objects.filter(pk__in={d.parent_id for d in drafts if d.parent_id}).values_list(
                "pk", "issue_location_id"
            )
        )
        for d, number in zip(drafts, numbers, strict=True):
            item = items[d.item_id]
            order_type = d.order_type or item.strategy
            bom, routing, _, _ = structures[
                (item.pk, d.start_date or today, d.copy_structure, order_type == OrderType.ETO)
            ]
            orders.append(
                ProductionOrder(
                    number=number,
                    item=item,
                    quantity=q(d.quantity),
                    order_type=order_type,
                    priority=d.priority,
                    due_date=d.due_date,
                    cost_center_id=d.cost_center_id,
                    bom=bom,
                    routing=routing,
                    issue_location=known_locations.get(d.issue_location_id) or default_issue,
                    receipt_location_id=_receipt_location_id(
                        d, item, known_locations, parent_issue, default_issue, default_receipt
                    ),
                    sales_order_line_id=d.sales_order_line_id,
                    parent_id=d.parent_id,
                    is_campaign=d.is_campaign,
                    campaign_start=d.campaign_start,
                    campaign_end=d.campaign_end,
                    created_by=user,
                )
            )
        ProductionOrder.objects.bulk_create(orders)
        components: list[OrderComponent] = []
        operations: list[OrderOperation] = []
        for d, order in zip(drafts, orders, strict=True):
            _, _, comp_drafts, op_drafts = structures[
                (order.item_id, d.start_date or today, d.copy_structure, order.order_type == OrderType.ETO)
            ]
            for index, draft in enumerate(comp_drafts):
                components.append(
                    OrderComponent(
                        order=order,
                        position=(index + 1) * 10,
                        item_id=draft.item_id,
                        quantity_per_unit=draft.quantity_per_unit,
                        scrap_percent=draft.scrap_percent,
                        required_quantity=required(draft.quantity_per_unit, order.quantity, decimals[draft.item_id]),
                        flushing=draft.flushing,
                        operation_sequence=draft.operation_sequence,
                        issue_location=order.issue_location,
                    )
                )
            operations.extend(OrderOperation(order=order, **draft.as_fields()) for draft in op_drafts)
        OrderComponent.objects.bulk_create(components)
        OrderOperation.objects.bulk_create(operations)
        starts = {
            order.pk: _start_of(d.start_date)
            for d, order in zip(drafts, orders, strict=True)
            if d.start_date is not None
        }
        production_orders_schedule(orders=orders, starts=starts)
    mark_planning_dirty(orders)
    return orders


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _locked_order(order_id: int) -> ProductionOrder:
    try:
        return production_order_qs_select_for_update().get(pk=order_id)
    except ProductionOrder.DoesNotExist as exc:
        raise NotFound(f"Production order {order_id} does not exist.") from exc


@transaction.atomic
def production_order_update(
    *,
    order_id: int,
    user,
    expected_version: int | None = None,
    quantity: Decimal | None = None,
    due_date: dt.date | None = None,
    priority: int | None = None,
    cost_center_id: int | None = None,
    is_campaign: bool | None = None,
    campaign_start: dt.date | None = None,
    campaign_end: dt.date | None = None,
    reason: str = "",
) -> ProductionOrder:
    """Edit header fields. Quantity changes rescale the structure and are only allowed while
    planned; due date and priority may change until the order is completed (reschedule).
    Campaign fields: see ``_campaign_update``."""
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    changed: list[str] = []
    with audit(user, "update", reason):
        changed += _campaign_update(order, is_campaign, campaign_start, campaign_end, due_date)
        if order.is_campaign:
            due_date = None  # a campaign's due date is its end, set above
        if quantity is not None and q(quantity) != order.quantity:
            ensure_structure_editable(order)
            quantity = _validate_quantity(quantity)
            order.quantity = quantity
            changed.append("quantity")
            components = list(order.components.select_related("item__uom"))
            for component in components:
                component.required_quantity = required(
                    component.quantity_per_unit, quantity, component.item.uom.decimals
                )
            OrderComponent.objects.bulk_update(components, ["required_quantity"])
        if priority is not None and priority != order.priority:
            if not 1 <= int(priority) <= 9:
                raise ValidationFailed("priority must be between 1 and 9.", fields={"priority": "1..9"})
            _ensure_open(order)
            order.priority = priority
            changed.append("priority")
        if due_date is not None and due_date != order.due_date:
            _ensure_open(order)
            order.due_date = due_date
            changed.append("due_date")
        if cost_center_id is not None and cost_center_id != order.cost_center_id:
            ensure_structure_editable(order)
            if not CostCenter.objects.filter(pk=cost_center_id).exists():
                raise ValidationFailed("Unknown cost center.", fields={"cost_center": "unknown"})
            order.cost_center_id = cost_center_id
            changed.append("cost_center")
        if changed:
            order.version += 1
            order.save(update_fields=[*changed, "version", "updated_at"])
            if {"quantity", "due_date", "campaign_start"} & set(changed):
                production_order_schedule(order=order)
    return order


def _campaign_update(
    order: ProductionOrder,
    is_campaign: bool | None,
    start: dt.date | None,
    end: dt.date | None,
    due_date: dt.date | None,
) -> list[str]:
    """Apply campaign changes to a locked order; returns the changed fields. An order becomes
    (or stops being) a campaign, and its campaign starts on another day, only while planned;
    its end may move until it is closed (a campaign runs longer or ends early). A campaign is
    due when it ends: a new due date of a campaign moves its end."""
    from config.exceptions import StateConflict

    new_is = order.is_campaign if is_campaign is None else bool(is_campaign)
    if new_is and end is None and due_date is not None:
        end = due_date
    new_start = (start or order.campaign_start) if new_is else None
    new_end = (end or order.campaign_end) if new_is else None
    if (new_is, new_start, new_end) == (order.is_campaign, order.campaign_start, order.campaign_end):
        return []
    validate_campaign_period(new_is, new_start if new_is else start, new_end if new_is else end)
    if new_is and due_date is not None and due_date != new_end:
        raise ValidationFailed(
            f"A campaign is due when it ends ({new_end}); move campaign_end instead.",
            code="campaign_due_date",
            fields={"due_date": "must equal campaign_end"},
        )
    changed = []
    for name, value, editable in (
        ("is_campaign", new_is, order.status == OrderStatus.PLANNED),
        ("campaign_start", new_start, order.status == OrderStatus.PLANNED),
        ("campaign_end", new_end, order.status not in (OrderStatus.CLOSED, OrderStatus.CANCELLED)),
    ):
        if value == getattr(order, name):
            continue
        if not editable:
            raise StateConflict(
                f"Order {order.number} is {OrderStatus(order.status).label.lower()}: {name} can no longer change.",
                code="order_locked",
                fields={name: f"cannot change once {OrderStatus(order.status).label.lower()}"},
            )
        setattr(order, name, value)
        changed.append(name)
    if new_is and order.due_date != new_end:
        order.due_date = new_end
        changed.append("due_date")
    return changed


def _ensure_open(order: ProductionOrder) -> None:
    from config.exceptions import StateConflict

    if order.status in (OrderStatus.COMPLETED, OrderStatus.CLOSED, OrderStatus.CANCELLED):
        raise StateConflict(
            f"Order {order.number} is {OrderStatus(order.status).label.lower()} and can no longer be rescheduled.",
            code="order_locked",
        )


@transaction.atomic
def production_order_reschedule(
    *,
    order_id: int,
    user,
    due_date: dt.date | None = None,
    start: dt.datetime | None = None,
    expected_version: int | None = None,
) -> ProductionOrder:
    """Schedule again: backward from the (new) due date, or forward from ``start``. The
    schedule is part of the order, so the version moves even when the due date stays."""
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    _ensure_open(order)
    with audit(user, "reschedule"):
        changed = ["version", "updated_at"]
        if order.is_campaign and due_date is not None:
            # A campaign is due when it ends: rescheduling it moves its end.
            changed += _campaign_update(order, None, None, due_date, None)
        elif due_date is not None:
            order.due_date = due_date
            changed.append("due_date")
        order.version += 1
        order.save(update_fields=changed)
        production_order_schedule(order=order, start=start)
    return order


@transaction.atomic
def production_order_delete(*, order_id: int, user, expected_version: int | None = None) -> None:
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    if order.status != OrderStatus.PLANNED:
        from config.exceptions import StateConflict

        raise StateConflict(
            f"Order {order.number} is {OrderStatus(order.status).label.lower()}; only planned orders can be "
            "deleted (cancel or close it instead).",
            code="order_locked",
        )
    from planning.services import capacity_requirements_clear

    with audit(user, "delete"):
        capacity_requirements_clear(source_type="production_order", source_id=order.pk)
        order.components.all().delete()
        order.operations.all().delete()
        order.status_changes.all().delete()
        order.costs.all().delete()
        order.delete()


# --- structure edits (planned orders, ETO in engineering) ---------------------------------


def _validate_component(data: ComponentInput) -> Item:
    item = Item.objects.filter(pk=data.item_id).first()
    if item is None:
        raise ValidationFailed("Unknown component item.", code="unknown_item", fields={"item": "unknown"})
    if data.quantity_per_unit == 0:
        raise ValidationFailed("quantity_per_unit must not be zero.", fields={"quantity_per_unit": "must not be 0"})
    if not (ZERO <= Decimal(data.scrap_percent) < HUNDRED):
        raise ValidationFailed("scrap_percent must be from 0 to under 100.", fields={"scrap_percent": "0..100"})
    if data.flushing not in Flushing.values:
        raise ValidationFailed(f"flushing must be one of {', '.join(Flushing.values)}.", fields={"flushing": "invalid"})
    return item


@transaction.atomic
def production_order_component_add(
    *, order_id: int, data: ComponentInput, user, expected_version: int | None = None
) -> OrderComponent:
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    ensure_structure_editable(order)
    item = _validate_component(data)
    if item.pk == order.item_id:
        raise ValidationFailed(
            f"An order for {item.sku} cannot consume {item.sku} itself.",
            code="component_is_parent",
            fields={"item": "equals the order's item"},
        )
    last = order.components.order_by("-position").values_list("position", flat=True).first() or 0
    qty_per_unit = q(Decimal(data.quantity_per_unit) * (1 + Decimal(data.scrap_percent) / HUNDRED))
    with audit(user, "component_add"):
        component = OrderComponent.objects.create(
            order=order,
            position=last + 10,
            item=item,
            quantity_per_unit=qty_per_unit,
            scrap_percent=data.scrap_percent,
            required_quantity=required(qty_per_unit, order.quantity, item.uom.decimals),
            flushing=data.flushing,
            operation_sequence=data.operation_sequence,
            issue_location_id=data.issue_location_id or order.issue_location_id,
        )
        _bump(order)
    return component


@transaction.atomic
def production_order_component_update(
    *, order_id: int, component_id: int, data: ComponentInput, user, expected_version: int | None = None
) -> OrderComponent:
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    ensure_structure_editable(order)
    component = order.components.filter(pk=component_id).first()
    if component is None:
        raise NotFound(f"Component {component_id} is not on order {order.number}.")
    item = _validate_component(data)
    qty_per_unit = q(Decimal(data.quantity_per_unit) * (1 + Decimal(data.scrap_percent) / HUNDRED))
    with audit(user, "component_update"):
        component.item = item
        component.quantity_per_unit = qty_per_unit
        component.scrap_percent = data.scrap_percent
        component.required_quantity = required(qty_per_unit, order.quantity, item.uom.decimals)
        component.flushing = data.flushing
        component.operation_sequence = data.operation_sequence
        if data.issue_location_id:
            component.issue_location_id = data.issue_location_id
        component.save()
        _bump(order)
    return component


@transaction.atomic
def production_order_component_remove(
    *, order_id: int, component_id: int, user, expected_version: int | None = None
) -> None:
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    ensure_structure_editable(order)
    with audit(user, "component_remove"):
        deleted, _ = order.components.filter(pk=component_id).delete()
        if not deleted:
            raise NotFound(f"Component {component_id} is not on order {order.number}.")
        _bump(order)


def _validate_operation(data: OperationInput) -> WorkCenter:
    work_center = WorkCenter.objects.filter(pk=data.work_center_id).first()
    if work_center is None:
        raise ValidationFailed("Unknown work center.", code="unknown_work_center", fields={"work_center": "unknown"})
    if not work_center.is_active:
        raise ValidationFailed(f"Work center {work_center.code} is inactive.", fields={"work_center": "inactive"})
    for name in ("setup_minutes", "run_minutes_per_unit", "queue_minutes", "move_minutes"):
        if Decimal(getattr(data, name)) < 0:
            raise ValidationFailed(f"{name} must not be negative.", fields={name: "must be >= 0"})
    if data.sequence <= 0:
        raise ValidationFailed("sequence must be a positive number.", fields={"sequence": "must be > 0"})
    return work_center


@transaction.atomic
def production_order_operation_add(
    *, order_id: int, data: OperationInput, user, expected_version: int | None = None
) -> OrderOperation:
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    ensure_structure_editable(order)
    _validate_operation(data)
    if order.operations.filter(sequence=data.sequence).exists():
        raise ValidationFailed(
            f"Operation {data.sequence} already exists on {order.number}.", fields={"sequence": "taken"}
        )
    with audit(user, "operation_add"):
        operation = OrderOperation.objects.create(order=order, **structure.OperationDraft(**data.__dict__).as_fields())
        _bump(order)
        production_order_schedule(order=order)
    return operation


@transaction.atomic
def production_order_operation_update(
    *, order_id: int, operation_id: int, data: OperationInput, user, expected_version: int | None = None
) -> OrderOperation:
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    ensure_structure_editable(order)
    operation = order.operations.filter(pk=operation_id).first()
    if operation is None:
        raise NotFound(f"Operation {operation_id} is not on order {order.number}.")
    _validate_operation(data)
    if order.operations.filter(sequence=data.sequence).exclude(pk=operation_id).exists():
        raise ValidationFailed(
            f"Operation {data.sequence} already exists on {order.number}.", fields={"sequence": "taken"}
        )
    with audit(user, "operation_update"):
        for name, value in structure.OperationDraft(**data.__dict__).as_fields().items():
            setattr(operation, name, value)
        operation.save()
        _bump(order)
        production_order_schedule(order=order)
    return operation


@transaction.atomic
def production_order_operation_remove(
    *, order_id: int, operation_id: int, user, expected_version: int | None = None
) -> None:
    order = _locked_order(order_id)
    ensure_version(order, expected_version)
    ensure_structure_editable(order)
    with audit(user, "operation_remove"):
        deleted, _ = order.operations.filter(pk=operation_id).delete()
        if not deleted:
            raise NotFound(f"Operation {operation_id} is not on order {order.number}.")
        _bump(order)
        production_order_schedule(order=order)


def _bump(order: ProductionOrder) -> None:
    order.version += 1
    order.save(update_fields=["version", "updated_at"])
