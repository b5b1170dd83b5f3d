"""Backward, forward and finite scheduling against dates computed by hand.

Calendar of every test here: Mon-Fri 06:00-14:00 (UTC, the test time zone), with a holiday
on Monday 2025-01-13 and on Friday 2025-01-17. 2025-01-06 is a Monday."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from planning.scheduling import (
    FiniteOrder,
    OperationSpec,
    requirements_from_schedule,
    schedule_backward,
    schedule_finite,
    schedule_forward,
)
from tests.planning.factories import (
    CalendarExceptionFactory,
    CalendarFactory,
    CapacityRequirementFactory,
    WorkCenterFactory,
)

pytestmark = pytest.mark.django_db


def at(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def shop():
    calendar = CalendarFactory()
    CalendarExceptionFactory(calendar=calendar, date_from=date(2025, 1, 13))
    CalendarExceptionFactory(calendar=calendar, date_from=date(2025, 1, 17))
    cut = WorkCenterFactory(calendar=calendar)
    slow = WorkCenterFactory(calendar=calendar, efficiency_pct=Decimal("50"))
    return cut, slow


def two_ops(cut, slow):
    # 60 + 30 x 4 = 180 min = 3 h on `cut`; 60 x 2 = 120 min at 50 % = 4 h on `slow`.
    return [
        OperationSpec(
            key=10,
            work_center_id=cut.pk,
            setup_minutes=Decimal(60),
            run_minutes_per_unit=Decimal(30),
            quantity=Decimal(4),
        ),
        OperationSpec(
            key=20,
            work_center_id=slow.pk,
            setup_minutes=Decimal(0),
            run_minutes_per_unit=Decimal(60),
            quantity=Decimal(2),
            queue_minutes=Decimal(30),
            move_minutes=Decimal(60),
        ),
    ]


def test_schedule_forward_skips_weekend_and_holiday(shop):
    # given two operations starting Friday 12:00
    cut, slow = shop

    # when
    result = schedule_forward(operations=two_ops(cut, slow), start=at(10, 12))

    # then: 3 h = Fri 12-14 (2 h) + Tue 06-07 (Sat, Sun, holiday Mon skipped)
    first, second = result.operations
    assert (first.start, first.end, first.hours) == (at(10, 12), at(14, 7), Decimal("3.0000"))
    assert first.day_hours == {date(2025, 1, 10): Decimal("2.0000"), date(2025, 1, 14): Decimal("1.0000")}
    # queue 30 min, then 4 h at 50 % efficiency, then 60 min move
    assert (second.start, second.end, second.hours) == (at(14, 7, 30), at(14, 11, 30), Decimal("4.0000"))
    assert (result.start, result.end, result.late_by) == (at(10, 12), at(14, 12, 30), None)


def test_schedule_forward_uses_override_hours_of_a_working_exception(shop):
    # given Saturday 2025-01-11 is worked 08:00-10:00
    cut, slow = shop
    CalendarExceptionFactory(
        calendar=cut.calendar,
        date_from=date(2025, 1, 11),
        working=True,
        start_time=time(8),
        end_time=time(10),
    )

    # when
    result = schedule_forward(operations=two_ops(cut, slow)[:1], start=at(10, 12))

    # then: Fri 12-14 (2 h) + Sat 08-09 (1 h)
    assert result.operations[0].end == at(11, 9)


def test_schedule_backward_skips_holiday_and_weekend(shop):
    # given due Monday 2025-01-20 08:00
    cut, slow = shop

    # when
    result = schedule_backward(operations=two_ops(cut, slow), due=at(20, 8), not_before=at(6, 6))

    # then: move 60 min -> op 20 ends Mon 07:00; 4 h = Mon 06-07 + Thu 11-14 (Fri 17 holiday)
    first, second = result.operations
    assert (second.start, second.end) == (at(16, 11), at(20, 7))
    assert second.day_hours == {date(2025, 1, 16): Decimal("3.0000"), date(2025, 1, 20): Decimal("1.0000")}
    # queue 30 min -> op 10 ends Thu 10:30; 3 h -> starts Thu 07:30
    assert (first.start, first.end) == (at(16, 7, 30), at(16, 10, 30))
    assert (result.start, result.end, result.late_by) == (at(16, 7, 30), at(20, 8), None)


def test_schedule_backward_too_close_to_due_is_forward_from_not_before_and_late(shop):
    # given due Tuesday 09:00 and "now" Tuesday 06:00: 7.5 h of work cannot fit
    cut, slow = shop

    # when
    result = schedule_backward(operations=two_ops(cut, slow), due=at(14, 9), not_before=at(14, 6))

    # then: never a start in the past; 3 h -> 09:00, queue -> 09:30, 4 h -> 13:30; the 60 min
    # move runs in working time and the day ends at 14:00, so it ends Wednesday 06:30.
    assert result.start == at(14, 6)
    assert result.operations[0].start == at(14, 6)
    assert result.operations[1].end == at(14, 13, 30)
    assert result.end == at(15, 6, 30)
    assert result.late_by == at(15, 6, 30) - at(14, 9)


def test_schedule_backward_without_not_before_may_start_in_the_past(shop):
    cut, slow = shop

    result = schedule_backward(operations=two_ops(cut, slow), due=at(14, 9))

    assert result.late_by is None
    assert result.end == at(14, 9)


def test_negative_minutes_are_refused(shop):
    cut, _ = shop
    from config.exceptions import ValidationFailed

    bad = OperationSpec(
        key=1,
        work_center_id=cut.pk,
        setup_minutes=Decimal(-1),
        run_minutes_per_unit=Decimal(1),
        quantity=Decimal(1),
    )
    with pytest.raises(ValidationFailed) as err:
        schedule_forward(operations=[bad], start=at(6, 6))
    assert "operations[0].setup_minutes" in err.value.fields


def test_schedule_finite_queues_orders_by_priority_then_due(shop):
    # given three 6 h orders on one 8 h/day work center, Monday 2025-01-06
    cut, _ = shop
    op = OperationSpec(
        key="op",
        work_center_id=cut.pk,
        setup_minutes=Decimal(0),
        run_minutes_per_unit=Decimal(60),
        quantity=Decimal(6),
    )
    orders = [
        FiniteOrder(key="late-due", operations=[op], due=at(20, 14), priority=5),
        FiniteOrder(key="urgent", operations=[op], due=at(30, 14), priority=1),
        FiniteOrder(key="early-due", operations=[op], due=at(7, 8), priority=5),
    ]

    # when
    result = schedule_finite(orders=orders, horizon_start=at(6, 6))

    # then: urgent Mon 06-12; early-due Mon 12-14 + Tue 06-10; late-due Tue 10-14 + Wed 06-08
    assert (result["urgent"].start, result["urgent"].end) == (at(6, 6), at(6, 12))
    assert result["early-due"].operations[0].start == at(6, 12)
    assert result["early-due"].end == at(7, 10)
    assert result["early-due"].late_by == timedelta(hours=2)
    assert result["late-due"].end == at(8, 8)
    assert result["late-due"].late_by is None


def test_schedule_finite_counts_existing_load_as_used(shop):
    # given Monday already fully loaded by another order
    cut, _ = shop
    CapacityRequirementFactory(work_center=cut, date=date(2025, 1, 6), hours=Decimal(8))
    op = OperationSpec(
        key="op",
        work_center_id=cut.pk,
        setup_minutes=Decimal(0),
        run_minutes_per_unit=Decimal(60),
        quantity=Decimal(2),
    )

    # when
    result = schedule_finite(orders=[FiniteOrder(key=1, operations=[op])], horizon_start=at(6, 6))

    # then
    assert (result[1].operations[0].start, result[1].end) == (at(7, 6), at(7, 8))


def test_requirements_from_schedule_split_per_day(shop):
    cut, slow = shop
    result = schedule_forward(operations=two_ops(cut, slow), start=at(10, 12))

    rows = requirements_from_schedule(result)

    assert [(r.work_center_id, r.date, r.hours, r.source_line_id) for r in rows] == [
        (cut.pk, date(2025, 1, 10), Decimal("2.0000"), 10),
        (cut.pk, date(2025, 1, 14), Decimal("1.0000"), 10),
        (slow.pk, date(2025, 1, 14), Decimal("4.0000"), 20),
    ]
