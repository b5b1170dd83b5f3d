"""Planned cost at release, actual cost from postings and confirmed times, variance at close."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import connection

from config.db import execute_prepared
from config.fields import ZERO
from planning.models import WorkCenter
from production.enums import CostCategory
from production.models import OrderComponent, OrderCost, OrderOperation, ProductionOrder
from production.selectors import SIXTY, CostKey, m, production_order_actual_costs

Key = CostKey


def _planned(order: ProductionOrder, quantity: Decimal | None = None) -> dict[Key, Decimal]:
    """Planned cost of the order's structure: of its quantity (components at their required
    quantities), or of ``quantity`` (components at quantity per unit × ``quantity``; setup
    stays a fixed cost)."""
    totals: dict[Key, Decimal] = defaultdict(lambda: ZERO)
    for component in OrderComponent.objects.filter(order=order).select_related("item"):
        needed = component.required_quantity if quantity is None else component.quantity_per_unit * quantity
        totals[(CostCategory.MATERIAL, order.cost_center_id)] += needed * component.item.standard_cost
    if quantity is None:
        quantity = order.quantity
    operations = list(OrderOperation.objects.filter(order=order))
    centers = WorkCenter.objects.in_bulk({op.work_center_id for op in operations})
    for op in operations:
        wc = centers[op.work_center_id]
        hours = (op.setup_minutes + op.run_minutes_per_unit * quantity) / SIXTY
        totals[(CostCategory.LABOR, wc.cost_center_id)] += hours * wc.labor_rate
        totals[(CostCategory.MACHINE, wc.cost_center_id)] += hours * wc.machine_rate
        totals[(CostCategory.OVERHEAD, wc.cost_center_id)] += hours * wc.overhead_rate
    totals[(CostCategory.OUTPUT, order.cost_center_id)] = -sum(totals.values(), ZERO)
    return totals


def order_costs_plan(*, order: ProductionOrder, quantity: Decimal | None = None) -> None:
    """Fix the planned cost (at release): of the order's quantity, or restated for
    ``quantity`` (a campaign at close: for what it received, so that the variance compares
    like with like). Replaces earlier planned figures."""
    planned = _planned(order, quantity)
    OrderCost.objects.filter(order=order).delete()
    OrderCost.objects.bulk_create(
        OrderCost(order=order, category=category, cost_center_id=cc, planned=m(value))
        for (category, cc), value in sorted(planned.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
    )
    order_costs_actualize(order=order)


def planned_unit_cost(order: ProductionOrder) -> Decimal:
    """Planned cost of one unit of output: what goods receipts are valued at."""
    return planned_unit_costs([order])[order.pk]


def planned_unit_costs(orders: list[ProductionOrder], totals: dict[int, Decimal | None] | None = None) -> dict:
    """``planned_unit_cost`` of many orders: one query for the costs planned at release,
    unless the caller read them already (``totals``: order id → planned cost of everything
    but the output, None where nothing was planned)."""
    if not orders:
        return {}
    if totals is None:
        # Hand-written and prepared: this runs on hot paths.
        sql = (
            f"SELECT order_id, SUM(planned) FROM {OrderCost._meta.db_table} "  # noqa: S608
            "WHERE order_id = ANY(%s) AND category <> %s GROUP BY order_id"
        )
        with connection.cursor() as cursor:
            execute_prepared(cursor, sql, [sorted({o.pk for o in orders}), CostCategory.OUTPUT])
            totals = dict(cursor.fetchall())
    costs = {}
    for order in orders:
        total = totals.get(order.pk)
        if total is None:
            total = sum((v for (c, _), v in _planned(order).items() if c != CostCategory.OUTPUT), ZERO)
        costs[order.pk] = m(total / order.quantity) if order.quantity else ZERO
    return costs


def order_costs_actualize(*, order: ProductionOrder, fix_variance: bool = False) -> None:
    """Recompute actual cost from the ledger and confirmed times; at close also fix the
    variance (actual − planned) per category and cost center."""
    actual = production_order_actual_costs(order=order)
    rows = {(c.category, c.cost_center_id): c for c in OrderCost.objects.filter(order=order)}
    for key in actual.keys() - rows.keys():
        rows[key] = OrderCost(order=order, category=key[0], cost_center_id=key[1], planned=ZERO)
    for key, row in rows.items():
        row.actual = m(actual.get(key, ZERO))
        row.variance = m(row.actual - row.planned) if fix_variance else None
    new = [r for r in rows.values() if r.pk is None]
    OrderCost.objects.bulk_create(new)
    OrderCost.objects.bulk_update([r for r in rows.values() if r not in new], ["actual", "variance"])
