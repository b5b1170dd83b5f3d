from decimal import Decimal

import pytest

from config.exceptions import StateConflict
from inventory.models import StockBalance
from production import services
from production.enums import OrderStatus, PostingStatus
from production.services import ConfirmationInput
from tests.inventory.helpers import assert_ledger_consistent
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed(plant, planner, django_capture_on_commit_callbacks):
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(3), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    first, last = order.operations.order_by("sequence")
    with django_capture_on_commit_callbacks(execute=False):
        services.confirmation_create(
            data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(3), final=True), user=planner
        )
        final = services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(3), final=True), user=planner
        )
    services.confirmation_post(confirmation_id=final.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    return order, final


def test_reversal_writes_opposite_movements_and_reopens_the_order(plant, planner, completed):
    order, final = completed

    reversal = services.confirmation_reverse(confirmation_id=final.pk, user=planner, reason="counted wrong")

    assert reversal.good_quantity == Decimal(-3)
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
    assert order.received_quantity == 0
    assert StockBalance.objects.get(item=plant.finished, location=plant.fg).on_hand == 0
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).on_hand == Decimal(100)
    assert order.components.get(item=plant.part_back).issued_quantity == 0
    last = order.operations.get(sequence=20)
    assert last.confirmed_good == 0 and last.status == "released"
    assert_ledger_consistent()

    # Work can be confirmed again after the reversal.
    again = services.confirmation_create(
        data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(3)), user=planner
    )
    assert again.posting_status == PostingStatus.PENDING


def test_a_reversal_cannot_be_reversed_and_nothing_is_reversed_twice(plant, planner, completed):
    _, final = completed
    reversal = services.confirmation_reverse(confirmation_id=final.pk, user=planner, reason="x")

    with pytest.raises(StateConflict) as twice:
        services.confirmation_reverse(confirmation_id=final.pk, user=planner, reason="x")
    with pytest.raises(StateConflict) as of_reversal:
        services.confirmation_reverse(confirmation_id=reversal.pk, user=planner, reason="x")

    assert twice.value.code == "already_reversed"
    assert of_reversal.value.code == "reversal_of_reversal"
    assert_ledger_consistent()


def test_reversing_a_receipt_already_shipped_is_refused_and_nothing_written(plant, planner, completed):
    from inventory.services import DocumentRef, PostingLine, stock_post

    order, final = completed
    stock_post(
        movement_type="delivery",
        lines=[PostingLine(item_id=plant.finished.pk, location_id=plant.fg.pk, quantity=Decimal(-3))],
        reference=DocumentRef(document_type="test", document_id=1),
        user=planner,
    )

    from config.exceptions import InsufficientStock

    with pytest.raises(InsufficientStock):
        services.confirmation_reverse(confirmation_id=final.pk, user=planner, reason="x")

    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert_ledger_consistent()
