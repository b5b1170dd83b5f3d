"""Reads of planning-run results: each a constant number of queries."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from config.fields import ZERO
from planning.enums import PlannedOrderStatus, RequisitionStatus, RoutingStatus
from planning.models import (
    Pegging,
    PlannedOrder,
    PlanningException,
    PlanningRun,
    PurchaseRequisition,
    RoutingOperation,
)

HOUR = Decimal(60)


def planning_run_list() -> QuerySet[PlanningRun]:
    return PlanningRun.objects.select_related("created_by")


def _pegging_prefetch() -> Prefetch:
    return Prefetch("peggings", queryset=Pegging.objects.order_by("demand_date", "id"))


def planned_order_list(*, run_id: int | None = None) -> QuerySet[PlannedOrder]:
    """The live plan (unless a run is given), firmed orders included."""
    qs = PlannedOrder.objects.select_related("item").prefetch_related(_pegging_prefetch())
    if run_id is None:
        return qs.filter(run__is_simulation=False)
    return qs.filter(run_id=run_id)


def purchase_requisition_list(*, run_id: int | None = None) -> QuerySet[PurchaseRequisition]:
    qs = PurchaseRequisition.objects.select_related("item").prefetch_related(_pegging_prefetch())
    if run_id is None:
        return qs.filter(run__is_simulation=False)
    return qs.filter(run_id=run_id)


def planning_exception_list(*, run_id: int | None = None) -> QuerySet[PlanningException]:
    qs = PlanningException.objects.select_related("item")
    if run_id is None:
        return qs.filter(run__is_simulation=False)
    return qs.filter(run_id=run_id)


def _totals(run_filter: Q) -> dict[int, dict[str, Decimal | int]]:
    out: dict[int, dict] = defaultdict(lambda: {"planned": ZERO, "requisitions": ZERO, "count": 0})
    for item_id, qty, n in (
        PlannedOrder.objects.filter(run_filter, status=PlannedOrderStatus.PLANNED)
        .values("item_id")
        .annotate(q=Sum("quantity"), n=Count("id"))
        .values_list("item_id", "q", "n")
    ):
        out[item_id]["planned"] += qty
        out[item_id]["count"] += n
    for item_id, qty, n in (
        PurchaseRequisition.objects.filter(run_filter, status=RequisitionStatus.PLANNED)
        .values("item_id")
        .annotate(q=Sum("quantity"), n=Count("id"))
        .values_list("item_id", "q", "n")
    ):
        out[item_id]["requisitions"] += qty
        out[item_id]["count"] += n
    return out


def planning_run_compare(*, run: PlanningRun) -> list[dict]:
    """Per item, how a simulation's proposals differ from the live plan's (only items that
    differ), four queries whatever the size."""
    sim = _totals(Q(run=run))
    live = _totals(Q(run__is_simulation=False))
    from inventory.models import Item

    diffs = []
    keys = sorted(set(sim) | set(live))
    skus = dict(Item.objects.filter(pk__in=keys).values_list("pk", "sku"))
    empty = {"planned": ZERO, "requisitions": ZERO, "count": 0}
    for item_id in keys:
        s, lv = sim.get(item_id, empty), live.get(item_id, empty)
        if s == lv:
            continue
        diffs.append(
            {
                "item": item_id,
                "sku": skus.get(item_id, ""),
                "live_quantity": lv["planned"] + lv["requisitions"],
                "simulation_quantity": s["planned"] + s["requisitions"],
                "difference": (s["planned"] + s["requisitions"]) - (lv["planned"] + lv["requisitions"]),
                "live_orders": lv["count"],
                "simulation_orders": s["count"],
            }
        )
    return diffs


def planning_run_capacity(*, run: PlanningRun) -> list[dict]:
    """Hours the run's planned orders would load on each work center per ISO week (routing
    operations valid on each order's start; setup + run time, efficiency not applied)."""
    orders = list(
        PlannedOrder.objects.filter(run=run, status=PlannedOrderStatus.PLANNED).values_list(
            "item_id", "quantity", "start_date"
        )
    )
    ops: dict[int, list[tuple]] = defaultdict(list)
    for item_id, wc_id, wc_code, setup, per_unit, vf, vt in RoutingOperation.objects.filter(
        routing__status=RoutingStatus.ACTIVE, routing__item_id__in={o[0] for o in orders}
    ).values_list(
        "routing__item_id",
        "work_center_id",
        "work_center__code",
        "setup_minutes",
        "run_minutes_per_unit",
        "routing__valid_from",
        "routing__valid_to",
    ):
        ops[item_id].append((wc_id, wc_code, setup, per_unit, vf, vt))
    load: dict[tuple[int, str, str], Decimal] = defaultdict(lambda: ZERO)
    for item_id, qty, start in orders:
        iso = start.isocalendar()
        week = f"{iso[0]}-W{iso[1]:02d}"
        for wc_id, code, setup, per_unit, vf, vt in ops.get(item_id, ()):
            if vf <= start and (vt is None or vt >= start):
                load[(wc_id, code, week)] += (setup + per_unit * qty) / HOUR
    return [
        {"work_center": wc, "work_center_code": code, "week": week, "hours": round(hours, 2)}
        for (wc, code, week), hours in sorted(load.items(), key=lambda kv: (kv[0][1], kv[0][2]))
    ]
