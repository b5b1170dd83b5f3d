"""Working time of a calendar as plain data, and the arithmetic on it.

Scheduling and capacity both need "how much working time lies between two moments". They run
over thousands of operations, so a calendar is loaded once (shifts and exceptions in bulk)
into a ``CalendarPattern`` and everything after that is pure Python on integer seconds:
exact, and an order of magnitude cheaper than Decimal or timedelta arithmetic in the loops.

Times are wall-clock times of the project time zone (``settings.TIME_ZONE``): a shift
"06:00-14:00" means 06:00 on the factory floor. Aware datetimes are converted on the way in
and out; inside, datetimes are naive local times.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from config.exceptions import ValidationFailed

DAY = 86_400
ONE_DAY = timedelta(days=1)
HOURS_PLACES = Decimal("0.0001")
# A calendar with no working time for this long is treated as broken rather than looped over.
MAX_SEARCH_DAYS = 366 * 3

Interval = tuple[int, int]  # seconds since local midnight, start < end


def time_to_seconds(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def seconds_to_hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / Decimal(3600)).quantize(HOURS_PLACES, rounding=ROUND_HALF_UP)


def minutes_to_seconds(minutes: Decimal) -> int:
    return int((Decimal(minutes) * 60).to_integral_value(rounding=ROUND_HALF_UP))


def to_local(value: datetime) -> datetime:
    if timezone.is_aware(value):
        return timezone.localtime(value, timezone.get_default_timezone()).replace(tzinfo=None)
    return value


def from_local(value: datetime) -> datetime:
    return timezone.make_aware(value, timezone.get_default_timezone())


def _at(day: date, seconds: int) -> datetime:
    return datetime.combine(day, time()) + timedelta(seconds=seconds)


def _seconds_of(value: datetime) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


@dataclass
class CalendarPattern:
    """Weekly shifts plus dated exceptions; ``intervals(day)`` is the working time of a day."""

    calendar_id: int
    weekly: tuple[tuple[Interval, ...], ...]  # index 0 = Monday
    # (date_from, date_to, intervals); intervals empty = closed.
    exceptions: tuple[tuple[date, date, tuple[Interval, ...]], ...] = ()
    _cache: dict[date, tuple[Interval, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        *,
        calendar_id: int,
        shifts: Iterable[tuple[int, time, time]],
        exceptions: Iterable[tuple[date, date, bool, time | None, time | None]] = (),
    ) -> CalendarPattern:
        weekly: list[list[Interval]] = [[] for _ in range(7)]
        for weekday, start, end in shifts:
            weekly[weekday].append((time_to_seconds(start), time_to_seconds(end)))
        exc = []
        for date_from, date_to, working, start, end in exceptions:
            hours = ((time_to_seconds(start), time_to_seconds(end)),) if working and start and end else ()
            exc.append((date_from, date_to, hours))
        return cls(
            calendar_id=calendar_id,
            weekly=tuple(tuple(sorted(day)) for day in weekly),
            exceptions=tuple(sorted(exc)),
        )

    def intervals(self, day: date) -> tuple[Interval, ...]:
        cached = self._cache.get(day)
        if cached is None:
            cached = self.weekly[day.weekday()]
            for date_from, date_to, hours in self.exceptions:
                if date_from <= day <= date_to:
                    cached = hours
                    break
            self._cache[day] = cached
        return cached

    def day_seconds(self, day: date) -> int:
        return sum(end - start for start, end in self.intervals(day))

    def weekly_seconds(self) -> int:
        return sum(end - start for day in self.weekly for start, end in day)

    # -- arithmetic on naive local datetimes ------------------------------------------------

    def add(self, moment: datetime, seconds: int) -> datetime:
        """The moment at which ``seconds`` of working time starting at ``moment`` are used up.
        With zero seconds: the first working moment at or after ``moment``."""
        day, offset = moment.date(), _seconds_of(moment)
        for _ in range(MAX_SEARCH_DAYS):
            for start, end in self.intervals(day):
                if end <= offset:
                    continue
                begin = max(start, offset)
                available = end - begin
                if seconds <= available:
                    return _at(day, begin + seconds)
                seconds -= available
            day += ONE_DAY
            offset = 0
        raise self._no_working_time()

    def subtract(self, moment: datetime, seconds: int) -> datetime:
        """The moment from which ``seconds`` of working time end exactly at ``moment``.
        With zero seconds: the last working moment at or before ``moment``."""
        day, offset = moment.date(), _seconds_of(moment)
        if offset == 0:  # midnight belongs to the end of the previous day
            day, offset = day - ONE_DAY, DAY
        for _ in range(MAX_SEARCH_DAYS):
            for start, end in reversed(self.intervals(day)):
                if start >= offset:
                    continue
                finish = min(end, offset)
                available = finish - start
                if seconds <= available:
                    return _at(day, finish - seconds)
                seconds -= available
            day -= ONE_DAY
            offset = DAY
        raise self._no_working_time()

    def split_by_day(self, start: datetime, end: datetime) -> dict[date, int]:
        """Working seconds between two moments, per day."""
        out: dict[date, int] = {}
        day = start.date()
        while day <= end.date():
            lo = _seconds_of(start) if day == start.date() else 0
            hi = _seconds_of(end) if day == end.date() else DAY
            total = 0
            for s, e in self.intervals(day):
                overlap = min(e, hi) - max(s, lo)
                if overlap > 0:
                    total += overlap
            if total:
                out[day] = total
            day += ONE_DAY
        return out

    def working_after(self, day: date, offset: int) -> int:
        """Working seconds of ``day`` from ``offset`` to the end of the day."""
        return sum(e - max(s, offset) for s, e in self.intervals(day) if e > offset)

    def position(self, day: date, worked: int) -> int:
        """Offset (seconds since midnight) reached after ``worked`` seconds of the day's working time."""
        for start, end in self.intervals(day):
            if worked <= end - start:
                return start + worked
            worked -= end - start
        return DAY

    def _no_working_time(self) -> ValidationFailed:
        return ValidationFailed(
            f"Calendar {self.calendar_id} has no working time within {MAX_SEARCH_DAYS} days.",
            code="calendar_without_working_time",
            fields={"calendar": "No working time in the scheduling horizon."},
        )


