"""Campaign orders: open for a period, confirmations beyond the target, no final
confirmation, closed by the planner with the plan restated for what was received, and a
periodic output and consumption report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.exceptions import StateConflict, ValidationFailed
from production import selectors, services
from production.models import Confirmation, ProductionOrder
from production.services import ConfirmationInput
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db
URL = "/api/v1/production-orders/"


def _monday(weeks_ahead: int) -> dt.date:
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=weeks_ahead)


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _campaign(plant, planner, *, quantity=21, start=None, end=None) -> ProductionOrder:
    start = start or _monday(1)
    return services.production_order_create(
        item_id=plant.finished.pk,
        quantity=Decimal(quantity),
        user=planner,
        is_campaign=True,
        campaign_start=start,
        campaign_end=end or start + dt.timedelta(days=20),
    )


def _confirm(operation, good, scrap=0, *, user, post=True, **extra) -> Confirmation:
    confirmation = services.confirmation_create(
        data=ConfirmationInput(
            operation_id=operation.pk,
            good_quantity=Decimal(good),
            scrap_quantity=Decimal(scrap),
            scrap_reason="material" if scrap else "",
            **extra,
        ),
        user=user,
    )
    if post:
        assert services.confirmation_post(confirmation_id=confirmation.pk) == "posted"
    return confirmation


# ------------------------------------------------------------------ create


def test_create_campaign_via_api_is_due_at_its_end(plant, planner_api):
    start, end = in_days(7), in_days(34)
    response = planner_api.post(
        URL,
        {
            "item_sku": "FIN",
            "quantity": "500",
            "is_campaign": True,
            "campaign_start": str(start),
            "campaign_end": str(end),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["is_campaign"] is True
    assert (body["campaign_start"], body["campaign_end"], body["due_date"]) == (str(start), str(end), str(end))
    # scheduled forward from the campaign's start, not backward from its end
    assert body["scheduled_start"].startswith(str(start)) or body["scheduled_start"] > str(start)
    assert body["scheduled_start"] < str(in_days(10))
    listed = planner_api.get(URL, {"is_campaign": "true"}).json()["results"]
    assert [o["id"] for o in listed] == [body["id"]]


@pytest.mark.parametrize(
    ("extra", "code", "fields"),
    [
        ({"is_campaign": True}, "campaign_period_required", {"campaign_start", "campaign_end"}),
        ({"is_campaign": True, "campaign_start": str(in_days(3))}, "campaign_period_required", {"campaign_end"}),
        (
            {"is_campaign": True, "campaign_start": str(in_days(9)), "campaign_end": str(in_days(3))},
            "invalid_campaign_period",
            {"campaign_end"},
        ),
        ({"campaign_start": str(in_days(3)), "due_date": str(in_days(9))}, "not_a_campaign", {"campaign_start"}),
        (
            {
                "is_campaign": True,
                "campaign_start": str(in_days(3)),
                "campaign_end": str(in_days(9)),
                "due_date": str(in_days(5)),
            },
            "campaign_due_date",
            {"due_date"},
        ),
        ({}, "invalid", {"due_date"}),
    ],
)
def test_create_campaign_refuses_a_bad_period_naming_the_field(plant, planner_api, extra, code, fields):
    response = planner_api.post(URL, {"item_sku": "FIN", "quantity": "5", **extra}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert set(response.json()["fields"]) == fields
    assert not ProductionOrder.objects.exists()


def test_the_database_refuses_a_campaign_without_a_valid_period(plant, planner):
    order = _campaign(plant, planner)
    plain = services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(9), user=planner)
    for qs, change in (
        (ProductionOrder.objects.filter(pk=order.pk), {"campaign_end": order.campaign_start - dt.timedelta(days=1)}),
        (ProductionOrder.objects.filter(pk=order.pk), {"campaign_start": None}),
        (ProductionOrder.objects.filter(pk=order.pk), {"is_campaign": False}),
        (ProductionOrder.objects.filter(pk=plain.pk), {"campaign_start": in_days(1), "campaign_end": in_days(2)}),
        (ProductionOrder.objects.filter(pk=plain.pk), {"is_campaign": True}),
    ):
        with pytest.raises(IntegrityError, match="production_order_campaign_period"), transaction.atomic():
            qs.update(**change)


def test_edit_campaign_end_while_in_progress_but_start_only_while_planned(plant, planner, planner_api):
    plant.stock()
    order = _campaign(plant, planner)
    moved = planner_api.patch(
        f"{URL}{order.pk}/", {"campaign_start": str(order.campaign_start + dt.timedelta(days=1))}, format="json"
    )
    assert moved.status_code == 200, moved.json()
    services.production_order_release(order_id=order.pk, user=planner)
    _confirm(order.operations.get(sequence=10), 1, user=planner, post=False)
    order.refresh_from_db()
    assert order.status == "in_progress"

    later = order.campaign_end + dt.timedelta(days=14)
    response = planner_api.patch(
        f"{URL}{order.pk}/", {"campaign_end": str(later)}, format="json", HTTP_IF_MATCH=f'"{order.version}"'
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["campaign_end"], response.json()["due_date"]) == (str(later), str(later))

    refused = planner_api.patch(f"{URL}{order.pk}/", {"campaign_start": str(in_days(30))}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "order_locked"
    assert set(refused.json()["fields"]) == {"campaign_start"}
    early = planner_api.patch(
        f"{URL}{order.pk}/", {"campaign_end": str(order.campaign_start - dt.timedelta(days=2))}, format="json"
    )
    assert early.status_code == 400 and set(early.json()["fields"]) == {"campaign_end"}
    order.refresh_from_db()
    assert order.campaign_end == later


def test_reschedule_of_a_campaign_moves_its_end(plant, planner):
    order = _campaign(plant, planner)
    new_end = order.campaign_end + dt.timedelta(days=7)

    services.production_order_reschedule(order_id=order.pk, user=planner, due_date=new_end)

    order.refresh_from_db()
    assert order.campaign_end == order.due_date == new_end


# ------------------------------------------------------------------ confirmations


def test_campaign_confirmations_may_exceed_the_quantity(plant, planner, planner_api):
    plant.stock(back=200, phantom_part=200)
    order = _campaign(plant, planner, quantity=3)
    plain = services.production_order_create(item_id=plant.finished.pk, quantity=3, due_date=in_days(9), user=planner)
    for o in (order, plain):
        services.production_order_release(order_id=o.pk, user=planner)

    over = {"good_quantity": "5"}
    refused = planner_api.post(
        "/api/v1/confirmations/", {"operation": plain.operations.get(sequence=10).pk, **over}, format="json"
    )
    accepted = planner_api.post(
        "/api/v1/confirmations/", {"operation": order.operations.get(sequence=10).pk, **over}, format="json"
    )

    assert refused.status_code == 409 and refused.json()["code"] == "over_confirmation"
    assert accepted.status_code == 201, accepted.json()
    assert order.operations.get(sequence=10).confirmed_good == Decimal(5)


def test_campaign_refuses_a_final_confirmation_and_writes_nothing(plant, planner, planner_api):
    plant.stock()
    order = _campaign(plant, planner)
    services.production_order_release(order_id=order.pk, user=planner)
    last = order.operations.get(sequence=20)

    response = planner_api.post(
        "/api/v1/confirmations/", {"operation": last.pk, "good_quantity": "21", "final": True}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "campaign_no_final"
    assert set(response.json()["fields"]) == {"final"}
    assert not Confirmation.objects.filter(order=order).exists()
    order.refresh_from_db()
    assert order.status == "released"
    with pytest.raises(ValidationFailed):
        services.confirmation_create(data=ConfirmationInput(operation_id=last.pk, final=True), user=planner)


def test_confirmation_post_on_a_campaign_costs_the_same_queries(plant, planner, django_assert_num_queries):
    """The campaign rules read what the lock statement loads: no query is added."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plant.stock(back=200, phantom_part=200)
    plain = services.production_order_create(item_id=plant.finished.pk, quantity=9, due_date=in_days(9), user=planner)
    order = _campaign(plant, planner, quantity=9)
    counts = []
    for o in (plain, order):
        services.production_order_release(order_id=o.pk, user=planner)
        operation = o.operations.get(sequence=20)
        _confirm(operation, 1, user=planner, post=False)  # first confirmation: the order goes in progress
        with CaptureQueriesContext(connection) as captured:
            _confirm(operation, 1, user=planner, post=False)
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


