"""Shortages of released orders: the order page, the dashboard and the availability API read
the same selector, and a reservation only covers a need as far as stock on hand backs it."""

from decimal import Decimal

import pytest
from django.test import Client

from config.roles import Role
from production import services
from tests.inventory.helpers import receive
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def planner_client(user_with_role) -> Client:
    client = Client()
    client.force_login(user_with_role(Role.PLANNER))
    return client


def _forced(plant, planner, quantity=5):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(quantity), due_date=in_days(10), user=planner
    )
    return services.production_order_release(order_id=order.pk, user=planner, force=True, reason="line is waiting")


def test_forced_release_on_too_little_stock_still_shows_the_shortage_everywhere(
    plant, planner, planner_client, planner_api
):
    # given 4 P-BACK on hand for an order of 5 that needs 10, released despite the shortage
    plant.stock(back=4)
    order = _forced(plant, planner)

    # when the planner looks at the order page, the dashboard and the API
    page = planner_client.get(f"/production/orders/{order.pk}/")
    dashboard = planner_client.get("/")
    api = planner_api.get(f"/api/v1/production-orders/{order.pk}/availability/").json()

    # then P-BACK is 6 short everywhere: its 10 reserved are backed by only 4 on hand
    rows = {c.item.sku: a for c, a in page.context["rows"]}
    assert rows["P-BACK"].reserved_for_order == 10
    assert rows["P-BACK"].reserved_on_hand == 4
    assert rows["P-BACK"].available == 4
    assert rows["P-BACK"].short == 6
    assert all(a.short == 0 for sku, a in rows.items() if sku != "P-BACK")
    html = page.content.decode()
    assert '<strong class="bad">6</strong>' in html
    shortages = {s.order.pk: s.short_skus for s in dashboard.context["shortages"]}
    assert shortages == {order.pk: ["P-BACK"]}
    assert "Every released order has its components" not in dashboard.content.decode()
    assert api["ready"] is False
    by_sku = {c["sku"]: c for c in api["components"]}
    assert by_sku["P-BACK"]["short"] == "6.0000"
    assert by_sku["P-BACK"]["available"] == "4.0000"
    assert by_sku["P-BACK"]["reserved_on_hand"] == "4.0000"


def test_forced_release_with_nothing_on_hand_is_short_by_the_whole_requirement(plant, planner, planner_client):
    # given no P-BACK at all (the forward-flushed part is there) and a forced release
    receive(plant.part_fwd, plant.rm, 10)
    order = _forced(plant, planner, quantity=1)

    # when the order page is shown
    rows = {c.item.sku: a for c, a in planner_client.get(f"/production/orders/{order.pk}/").context["rows"]}

    # then nothing is available to it: available 0, not the negative on hand − reserved
    assert (rows["P-BACK"].available, rows["P-BACK"].short) == (0, 2)


def test_an_order_released_first_keeps_its_stock_and_the_forced_one_is_short(plant, planner, planner_client):
    # given 10 P-BACK, all reserved by an order released first, then a second order forced onto it
    plant.stock(back=10)
    first = services.production_order_release(
        order_id=services.production_order_create(
            item_id=plant.finished.pk, quantity=Decimal(5), due_date=in_days(10), user=planner
        ).pk,
        user=planner,
    )
    second = _forced(plant, planner, quantity=2)

    # when the dashboard is shown
    shortages = {s.order.pk: s.short_skus for s in planner_client.get("/").context["shortages"]}

    # then the stock on hand backs the older reservation: only the forced order is short
    assert shortages == {second.pk: ["P-BACK"]}
    assert first.pk not in shortages


def test_dashboard_shortages_cost_the_same_queries_for_one_and_for_many_orders(
    plant, planner, planner_client, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plant.stock(back=1)
    _forced(plant, planner, quantity=1)
    planner_client.get("/")
    with CaptureQueriesContext(connection) as one:
        assert len(planner_client.get("/").context["shortages"]) == 1
    for _ in range(6):
        _forced(plant, planner, quantity=1)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(planner_client.get("/").context["shortages"]) == 7
