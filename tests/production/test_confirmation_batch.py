"""Group commit: pending confirmations post together, a refused one fails alone."""

from decimal import Decimal

import pytest

from inventory.models import StockBalance, StockMovement
from production import services
from production.enums import PostingStatus
from production.models import Confirmation, OrderReceived
from production.services import ConfirmationInput
from tests.inventory.helpers import assert_ledger_consistent
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


def _order(plant, planner, qty):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(qty), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner, force=True, reason="test batch")
    return order


def _confirm(order, planner, good):
    return services.confirmation_create(
        data=ConfirmationInput(operation_id=order.operations.get(sequence=20).pk, good_quantity=Decimal(good)),
        user=planner,
    )


def test_one_batch_posts_every_pending_confirmation_and_fails_only_the_short_one(
    plant, planner, django_capture_on_commit_callbacks
):
    plant.stock(back=7)  # 2 P-BACK per unit: enough for 1 + 2 units, not for 4 more
    # Reserved oldest first: the first and third orders' claims are backed, the short one's by
    # the 1 left (it may not take what backs the others').
    first, third = _order(plant, planner, 1), _order(plant, planner, 2)
    short = _order(plant, planner, 4)
    with django_capture_on_commit_callbacks(execute=False):
        a = _confirm(first, planner, 1)
        b = _confirm(short, planner, 4)
        c = _confirm(third, planner, 2)

    handled = services.confirmations_post_pending()

    assert handled == {a.pk: PostingStatus.POSTED, b.pk: PostingStatus.FAILED, c.pk: PostingStatus.POSTED}
    assert Confirmation.objects.get(pk=b.pk).posting_error["code"] == "insufficient_stock"
    assert not StockMovement.objects.filter(posting__document_line_id=b.pk).exists()
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).on_hand == Decimal(1)
    received = dict(OrderReceived.objects.values_list("order_id", "quantity"))
    assert received == {first.pk: Decimal(1), third.pk: Decimal(2)}
    first.refresh_from_db()
    assert first.received_quantity == Decimal(1)
    assert_ledger_consistent()


def test_posting_again_is_a_no_op_and_reversal_takes_the_receipt_back(
    plant, planner, django_capture_on_commit_callbacks
):
    plant.stock()
    order = _order(plant, planner, 5)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = _confirm(order, planner, 3)
    services.confirmation_post(confirmation_id=confirmation.pk)
    movements = StockMovement.objects.count()

    assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.POSTED
    assert StockMovement.objects.count() == movements
    services.confirmation_reverse(confirmation_id=confirmation.pk, user=planner, reason="wrong order")

    order.refresh_from_db()
    assert order.received_quantity == 0
    assert_ledger_consistent()


def test_received_quantity_is_a_decimal_string_in_the_api_like_every_quantity(
    plant, planner, planner_api, django_capture_on_commit_callbacks
):
    plant.stock()
    order = _order(plant, planner, 5)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = _confirm(order, planner, 3)
    services.confirmation_post(confirmation_id=confirmation.pk)

    body = planner_api.get(f"/api/v1/production-orders/{order.pk}/").json()
    listed = planner_api.get("/api/v1/production-orders/").json()["results"]

    assert body["received_quantity"] == "3.0000"
    assert {o["id"]: o["received_quantity"] for o in listed}[order.pk] == "3.0000"


def test_a_receipt_into_a_generated_lot_stores_the_lot_number_on_its_confirmation(
    plant, planner, django_capture_on_commit_callbacks
):
    # Given lot-tracked output and three confirmations posted in one batch: one naming its
    # lot, one leaving it to the order number, one that receives nothing
    plant.finished.lot_tracked = True
    plant.finished.save(update_fields=["lot_tracked"])
    plant.stock()
    named, generated = _order(plant, planner, 5), _order(plant, planner, 5)
    with django_capture_on_commit_callbacks(execute=False):
        a = services.confirmation_create(
            data=ConfirmationInput(
                operation_id=named.operations.get(sequence=20).pk, good_quantity=Decimal(1), output_lot_number="L-7"
            ),
            user=planner,
        )
        b = _confirm(generated, planner, 2)
        c = services.confirmation_create(
            data=ConfirmationInput(
                operation_id=generated.operations.get(sequence=20).pk,
                scrap_quantity=Decimal(1),
                scrap_reason="material",
            ),
            user=planner,
        )

    # When the worker posts them
    handled = services.confirmations_post_pending()

    # Then each records the lot its receipt went into (none where nothing was received)
    assert set(handled.values()) == {PostingStatus.POSTED}
    lots = dict(Confirmation.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list("pk", "output_lot_number"))
    assert lots == {a.pk: "L-7", b.pk: generated.number, c.pk: ""}
    assert set(
        StockMovement.objects.filter(posting__document_line_id=b.pk, item=plant.finished).values_list(
            "lot__lot_number", flat=True
        )
    ) == {generated.number}
    assert_ledger_consistent()