# ------------------------------------------------------------------ close


def test_close_campaign_from_in_progress_restates_planned_cost_for_what_it_received(plant, planner):
    plant.stock(back=200, phantom_part=200)
    order = _campaign(plant, planner, quantity=21)
    services.production_order_release(order_id=order.pk, user=planner)
    planned_at_release = {c.category: c.planned for c in order.costs.filter(cost_center=order.cost_center)}
    # 21 × (2 × P-BACK at 2 + 1 × P-FWD at 5 + 3 × P-PHA at 1) + 11.55 kg P-LOT at 10
    assert planned_at_release["material"] == Decimal("367.50")
    _confirm(order.operations.get(sequence=10), 25, user=planner, post=False)
    _confirm(order.operations.get(sequence=20), 23, user=planner)
    order.refresh_from_db()
    assert order.status == "in_progress" and order.received_quantity == Decimal(23)

    services.production_order_close(order_id=order.pk, user=planner, reason="campaign over")

    order.refresh_from_db()
    assert order.status == "closed"
    costs = {(c.category, c.cost_center_id): c for c in order.costs.all()}
    material = costs[("material", order.cost_center_id)]
    # restated for 23 received: 23 × (4 + 5 + 3 + 0.55 × 10)
    assert material.planned == Decimal("402.50")
    assert material.variance == material.actual - material.planned
    wc_a, wc_b = plant.wc_a, plant.wc_b
    labor = sum(
        (c.planned for (cat, _), c in costs.items() if cat == "labor"),
        Decimal(0),
    )
    # setup stays fixed: (30 + 6 × 23) min at WC-A, 3 × 23 min at WC-B
    expected = (Decimal(30 + 6 * 23) / 60 * wc_a.labor_rate + Decimal(3 * 23) / 60 * wc_b.labor_rate).quantize(
        Decimal("0.01")
    )
    assert abs(labor - expected) <= Decimal("0.01")
    assert sum((c.planned for c in costs.values()), Decimal(0)) == Decimal(0)  # output credits the rest


