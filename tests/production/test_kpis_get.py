"""KPIs of a known week (``tests/production/kpi_scenario.py`` works every figure out by
hand), the filters, and nulls where there is nothing to measure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from config.exceptions import ValidationFailed
from production.kpis import kpis_get
from production.selectors import production_order_actual_costs
from tests.production.kpi_scenario import WEEK_FROM, WEEK_TO, build_week

D = Decimal


def _ratio(r) -> tuple:
    return (r.value, r.numerator, r.denominator)


@pytest.fixture
def week(plant, planner):
    return build_week(plant, planner)


def test_kpis_of_a_known_week(week, plant):
    kpis = kpis_get(date_from=WEEK_FROM, date_to=WEEK_TO)

    # A and E on time of A, B, E completed; only E inside its scheduled window (A started early)
    assert _ratio(kpis.on_time_completion) == (D("0.6667"), 2, 3)
    assert _ratio(kpis.schedule_adherence) == (D("0.3333"), 1, 3)
    assert _ratio(kpis.yield_rate) == (D("0.9412"), 32, 34)
    assert _ratio(kpis.scrap_rate) == (D("0.0588"), 2, 34)
    # 3, 5 and 2.5 days from release to completion
    assert (kpis.lead_time.average_days, kpis.lead_time.median_days, kpis.lead_time.count) == (D("3.50"), D("3.00"), 3)
    wip = kpis.wip
    assert (wip.value, wip.material, wip.conversion, wip.received, wip.count) == (
        D("9.25"),
        D("27.00"),
        D("19.00"),
        D("36.75"),
        1,
    )
    # the same figure as the order's own live costs
    assert sum(production_order_actual_costs(order=week.c).values()) == wip.value
    cv = kpis.cost_variance
    assert (cv.value, cv.percent, cv.planned, cv.actual, cv.count) == (
        D("-52.50"),
        D("-30.00"),
        D("175.00"),
        D("122.50"),
        1,
    )
    a, b = kpis.work_centers
    assert (a.work_center, b.work_center) == (plant.wc_a, plant.wc_b)
    assert (a.available_hours, a.setup_hours, a.run_hours, a.occupied_hours, a.standard_hours) == (
        D("40.00"),
        D("1.00"),
        D("1.95"),
        D("2.95"),
        D("1.70"),
    )
    assert (a.good, a.scrap) == (16, 1)
    assert _ratio(a.utilization) == (D("0.0738"), 177, 2400)
    assert _ratio(a.availability) == (D("0.0488"), 117, 2400)
    assert _ratio(a.performance) == (D("0.8718"), 102, 117)
    assert _ratio(a.quality) == (D("0.9412"), 16, 17)
    assert a.oee == D("0.0400")
    assert _ratio(b.utilization) == (D("0.0296"), 71, 2400)
    assert _ratio(b.availability) == (D("0.0296"), 71, 2400)
    assert _ratio(b.performance) == (D("0.9155"), 65, 71)
    assert _ratio(b.quality) == (D("0.9412"), 16, 17)
    assert b.oee == D("0.0255")  # 65/2400 × 16/17 = 0.025490...


def test_the_period_takes_only_what_happened_in_it(week):
    # Monday and Tuesday: A's two confirmations and its completion
    kpis = kpis_get(date_from=WEEK_FROM, date_to=dt.date(2025, 3, 4))

    assert _ratio(kpis.on_time_completion) == (D("1.0000"), 1, 1)
    assert _ratio(kpis.yield_rate) == (D("0.9474"), 18, 19)
    assert kpis.lead_time.median_days == D("3.00")
    assert kpis.cost_variance.count == 0 and kpis.cost_variance.value is None  # B closed on the 8th
    a, b = kpis.work_centers
    assert a.available_hours == D("16.00")
    assert _ratio(a.utilization) == (D("0.1094"), 105, 960)  # setup 30 + run 75 of 2 days × 8 h
    assert _ratio(b.quality) == (D("1.0000"), 9, 9)


def test_the_item_filter_narrows_every_figure_to_its_orders(week):
    kpis = kpis_get(date_from=WEEK_FROM, date_to=WEEK_TO, item_id=week.fin2.pk)

    assert kpis.item == week.fin2
    assert _ratio(kpis.on_time_completion) == (D("1.0000"), 1, 1)
    assert _ratio(kpis.schedule_adherence) == (D("1.0000"), 1, 1)
    assert _ratio(kpis.yield_rate) == (D("0.5000"), 1, 2)
    assert kpis.lead_time.average_days == kpis.lead_time.median_days == D("2.50")
    assert kpis.wip.value is None and kpis.wip.count == 0
    assert kpis.cost_variance.value is None
    _, b = kpis.work_centers
    assert _ratio(b.utilization) == (D("0.0083"), 20, 2400)
    assert _ratio(b.performance) == (D("1.0000"), 20, 20)


def test_the_work_center_filter_narrows_orders_and_confirmations(week, plant):
    kpis = kpis_get(date_from=WEEK_FROM, date_to=WEEK_TO, work_center_id=plant.wc_a.pk)

    assert kpis.work_center == plant.wc_a
    # orders with an operation at WC-A: A and B completed (E has none there)
    assert _ratio(kpis.on_time_completion) == (D("0.5000"), 1, 2)
    # confirmations at WC-A only
    assert _ratio(kpis.yield_rate) == (D("0.9412"), 16, 17)
    assert kpis.wip.value == D("9.25")
    assert kpis.cost_variance.value == D("-52.50")
    assert [row.work_center for row in kpis.work_centers] == [plant.wc_a]


def test_without_data_every_kpi_is_null_not_zero(plant):
    kpis = kpis_get(date_from=WEEK_FROM, date_to=WEEK_TO)

    for ratio in (kpis.on_time_completion, kpis.schedule_adherence, kpis.yield_rate, kpis.scrap_rate):
        assert ratio.value is None and ratio.denominator == 0
    assert (kpis.lead_time.average_days, kpis.lead_time.median_days, kpis.lead_time.count) == (None, None, 0)
    assert kpis.wip.value is None and kpis.cost_variance.value is None and kpis.cost_variance.percent is None
    a = kpis.work_centers[0]
    # the work center was available and did nothing: 0 % used, no output to judge
    assert _ratio(a.utilization) == (D("0.0000"), 0, 2400)
    assert a.performance.value is None and a.quality.value is None and a.oee is None


def test_the_default_period_is_the_last_30_days(plant):
    kpis = kpis_get()

    today = dt.date.today()
    assert (kpis.date_from, kpis.date_to) == (today - dt.timedelta(days=29), today)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"date_from": dt.date(2025, 3, 9), "date_to": dt.date(2025, 3, 3)}, "date_from"),
        ({"date_from": dt.date(2020, 1, 1), "date_to": dt.date(2025, 3, 3)}, "date_to"),
        ({"item_id": 0}, "item"),
        ({"work_center_id": 0}, "work_center"),
    ],
)
def test_invalid_filters_name_the_field(plant, kwargs, field):
    with pytest.raises(ValidationFailed) as error:
        kpis_get(**kwargs)

    assert list(error.value.fields) == [field]
