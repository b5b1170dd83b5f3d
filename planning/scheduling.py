"""Scheduling of operation sequences on work-center calendars.

Callers (production orders, MRP) pass plain data and get plain data back; nothing here
knows about their models. Calendars are loaded in bulk (three queries per call, whatever the
number of operations) unless the caller passes ``work_centers`` itself.

Time model, shared by all three modes:
- an operation needs ``(setup + run x quantity) / (efficiency / 100)`` minutes of its work
  center's working time (nights, weekends and holidays are skipped);
- ``queue_minutes`` is waiting at the work center before the operation starts and
  ``move_minutes`` transport after it ends; both run in the work center's working time and
  use no capacity;
- an order's ``start`` is when its first operation's queue begins and its ``end`` when the
  last operation's move is over: the order is finished when the material has arrived.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Sum

from config.exceptions import ValidationFailed
from planning.calendars import (
    ONE_DAY,
    WorkCenterTime,
    from_local,
    hours_by_day,
    minutes_to_seconds,
    seconds_to_hours,
    to_local,
    work_center_times,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class OperationSpec:
    key: Hashable
    work_center_id: int
    setup_minutes: Decimal
    run_minutes_per_unit: Decimal
    quantity: Decimal
    queue_minutes: Decimal = ZERO
    move_minutes: Decimal = ZERO


@dataclass(frozen=True)
class ScheduledOperation:
    key: Hashable
    work_center_id: int
    start: datetime
    end: datetime
    hours: Decimal
    # Capacity hours per day; sums exactly to ``hours``. Feed it to capacity requirements.
    day_hours: Mapping[date, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduleResult:
    operations: list[ScheduledOperation]
    start: datetime
    end: datetime
    # Set when the due date cannot be met: how late the order will finish.
    late_by: timedelta | None = None


@dataclass(frozen=True)
class FiniteOrder:
    key: Hashable
    operations: Sequence[OperationSpec]
    due: datetime | None = None
    # Lower number = more urgent (1 before 5); orders of equal priority go by due date.
    priority: int = 0
    earliest_start: datetime | None = None


@dataclass(frozen=True)
class RequirementSpec:
    """One row for ``capacity_requirements_replace``."""

    work_center_id: int
    date: date
    hours: Decimal
    source_line_id: int | None = None


WorkCenters = Mapping[int, WorkCenterTime]


def _validate(operations: Sequence[OperationSpec]) -> None:
    for index, op in enumerate(operations):
        for name in ("setup_minutes", "run_minutes_per_unit", "quantity", "queue_minutes", "move_minutes"):
            if Decimal(getattr(op, name)) < 0:
                raise ValidationFailed(
                    f"Operation {op.key!r}: {name} must not be negative.",
                    fields={f"operations[{index}].{name}": "Must not be negative."},
                )


def _work_seconds(op: OperationSpec, wc: WorkCenterTime) -> int:
    minutes = Decimal(op.setup_minutes) + Decimal(op.run_minutes_per_unit) * Decimal(op.quantity)
    return wc.operation_seconds(minutes)


def _load(operations: Sequence[OperationSpec], work_centers: WorkCenters | None) -> WorkCenters:
    if work_centers is not None:
        return work_centers
    return work_center_times(op.work_center_id for op in operations)


def _scheduled(op: OperationSpec, wc: WorkCenterTime, start: datetime, end: datetime, seconds: int):
    hours = seconds_to_hours(seconds)
    per_day = wc.calendar.split_by_day(start, end) if seconds else {}
    return ScheduledOperation(
        key=op.key,
        work_center_id=op.work_center_id,
        start=from_local(start),
        end=from_local(end),
        hours=hours,
        day_hours=hours_by_day(per_day, hours),
    )


def _forward(operations: Sequence[OperationSpec], start: datetime, wcs: WorkCenters) -> ScheduleResult:
    moment = to_local(start)
    scheduled: list[ScheduledOperation] = []
    for op in operations:
        wc = wcs[op.work_center_id]
        seconds = _work_seconds(op, wc)
        op_start = wc.calendar.add(wc.calendar.add(moment, minutes_to_seconds(op.queue_minutes)), 0)
        op_end = wc.calendar.add(op_start, seconds)
        scheduled.append(_scheduled(op, wc, op_start, op_end, seconds))
        moment = wc.calendar.add(op_end, minutes_to_seconds(op.move_minutes)) if op.move_minutes else op_end
    order_end = from_local(moment) if operations else start
    return ScheduleResult(operations=scheduled, start=start, end=order_end)


def schedule_forward(
    *, operations: Sequence[OperationSpec], start: datetime, work_centers: WorkCenters | None = None
) -> ScheduleResult:
    """Earliest dates: each operation as soon as the previous one (plus queue/move) allows,
    with unlimited capacity."""
    _validate(operations)
    return _forward(operations, start, _load(operations, work_centers))


def schedule_backward(
    *,
    operations: Sequence[OperationSpec],
    due: datetime,
    not_before: datetime | None = None,
    work_centers: WorkCenters | None = None,
) -> ScheduleResult:
    """Latest dates that still finish by ``due``, with unlimited capacity.

    If that would start before ``not_before`` (typically now), a start in the past is no
    plan: the result is the forward schedule from ``not_before`` with ``late_by`` saying how
    much later than ``due`` it finishes."""
    _validate(operations)
    wcs = _load(operations, work_centers)
    moment = to_local(due)
    reversed_ops: list[ScheduledOperation] = []
    for op in reversed(operations):
        wc = wcs[op.work_center_id]
        seconds = _work_seconds(op, wc)
        op_end = wc.calendar.subtract(wc.calendar.subtract(moment, minutes_to_seconds(op.move_minutes)), 0)
        op_start = wc.calendar.subtract(op_end, seconds)
        reversed_ops.append(_scheduled(op, wc, op_start, op_end, seconds))
        moment = wc.calendar.subtract(op_start, minutes_to_seconds(op.queue_minutes)) if op.queue_minutes else op_start
    start = from_local(moment) if operations else due
    if not_before is not None and start < not_before:
        forward = _forward(operations, not_before, wcs)
        late = forward.end - due
        return ScheduleResult(
            operations=forward.operations,
            start=forward.start,
            end=forward.end,
            late_by=late if late > timedelta(0) else None,
        )
    return ScheduleResult(operations=list(reversed(reversed_ops)), start=start, end=due)


class _Capacity:
    """Free capacity per work center and day, in seconds, for finite scheduling."""

    def __init__(self, wcs: WorkCenters, used: dict[tuple[int, date], int]):
        self.wcs = wcs
        self.used = used
        # Days before this one are known to be full: later searches start here.
        self.first_free: dict[int, date] = {}

    def place(self, wc: WorkCenterTime, moment: datetime, seconds: int) -> tuple[datetime, datetime, dict]:
        """Put ``seconds`` of work on ``wc`` no earlier than ``moment`` without exceeding any
        day's capacity. Bucketed loading: within a day the parallel units are filled one
        after another, so an operation starts where the day's load leaves a unit free."""
        cal = wc.calendar
        units = wc.parallel_units
        day = moment.date()
        floor = self.first_free.get(wc.work_center_id)
        if floor is not None and floor > day:
            day = floor
        remaining = seconds
        start: datetime | None = None
        end: datetime | None = None
        per_day: dict[date, int] = {}
        searched = 0
        while remaining > 0:
            searched += 1
            if searched > 366 * 10:
                raise ValidationFailed(
                    f"Work center {wc.work_center_id} has no free capacity within ten years.",
                    code="no_free_capacity",
                )
            day_total = cal.day_seconds(day)
            if day_total == 0:
                day += ONE_DAY
                continue
            key = (wc.work_center_id, day)
            used = self.used.get(key, 0)
            free = day_total * units - used
            if free <= 0:
                if self.first_free.get(wc.work_center_id, day) >= day:
                    self.first_free[wc.work_center_id] = day + ONE_DAY
                day += ONE_DAY
                continue
            own_offset = (moment.hour * 3600 + moment.minute * 60 + moment.second) if day == moment.date() else 0
            # Load of earlier operations fills units one by one; the last busy unit is
            # free from this point of the day's working time on.
            busy_on_last_unit = max(0, used - (units - 1) * day_total)
            offset = max(own_offset, cal.position(day, busy_on_last_unit))
            take = min(remaining, free, cal.working_after(day, offset))
            if take <= 0:
                day += ONE_DAY
                continue
            begin = cal.add(datetime.combine(day, datetime.min.time()) + timedelta(seconds=offset), 0)
            if start is None:
                start = begin
            end = cal.add(begin, take)
            self.used[key] = used + take
            per_day[day] = take
            remaining -= take
            day += ONE_DAY
        if start is None:  # zero work: a point in time at the next working moment
            start = end = cal.add(moment, 0)
        return start, end, per_day