@dataclass(frozen=True)
class WorkCenterTime:
    """What scheduling needs to know about one work center."""

    work_center_id: int
    calendar: CalendarPattern
    efficiency_pct: Decimal
    parallel_units: int

    def operation_seconds(self, minutes: Decimal) -> int:
        """Clock time for ``minutes`` of standard work: slower work centers need longer."""
        seconds = Decimal(minutes) * 60 * 100 / Decimal(self.efficiency_pct)
        return int(seconds.to_integral_value(rounding=ROUND_HALF_UP))

    def capacity_seconds(self, day: date) -> int:
        return self.calendar.day_seconds(day) * self.parallel_units


def work_center_times(work_center_ids: Iterable[int]) -> dict[int, WorkCenterTime]:
    """Load the given work centers with their calendars in three queries, however many there are."""
    from planning.models import CalendarException, CalendarShift, WorkCenter

    ids = set(work_center_ids)
    centers = list(
        WorkCenter.objects.filter(pk__in=ids).values_list("pk", "calendar_id", "efficiency_pct", "parallel_units")
    )
    missing = ids - {row[0] for row in centers}
    if missing:
        raise ValidationFailed(
            f"Unknown work center(s): {sorted(missing)}.",
            code="unknown_work_center",
            fields={"work_center_id": f"Unknown work center(s): {sorted(missing)}."},
        )
    calendar_ids = {row[1] for row in centers}
    shifts: dict[int, list] = {cid: [] for cid in calendar_ids}
    for cid, weekday, start, end in CalendarShift.objects.filter(calendar_id__in=calendar_ids).values_list(
        "calendar_id", "weekday", "start_time", "end_time"
    ):
        shifts[cid].append((weekday, start, end))
    exceptions: dict[int, list] = {cid: [] for cid in calendar_ids}
    for cid, *rest in CalendarException.objects.filter(calendar_id__in=calendar_ids).values_list(
        "calendar_id", "date_from", "date_to", "working", "start_time", "end_time"
    ):
        exceptions[cid].append(tuple(rest))
    patterns = {
        cid: CalendarPattern.build(calendar_id=cid, shifts=shifts[cid], exceptions=exceptions[cid])
        for cid in calendar_ids
    }
    return {
        pk: WorkCenterTime(work_center_id=pk, calendar=patterns[cid], efficiency_pct=eff, parallel_units=units)
        for pk, cid, eff, units in centers
    }


def hours_by_day(seconds_by_day: Mapping[date, int], total_hours: Decimal) -> dict[date, Decimal]:
    """Convert per-day seconds to hours so that the days add up exactly to ``total_hours``
    (rounding each day separately could lose or invent a ten-thousandth of an hour)."""
    out: dict[date, Decimal] = {}
    days = sorted(seconds_by_day)
    running = Decimal(0)
    for index, day in enumerate(days):
        if index == len(days) - 1:
            out[day] = total_hours - running
        else:
            out[day] = seconds_to_hours(seconds_by_day[day])
            running += out[day]
    return out
