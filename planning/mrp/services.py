"""Writes around the planning run that other apps may call. Imports nothing from
production or sales, so production's services can import it without a cycle."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.utils import timezone

from config.exceptions import NotFound, StateConflict, ValidationFailed
from config.locks import advisory_xact_lock
from inventory.models import Item
from planning.enums import RUN_ACTIVE_STATUSES, PlannedOrderStatus, RequisitionStatus, RunMode, RunStatus
from planning.models import (
    Pegging,
    PlannedOrder,
    PlanningDirtyItem,
    PlanningException,
    PlanningRun,
    PurchaseRequisition,
)
from planning.mrp.scenario import scenario_validate

START_LOCK = "planning-run-start"


@transaction.atomic
def planning_run_start(*, mode: str, user, simulation: dict | None = None) -> PlanningRun:
    """Queue a planning run. One run at a time: while a run is queued or running, a new one
    is refused with 409 ``run_in_progress`` (not queued behind it, so a planner who clicks
    twice does not plan twice). The check runs under an advisory lock, so two requests
    cannot both pass it."""
    if mode not in RunMode.values:
        raise ValidationFailed(f"mode must be one of {', '.join(RunMode.values)}.", fields={"mode": "invalid"})
    scenario = {}
    if simulation is not None:
        scenario = scenario_validate(simulation, known_items=_items_in(simulation))
    advisory_xact_lock(START_LOCK)
    active = PlanningRun.objects.filter(status__in=RUN_ACTIVE_STATUSES).order_by("pk").first()
    if active is not None and active.status == RunStatus.RUNNING and _run_lock_free():
        # "Running" but nobody holds the run lock: its worker died mid-run (the lock is a
        # session lock and went with the connection). Fail it instead of blocking forever.
        PlanningRun.objects.filter(pk=active.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, error="abandoned: the worker stopped during the run", finished_at=timezone.now()
        )
        active = None
    if active is not None:
        raise StateConflict(
            f"Planning run {active.pk} is {active.status}; wait for it to finish.",
            code="run_in_progress",
            fields={"run": str(active.pk)},
        )
    run = PlanningRun.objects.create(
        mode=mode, is_simulation=simulation is not None, scenario=scenario, created_by=user
    )
    from planning.tasks import planning_run_task

    transaction.on_commit(partial(planning_run_task.delay, run.pk))
    return run


def _run_lock_free() -> bool:
    from django.db import connection

    from config.locks import advisory_key
    from planning.mrp.run import RUN_LOCK

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [advisory_key(RUN_LOCK)])
        free = bool(cursor.fetchone()[0])
        if free:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [advisory_key(RUN_LOCK)])
    return free


def _items_in(raw) -> set[int]:
    if not isinstance(raw, dict):
        return set()
    ids: set[int] = set()
    for row in raw.get("extra_demand") or []:
        if isinstance(row, dict) and str(row.get("item", "")).isdigit():
            ids.add(int(row["item"]))
    for key in ("stock", "lead_times"):
        section = raw.get(key) or {}
        if isinstance(section, dict):
            ids.update(int(k) for k in section if str(k).isdigit())
    return set(Item.objects.filter(pk__in=ids).values_list("pk", flat=True))


def planning_mark_dirty(*, item_ids: Iterable[int]) -> None:
    """Tell the next net-change run to re-plan these items (and what lies below them).
    Called by production when an order's supply or demand changes; idempotent."""
    ids = sorted(set(item_ids))
    if not ids:
        return
    now = timezone.now()
    PlanningDirtyItem.objects.bulk_create(
        [PlanningDirtyItem(item_id=i, marked_at=now) for i in ids],
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=["marked_at"],
    )


