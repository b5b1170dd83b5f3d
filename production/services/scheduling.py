"""Scheduling an order on the work-center calendars and recording its capacity demand."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from planning.scheduling import OperationSpec, requirements_from_schedule, schedule_backward, schedule_forward
from planning.services import capacity_requirements_clear, capacity_requirements_replace
from production.enums import OrderStatus
from production.models import OrderOperation, ProductionOrder

SOURCE_TYPE = "production_order"
CAPACITY_STATUS = {
    OrderStatus.PLANNED: "planned",
    OrderStatus.RELEASED: "released",
    OrderStatus.IN_PROGRESS: "released",
}


def _due_moment(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59)))


def production_order_schedule(*, order: ProductionOrder, start: dt.datetime | None = None) -> None:
    """Backward from the due date (or forward from ``start``), infinite capacity; never a
    start in the past: a due date that cannot be met is recorded as ``late_by_minutes``.
    The order row must be locked by the caller."""
    operations = list(OrderOperation.objects.filter(order=order).order_by("sequence"))
    now = timezone.now()
    if not operations:
        order.scheduled_start = order.scheduled_end = None
        order.late_by_minutes = None
        order.save(update_fields=["scheduled_start", "scheduled_end", "late_by_minutes", "updated_at"])
        capacity_requirements_clear(source_type=SOURCE_TYPE, source_id=order.pk)
        return
    # Confirmed work is done: only the open remainder needs capacity.
    specs = [
        OperationSpec(
            key=op.pk,
            work_center_id=op.work_center_id,
            setup_minutes=op.setup_minutes if op.confirmed_good + op.confirmed_scrap == 0 else 0,
            run_minutes_per_unit=op.run_minutes_per_unit,
            quantity=max(order.quantity - op.confirmed_good - op.confirmed_scrap, 0),
            queue_minutes=op.queue_minutes,
            move_minutes=op.move_minutes,
        )
        for op in operations
    ]
    if start is not None:
        result = schedule_forward(operations=specs, start=max(start, now))
        due = _due_moment(order.due_date)
        late = result.end - due if result.end > due else None
    else:
        result = schedule_backward(operations=specs, due=_due_moment(order.due_date), not_before=now)
        late = result.late_by
    by_key = {s.key: s for s in result.operations}
    for op in operations:
        scheduled = by_key[op.pk]
        op.scheduled_start, op.scheduled_end = scheduled.start, scheduled.end
    OrderOperation.objects.bulk_update(operations, ["scheduled_start", "scheduled_end"])
    order.scheduled_start, order.scheduled_end = result.start, result.end
    order.late_by_minutes = int(late.total_seconds() // 60) if late else None
    order.save(update_fields=["scheduled_start", "scheduled_end", "late_by_minutes", "updated_at"])
    capacity_status = CAPACITY_STATUS.get(order.status)
    if capacity_status is None:
        capacity_requirements_clear(source_type=SOURCE_TYPE, source_id=order.pk)
    else:
        capacity_requirements_replace(
            source_type=SOURCE_TYPE,
            source_id=order.pk,
            requirements=requirements_from_schedule(result),
            status=capacity_status,
        )
