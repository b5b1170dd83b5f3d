"""Reads of the planning app: list querysets with their joins, routings by date, capacity
and load per work center."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet, Sum

from config.exceptions import NotFound, ValidationFailed
from planning.calendars import ONE_DAY, seconds_to_hours, work_center_times
from planning.enums import BucketSize, RoutingStatus
from planning.models import (
    Calendar,
    CapacityRequirement,
    CostCenter,
    Routing,
    RoutingOperation,
    WorkCenter,
)

MAX_LOAD_DAYS = 731


def cost_center_list() -> QuerySet[CostCenter]:
    return CostCenter.objects.all()


def calendar_list() -> QuerySet[Calendar]:
    return Calendar.objects.prefetch_related("shifts", "exceptions")


def work_center_list() -> QuerySet[WorkCenter]:
    return WorkCenter.objects.select_related("calendar", "cost_center")


def routing_list() -> QuerySet[Routing]:
    return Routing.objects.select_related("item").prefetch_related(
        Prefetch("operations", queryset=RoutingOperation.objects.select_related("work_center"))
    )


def routing_for_item(*, item_id: int, on_date: date) -> Routing | None:
    """The active routing of the item valid on ``on_date`` (operations prefetched), or None."""
    return (
        routing_list()
        .filter(item_id=item_id, status=RoutingStatus.ACTIVE, valid_from__lte=on_date)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on_date))
        .order_by("-valid_from", "-version")
        .first()
    )


def _check_range(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise ValidationFailed("'to' must not be before 'from'.", fields={"to": "Before from."})
    if (date_to - date_from).days >= MAX_LOAD_DAYS:
        raise ValidationFailed(
            f"The range may span at most {MAX_LOAD_DAYS} days.",
            fields={"to": f"At most {MAX_LOAD_DAYS} days."},
        )


def work_center_capacity(
    *, work_center_id: int, date_from: date, date_to: date, effective: bool = False
) -> dict[date, Decimal]:
    """Available hours per day (both ends included): calendar hours x parallel units.

    These are clock hours, the same unit as scheduled operation hours (which already are
    divided by efficiency). ``effective=True`` gives standard hours instead: clock hours x
    efficiency, what the work center can produce against routing times."""
    _check_range(date_from, date_to)
    try:
        wc = work_center_times([work_center_id])[work_center_id]
    except ValidationFailed as exc:
        raise NotFound(f"Work center {work_center_id} does not exist.") from exc
    factor = Decimal(wc.efficiency_pct) / 100 if effective else Decimal(1)
    out: dict[date, Decimal] = {}
    day = date_from
    while day <= date_to:
        out[day] = (seconds_to_hours(wc.capacity_seconds(day)) * factor).quantize(Decimal("0.0001"))
        day += ONE_DAY
    return out


@dataclass(frozen=True)
class LoadBucket:
    period_start: date
    available_hours: Decimal
    required_hours: Decimal
    overload: bool

    @property
    def utilization_pct(self) -> Decimal | None:
        if not self.available_hours:
            return None
        return (self.required_hours * 100 / self.available_hours).quantize(Decimal("0.1"))


def work_center_load(
    *, work_center_id: int, date_from: date, date_to: date, bucket: str = BucketSize.DAY
) -> list[LoadBucket]:
    """Available against required hours per day or ISO week (weeks start on Monday; the first
    and last week are cut to the range)."""
    try:
        return work_centers_load(work_center_ids=[work_center_id], date_from=date_from, date_to=date_to, bucket=bucket)[
            work_center_id
        ]
    except ValidationFailed as exc:
        if exc.code == "unknown_work_center":
            raise NotFound(f"Work center {work_center_id} does not exist.") from exc
        raise


def work_centers_load(
    *, work_center_ids: Iterable[int], date_from: date, date_to: date, bucket: str = BucketSize.DAY
) -> dict[int, list[LoadBucket]]:
    """``work_center_load`` for many work centers at once, keyed by work center id, in the
    same few queries however many there are: the calendars in three, the required hours in
    one aggregate grouped by work center and day."""
    if bucket not in BucketSize.values:
        raise ValidationFailed("bucket must be 'day' or 'week'.", fields={"bucket": "Must be day or week."})
    _check_range(date_from, date_to)
    ids = list(dict.fromkeys(work_center_ids))
    if not ids:
        return {}
    times = work_center_times(ids)
    required: dict[tuple[int, date], Decimal] = {
        (wc_id, day): total
        for wc_id, day, total in CapacityRequirement.objects.filter(
            work_center_id__in=ids, date__range=(date_from, date_to)
        )
        .values("work_center_id", "date")
        .annotate(total=Sum("hours"))
        .order_by()
        .values_list("work_center_id", "date", "total")
    }
    days = [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]

    def period(day: date) -> date:
        return day if bucket == BucketSize.DAY else max(date_from, day - timedelta(days=day.weekday()))

    out: dict[int, list[LoadBucket]] = {}
    for wc_id in ids:
        wc = times[wc_id]
        available_by: dict[date, Decimal] = {}
        required_by: dict[date, Decimal] = {}
        for day in days:
            key = period(day)
            hours = seconds_to_hours(wc.capacity_seconds(day)).quantize(Decimal("0.0001"))
            available_by[key] = available_by.get(key, Decimal(0)) + hours
            required_by[key] = required_by.get(key, Decimal(0)) + required.get((wc_id, day), Decimal(0))
        out[wc_id] = [
            LoadBucket(
                period_start=key,
                available_hours=available_by[key],
                required_hours=required_by[key],
                overload=required_by[key] > available_by[key],
            )
            for key in sorted(available_by)
        ]
    return out
