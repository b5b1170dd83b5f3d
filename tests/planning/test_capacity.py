"""Capacity per day, capacity requirements and the load report."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from config.exceptions import ValidationFailed
from planning.models import CapacityRequirement
from planning.scheduling import OperationSpec, RequirementSpec, requirements_from_schedule, schedule_forward
from planning.selectors import work_center_capacity, work_center_load, work_centers_load
from planning.services import capacity_requirements_clear, capacity_requirements_replace
from tests.planning.factories import CalendarExceptionFactory, CalendarFactory, WorkCenterFactory

pytestmark = pytest.mark.django_db


def test_work_center_capacity_is_calendar_hours_times_units():
    # given two shifts Mon-Fri, 2 machines at 90 %, a closure on Wednesday 2025-01-08
    calendar = CalendarFactory(
        shifts=[(d, s, e) for d in range(5) for s, e in ((time(6), time(14)), (time(14), time(22)))]
    )
    CalendarExceptionFactory(calendar=calendar, date_from=date(2025, 1, 8))
    wc = WorkCenterFactory(calendar=calendar, parallel_units=2, efficiency_pct=Decimal(90))

    # when
    clock = work_center_capacity(work_center_id=wc.pk, date_from=date(2025, 1, 6), date_to=date(2025, 1, 12))
    effective = work_center_capacity(
        work_center_id=wc.pk, date_from=date(2025, 1, 6), date_to=date(2025, 1, 12), effective=True
    )

    # then
    assert clock[date(2025, 1, 6)] == Decimal(32)
    assert clock[date(2025, 1, 8)] == 0
    assert clock[date(2025, 1, 11)] == 0
    assert sum(clock.values()) == Decimal(128)
    assert effective[date(2025, 1, 6)] == Decimal("28.8")


def test_load_equals_sum_of_operation_hours_and_flags_overload(django_assert_max_num_queries):
    # given an order of 3 operations scheduled forward on one 8 h/day work center
    wc = WorkCenterFactory()
    ops = [
        OperationSpec(
            key=i,
            work_center_id=wc.pk,
            setup_minutes=Decimal(30),
            run_minutes_per_unit=Decimal(6),
            quantity=Decimal(25),
        )
        for i in (1, 2, 3)
    ]
    result = schedule_forward(operations=ops, start=datetime(2025, 1, 6, 6, tzinfo=UTC))
    capacity_requirements_replace(
        source_type="production_order",
        source_id=7,
        requirements=requirements_from_schedule(result),
        status="released",
    )
    # and another source overloading Friday
    capacity_requirements_replace(
        source_type="demo",
        source_id=1,
        requirements=[RequirementSpec(work_center_id=wc.pk, date=date(2025, 1, 10), hours=Decimal(9))],
    )

    # when
    with django_assert_max_num_queries(4):
        days = work_center_load(work_center_id=wc.pk, date_from=date(2025, 1, 6), date_to=date(2025, 1, 12))
    weeks = work_center_load(work_center_id=wc.pk, date_from=date(2025, 1, 6), date_to=date(2025, 1, 12), bucket="week")

    # then
    total = sum(op.hours for op in result.operations)
    assert total == Decimal(9)  # 3 x (30 + 6 x 25) min
    assert sum(d.required_hours for d in days) == total + 9
    assert [d.required_hours for d in days[:2]] == [Decimal(8), Decimal(1)]  # Monday exactly full
    assert [d.overload for d in days] == [False, False, False, False, True, False, False]
    assert len(weeks) == 1
    assert weeks[0].available_hours == Decimal(40)
    assert weeks[0].required_hours == total + 9


def test_capacity_requirements_replace_replaces_and_clear_removes():
    # given
    wc = WorkCenterFactory()
    first = [RequirementSpec(work_center_id=wc.pk, date=date(2025, 1, 6), hours=Decimal(2))]
    second = [
        RequirementSpec(work_center_id=wc.pk, date=date(2025, 1, 7), hours=Decimal(1), source_line_id=5),
        RequirementSpec(work_center_id=wc.pk, date=date(2025, 1, 7), hours=Decimal("0.5"), source_line_id=5),
    ]
    capacity_requirements_replace(source_type="production_order", source_id=1, requirements=first)

    # when
    capacity_requirements_replace(source_type="production_order", source_id=1, requirements=second, status="firmed")

    # then
    rows = list(CapacityRequirement.objects.values_list("date", "hours", "source_line_id", "status"))
    assert rows == [(date(2025, 1, 7), Decimal("1.5000"), 5, "firmed")]
    assert capacity_requirements_clear(source_type="production_order", source_id=1) == 1
    assert not CapacityRequirement.objects.exists()


def test_capacity_requirements_replace_refuses_unknown_status():
    wc = WorkCenterFactory()
    with pytest.raises(ValidationFailed) as err:
        capacity_requirements_replace(
            source_type="x",
            source_id=1,
            requirements=[RequirementSpec(work_center_id=wc.pk, date=date(2025, 1, 6), hours=Decimal(1))],
            status="bogus",
        )
    assert "status" in err.value.fields


def _work_centers_with_load(n: int, day: date) -> list:
    centers = [WorkCenterFactory(parallel_units=1 + i % 2) for i in range(n)]
    for i, wc in enumerate(centers):
        capacity_requirements_replace(
            source_type="demo",
            source_id=i + 1,
            requirements=[RequirementSpec(work_center_id=wc.pk, date=day, hours=Decimal(i + 1))],
        )
    return centers


def test_work_centers_load_equals_the_load_of_each_work_center():
    # given three work centers on different calendars, each with its own load on Monday
    monday = date(2025, 1, 6)
    centers = _work_centers_with_load(3, monday)
    ids = [wc.pk for wc in centers]

    # when
    days = work_centers_load(work_center_ids=ids, date_from=monday, date_to=date(2025, 1, 12))
    weeks = work_centers_load(work_center_ids=ids, date_from=monday, date_to=date(2025, 1, 12), bucket="week")

    # then each is what the single-work-center report says
    for wc in centers:
        assert days[wc.pk] == work_center_load(work_center_id=wc.pk, date_from=monday, date_to=date(2025, 1, 12))
        assert weeks[wc.pk] == work_center_load(
            work_center_id=wc.pk, date_from=monday, date_to=date(2025, 1, 12), bucket="week"
        )
    assert [days[wc.pk][0].required_hours for wc in centers] == [1, 2, 3]
    assert [days[wc.pk][0].available_hours for wc in centers] == [8, 16, 8]


def test_work_centers_load_costs_the_same_queries_for_2_and_for_10_work_centers():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monday = date(2025, 1, 6)
    two = [wc.pk for wc in _work_centers_with_load(2, monday)]
    ten = two + [wc.pk for wc in _work_centers_with_load(8, monday)]

    with CaptureQueriesContext(connection) as for_two:
        work_centers_load(work_center_ids=two, date_from=monday, date_to=monday)
    with CaptureQueriesContext(connection) as for_ten:
        loads = work_centers_load(work_center_ids=ten, date_from=monday, date_to=monday)

    assert len(for_two.captured_queries) == len(for_ten.captured_queries)
    assert len(loads) == 10