def test_campaign_is_never_completed_by_confirmations(plant, planner):
    plant.stock(back=200, phantom_part=200)
    order = _campaign(plant, planner, quantity=2)
    services.production_order_release(order_id=order.pk, user=planner)
    _confirm(order.operations.get(sequence=10), 4, user=planner, post=False)
    _confirm(order.operations.get(sequence=20), 4, user=planner)
    order.refresh_from_db()
    assert order.status == "in_progress"
    with pytest.raises(StateConflict):
        services.production_order_cancel(order_id=order.pk, user=planner)


# ------------------------------------------------------------------ report


@pytest.fixture
def reported(plant, planner):
    """A 3-week campaign (next Monday + 20 days, target 21) released on its Tuesday; on its
    Wednesday 9 pieces through op 20 (8 good, 1 scrap), in its second week's Thursday 15 more
    good (beyond the target: 24 through op 20)."""
    plant.stock(back=200, phantom_part=200)
    start = _monday(1)
    order = _campaign(plant, planner, quantity=21, start=start)
    op10, op20 = order.operations.order_by("sequence")
    with mock.patch("django.utils.timezone.now", return_value=_at(start + dt.timedelta(days=1))):
        services.production_order_release(order_id=order.pk, user=planner)
    with mock.patch("django.utils.timezone.now", return_value=_at(start + dt.timedelta(days=2))):
        _confirm(op10, 9, user=planner, post=False)
        _confirm(op20, 8, 1, user=planner)
    with mock.patch("django.utils.timezone.now", return_value=_at(start + dt.timedelta(days=10))):
        _confirm(op10, 20, user=planner, post=False)
        _confirm(op20, 15, user=planner)
    order.refresh_from_db()
    return order


