"""A campaign's remaining target is supply spread over the rest of its period, not one
receipt on its end date."""

from __future__ import annotations

from decimal import Decimal

import pytest

from planning.models import PlanningException
from planning.mrp.snapshot import campaign_supply, snapshot_load
from production import services
from tests.planning.mrp.conftest import TODAY, day, forecast, receipts_of, run_plan

pytestmark = pytest.mark.django_db


def test_campaign_supply_splits_evenly_by_week_and_adds_up():
    # 14 days from today: two weekly receipts of 7 days' worth each
    assert campaign_supply(Decimal(28), day(0), day(13), TODAY) == [(day(6), Decimal(14)), (day(13), Decimal(14))]
    # 10 days left of a campaign that started earlier: 7/10 and 3/10 of what is left
    assert campaign_supply(Decimal(10), day(-5), day(9), TODAY) == [(day(6), Decimal(7)), (day(9), Decimal(3))]
    # a campaign that starts later begins at its start; the rounding remainder goes last
    parts = campaign_supply(Decimal(100), day(10), day(30), TODAY)
    assert [d for d, _ in parts] == [day(16), day(23), day(30)]
    assert [q for _, q in parts] == [Decimal("33.3333"), Decimal("33.3333"), Decimal("33.3334")]
    # past its end: the rest, due on the end date (the run expedites it)
    assert campaign_supply(Decimal(5), day(-20), day(-2), TODAY) == [(day(-2), Decimal(5))]


def test_snapshot_spreads_a_campaigns_remaining_target_over_its_period(tree, planner):
    campaign = services.production_order_create(
        item_id=tree.fin.pk,
        quantity=Decimal(28),
        user=planner,
        is_campaign=True,
        campaign_start=TODAY,
        campaign_end=day(13),
    )
    plain = services.production_order_create(item_id=tree.fin.pk, quantity=5, due_date=day(13), user=planner)

    receipts = snapshot_load(today=TODAY).receipts[tree.fin.pk]

    assert sorted((r.source_id, r.date, r.quantity) for r in receipts) == sorted(
        [(campaign.pk, day(6), Decimal(14)), (campaign.pk, day(13), Decimal(14)), (plain.pk, day(13), Decimal(5))]
    )


def test_planning_run_covers_demand_by_the_campaigns_weekly_supply(tree, planner):
    # given a campaign making 28 over the next two weeks and demand of 14 in each of them
    services.production_order_create(
        item_id=tree.fin.pk,
        quantity=Decimal(28),
        user=planner,
        is_campaign=True,
        campaign_start=TODAY,
        campaign_end=day(13),
    )
    forecast(tree.fin, d6=14, d13=14)

    run_plan()

    # then nothing more of FIN is planned, and the campaign is not told to move or cancel
    assert receipts_of(tree.fin) == {}
    assert not PlanningException.objects.filter(item=tree.fin, source_type="production_order").exists()


def test_an_unneeded_campaign_gets_one_message_not_one_per_receipt(tree, planner):
    order = services.production_order_create(
        item_id=tree.fin.pk,
        quantity=Decimal(30),
        user=planner,
        is_campaign=True,
        campaign_start=TODAY,
        campaign_end=day(20),
    )

    run_plan()

    messages = PlanningException.objects.filter(source_type="production_order", source_id=order.pk)
    assert [(m.kind, m.date) for m in messages] == [("cancel", day(6))]


def test_a_campaign_demanded_earlier_is_pulled_in_once(tree, planner):
    order = services.production_order_create(
        item_id=tree.fin.pk,
        quantity=Decimal(21),
        user=planner,
        is_campaign=True,
        campaign_start=TODAY,
        campaign_end=day(20),
    )
    forecast(tree.fin, d2=21)

    run_plan()

    pulled = PlanningException.objects.filter(source_type="production_order", source_id=order.pk, kind="reschedule_in")
    assert pulled.count() == 1
    assert receipts_of(tree.fin) == {}
    assert pulled.get().suggested_date == day(2)
