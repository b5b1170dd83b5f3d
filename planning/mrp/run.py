"""Executing one planning run: claim it, hold the planning lock, read a snapshot, plan in
memory, write the results in one transaction."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import pairwise

from django.db import connection, transaction
from django.utils import timezone

from config.db import copy_cell, copy_text
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
from planning.mrp.engine import PLANNED_KEY, NetChangeResult, OldSupply, PlanResult
from planning.mrp.scenario import scenario_apply
from planning.mrp.snapshot import fingerprints, snapshot_load
from planning.mrp.sources import rows

logger = logging.getLogger(__name__)
RUN_LOCK = "planning-run"


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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the run. The run allocates millions of
    small objects that live until it ends (snapshot, demand, pegging); every few thousand
    allocations the collector would walk them all again, which cost a third of the plan
    phase. The run itself makes no reference cycles worth collecting early."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _execute(run: PlanningRun, *, today: dt.date | None) -> dict:
    with _gc_paused():
        return _execute_run(run, today=today)


def _execute_run(run: PlanningRun, *, today: dt.date | None) -> dict:
    t0 = time.perf_counter()
    snapshot_at = timezone.now()
    snapshot = snapshot_load(today=today)
    if run.is_simulation:
        scenario_apply(snapshot, run.scenario)
    t1 = time.perf_counter()
    # A simulation leaves the live plan's fingerprints alone: it needs none.
    fps = {} if run.is_simulation else fingerprints(snapshot)
    seeds = None
    if run.mode == RunMode.NET_CHANGE and not run.is_simulation:
        stored = dict(rows(PlanningItemState.objects.values_list("item_id", "fingerprint")))
        dirty = {i for (i,) in rows(PlanningDirtyItem.objects.values_list("item_id"))}
        changed = {i for i, fp in fps.items() if stored.get(i) != fp}
        seeds = (dirty | changed) & snapshot.items.keys()
    t2 = time.perf_counter()
    if seeds is not None:
        result = engine.plan_net_change(snapshot, seeds=seeds, old_supply=live_supply, progress=_progress(run.pk))
        fps = {i: fps[i] for i in changed | result.replanned if i in fps}
    else:
        result = engine.plan(snapshot, progress=_progress(run.pk))
    t3 = time.perf_counter()
    counts = _write(run, result, fps=fps, snapshot_at=snapshot_at)
    t4 = time.perf_counter()
    kinds = Counter(m.kind for m in result.exceptions)
    return {
        "mode": run.mode,
        "items_planned": result.items_planned,
        "levels": result.levels,
        **counts,
        "exceptions_by_kind": dict(kinds),
        "seconds": {
            "load": round(t1 - t0, 3),
            "fingerprint": round(t2 - t1, 3),
            "plan": round(t3 - t2, 3),
            "write": round(t4 - t3, 3),
        },
    }


def _next_ids(model, count: int) -> list[int] | range:
    """Primary keys for rows written with COPY, taken from the table's own sequence. One
    round trip that returns only the bounds when the values came out contiguous (no other
    session took one meanwhile), which they nearly always do."""
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
        sequence = cursor.fetchone()[0]
        # The sequence as a constant regclass: named by text, nextval resolves it per row.
        cursor.execute(
            "WITH ids AS (SELECT nextval(%s::regclass) AS id FROM generate_series(1, %s))"
            " SELECT min(id), max(id), CASE WHEN max(id) - min(id) + 1 = count(*) THEN NULL"
            " ELSE array_agg(id ORDER BY id) END FROM ids",
            [sequence, count],
        )
        low, high, scattered = cursor.fetchone()
    return range(low, high + 1) if scattered is None else scattered


class _Texts(dict):
    """COPY text of values that repeat (dates, quantities, references), made once each."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        text = self[key] = self.make(key)
        return text