def test_campaign_report_by_week_gives_exact_output_and_consumption(reported, planner_api):
    start = reported.campaign_start
    response = planner_api.get(f"{URL}{reported.pk}/campaign-report/", {"bucket": "week"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["bucket"], body["target"], body["good"], body["scrap"]) == ("week", "21.0000", "23.0000", "1.0000")
    assert {c["item_sku"]: c["quantity"] for c in body["consumption"]} == {
        "P-BACK": "48.0000",
        "P-FWD": "21.0000",
        "P-PHA": "72.0000",
    }
    periods = [
        (
            p["start"],
            p["end"],
            p["target"],
            p["good"],
            p["scrap"],
            {c["item_sku"]: c["quantity"] for c in p["consumption"]},
        )
        for p in body["periods"]
    ]
    week = dt.timedelta(days=7)
    # every week up to the last activity (the campaign has not begun today)
    assert periods == [
        (
            str(start),
            str(start + week - dt.timedelta(days=1)),
            "7.0000",
            "8.0000",
            "1.0000",
            {"P-BACK": "18.0000", "P-FWD": "21.0000", "P-PHA": "27.0000"},
        ),
        (
            str(start + week),
            str(start + 2 * week - dt.timedelta(days=1)),
            "7.0000",
            "15.0000",
            "0.0000",
            {"P-BACK": "30.0000", "P-PHA": "45.0000"},
        ),
    ]


def test_campaign_report_by_day_and_month(reported):
    start = reported.campaign_start
    by_day = selectors.production_order_campaign_report(order=reported, bucket="day")
    active = {p.start: (p.good, p.scrap) for p in by_day.periods if p.good or p.scrap}
    assert active == {start + dt.timedelta(days=2): (8, 1), start + dt.timedelta(days=10): (15, 0)}
    assert by_day.periods[0].start == start and by_day.periods[0].target == Decimal(1)

    by_month = selectors.production_order_campaign_report(order=reported, bucket="month")
    assert sum(p.good for p in by_month.periods) == Decimal(23)
    assert all(p.start.day == 1 for p in by_month.periods)
    assert sum(p.target for p in by_month.periods) == Decimal(21)


def test_campaign_report_nets_reversals(reported, planner):
    last = reported.confirmations.filter(operation__sequence=20).order_by("pk").last()
    with mock.patch("django.utils.timezone.now", return_value=_at(reported.campaign_start + dt.timedelta(days=11))):
        services.confirmation_reverse(confirmation_id=last.pk, user=planner, reason="counted twice")

    report = selectors.production_order_campaign_report(order=reported, bucket="week")

    assert [p.good for p in report.periods] == [Decimal(8), Decimal(0)]
    assert {c.sku: c.quantity for c in report.periods[1].consumption} == {"P-BACK": 0, "P-PHA": 0}


def test_campaign_report_costs_two_queries_however_long_and_busy(reported, plant, planner, django_assert_num_queries):
    with django_assert_num_queries(2):
        short = selectors.production_order_campaign_report(order=reported, bucket="week")
    # a longer campaign with activity in more weeks and one more component
    with mock.patch("django.utils.timezone.now", return_value=_at(reported.campaign_start + dt.timedelta(days=17))):
        services.production_order_issue(
            order_id=reported.pk,
            user=planner,
            lines=[
                services.IssueLine(
                    quantity=Decimal("1.5"), component_id=reported.components.get(item=plant.part_lot).pk
                )
            ],
        )
        _confirm(reported.operations.get(sequence=20), 2, user=planner)
    reported.refresh_from_db()
    with django_assert_num_queries(2):
        longer = selectors.production_order_campaign_report(order=reported, bucket="day")
    assert len(longer.periods) > len(short.periods) and len(longer.consumption) == len(short.consumption) + 1


def test_campaign_report_api_query_count_is_constant(reported, plant, planner, planner_api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        assert planner_api.get(f"{URL}{reported.pk}/campaign-report/?bucket=day").status_code == 200
    with mock.patch("django.utils.timezone.now", return_value=_at(reported.campaign_start + dt.timedelta(days=18))):
        _confirm(reported.operations.get(sequence=20), 3, user=planner)
    with CaptureQueriesContext(connection) as after:
        assert planner_api.get(f"{URL}{reported.pk}/campaign-report/?bucket=day").status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries)


def test_campaign_report_refuses_a_plain_order_and_a_bad_bucket(plant, planner, planner_api, viewer_api):
    plain = services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(9), user=planner)
    campaign = _campaign(plant, planner)

    not_campaign = planner_api.get(f"{URL}{plain.pk}/campaign-report/")
    bad_bucket = planner_api.get(f"{URL}{campaign.pk}/campaign-report/", {"bucket": "year"})

    assert not_campaign.status_code == 400 and not_campaign.json()["code"] == "not_a_campaign"
    assert bad_bucket.status_code == 400 and bad_bucket.json()["code"] == "invalid_bucket"
    assert set(bad_bucket.json()["fields"]) == {"bucket"}
    # a viewer reads it; an empty campaign lists its first period with nothing in it
    empty = viewer_api.get(f"{URL}{campaign.pk}/campaign-report/").json()
    assert empty["good"] == "0.0000" and len(empty["periods"]) == 1
