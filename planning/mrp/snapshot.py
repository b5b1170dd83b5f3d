"""Loading everything a planning run needs, set-based, in a handful of queries."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from decimal import ROUND_DOWN, Decimal

from django.db import connection, transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce

from config.fields import QTY_PLACES, ZERO
from inventory.enums import BomStatus, Procurement
from inventory.models import Bom, BomLine, Item, StockBalance
from planning.enums import PlannedOrderStatus, RequisitionStatus, RoutingStatus
from planning.models import PlannedOrder, PurchaseRequisition, RoutingOperation
from planning.mrp.engine import BomData, BomLineData, ItemData, Receipt, Snapshot
from planning.mrp.sources import Demand, demand_collect, rows
from production.enums import OrderStatus
from production.models import ProductionOrder

SUPPLY_STATUSES = (OrderStatus.PLANNED, OrderStatus.RELEASED, OrderStatus.IN_PROGRESS)
DECIMAL = DecimalField(max_digits=18, decimal_places=4)


def snapshot_load(*, today: dt.date | None = None) -> Snapshot:
    """Read the whole planning picture in one REPEATABLE READ, read-only transaction: every
    query sees the same committed state, and no row is locked, so postings go on."""
    today = today or dt.date.today()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            # Inside a caller's transaction (tests) the snapshot is that transaction's.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _load(today)


def _load(today: dt.date) -> Snapshot:
    items: dict[int, ItemData] = {}
    item_rows = Item.objects.filter(is_active=True).values_list(
        "pk",
        "sku",
        "procurement",
        "low_level_code",
        "lead_time_days",
        "safety_stock",
        "reorder_point",
        "min_lot",
        "lot_multiple",
        "max_stock",
        "planning_policy__lot_sizing",
        "planning_policy__period_days",
    )
    for pk, sku, procurement, llc, lt, ss, rop, min_lot, multiple, max_stock, sizing, period in rows(item_rows):
        items[pk] = ItemData(
            pk,
            sku,
            procurement == Procurement.MAKE,
            llc,
            lt,
            ss,
            rop,
            min_lot,
            multiple,
            max_stock,
            sizing,
            period or 7,
        )

    headers = {
        pk: (item_id, version, vf, vt, base)
        for pk, item_id, version, vf, vt, base in rows(
            Bom.objects.filter(status=BomStatus.ACTIVE).values_list(
                "pk", "item_id", "version", "valid_from", "valid_to", "base_quantity"
            )
        )
    }
    lines: dict[int, list[BomLineData]] = defaultdict(list)
    for bom_id, component_id, qty, scrap, phantom in rows(
        BomLine.objects.filter(bom__status=BomStatus.ACTIVE)
        .order_by("bom_id", "position", "id")
        .values_list("bom_id", "component_id", "quantity", "scrap_percent", "phantom")
    ):
        lines[bom_id].append(BomLineData(component_id, qty, scrap, phantom))
    boms: dict[int, list[BomData]] = defaultdict(list)
    for pk, (item_id, version, vf, vt, base) in headers.items():
        boms[item_id].append(BomData(item_id, version, vf, vt, base, tuple(lines.get(pk, ()))))
    for versions in boms.values():
        versions.sort(key=lambda b: -b.version)

    fixed = ExpressionWrapper(F("setup_minutes") + F("queue_minutes") + F("move_minutes"), output_field=DECIMAL)
    routing_minutes = {
        item_id: (f or ZERO, r or ZERO)
        for item_id, f, r in RoutingOperation.objects.filter(
            routing__status=RoutingStatus.ACTIVE, routing__valid_from__lte=today
        )
        .filter(Q(routing__valid_to__isnull=True) | Q(routing__valid_to__gte=today))
        .values("routing__item_id")
        .annotate(f=Sum(fixed), r=Sum("run_minutes_per_unit"))
        .values_list("routing__item_id", "f", "r")
    }

    on_hand = {
        item_id: qty
        for item_id, qty in StockBalance.objects.filter(location__allow_negative=False, location__is_active=True)
        .values("item_id")
        .annotate(q=Sum(F("on_hand") - F("reserved"), output_field=DECIMAL))
        .values_list("item_id", "q")
    }

    receipts: dict[int, list[Receipt]] = defaultdict(list)
    for pk, item_id, remaining, due, number, is_campaign, campaign_start in rows(
        # Orders pegged to a sales line (MTO/ATO/ETO) are that customer's, not free supply.
        ProductionOrder.objects.filter(status__in=SUPPLY_STATUSES, sales_order_line_id__isnull=True)
        .annotate(
            remaining=ExpressionWrapper(
                F("quantity") - Coalesce(F("received__quantity"), ZERO, output_field=DECIMAL), output_field=DECIMAL
            )
        )
        .filter(remaining__gt=0)
        .values_list("pk", "item_id", "remaining", "due_date", "number", "is_campaign", "campaign_start")
    ):
        if is_campaign:
            for day, quantity in campaign_supply(remaining, campaign_start, due, today):
                receipts[item_id].append(Receipt(item_id, quantity, day, "production_order", pk, number))
        else:
            receipts[item_id].append(Receipt(item_id, remaining, due, "production_order", pk, number))
    for pk, item_id, qty, due in rows(
        PurchaseRequisition.objects.filter(status=RequisitionStatus.RELEASED, run__is_simulation=False).values_list(
            "pk", "item_id", "quantity", "due_date"
        )
    ):
        receipts[item_id].append(Receipt(item_id, qty, due, "purchase_requisition", pk, f"PR{pk}"))

    demands: dict[int, list[Demand]] = defaultdict(list)
    for d in demand_collect(None):
        demands[d.item_id].append(d)
    return Snapshot(today, items, dict(boms), routing_minutes, on_hand, dict(receipts), dict(demands))


# A campaign's remaining target arrives as one receipt per this many days of its period.
CAMPAIGN_SUPPLY_DAYS = 7
QUANT = Decimal(1).scaleb(-QTY_PLACES)


def campaign_supply(remaining: Decimal, start: dt.date, end: dt.date, today: dt.date) -> list[tuple[dt.date, Decimal]]:
    """A campaign produces at a rate over its period, so what it has still to deliver (its
    target less what it received) is spread evenly over the days left of it (from today, or
    from its start if later, to its end): one receipt for every ``CAMPAIGN_SUPPLY_DAYS`` days,
    dated the last day of that stretch, in proportion to its days (the last one takes the
    rounding remainder, so they add up exactly). A campaign past its end delivers the rest
    on its end date, which the run reports as overdue (expedite) like any late order."""
    first = max(start, today)
    if end < first:
        return [(end, remaining)]
    days = (end - first).days + 1
    out = []
    given = ZERO
    for offset in range(0, days, CAMPAIGN_SUPPLY_DAYS):
        last = min(offset + CAMPAIGN_SUPPLY_DAYS, days)
        quantity = (
            remaining - given
            if last == days
            else (remaining * last / days).quantize(QUANT, rounding=ROUND_DOWN) - given
        )
        given += quantity
        if quantity > 0:
            out.append((first + dt.timedelta(days=last - 1), quantity))
    return out


def fingerprints(snapshot: Snapshot) -> dict[int, str]:
    """A cheap per-item digest of what planning that item depends on: its parameters, BOM
    versions, on hand, open supply and open demand. Two runs with equal digests would plan
    the item alike (given the same dependent demand, which net change follows through the
    BOM)."""
    out = {}
    for item_id, item in snapshot.items.items():
        parts = (
            item.make,
            item.lead_time_days,
            item.safety_stock,
            item.reorder_point,
            item.min_lot,
            item.lot_multiple,
            item.max_stock,
            item.lot_sizing,
            item.period_days,
            tuple(
                (b.version, b.valid_from, b.valid_to, b.base_quantity, b.lines) for b in snapshot.boms.get(item_id, ())
            ),
            snapshot.routing_minutes.get(item_id),
            snapshot.on_hand.get(item_id, ZERO),
            tuple(sorted((r.date, r.quantity, r.source_id) for r in snapshot.receipts.get(item_id, ()))),
            tuple(
                sorted(
                    (d.date, d.quantity, d.source_type, d.source_id or 0)
                    for d in snapshot.demands.get(item_id, ())
                    if d.source_type != "planned_order"
                )
            ),
        )
        out[item_id] = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return out


def live_planned_orders(item_ids: set[int]) -> list[tuple[int, int, Decimal, dt.date]]:
    """(pk, item, quantity, start) of the live plan's unfirmed planned orders of these items."""
    return list(
        PlannedOrder.objects.filter(
            item_id__in=item_ids, status=PlannedOrderStatus.PLANNED, run__is_simulation=False
        ).values_list("pk", "item_id", "quantity", "start_date")
    )
