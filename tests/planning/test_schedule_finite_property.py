"""Finite scheduling never loads any work center beyond its capacity on any day."""

from collections import defaultdict
from datetime import UTC, date, datetime, time
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.calendars import CalendarPattern, WorkCenterTime
from planning.scheduling import FiniteOrder, OperationSpec, schedule_finite

FIVE_BY_EIGHT = CalendarPattern.build(
    calendar_id=1,
    shifts=[(d, time(6), time(14)) for d in range(5)],
    exceptions=[(date(2025, 1, 13), date(2025, 1, 13), False, None, None)],
)
TWO_SHIFT = CalendarPattern.build(
    calendar_id=2,
    shifts=[(d, s, e) for d in range(5) for s, e in ((time(6), time(14)), (time(14), time(22)))],
)
WORK_CENTERS = {
    1: WorkCenterTime(work_center_id=1, calendar=FIVE_BY_EIGHT, efficiency_pct=Decimal(95), parallel_units=1),
    2: WorkCenterTime(work_center_id=2, calendar=TWO_SHIFT, efficiency_pct=Decimal(90), parallel_units=2),
    3: WorkCenterTime(work_center_id=3, calendar=FIVE_BY_EIGHT, efficiency_pct=Decimal(100), parallel_units=3),
}

operation = st.builds(
    OperationSpec,
    key=st.integers(1, 1000),
    work_center_id=st.sampled_from(sorted(WORK_CENTERS)),
    setup_minutes=st.integers(0, 120).map(Decimal),
    run_minutes_per_unit=st.integers(0, 90).map(Decimal),
    quantity=st.integers(1, 12).map(Decimal),
    queue_minutes=st.integers(0, 60).map(Decimal),
    move_minutes=st.integers(0, 60).map(Decimal),
)
order_list = st.lists(
    st.tuples(st.lists(operation, min_size=1, max_size=4), st.integers(1, 9), st.integers(0, 20)),
    min_size=1,
    max_size=25,
)
existing = st.dictionaries(
    st.tuples(st.sampled_from(sorted(WORK_CENTERS)), st.integers(6, 10).map(lambda d: date(2025, 1, d))),
    st.integers(0, 10).map(Decimal),
    max_size=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders=order_list, load=existing)
def test_schedule_finite_never_exceeds_daily_capacity(orders, load):
    # given random orders and some load already on the books (capped at capacity)
    start = datetime(2025, 1, 6, 6, tzinfo=UTC)
    finite_orders = [
        FiniteOrder(key=i, operations=ops, priority=prio, due=datetime(2025, 1, 7 + days, 14, tzinfo=UTC))
        for i, (ops, prio, days) in enumerate(orders)
    ]
    load = {k: min(v, Decimal(WORK_CENTERS[k[0]].capacity_seconds(k[1])) / 3600) for k, v in load.items()}

    # when
    result = schedule_finite(orders=finite_orders, horizon_start=start, work_centers=WORK_CENTERS, existing_load=load)

    # then: per work center and day, existing + scheduled hours never exceed capacity
    used: dict[tuple[int, date], Decimal] = defaultdict(Decimal, load)
    count: dict[tuple[int, date], int] = defaultdict(int)
    for order in finite_orders:
        schedule = result[order.key]
        previous_end = start
        for op in schedule.operations:
            assert sum(op.day_hours.values(), Decimal(0)) == op.hours
            assert op.start >= previous_end  # operations run in sequence
            assert op.end >= op.start
            previous_end = op.end
            for day, hours in op.day_hours.items():
                used[(op.work_center_id, day)] += hours
                count[(op.work_center_id, day)] += 1
    for (wc_id, day), hours in used.items():
        capacity = Decimal(WORK_CENTERS[wc_id].capacity_seconds(day)) / 3600
        # each operation's day split is rounded to 0.0001 h; allow that much per operation
        assert hours <= capacity + Decimal("0.0001") * count[(wc_id, day)], (wc_id, day, hours, capacity)