def _date_text(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


def _copy(model, columns: list[str], rows: Iterable[tuple]) -> int:
    """Bulk insert with COPY: results run to hundreds of thousands of rows."""
    return copy_text(model, columns, ["\t".join(map(copy_cell, row)) + "\n" for row in rows])


def _raw_delete(qs) -> int:
    # Plain DELETE: Django's delete() would fetch every row to emulate cascades in Python.
    return qs._raw_delete(qs.db)


@transaction.atomic
def _write(run: PlanningRun, result: PlanResult, *, fps: dict[int, str], snapshot_at) -> dict:
    """Replace the live plan's results (all of them, or on net change those of the
    re-planned items) or, for a simulation, add the run's own."""
    net = isinstance(result, NetChangeResult)
    kept = result.kept if net else {}
    marks = [("start", time.perf_counter())]
    if not run.is_simulation:
        if net:
            _replace_live(result.replanned - result.unchanged, exceptions_of=result.replanned)
            _drop_pegging(result.unchanged)
        else:
            _replace_live(None, exceptions_of=None)
    marks.append(("delete", time.perf_counter()))
    new = [s for s in result.supplies if s.key not in kept]
    made = [s for s in new if s.make]
    bought = [s for s in new if not s.make]
    pk_of = dict(zip((s.key for s in made), _next_ids(PlannedOrder, len(made)), strict=True))
    pk_of.update(zip((s.key for s in bought), _next_ids(PurchaseRequisition, len(bought)), strict=True))
    dates = _Texts(_date_text)
    quantities = _Texts(engine.units_str)
    refs = _Texts(lambda ref: copy_cell(ref[:64]))
    run_pk = run.pk
    copy_text(
        PlannedOrder,
        ["id", "run_id", "item_id", "quantity", "start_date", "due_date", "level", "status"],
        [
            f"{pk_of[s.key]}\t{run_pk}\t{s.item_id}\t{quantities[s.qty]}\t{dates[s.start]}\t{dates[s.due]}"
            f"\t{s.level}\tplanned\n"
            for s in made
        ],
    )
    copy_text(
        PurchaseRequisition,
        ["id", "run_id", "item_id", "quantity", "release_date", "due_date", "status"],
        [
            f"{pk_of[s.key]}\t{run_pk}\t{s.item_id}\t{quantities[s.qty]}\t{dates[s.start]}\t{dates[s.due]}\tplanned\n"
            for s in bought
        ],
    )
    pk_of.update(kept)
    marks.append(("supply", time.perf_counter()))

    n = "\\N"
    lines = []
    append = lines.append
    for s in result.supplies:
        pk = pk_of[s.key]
        head = f"{run_pk}\t{pk}\t{n}\t" if s.make else f"{run_pk}\t{n}\t{pk}\t"
        # Formatted by hand, repeated values from caches: this is the run's largest table.
        for (_, day, source_type, source_id, ref), qty in s.peggings:
            if source_type == PLANNED_KEY:
                source_type, source_id = "planned_order", pk_of[source_id]
            elif source_id is None:
                source_id = n
            append(f"{head}{quantities[qty]}\t{dates[day]}\t{source_type}\t{source_id}\t{refs[ref]}\n")
    marks.append(("pegging_text", time.perf_counter()))
    peggings = copy_text(
        Pegging,
        [
            "run_id",
            "planned_order_id",
            "requisition_id",
            "quantity",
            "demand_date",
            "source_type",
            "source_id",
            "source_ref",
        ],
        lines,
    )
    del lines
    marks.append(("pegging_copy", time.perf_counter()))
    _copy(
        PlanningException,
        ["run_id", "item_id", "kind", "message", "date", "suggested_date", "source_type", "source_id"],
        (
            (run.pk, m.item_id, m.kind, m.message[:300], m.date, m.suggested_date, m.source_type, m.source_id)
            for m in result.exceptions
        ),
    )
    marks.append(("exceptions", time.perf_counter()))
    if not run.is_simulation:
        _store_fingerprints(fps)
        # Marks set after the snapshot was read stay for the next run.
        PlanningDirtyItem.objects.filter(marked_at__lte=snapshot_at).delete()
    marks.append(("state", time.perf_counter()))
    return {
        "write_parts": {b[0]: round(b[1] - a[1], 3) for a, b in pairwise(marks)},
        "planned_orders": len(made),
        "purchase_requisitions": len(bought),
        "kept_unchanged": len(kept),
        "peggings": peggings,
        "exceptions": len(result.exceptions),
        "affected_items": len(result.replanned) if net else None,
    }


def _store_fingerprints(fps: dict[int, str]) -> None:
    """Upsert the fingerprints the run planned against: one statement over two arrays (a
    regenerative run stores one per item)."""
    if not fps:
        return
    table = connection.ops.quote_name(PlanningItemState._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (item_id, fingerprint) SELECT * FROM unnest(%s::bigint[], %s::varchar[])"  # noqa: S608
            " ON CONFLICT (item_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint",
            [list(fps), list(fps.values())],
        )


def _live_orders():
    return PlannedOrder.objects.filter(status=PlannedOrderStatus.PLANNED, run__is_simulation=False)


def _live_requisitions():
    return PurchaseRequisition.objects.filter(status=RequisitionStatus.PLANNED, run__is_simulation=False)


def _replace_live(items: set[int] | None, *, exceptions_of: set[int] | None) -> None:
    """Remove the live plan's unfirmed results (of ``items`` only, on net change). Firmed
    planned orders stay: they are production orders now."""
    orders, requisitions = _live_orders(), _live_requisitions()
    exceptions = PlanningException.objects.filter(run__is_simulation=False)
    if exceptions_of is not None:
        live_runs = list(PlanningRun.objects.filter(is_simulation=False).values_list("pk", flat=True))
        exceptions = PlanningException.objects.filter(run_id__in=live_runs, item_id__in=exceptions_of)
    if items is None:
        _raw_delete(Pegging.objects.filter(planned_order__in=orders.values("pk")))
        _raw_delete(Pegging.objects.filter(requisition__in=requisitions.values("pk")))
        _raw_delete(orders)
        _raw_delete(requisitions)
    else:
        # Net change touches few rows: name them, so every delete is an index lookup
        # instead of a semi-join the planner may turn into a scan of all pegging.
        order_ids = list(orders.filter(item_id__in=items).values_list("pk", flat=True))
        requisition_ids = list(requisitions.filter(item_id__in=items).values_list("pk", flat=True))
        _raw_delete(Pegging.objects.filter(planned_order_id__in=order_ids))
        _raw_delete(Pegging.objects.filter(requisition_id__in=requisition_ids))
        _raw_delete(PlannedOrder.objects.filter(pk__in=order_ids))
        _raw_delete(PurchaseRequisition.objects.filter(pk__in=requisition_ids))
    _raw_delete(exceptions)


def _drop_pegging(items: set[int]) -> None:
    if items:
        order_ids = list(_live_orders().filter(item_id__in=items).values_list("pk", flat=True))
        requisition_ids = list(_live_requisitions().filter(item_id__in=items).values_list("pk", flat=True))
        _raw_delete(Pegging.objects.filter(planned_order_id__in=order_ids))
        _raw_delete(Pegging.objects.filter(requisition_id__in=requisition_ids))


def live_supply(item_ids: set[int]) -> dict[int, list[OldSupply]]:
    """Live unfirmed planned orders and requisitions of these items, two queries."""
    out: dict[int, list[OldSupply]] = defaultdict(list)
    if not item_ids:
        return out
    for pk, item_id, qty, start, due in (
        _live_orders().filter(item_id__in=item_ids).values_list("pk", "item_id", "quantity", "start_date", "due_date")
    ):
        out[item_id].append(OldSupply(pk, item_id, qty, start, due))
    for pk, item_id, qty, start, due in (
        _live_requisitions()
        .filter(item_id__in=item_ids)
        .values_list("pk", "item_id", "quantity", "release_date", "due_date")
    ):
        out[item_id].append(OldSupply(pk, item_id, qty, start, due))
    return out
