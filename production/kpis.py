"""Production KPIs over a period, for the API (``/api/v1/kpis/``) and the KPI page.

Every figure comes with what it is based on (numerator and denominator, or a count), and is
None where there is nothing to base it on. Set-based: a fixed number of queries however many
orders, confirmations and work centers there are.

The period is ``date_from``..``date_to``, both days included, in the factory's time zone
(``settings.TIME_ZONE``). ``item`` narrows everything to orders of that item. ``work_center``
narrows order figures to orders with an operation at that work center, and confirmation
figures (yield, scrap, the work-center table) to confirmations reported there.

Definitions:

- **Completed in the period**: an order that is completed or closed, whose completion
  (``actual_end``: the final confirmation of its last operation, or its close) falls in the
  period and that received output. An order closed without any output was abandoned, not
  completed, and is left out.
- **On-time completion** = completed orders finished on or before their due date (the day of
  completion counts) / completed orders.
- **Schedule adherence** = completed orders that started no earlier than the day of their
  scheduled start and finished no later than the day of their scheduled end / completed
  orders that have a schedule and an actual start. Starting early counts against adherence
  as finishing late does: it takes capacity the schedule gave to other orders.
- **Yield** = good / (good + scrap) and **scrap rate** = scrap / (good + scrap), over the
  confirmations reported in the period on every operation; a reversed confirmation and the
  reversal itself are both left out (together they reported nothing). Rework is neither.
- **Production lead time**: days from release to completion of the completed orders; average
  and median.
- **Capacity utilization** (per work center) = occupied hours / available hours. Occupied
  time of a confirmation is its setup time plus its run time, the longer of its machine and
  labour time (people and machine work side by side). Available hours come from the work
  center's calendar times its parallel units (``planning.selectors.work_centers_load``).
  Not clamped: above 1 means overtime beyond the calendar.
- **OEE** (per work center) = availability × performance × quality, each clamped to [0, 1]:
  availability = run hours / available hours (setup is an availability loss); performance =
  standard hours of the output (good + scrap × the operation's run minutes per unit) / run
  hours; quality = good / (good + scrap). None where a factor has no base.
- **WIP value** (now, not over the period): of the released and in-progress orders, the
  material issued and backflushed (net of returns, reversals and by-products, at the values
  the ledger posted) plus the conversion cost of the confirmed times at the work centers'
  rates, less the value of the output received. The same arithmetic as the order's actual
  costs (``production.selectors.production_order_actual_costs``), summed in the database.
- **Cost variance**: for orders closed in the period, actual − planned cost over the cost
  categories (material, labour, machine, overhead; the output credit is not a cost), and
  that difference as a percentage of the planned cost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone

from config.exceptions import ValidationFailed
from config.fields import ZERO
from inventory.models import Item, StockMovement
from planning.calendars import from_local
from planning.enums import BucketSize
from planning.models import WorkCenter
from planning.selectors import MAX_LOAD_DAYS, work_centers_load
from production.enums import DOCUMENT_TYPE, CostCategory, OrderStatus
from production.models import Confirmation, OrderCost, OrderOperation, OrderStatusChange, ProductionOrder
from production.selectors import SIXTY, m

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = MAX_LOAD_DAYS
RATIO_PLACES = Decimal("0.0001")
HOURS_PLACES = Decimal("0.01")
DAYS_PLACES = Decimal("0.01")
PERCENT_PLACES = Decimal("0.01")
ONE = Decimal(1)
SECONDS_PER_DAY = 86_400
# Wide enough for sums of quantities × minutes and of minutes × rates.
_SUM_FIELD = DecimalField(max_digits=30, decimal_places=8)


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class Ratio:
    """``numerator / denominator`` (None when the denominator is zero), rounded to four
    places; ``clamped`` ratios are kept in [0, 1] (the OEE factors)."""

    value: Decimal | None
    numerator: Decimal
    denominator: Decimal

    @classmethod
    def of(cls, numerator, denominator, *, clamp: bool = False) -> Ratio:
        numerator, denominator = Decimal(numerator or 0), Decimal(denominator or 0)
        value = _fraction(numerator, denominator, clamp=clamp)
        return cls(None if value is None else _ratio(value), numerator, denominator)


def _fraction(numerator: Decimal, denominator: Decimal, *, clamp: bool = False) -> Decimal | None:
    if not denominator:
        return None
    value = Decimal(numerator) / Decimal(denominator)
    return min(max(value, ZERO), ONE) if clamp else value


def _ratio(value: Decimal) -> Decimal:
    return value.quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LeadTime:
    average_days: Decimal | None
    median_days: Decimal | None
    count: int


@dataclass(frozen=True)
class WipValue:
    value: Decimal | None  # material + conversion − received; None without open orders
    material: Decimal
    conversion: Decimal
    received: Decimal
    count: int  # open orders (released, in progress)
    as_of: dt.datetime


@dataclass(frozen=True)
class CostVariance:
    value: Decimal | None  # actual − planned; None without closed orders
    percent: Decimal | None  # of planned; None when nothing was planned
    planned: Decimal
    actual: Decimal
    count: int  # orders closed in the period


@dataclass(frozen=True)
class WorkCenterKpis:
    work_center: WorkCenter
    available_hours: Decimal
    setup_hours: Decimal
    run_hours: Decimal
    occupied_hours: Decimal
    standard_hours: Decimal
    good: Decimal
    scrap: Decimal
    utilization: Ratio
    availability: Ratio
    performance: Ratio
    quality: Ratio
    oee: Decimal | None


@dataclass(frozen=True)
class Kpis:
    date_from: dt.date
    date_to: dt.date
    item: Item | None
    work_center: WorkCenter | None
    currency: str
    on_time_completion: Ratio
    schedule_adherence: Ratio
    yield_rate: Ratio
    scrap_rate: Ratio
    lead_time: LeadTime
    wip: WipValue
    cost_variance: CostVariance
    work_centers: list[WorkCenterKpis]


# ------------------------------------------------------------------ SQL helpers


class _EpochSeconds(Func):
    """Seconds of an interval (``actual_end - released_at``), as a double."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
    output_field = FloatField()


