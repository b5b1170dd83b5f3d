"""Campaign orders on the pages: created from the order form, the order page with its
period, overdue warning and weekly report, and the floor's operation page without the final
toggle."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from config.roles import Role
from production import services
from production.models import Operator, ProductionOrder, Terminal
from production.services import ConfirmationInput
from production.services.floor import operator_pin_set
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def planner_client(user_with_role) -> Client:
    client = Client()
    client.force_login(user_with_role(Role.PLANNER))
    return client


def _campaign(plant, planner, *, start, end, quantity=14) -> ProductionOrder:
    return services.production_order_create(
        item_id=plant.finished.pk,
        quantity=Decimal(quantity),
        user=planner,
        is_campaign=True,
        campaign_start=start,
        campaign_end=end,
    )


def test_order_create_page_creates_a_campaign(plant, planner_client):
    start, end = in_days(3), in_days(30)
    response = planner_client.post(
        "/production/orders/new/",
        {
            "item": plant.finished.pk,
            "quantity": "1000",
            "due_date": str(in_days(14)),  # prefilled by the page; a campaign is due at its end
            "priority": 5,
            "is_campaign": "on",
            "campaign_start": str(start),
            "campaign_end": str(end),
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    order = ProductionOrder.objects.get()
    assert (order.is_campaign, order.campaign_start, order.campaign_end, order.due_date) == (True, start, end, end)


def test_order_create_page_names_the_missing_campaign_field(plant, planner_client):
    response = planner_client.post(
        "/production/orders/new/",
        {
            "item": plant.finished.pk,
            "quantity": "10",
            "priority": 5,
            "is_campaign": "on",
            "campaign_start": str(in_days(3)),
        },
    )

    assert response.status_code == 400
    assert response.context["form"].errors["campaign_end"] == ["required for a campaign"]
    assert 'aria-invalid="true"' in response.content.decode()
    assert not ProductionOrder.objects.exists()


def test_order_page_shows_period_overdue_warning_and_weekly_report(plant, planner, planner_client):
    plant.stock(back=200, phantom_part=200)
    today = timezone.localdate()
    start, end = today - dt.timedelta(days=20), today - dt.timedelta(days=1)
    order = _campaign(plant, planner, start=start, end=end)
    services.production_order_release(order_id=order.pk, user=planner)
    op10, op20 = order.operations.order_by("sequence")
    for operation in (op10, op20):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(operation_id=operation.pk, good_quantity=Decimal(6)), user=planner
        )
        services.confirmation_post(confirmation_id=confirmation.pk)

    response = planner_client.get(f"/production/orders/{order.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f"{start:%Y-%m-%d} → {end:%Y-%m-%d}" in html
    assert 'id="campaign-overdue"' in html
    table = response.context["campaign"]
    monday = today - dt.timedelta(days=today.weekday())
    assert [p.start for p, _ in table["rows"]][-1] == monday  # posted today: this week's row
    assert table["report"].good == Decimal(6)
    assert [c.sku for c in table["columns"]] == ["P-BACK", "P-FWD", "P-PHA"]
    assert 'id="campaign-report"' in html

    # once closed the warning is gone
    services.production_order_close(order_id=order.pk, user=planner, reason="campaign over")
    assert 'id="campaign-overdue"' not in planner_client.get(f"/production/orders/{order.pk}/").content.decode()


def test_order_page_of_a_running_campaign_has_no_overdue_warning(plant, planner, planner_client):
    order = _campaign(plant, planner, start=in_days(-3), end=in_days(10))

    html = planner_client.get(f"/production/orders/{order.pk}/").content.decode()

    assert 'id="campaign-period"' in html and 'id="campaign-overdue"' not in html


def test_order_page_of_a_plain_order_has_no_campaign_parts(plant, planner, planner_client):
    order = services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(5), user=planner)

    response = planner_client.get(f"/production/orders/{order.pk}/")

    assert response.context["campaign"] is None
    assert 'id="campaign-period"' not in response.content.decode()


def test_floor_operation_page_hides_the_final_toggle_of_a_campaign(plant, planner, user_with_role):
    plant.stock()
    campaign = _campaign(plant, planner, start=in_days(0), end=in_days(20))
    plain = services.production_order_create(item_id=plant.finished.pk, quantity=3, due_date=in_days(9), user=planner)
    for order in (campaign, plain):
        services.production_order_release(order_id=order.pk, user=planner)
    terminal = Terminal.objects.create(code="T-1", name="Line tablet")
    terminal.work_centers.add(plant.wc_a, plant.wc_b)
    operator = Operator.objects.create(user=user_with_role(Role.OPERATOR), badge="4711")
    operator.work_centers.add(plant.wc_a, plant.wc_b)
    operator_pin_set(operator_id=operator.pk, pin="2468")
    client = Client()
    client.cookies["floor_terminal"] = signing.dumps(terminal.pk, salt="floor-terminal")
    client.post("/floor/", {"badge": "4711", "pin": "2468"})

    campaign_page = client.get(f"/floor/operations/{campaign.operations.get(sequence=20).pk}/")
    plain_page = client.get(f"/floor/operations/{plain.operations.get(sequence=20).pk}/")

    assert campaign_page.status_code == plain_page.status_code == 200
    assert 'name="final"' not in campaign_page.content.decode()
    assert 'id="campaign-note"' in campaign_page.content.decode()
    assert 'name="final"' in plain_page.content.decode()

    # and the queue shows the campaign's progress against its target, never "ready to finish"
    services.confirmation_create(
        data=ConfirmationInput(operation_id=campaign.operations.get(sequence=10).pk, good_quantity=Decimal(20)),
        user=planner,
    )
    queue = client.get("/floor/queue/")
    entries = {e.operation.pk: e for e in queue.context["entries"]}
    assert not entries[campaign.operations.get(sequence=10).pk].ready_to_finish
    assert "Campaign: 20 of 14 pcs" in queue.content.decode()
