"""Shortage at backflush: never negative, never half-posted, queued and retried."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from inventory.models import StockBalance, StockMovement
from production import services
from production.enums import OutboxStatus, PostingStatus
from production.models import Confirmation, PostingOutbox, ProductionOrder
from production.services import ConfirmationInput
from tests.conftest import wait_until
from tests.inventory.helpers import assert_ledger_consistent, receive
from tests.production.conftest import in_days


def _force_released(plant, planner, qty):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(qty), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner, force=True, reason="test shortage")
    return order


@pytest.mark.django_db
def test_a_shortage_marks_the_posting_failed_with_the_list_and_posts_nothing(
    plant, planner, django_capture_on_commit_callbacks
):
    plant.stock(back=3)  # the order needs 2 P-BACK per unit
    order = _force_released(plant, planner, 5)
    last = order.operations.get(sequence=20)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(5)), user=planner
        )

    status = services.confirmation_post(confirmation_id=confirmation.pk)

    assert status == PostingStatus.FAILED
    confirmation.refresh_from_db()
    assert confirmation.posting_error["code"] == "insufficient_stock"
    assert "P-BACK" in confirmation.posting_error["message"]
    # Not half-posted: neither the P-PHA backflush nor the receipt went through.
    assert not StockMovement.objects.filter(posting__document_line_id=confirmation.pk).exists()
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).on_hand == Decimal(3)
    assert_ledger_consistent()


@pytest.mark.celery
def test_a_failed_posting_is_retried_when_the_stock_arrives(plant, planner, celery_worker):
    plant.stock(back=3)
    order = _force_released(plant, planner, 5)
    last = order.operations.get(sequence=20)
    confirmation = services.confirmation_create(
        data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(5)), user=planner
    )
    wait_until(lambda: Confirmation.objects.get(pk=confirmation.pk).posting_status == PostingStatus.FAILED)

    assert services.posting_outbox_sweep(older_than_seconds=0)["retried"] == 0  # still short
    receive(plant.part_back, plant.rm, 20)
    assert services.posting_outbox_sweep(older_than_seconds=0)["retried"] == 1

    wait_until(lambda: Confirmation.objects.get(pk=confirmation.pk).posting_status == PostingStatus.POSTED)
    assert PostingOutbox.objects.get(confirmation=confirmation).status == OutboxStatus.DONE
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_eight_terminals_confirming_against_scarce_stock_never_drive_it_negative(
    plant, planner, django_capture_on_commit_callbacks
):
    plant.stock(back=10)  # enough for exactly 5 units of output
    orders = [_force_released(plant, planner, 1) for _ in range(8)]
    confirmations = []
    for order in orders:
        with django_capture_on_commit_callbacks(execute=False):
            confirmations.append(
                services.confirmation_create(
                    data=ConfirmationInput(operation_id=order.operations.get(sequence=20).pk, good_quantity=Decimal(1)),
                    user=planner,
                )
            )
    barrier = threading.Barrier(8)
    results: dict[int, str] = {}

    def terminal(confirmation_id: int) -> None:
        try:
            barrier.wait(10)
            results[confirmation_id] = services.confirmation_post(confirmation_id=confirmation_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=terminal, args=(c.pk,)) for c in confirmations]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(results) == 8
    assert list(results.values()).count(PostingStatus.POSTED) == 5
    assert list(results.values()).count(PostingStatus.FAILED) == 3
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).on_hand == Decimal(0)
    assert_ledger_consistent()


@pytest.mark.django_db
def test_closing_an_order_with_failed_postings_is_refused(plant, planner, django_capture_on_commit_callbacks):
    from config.exceptions import StateConflict

    plant.stock(back=1)
    order = _force_released(plant, planner, 2)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(operation_id=order.operations.get(sequence=20).pk, good_quantity=Decimal(2)),
            user=planner,
        )
    services.confirmation_post(confirmation_id=confirmation.pk)

    with pytest.raises(StateConflict) as error:
        services.production_order_close(order_id=order.pk, user=planner)

    assert error.value.code == "postings_open"


@pytest.mark.django_db
def test_a_failed_posting_lists_every_short_component_not_only_the_first(
    plant, planner, django_capture_on_commit_callbacks
):
    # 5 units need 10 P-BACK (at op 10) and 15 P-PHA (through the phantom, at op 20).
    plant.stock(back=3, phantom_part=2)
    order = _force_released(plant, planner, 5)
    last = order.operations.get(sequence=20)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(5)), user=planner
        )

    assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.FAILED

    error = Confirmation.objects.get(pk=confirmation.pk).posting_error
    assert error["code"] == "insufficient_stock"
    by_item = {s["item"]: s for s in error["shortages"]}
    assert set(by_item) == {plant.part_back.sku, plant.part_in_phantom.sku}
    # The order's own reservation counts as available to it.
    assert by_item[plant.part_back.sku] == {
        "item": plant.part_back.sku,
        "location": plant.rm.code,
        "needed": "10",
        "available": "3",
        "short": "7",
    }
    assert (by_item[plant.part_in_phantom.sku]["needed"], by_item[plant.part_in_phantom.sku]["available"]) == (
        "15",
        "2",
    )
    assert plant.part_back.sku in error["message"] and plant.part_in_phantom.sku in error["message"]
    assert error["message"].startswith("Insufficient stock: ") and error["message"].endswith(".")
    assert_ledger_consistent()


@pytest.mark.django_db
def test_stock_reserved_for_another_order_is_not_counted_as_available_in_the_shortage_list(
    plant, planner, settings, django_capture_on_commit_callbacks
):
    settings.CONFIRMATION_TOLERANCE_PERCENT = 50
    plant.stock(back=16)
    for quantity in (5, 3):  # reserve 10 and 6 P-BACK: all of it
        services.production_order_release(
            order_id=services.production_order_create(
                item_id=plant.finished.pk, quantity=Decimal(quantity), due_date=in_days(30), user=planner
            ).pk,
            user=planner,
        )
    order = ProductionOrder.objects.order_by("-pk").first()
    last = order.operations.get(sequence=20)
    with django_capture_on_commit_callbacks(execute=False):
        # 3 good and 1 scrapped need 8 P-BACK: 6 reserved for this order, 2 would be the other's.
        confirmation = services.confirmation_create(
            data=ConfirmationInput(
                operation_id=last.pk, good_quantity=Decimal(3), scrap_quantity=Decimal(1), scrap_reason="material"
            ),
            user=planner,
        )

    assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.FAILED

    [shortage] = Confirmation.objects.get(pk=confirmation.pk).posting_error["shortages"]
    assert (shortage["item"], shortage["needed"], shortage["available"]) == (plant.part_back.sku, "8", "6")