class _Median(Aggregate):
    """Postgres ``percentile_cont(0.5)``: the median, halfway between the two middle values."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _sum(expression) -> Coalesce:
    return Coalesce(Sum(expression, output_field=_SUM_FIELD), Value(ZERO), output_field=_SUM_FIELD)


def _dec(expression) -> ExpressionWrapper:
    return ExpressionWrapper(expression, output_field=_SUM_FIELD)


# ------------------------------------------------------------------ the selector


def kpis_default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last 30 days, today included."""
    today = today or timezone.localdate()
    return today - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1), today


def kpis_get(
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    item_id: int | None = None,
    work_center_id: int | None = None,
) -> Kpis:
    """Every KPI for the period and filters (see the module's docstring for the definitions).
    Raises ``ValidationFailed`` naming ``date_from``, ``date_to``, ``item`` or ``work_center``
    for a period that is reversed or too long, or an unknown item or work center."""
    today = timezone.localdate()
    if date_to is None:
        date_to = today if date_from is None else max(date_from, today)
    if date_from is None:
        date_from = date_to - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if date_from > date_to:
        raise ValidationFailed(
            "date_from must not be after date_to.", fields={"date_from": "Must not be after date_to."}
        )
    if (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed(
            f"date_to: the period from date_from may span at most {MAX_PERIOD_DAYS} days.",
            fields={"date_to": f"The period spans at most {MAX_PERIOD_DAYS} days."},
        )
    item = None
    if item_id is not None:
        item = Item.objects.filter(pk=item_id).first()
        if item is None:
            raise ValidationFailed(f"item: no item has id {item_id}.", fields={"item": "Unknown item."})
    start = from_local(dt.datetime.combine(date_from, dt.time()))
    end = from_local(dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time()))

    per_center = _confirmation_totals(start, end, item_id, work_center_id)
    centers = _work_centers(work_center_id, per_center)
    if work_center_id is not None and not centers:
        raise ValidationFailed(
            f"work_center: no work center has id {work_center_id}.",
            fields={"work_center": "Unknown work center."},
        )
    orders = _orders(item_id, work_center_id)
    completed = _completed_orders(orders, start, end)
    good = sum((row["good"] for row in per_center.values()), ZERO)
    scrap = sum((row["scrap"] for row in per_center.values()), ZERO)
    return Kpis(
        date_from=date_from,
        date_to=date_to,
        item=item,
        work_center=centers[0] if work_center_id is not None else None,
        currency=settings.BASE_CURRENCY,
        on_time_completion=Ratio.of(completed["on_time"], completed["completed"]),
        schedule_adherence=Ratio.of(completed["adherent"], completed["scheduled"]),
        yield_rate=Ratio.of(good, good + scrap),
        scrap_rate=Ratio.of(scrap, good + scrap),
        lead_time=LeadTime(
            average_days=_days(completed["lead_avg"]),
            median_days=_days(completed["lead_median"]),
            count=completed["lead_count"],
        ),
        wip=_wip(orders),
        cost_variance=_cost_variance(orders, start, end),
        work_centers=_work_center_kpis(centers, per_center, date_from, date_to),
    )