def planned_orders_lock(*, planned_order_ids: Iterable[int]) -> list[PlannedOrder]:
    """Lock planned orders in primary-key order and check they can be firmed: live (not a
    simulation's) and not firmed yet. Must run inside the caller's transaction."""
    ids = sorted(set(planned_order_ids))
    if not ids:
        raise ValidationFailed("Select at least one planned order.", fields={"planned_order_ids": "empty"})
    orders = list(
        PlannedOrder.objects.filter(pk__in=ids)
        .select_related("run", "item")
        .select_for_update(of=("self",), no_key=True)
        .order_by("pk")
    )
    missing = set(ids) - {o.pk for o in orders}
    if missing:
        raise NotFound(
            f"Planned order(s) {', '.join(map(str, sorted(missing)))} do not exist.",
            fields={"planned_order_ids": sorted(missing)},
        )
    for o in orders:
        if o.status != PlannedOrderStatus.PLANNED:
            raise StateConflict(
                f"Planned order {o.pk} is already firmed (production order {o.production_order_id}).",
                code="already_firmed",
                fields={"planned_order_ids": o.pk},
            )
        if o.run.is_simulation:
            raise StateConflict(
                f"Planned order {o.pk} belongs to simulation run {o.run_id}; commit the simulation first.",
                code="simulation_order",
                fields={"planned_order_ids": o.pk},
            )
    return orders


def planned_orders_mark_firmed(*, links: dict[int, int], user) -> None:
    """Record the production order each planned order became. Caller holds the row locks."""
    now = timezone.now()
    rows = list(PlannedOrder.objects.filter(pk__in=links).order_by("pk"))
    for row in rows:
        row.status = PlannedOrderStatus.FIRMED
        row.production_order_id = links[row.pk]
        row.firmed_at = now
        row.firmed_by = user
    PlannedOrder.objects.bulk_update(rows, ["status", "production_order_id", "firmed_at", "firmed_by"])


def _locked_run(run_id: int) -> PlanningRun:
    run = PlanningRun.objects.select_for_update(of=("self",)).filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"Planning run {run_id} does not exist.")
    return run


@transaction.atomic
def planning_run_discard(*, run_id: int, user) -> PlanningRun:
    """Throw a finished simulation's results away."""
    run = _locked_run(run_id)
    if not run.is_simulation or run.status != RunStatus.DONE:
        raise StateConflict("Only a finished simulation can be discarded.", code="not_a_finished_simulation")
    PlannedOrder.objects.filter(run=run).delete()
    PurchaseRequisition.objects.filter(run=run).delete()
    PlanningException.objects.filter(run=run).delete()
    run.status = RunStatus.DISCARDED
    run.save(update_fields=["status", "updated_at"])
    return run


@transaction.atomic
def planning_run_commit(*, run_id: int, user) -> PlanningRun:
    """Make a finished simulation the live plan: the live plan's unfirmed planned orders,
    planned requisitions and exceptions are replaced by the simulation's. Takes the run
    lock's start guard so no live run writes at the same time."""
    advisory_xact_lock(START_LOCK)
    run = _locked_run(run_id)
    if not run.is_simulation or run.status != RunStatus.DONE:
        raise StateConflict("Only a finished simulation can be committed.", code="not_a_finished_simulation")
    if PlanningRun.objects.filter(status__in=RUN_ACTIVE_STATUSES).exists():
        raise StateConflict("A planning run is in progress.", code="run_in_progress")
    live_orders = PlannedOrder.objects.filter(status=PlannedOrderStatus.PLANNED, run__is_simulation=False)
    live_reqs = PurchaseRequisition.objects.filter(status=RequisitionStatus.PLANNED, run__is_simulation=False)
    Pegging.objects.filter(planned_order__in=live_orders.values("pk")).delete()
    Pegging.objects.filter(requisition__in=live_reqs.values("pk")).delete()
    live_orders.delete()
    live_reqs.delete()
    PlanningException.objects.filter(run__is_simulation=False).delete()
    run.is_simulation = False
    run.status = RunStatus.COMMITTED
    run.save(update_fields=["is_simulation", "status", "updated_at"])
    # Fingerprints no longer describe the live plan: the next net change re-plans all.
    from planning.models import PlanningItemState

    PlanningItemState.objects.all().delete()
    return run
