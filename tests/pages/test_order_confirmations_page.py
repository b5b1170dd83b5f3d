"""The order page shows confirmations with their posting status and the lots the order
produced with what went into them; a planner reverses a confirmation from there."""

from decimal import Decimal

import pytest
from django.test import Client

from config.roles import Role
from production import services
from production.models import Confirmation
from production.services import ConfirmationInput
from tests.inventory.helpers import assert_ledger_consistent
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def confirmed(plant, planner, django_capture_on_commit_callbacks):
    plant.finished.lot_tracked = True
    plant.finished.save(update_fields=["lot_tracked"])
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(4), due_date=in_days(20), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    component = order.components.get(item=plant.part_lot)
    services.production_order_issue(
        order_id=order.pk, user=planner, lines=[services.IssueLine(quantity=Decimal(2), component_id=component.pk)]
    )
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(
                operation_id=order.operations.get(sequence=20).pk,
                good_quantity=Decimal(2),
                output_lot_number="FIN-LOT-1",
            ),
            user=planner,
        )
    services.confirmation_post(confirmation_id=confirmation.pk)
    return order, confirmation


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_order_page_shows_confirmations_and_lot_genealogy(confirmed, planner):
    order, confirmation = confirmed

    html = _client(planner).get(f"/production/orders/{order.pk}/").content.decode()

    assert "Confirmations and postings" in html
    assert f"<td>{confirmation.pk}" in html and "Posted" in html
    assert "FIN-LOT-1" in html and "P-LOT lot LOT-EARLY" in html  # the lot part went into the output lot
    assert "Reverse" in html


def test_planner_reverses_from_the_order_page_and_viewer_cannot(confirmed, planner, user_with_role):
    order, confirmation = confirmed
    viewer = user_with_role(Role.VIEWER)
    url = f"/production/orders/{order.pk}/confirmations/{confirmation.pk}/reverse/"

    viewer_page = _client(viewer).get(f"/production/orders/{order.pk}/").content.decode()
    assert 'data-open="dlg-reverse"' not in viewer_page
    assert _client(viewer).post(url, {"reason": "typo"}).status_code == 403
    planner_page = _client(planner).get(f"/production/orders/{order.pk}/").content.decode()
    assert 'data-open="dlg-reverse"' in planner_page and 'id="dlg-reverse"' in planner_page
    assert "reversed from the order page" not in planner_page
    without_reason = _client(planner).post(url, {"reason": "  "}, follow=True).content.decode()
    assert not Confirmation.objects.filter(reversal_of=confirmation).exists()
    assert "A reversal needs a reason" in without_reason
    response = _client(planner).post(url, {"reason": "booked on the wrong order"}, follow=True)

    assert Confirmation.objects.get(reversal_of=confirmation).reason == "booked on the wrong order"
    assert "Confirmation reversed" in response.content.decode()
    assert_ledger_consistent()


def test_order_page_queries_do_not_grow_with_confirmations(confirmed, planner, django_assert_max_num_queries):
    order, _ = confirmed
    client = _client(planner)
    with django_assert_max_num_queries(60) as one:
        client.get(f"/production/orders/{order.pk}/")
    first = order.operations.get(sequence=10)
    for _ in range(10):
        services.confirmation_create(
            data=ConfirmationInput(operation_id=first.pk, labor_minutes=Decimal(5)), user=planner
        )

    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(f"/production/orders/{order.pk}/")
