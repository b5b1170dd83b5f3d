"""Executing one planning run: claim it, hold the planning lock, read a snapshot, plan in
memory, write the results in one transaction."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict

from django.db import connection, transaction
from django.utils import timezone

from config.locks import advisory_key
from planning.enums import PlannedOrderStatus, RequisitionStatus, RunMode, RunStatus
from planning.models import (
    Pegging,
    PlannedOrder,
    PlanningDirtyItem,
    PlanningException,
    PlanningItemState,
    PlanningRun,
    PurchaseRequisition,
)
from planning.mrp import engine
from planning.mrp.engine import PLANNED_KEY, PlanResult, Snapshot
from planning.mrp.scenario import scenario_apply
from planning.mrp.snapshot import fingerprints, live_planned_orders, snapshot_load
from planning.mrp.sources import Demand

logger = logging.getLogger(__name__)
RUN_LOCK = "planning-run"
BATCH = 2000


def _try_session_lock(name: str) -> bool:
    # Session-level, not transaction-level: the run spans several transactions (snapshot,
    # progress updates, the write) and the lock must cover all of them.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [advisory_key(name)])
        return bool(cursor.fetchone()[0])


def _unlock(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [advisory_key(name)])


def planning_run_execute(*, run_id: int, today: dt.date | None = None) -> str:
    """Run a queued planning run. Safe to call twice for the same run (a broker
    redelivery): only the call whose conditional UPDATE moves it from queued to running
    plans; the other returns ``"taken"``."""
    claimed = PlanningRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
    )
    if not claimed:
        return "taken"
    if not _try_session_lock(RUN_LOCK):
        PlanningRun.objects.filter(pk=run_id).update(
            status=RunStatus.FAILED,
            error="run_in_progress: another planning run holds the lock",
            finished_at=timezone.now(),
        )
        return "locked"
    try:
        run = PlanningRun.objects.get(pk=run_id)
        summary = _execute(run, today=today)
        PlanningRun.objects.filter(pk=run_id).update(
            status=RunStatus.DONE, summary=summary, finished_at=timezone.now(), updated_at=timezone.now()
        )
        return "done"
    except Exception as exc:
        logger.exception("planning run %s failed", run_id)
        PlanningRun.objects.filter(pk=run_id).update(
            status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        return "failed"
    finally:
        _unlock(RUN_LOCK)


def _progress(run_id: int):
    def report(level: int, levels: int, done: int, total: int) -> None:
        PlanningRun.objects.filter(pk=run_id).update(
            progress={"level": level, "levels": levels, "items_done": done, "items_total": total}
        )

    return report


def _execute(run: PlanningRun, *, today: dt.date | None) -> dict:
    t0 = time.perf_counter()
    snapshot_at = timezone.now()
    snapshot = snapshot_load(today=today)
    if run.is_simulation:
        scenario_apply(snapshot, run.scenario)
    t1 = time.perf_counter()
    fps = fingerprints(snapshot)
    affected: set[int] | None = None
    inherited: dict[int, list[Demand]] = {}
    if run.mode == RunMode.NET_CHANGE and not run.is_simulation:
        stored = dict(PlanningItemState.objects.values_list("item_id", "fingerprint"))
        dirty = set(PlanningDirtyItem.objects.values_list("item_id", flat=True))
        changed = {i for i, fp in fps.items() if stored.get(i) != fp}
        affected = engine.descendants(snapshot, (dirty | changed) & set(snapshot.items))
        inherited = _inherited_demand(snapshot, affected)
    result = engine.plan(snapshot, item_ids=affected, inherited=inherited, progress=_progress(run.pk))
    t2 = time.perf_counter()
    counts = _write(run, result, affected=affected, fps=fps, snapshot_at=snapshot_at)
    t3 = time.perf_counter()
    kinds = Counter(m.kind for m in result.exceptions)
    return {
        "mode": run.mode,
        "items_planned": result.items_planned,
        "levels": result.levels,
        **counts,
        "exceptions_by_kind": dict(kinds),
        "seconds": {"load": round(t1 - t0, 3), "plan": round(t2 - t1, 3), "write": round(t3 - t2, 3)},
    }


def _inherited_demand(snapshot: Snapshot, affected: set[int]) -> dict[int, list[Demand]]:
    """Dependent demand that planned orders of parents which are not re-planned put on
    re-planned components."""
    parents = {
        item_id
        for item_id, boms in snapshot.boms.items()
        if item_id not in affected and any(line.component_id in affected for b in boms for line in b.lines)
    }
    out: dict[int, list[Demand]] = defaultdict(list)
    if not parents:
        return out
    for pk, item_id, qty, start in live_planned_orders(parents):
        sku = snapshot.items[item_id].sku if item_id in snapshot.items else str(item_id)
        for component_id, need in engine.explode(snapshot, item_id, qty, start).items():
            if component_id in affected:
                out[component_id].append(Demand(component_id, engine.ceil_q(need), start, "planned_order", pk, sku))
    return out


def _raw_delete(qs) -> int:
    # Plain DELETE: Django's delete() would fetch every row to emulate cascades in Python.
    return qs._raw_delete(qs.db)


@transaction.atomic
def _write(
    run: PlanningRun, result: PlanResult, *, affected: set[int] | None, fps: dict[int, str], snapshot_at
) -> dict:
    if not run.is_simulation:
        _replace_live(affected)
    orders: dict[int, PlannedOrder] = {}
    requisitions: dict[int, PurchaseRequisition] = {}
    for s in result.supplies:
        if s.make:
            orders[s.key] = PlannedOrder(
                run=run,
                item_id=s.item_id,
                quantity=s.quantity,
                start_date=s.start_date,
                due_date=s.due_date,
                level=s.level,
            )
        else:
            requisitions[s.key] = PurchaseRequisition(
                run=run, item_id=s.item_id, quantity=s.quantity, release_date=s.start_date, due_date=s.due_date
            )
    PlannedOrder.objects.bulk_create(orders.values(), batch_size=BATCH)
    PurchaseRequisition.objects.bulk_create(requisitions.values(), batch_size=BATCH)
    peggings = []
    for s in result.supplies:
        for demand, qty in s.peggings:
            source_type, source_id = demand.source_type, demand.source_id
            if source_type == PLANNED_KEY:
                source_type, source_id = "planned_order", orders[source_id].pk
            peggings.append(
                Pegging(
                    run=run,
                    planned_order=orders.get(s.key),
                    requisition=requisitions.get(s.key),
                    quantity=qty,
                    demand_date=demand.date,
                    source_type=source_type,
                    source_id=source_id,
                    source_ref=demand.source_ref[:64],
                )
            )
    Pegging.objects.bulk_create(peggings, batch_size=BATCH)
    PlanningException.objects.bulk_create(
        (
            PlanningException(
                run=run,
                item_id=m.item_id,
                kind=m.kind,
                message=m.message[:300],
                date=m.date,
                suggested_date=m.suggested_date,
                source_type=m.source_type,
                source_id=m.source_id,
            )
            for m in result.exceptions
        ),
        batch_size=BATCH,
    )
    if not run.is_simulation:
        scope = fps if affected is None else {i: fps[i] for i in affected if i in fps}
        PlanningItemState.objects.bulk_create(
            [PlanningItemState(item_id=i, fingerprint=fp) for i, fp in scope.items()],
            update_conflicts=True,
            unique_fields=["item"],
            update_fields=["fingerprint"],
            batch_size=BATCH,
        )
        # Marks set after the snapshot was read stay for the next run.
        PlanningDirtyItem.objects.filter(marked_at__lte=snapshot_at).delete()
    return {
        "planned_orders": len(orders),
        "purchase_requisitions": len(requisitions),
        "peggings": len(peggings),
        "exceptions": len(result.exceptions),
        "affected_items": None if affected is None else len(affected),
    }


def _replace_live(affected: set[int] | None) -> None:
    """Remove the live plan's unfirmed results (of the affected items only, on net change).
    Firmed planned orders stay: they are production orders now."""
    orders = PlannedOrder.objects.filter(status=PlannedOrderStatus.PLANNED, run__is_simulation=False)
    requisitions = PurchaseRequisition.objects.filter(status=RequisitionStatus.PLANNED, run__is_simulation=False)
    exceptions = PlanningException.objects.filter(run__is_simulation=False)
    if affected is not None:
        orders = orders.filter(item_id__in=affected)
        requisitions = requisitions.filter(item_id__in=affected)
        exceptions = exceptions.filter(item_id__in=affected)
    _raw_delete(Pegging.objects.filter(planned_order__in=orders.values("pk")))
    _raw_delete(Pegging.objects.filter(requisition__in=requisitions.values("pk")))
    _raw_delete(orders)
    _raw_delete(requisitions)
    _raw_delete(exceptions)