def _existing_load(
    work_center_ids: Collection[int], from_day: date, ignore_sources: Collection[tuple[str, int]]
) -> dict[tuple[int, date], int]:
    from planning.models import CapacityRequirement

    qs = CapacityRequirement.objects.filter(work_center_id__in=work_center_ids, date__gte=from_day)
    for source_type, source_id in ignore_sources:
        qs = qs.exclude(source_type=source_type, source_id=source_id)
    rows = qs.values("work_center_id", "date").annotate(total=Sum("hours")).order_by()
    return {(r["work_center_id"], r["date"]): int(r["total"] * 3600) for r in rows}


def schedule_finite(
    *,
    orders: Sequence[FiniteOrder],
    horizon_start: datetime,
    work_centers: WorkCenters | None = None,
    existing_load: Mapping[tuple[int, date], Decimal] | None = None,
    ignore_sources: Collection[tuple[str, int]] = (),
) -> dict[Hashable, ScheduleResult]:
    """Forward scheduling into free capacity, order by order: by priority, then due date.

    Capacity of a work center on a day is calendar hours x parallel units; load already
    recorded as capacity requirements counts as used (except ``ignore_sources``, the orders
    being rescheduled). No day of any work center is ever loaded beyond its capacity.
    ``existing_load`` (hours per (work center, day)) replaces the database read."""
    all_ops = [op for order in orders for op in order.operations]
    _validate(all_ops)
    wcs = _load(all_ops, work_centers)
    start_local = to_local(horizon_start)
    if existing_load is None:
        used = _existing_load(list(wcs), start_local.date(), ignore_sources)
    else:
        used = {key: int(Decimal(hours) * 3600) for key, hours in existing_load.items()}
    capacity = _Capacity(wcs, used)
    far = datetime.max.replace(tzinfo=horizon_start.tzinfo)
    ranked = sorted(enumerate(orders), key=lambda pair: (pair[1].priority, pair[1].due or far, pair[0]))
    results: dict[Hashable, ScheduleResult] = {}
    for _, order in ranked:
        begin = max(horizon_start, order.earliest_start) if order.earliest_start else horizon_start
        moment = to_local(begin)
        scheduled: list[ScheduledOperation] = []
        for op in order.operations:
            wc = wcs[op.work_center_id]
            seconds = _work_seconds(op, wc)
            ready = wc.calendar.add(moment, minutes_to_seconds(op.queue_minutes))
            op_start, op_end, per_day = capacity.place(wc, ready, seconds)
            hours = seconds_to_hours(seconds)
            scheduled.append(
                ScheduledOperation(
                    key=op.key,
                    work_center_id=op.work_center_id,
                    start=from_local(op_start),
                    end=from_local(op_end),
                    hours=hours,
                    day_hours=hours_by_day(per_day, hours),
                )
            )
            moment = wc.calendar.add(op_end, minutes_to_seconds(op.move_minutes)) if op.move_minutes else op_end
        end = from_local(moment) if order.operations else begin
        late = end - order.due if order.due is not None and end > order.due else None
        results[order.key] = ScheduleResult(operations=scheduled, start=begin, end=end, late_by=late)
    return results


def requirements_from_schedule(result: ScheduleResult) -> list[RequirementSpec]:
    """Per-day capacity rows of a schedule; an operation key that is an int is taken as the
    caller's line id (e.g. the production order operation's pk)."""
    rows = []
    for op in result.operations:
        line_id = op.key if isinstance(op.key, int) and not isinstance(op.key, bool) else None
        for day, hours in sorted(op.day_hours.items()):
            rows.append(
                RequirementSpec(work_center_id=op.work_center_id, date=day, hours=hours, source_line_id=line_id)
            )
    return rows