def _orders(item_id: int | None, work_center_id: int | None) -> QuerySet[ProductionOrder]:
    orders = ProductionOrder.objects.all()
    if item_id is not None:
        orders = orders.filter(item_id=item_id)
    if work_center_id is not None:
        orders = orders.filter(pk__in=OrderOperation.objects.filter(work_center_id=work_center_id).values("order_id"))
    return orders


def _completed_orders(orders: QuerySet[ProductionOrder], start: dt.datetime, end: dt.datetime) -> dict:
    """On-time, adherence and lead time of the orders completed in the period: one query."""
    released_at = (
        OrderStatusChange.objects.filter(order=OuterRef("pk"), to_status=OrderStatus.RELEASED)
        .order_by("at")
        .values("at")[:1]
    )
    scheduled = Q(scheduled_start__isnull=False, scheduled_end__isnull=False, actual_start__isnull=False)
    return (
        orders.filter(
            status__in=[OrderStatus.COMPLETED, OrderStatus.CLOSED],
            actual_end__gte=start,
            actual_end__lt=end,
            received__quantity__gt=0,
        )
        .annotate(
            end_day=TruncDate("actual_end"),
            lead_seconds=_EpochSeconds(F("actual_end") - Subquery(released_at)),
        )
        .aggregate(
            completed=Count("pk"),
            on_time=Count("pk", filter=Q(end_day__lte=F("due_date"))),
            scheduled=Count("pk", filter=scheduled),
            adherent=Count(
                "pk",
                filter=scheduled
                & Q(actual_start__date__gte=TruncDate("scheduled_start"))
                & Q(end_day__lte=TruncDate("scheduled_end")),
            ),
            lead_count=Count("lead_seconds"),
            lead_avg=Avg("lead_seconds"),
            lead_median=_Median("lead_seconds"),
        )
    )


def _days(seconds: float | None) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(repr(seconds)) / SECONDS_PER_DAY).quantize(DAYS_PLACES, rounding=ROUND_HALF_UP)


def _confirmation_totals(
    start: dt.datetime, end: dt.datetime, item_id: int | None, work_center_id: int | None
) -> dict[int, dict]:
    """Per work center: good, scrap, setup/run/standard minutes of the confirmations
    reported in the period, reversed ones and reversals left out. One query."""
    confirmations = Confirmation.objects.filter(
        confirmed_at__gte=start,
        confirmed_at__lt=end,
        reversal_of__isnull=True,
        reversed_by__isnull=True,
    )
    if item_id is not None:
        confirmations = confirmations.filter(order__item_id=item_id)
    if work_center_id is not None:
        confirmations = confirmations.filter(work_center_id=work_center_id)
    rows = (
        confirmations.order_by()
        .values("work_center_id")
        .annotate(
            good=_sum("good_quantity"),
            scrap=_sum("scrap_quantity"),
            setup=_sum("setup_minutes"),
            run=_sum(Greatest("labor_minutes", "machine_minutes")),
            standard=_sum(_dec((F("good_quantity") + F("scrap_quantity")) * F("operation__run_minutes_per_unit"))),
        )
    )
    return {row["work_center_id"]: row for row in rows}


def _work_centers(work_center_id: int | None, per_center: dict[int, dict]) -> list[WorkCenter]:
    """The table's work centers: the one asked for, else every active one and any inactive
    one that reported work in the period."""
    if work_center_id is not None:
        centers = WorkCenter.objects.filter(pk=work_center_id)
    else:
        centers = WorkCenter.objects.filter(Q(is_active=True) | Q(pk__in=list(per_center)))
    return list(centers.order_by("code"))


def _hours(minutes: Decimal) -> Decimal:
    return (Decimal(minutes) / SIXTY).quantize(HOURS_PLACES, rounding=ROUND_HALF_UP)


