"""Scheduling an order on the work-center calendars and recording its capacity demand."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from config.db import bulk_update_fields
from planning.calendars import work_center_times
from planning.scheduling import OperationSpec, requirements_from_schedule, schedule_backward, schedule_forward
from planning.services import capacity_requirements_replace_many
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
    """Backward from the due date (or forward from ``start``, or from a campaign's start),
    infinite capacity; never a start in the past: a due date that cannot be met is recorded as ``late_by_minutes``.
    The order row must be locked by the caller."""
    production_orders_schedule(orders=[order], starts={order.pk: start} if start is not None else {})


def production_orders_schedule(*, orders: list[ProductionOrder], starts: dict[int, dt.datetime] | None = None) -> None:
    """Schedule many orders (locked or created by the caller): calendars loaded once, the
    schedules computed in memory, written back with a few statements."""
    starts = starts or {}
    now = timezone.now()
    operations_by_order: dict[int, list[OrderOperation]] = {order.pk: [] for order in orders}
    for op in OrderOperation.objects.filter(order__in=orders).order_by("order_id", "sequence"):
        operations_by_order[op.order_id].append(op)
    all_operations = [op for ops in operations_by_order.values() for op in ops]
    work_centers = work_center_times({op.work_center_id for op in all_operations}) if all_operations else {}
    requirements: dict[str, dict[int, list]] = {}
    cleared: list[int] = []
    for order in orders:
        operations = operations_by_order[order.pk]
        if not operations:
            order.scheduled_start = order.scheduled_end = None
            order.late_by_minutes = None
            cleared.append(order.pk)
            continue
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
        due = _due_moment(order.due_date)
        start = starts.get(order.pk)
        if start is None and order.is_campaign:
            # A campaign runs from its start: forward, never backward from its end.
            start = timezone.make_aware(dt.datetime.combine(order.campaign_start, dt.time.min))
        if start is not None:
            result = schedule_forward(operations=specs, start=max(start, now), work_centers=work_centers)
            late = result.end - due if result.end > due else None
        else:
            result = schedule_backward(operations=specs, due=due, not_before=now, work_centers=work_centers)
            late = result.late_by
        by_key = {scheduled.key: scheduled for scheduled in result.operations}
        for op in operations:
            op.scheduled_start, op.scheduled_end = by_key[op.pk].start, by_key[op.pk].end
        order.scheduled_start, order.scheduled_end = result.start, result.end
        order.late_by_minutes = int(late.total_seconds() // 60) if late else None
        capacity_status = CAPACITY_STATUS.get(order.status)
        if capacity_status is None:
            cleared.append(order.pk)
        else:
            requirements.setdefault(capacity_status, {})[order.pk] = requirements_from_schedule(result)
    bulk_update_fields(all_operations, ["scheduled_start", "scheduled_end"])
    bulk_update_fields(orders, ["scheduled_start", "scheduled_end", "late_by_minutes"])
    if cleared:
        capacity_requirements_replace_many(source_type=SOURCE_TYPE, requirements_by_source={key: [] for key in cleared})
    for capacity_status, by_source in requirements.items():
        capacity_requirements_replace_many(
            source_type=SOURCE_TYPE, requirements_by_source=by_source, status=capacity_status
        )
