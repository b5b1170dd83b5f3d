"""Every allowed and every refused transition of the status table."""

from decimal import Decimal

import pytest

from config.exceptions import StateConflict
from inventory.models import Reservation
from production import services
from production.enums import ORDER_TRANSITIONS, OrderStatus
from production.models import ProductionOrder
from tests.inventory.helpers import assert_ledger_consistent
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db

ACTIONS = {
    OrderStatus.RELEASED: lambda pk, user: services.production_order_release(order_id=pk, user=user),
    OrderStatus.CANCELLED: lambda pk, user: services.production_order_cancel(order_id=pk, user=user),
    OrderStatus.CLOSED: lambda pk, user: services.production_order_close(order_id=pk, user=user),
}


def _order_in(plant, planner, status: str) -> ProductionOrder:
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(20), user=planner
    )
    if status != OrderStatus.PLANNED:
        # Put the order in the status directly: reaching every status through the services
        # needs confirmations, which have tests of their own.
        ProductionOrder.objects.filter(pk=order.pk).update(status=status)
    return order


@pytest.mark.parametrize("from_status", list(OrderStatus))
@pytest.mark.parametrize("to_status", list(ACTIONS))
def test_transition_table(plant, planner, from_status, to_status):
    order = _order_in(plant, planner, from_status)
    allowed = to_status in ORDER_TRANSITIONS[from_status]

    if allowed:
        ACTIONS[to_status](order.pk, planner)
        order.refresh_from_db()
        assert order.status == to_status
    else:
        with pytest.raises(StateConflict) as error:
            ACTIONS[to_status](order.pk, planner)
        assert error.value.code == "invalid_transition"
        order.refresh_from_db()
        assert order.status == from_status


def test_cancel_after_release_releases_reservations(plant, planner):
    plant.stock()
    order = services.production_order_create(item_id=plant.finished.pk, quantity=2, due_date=in_days(20), user=planner)
    # No forward-flushed parts on this order, so nothing is posted at release.
    order.components.filter(flushing="forward").update(flushing="manual")
    services.production_order_release(order_id=order.pk, user=planner)

    services.production_order_cancel(order_id=order.pk, user=planner, reason="customer withdrew")

    assert not Reservation.objects.filter(
        document_type="production_order", document_id=order.pk, status="open"
    ).exists()
    assert_ledger_consistent()


def test_cancel_with_postings_is_refused(plant, planner):
    plant.stock()
    order = services.production_order_create(item_id=plant.finished.pk, quantity=2, due_date=in_days(20), user=planner)
    services.production_order_release(order_id=order.pk, user=planner)  # issues the forward part

    with pytest.raises(StateConflict) as error:
        services.production_order_cancel(order_id=order.pk, user=planner)

    assert error.value.code == "has_postings"


def test_close_releases_reservations_and_fixes_variances(plant, planner):
    plant.stock()
    order = services.production_order_create(item_id=plant.finished.pk, quantity=2, due_date=in_days(20), user=planner)
    services.production_order_release(order_id=order.pk, user=planner)

    services.production_order_close(order_id=order.pk, user=planner, reason="short close")

    order.refresh_from_db()
    assert order.status == OrderStatus.CLOSED
    assert not Reservation.objects.filter(
        document_type="production_order", document_id=order.pk, status="open"
    ).exists()
    material = order.costs.get(category="material")
    assert material.actual == Decimal("10.0000")  # only the forward part (2 × 5) was consumed
    assert material.variance == material.actual - material.planned
    assert_ledger_consistent()


def test_every_write_to_a_closed_order_is_refused(plant, planner):
    order = _order_in(plant, planner, OrderStatus.CLOSED)

    with pytest.raises(StateConflict):
        services.production_order_update(order_id=order.pk, user=planner, quantity=Decimal(5))
    with pytest.raises(StateConflict):
        services.production_order_issue(
            order_id=order.pk,
            user=planner,
            lines=[services.IssueLine(quantity=1, item_id=plant.part_back.pk)],
        )