def _work_center_kpis(
    centers: list[WorkCenter], per_center: dict[int, dict], date_from: dt.date, date_to: dt.date
) -> list[WorkCenterKpis]:
    if not centers:
        return []
    # Weekly buckets: fewer rows, the same total hours.
    loads = work_centers_load(
        work_center_ids=[wc.pk for wc in centers], date_from=date_from, date_to=date_to, bucket=BucketSize.WEEK
    )
    out = []
    for wc in centers:
        row = per_center.get(wc.pk, {})
        good, scrap = row.get("good", ZERO), row.get("scrap", ZERO)
        setup, run, standard = row.get("setup", ZERO), row.get("run", ZERO), row.get("standard", ZERO)
        available_hours = sum((b.available_hours for b in loads[wc.pk]), ZERO)
        available = available_hours * SIXTY  # minutes, as the confirmations report
        availability = Ratio.of(run, available, clamp=True)
        performance = Ratio.of(standard, run, clamp=True)
        quality = Ratio.of(good, good + scrap, clamp=True)
        # From the unrounded factors: rounding each first would shift the product.
        factors = (
            _fraction(run, available, clamp=True),
            _fraction(standard, run, clamp=True),
            _fraction(good, good + scrap, clamp=True),
        )
        oee = None if None in factors else _ratio(factors[0] * factors[1] * factors[2])
        out.append(
            WorkCenterKpis(
                work_center=wc,
                available_hours=available_hours.quantize(HOURS_PLACES, rounding=ROUND_HALF_UP),
                setup_hours=_hours(setup),
                run_hours=_hours(run),
                occupied_hours=_hours(setup + run),
                standard_hours=_hours(standard),
                good=good,
                scrap=scrap,
                utilization=Ratio.of(setup + run, available),
                availability=availability,
                performance=performance,
                quality=quality,
                oee=oee,
            )
        )
    return out


def _wip(orders: QuerySet[ProductionOrder]) -> WipValue:
    """Value of the open orders, now: one query (two correlated sums per order)."""
    open_orders = orders.filter(status__in=[OrderStatus.RELEASED, OrderStatus.IN_PROGRESS])
    movements = StockMovement.objects.filter(
        posting__document_type=DOCUMENT_TYPE, posting__document_id=OuterRef("pk")
    ).order_by()
    output = Q(item_id=OuterRef("item_id"))

    def movement_sum(condition: Q) -> Subquery:
        rows = movements.filter(condition).values("posting__document_type").annotate(s=Sum("value")).values("s")
        return Coalesce(Subquery(rows, output_field=_SUM_FIELD), Value(ZERO), output_field=_SUM_FIELD)

    conversion = (
        OrderOperation.objects.filter(order_id=OuterRef("pk"))
        .order_by()
        .values("order_id")
        .annotate(
            s=Sum(
                _dec(
                    (F("actual_setup_minutes") + F("actual_labor_minutes"))
                    * (F("work_center__labor_rate") + F("work_center__overhead_rate"))
                    + F("actual_machine_minutes") * F("work_center__machine_rate")
                )
            )
        )
        .values("s")
    )
    totals = open_orders.annotate(
        component_value=movement_sum(~output),
        received_value=movement_sum(output),
        rate_minutes_value=Coalesce(
            Subquery(conversion, output_field=_SUM_FIELD), Value(ZERO), output_field=_SUM_FIELD
        ),
    ).aggregate(
        count=Count("pk"),
        components=_sum("component_value"),
        received=_sum("received_value"),
        rate_minutes=_sum("rate_minutes_value"),
    )
    # Issues are negative movements: consumption is a positive cost.
    material, received = m(-totals["components"]), m(totals["received"])
    conversion = m(totals["rate_minutes"] / SIXTY)
    return WipValue(
        value=m(material + conversion - received) if totals["count"] else None,
        material=material,
        conversion=conversion,
        received=received,
        count=totals["count"],
        as_of=timezone.now(),
    )


def _cost_variance(orders: QuerySet[ProductionOrder], start: dt.datetime, end: dt.datetime) -> CostVariance:
    """Actual against planned cost of the orders closed in the period: one query."""
    closed = orders.filter(
        status=OrderStatus.CLOSED,
        pk__in=OrderStatusChange.objects.filter(to_status=OrderStatus.CLOSED, at__gte=start, at__lt=end).values(
            "order_id"
        ),
    )
    costs = OrderCost.objects.filter(order_id=OuterRef("pk")).exclude(category=CostCategory.OUTPUT).order_by()

    def cost_sum(field: str) -> Coalesce:
        rows = costs.values("order_id").annotate(s=Sum(field)).values("s")
        return Coalesce(Subquery(rows, output_field=_SUM_FIELD), Value(ZERO), output_field=_SUM_FIELD)

    totals = closed.annotate(planned_cost=cost_sum("planned"), actual_cost=cost_sum("actual")).aggregate(
        count=Count("pk"), planned=_sum("planned_cost"), actual=_sum("actual_cost")
    )
    planned, actual = m(totals["planned"]), m(totals["actual"])
    variance = m(actual - planned) if totals["count"] else None
    percent = None
    if variance is not None and planned:
        percent = (variance * 100 / planned).quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)
    return CostVariance(value=variance, percent=percent, planned=planned, actual=actual, count=totals["count"])
