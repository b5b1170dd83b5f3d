from decimal import Decimal

import pytest

from config.exceptions import StateConflict
from inventory.models import StockBalance
from production import services
from production.enums import OrderStatus, PostingStatus
from production.models import Confirmation
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


def _reservation(order, item):
    from inventory.models import Reservation

    return Reservation.objects.get(pk=order.components.get(item=item).reservation_id)


def _reserved(plant, item):
    return StockBalance.objects.get(item=item, location=plant.rm, lot=None).reserved


@pytest.fixture
def posted(plant, planner, django_capture_on_commit_callbacks):
    """An order for 4 in progress: op 20 (the reporting point) confirmed for 2 and posted,
    its backflush consuming the order's reservations."""
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(4), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    last = order.operations.get(sequence=20)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(2)), user=planner
        )
    services.confirmation_post(confirmation_id=confirmation.pk)
    assert _reserved(plant, plant.part_back) == Decimal(4)  # 8 reserved, 4 consumed
    assert _reserved(plant, plant.part_in_phantom) == Decimal(6)  # 12 reserved, 6 consumed
    return order, confirmation


def test_a_reversal_reserves_again_for_the_open_order_what_it_puts_back(plant, planner, posted):
    order, confirmation = posted

    services.confirmation_reverse(confirmation_id=confirmation.pk, user=planner, reason="wrong operation")

    # The stock is back and reserved for the order again, as it was after release.
    assert _reserved(plant, plant.part_back) == Decimal(8)
    assert _reserved(plant, plant.part_in_phantom) == Decimal(12)
    for item, quantity in ((plant.part_back, 8), (plant.part_in_phantom, 12)):
        reservation = _reservation(order, item)
        assert (reservation.status, reservation.consumed_quantity) == ("open", 0)
        assert reservation.quantity == Decimal(quantity)
    assert_ledger_consistent()


def test_stock_put_back_by_a_reversal_is_not_free_for_another_document(plant, planner, posted):
    from config.exceptions import InsufficientStock
    from inventory.services import DocumentRef, PostingLine, stock_post

    _, confirmation = posted
    services.confirmation_reverse(confirmation_id=confirmation.pk, user=planner, reason="wrong operation")

    # 100 on hand, 8 reserved for the order: 92 free, not 96.
    with pytest.raises(InsufficientStock):
        stock_post(
            movement_type="issue",
            lines=[PostingLine(item_id=plant.part_back.pk, location_id=plant.rm.pk, quantity=Decimal(-93))],
            reference=DocumentRef(document_type="test", document_id=1),
            user=planner,
        )
    assert_ledger_consistent()


def test_the_worker_consumes_the_reservation_again_after_a_reversal(
    plant, planner, posted, django_capture_on_commit_callbacks
):
    order, confirmation = posted
    services.confirmation_reverse(confirmation_id=confirmation.pk, user=planner, reason="wrong quantity")

    with django_capture_on_commit_callbacks(execute=False):
        again = services.confirmation_create(
            data=ConfirmationInput(operation_id=order.operations.get(sequence=20).pk, good_quantity=Decimal(4)),
            user=planner,
        )
    services.confirmations_post_pending()

    assert Confirmation.objects.get(pk=again.pk).posting_status == PostingStatus.POSTED
    assert _reserved(plant, plant.part_back) == 0
    reservation = _reservation(order, plant.part_back)
    assert (reservation.status, reservation.consumed_quantity) == ("closed", Decimal(8))
    assert_ledger_consistent()


def test_a_reversal_reserves_again_only_what_the_component_still_needs(plant, planner, posted):
    order, confirmation = posted
    component = order.components.get(item=plant.part_back)
    # 6 more P-BACK issued by hand: the 4 still reserved and 2 beyond, 10 issued of 8 required.
    services.production_order_issue(
        order_id=order.pk, user=planner, lines=[services.IssueLine(quantity=Decimal(6), component_id=component.pk)]
    )
    assert _reserved(plant, plant.part_back) == 0

    services.confirmation_reverse(confirmation_id=confirmation.pk, user=planner, reason="wrong operation")

    # 4 come back, 6 issued of 8 required after the reversal: 2 reserved again, not 4.
    component.refresh_from_db()
    assert component.issued_quantity == Decimal(6)
    assert _reserved(plant, plant.part_back) == Decimal(2)
    reservation = _reservation(order, plant.part_back)
    assert (reservation.status, reservation.consumed_quantity) == ("open", Decimal(6))
    # The other component had no manual issue: all of it back.
    assert _reserved(plant, plant.part_in_phantom) == Decimal(12)
    assert_ledger_consistent()


def test_a_reversal_that_leaves_the_order_completed_reserves_nothing(
    plant, planner, django_capture_on_commit_callbacks
):
    # Given a completed order whose op 10 is a reporting point that flushed P-BACK
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(3), due_date=in_days(30), user=planner
    )
    order.operations.filter(sequence=10).update(reporting_point=True)
    services.production_order_release(order_id=order.pk, user=planner)
    first, last = order.operations.order_by("sequence")
    with django_capture_on_commit_callbacks(execute=False):
        middle = services.confirmation_create(
            data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(3), final=True), user=planner
        )
        final = services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(3), final=True), user=planner
        )
    services.confirmation_post(confirmation_id=final.pk)
    assert Confirmation.objects.get(pk=middle.pk).posting_status == PostingStatus.POSTED

    # When op 10's confirmation is reversed
    services.confirmation_reverse(confirmation_id=middle.pk, user=planner, reason="counted wrong")

    # Then the stock is back, the order stays completed and nothing is reserved for it
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).on_hand == Decimal(100)
    assert _reserved(plant, plant.part_back) == 0
    assert_ledger_consistent()


def test_reversing_the_final_confirmation_reopens_the_order_and_reserves_again(plant, planner, completed):
    order, final = completed
    assert _reserved(plant, plant.part_back) == 0

    services.confirmation_reverse(confirmation_id=final.pk, user=planner, reason="counted wrong")

    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
    assert _reserved(plant, plant.part_back) == Decimal(6)
    assert _reserved(plant, plant.part_in_phantom) == Decimal(9)
    assert _reservation(order, plant.part_back).status == "open"
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_a_reversal_and_the_posting_worker_on_the_same_reservations_at_once_keep_them_consistent(
    plant, planner, django_capture_on_commit_callbacks
):
    import threading

    from django.db import connection

    # Given an order with one posted confirmation (2 good) and one pending (3 good)
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(10), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    last = order.operations.get(sequence=20)
    with django_capture_on_commit_callbacks(execute=False):
        posted = services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(2)), user=planner
        )
    services.confirmation_post(confirmation_id=posted.pk)
    with django_capture_on_commit_callbacks(execute=False):
        pending = services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(3)), user=planner
        )
    barrier = threading.Barrier(2)
    errors = []

    def run(work):
        try:
            barrier.wait(5)
            work()
        except Exception as exc:  # the test reports whatever a thread hit
            errors.append(exc)
        finally:
            connection.close()

    # When the first is reversed while the worker posts the second
    threads = [
        threading.Thread(
            target=run,
            args=(lambda: services.confirmation_reverse(confirmation_id=posted.pk, user=planner, reason="wrong"),),
        ),
        threading.Thread(target=run, args=(services.confirmations_post_pending,)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    # Then both went through, whichever came first: 6 of 20 P-BACK consumed, 14 still reserved
    assert errors == []
    assert Confirmation.objects.get(pk=pending.pk).posting_status == PostingStatus.POSTED
    reservation = _reservation(order, plant.part_back)
    assert (reservation.status, reservation.consumed_quantity) == ("open", Decimal(6))
    assert _reserved(plant, plant.part_back) == Decimal(14)
    assert order.components.get(item=plant.part_back).issued_quantity == Decimal(6)
    assert_ledger_consistent()


def test_a_reversal_of_a_posted_confirmation_is_itself_posted_at_once(plant, planner, posted):
    _, confirmation = posted

    reversal = services.confirmation_reverse(confirmation_id=confirmation.pk, user=planner, reason="wrong operation")

    reversal.refresh_from_db()
    confirmation.refresh_from_db()
    assert reversal.posting_status == PostingStatus.POSTED
    assert reversal.posted_at is not None and reversal.posted_at >= confirmation.posted_at


def test_a_reversal_of_a_confirmation_that_posted_nothing_posts_nothing(plant, planner):
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(4), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    times_only = services.confirmation_create(
        data=ConfirmationInput(operation_id=order.operations.get(sequence=10).pk, labor_minutes=Decimal(15)),
        user=planner,
    )

    reversal = services.confirmation_reverse(confirmation_id=times_only.pk, user=planner, reason="wrong operator")

    reversal.refresh_from_db()
    assert (reversal.posting_status, reversal.posted_at) == (PostingStatus.NONE, None)


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reversal_needs_a_reason_and_without_one_nothing_is_written(plant, planner, posted, reason):
    from config.exceptions import ValidationFailed

    order, confirmation = posted

    with pytest.raises(ValidationFailed) as error:
        services.confirmation_reverse(confirmation_id=confirmation.pk, user=planner, reason=reason)

    assert error.value.code == "reason_required"
    assert list(error.value.fields) == ["reason"]
    assert not Confirmation.objects.filter(reversal_of=confirmation).exists()
    assert order.operations.get(sequence=20).confirmed_good == Decimal(2)
    assert StockBalance.objects.get(item=plant.finished, location=plant.fg).on_hand == Decimal(2)
    assert_ledger_consistent()


def test_the_reason_is_kept_on_the_reversal(plant, planner, posted):
    _, confirmation = posted

    reversal = services.confirmation_reverse(confirmation_id=confirmation.pk, user=planner, reason="  wrong order ")

    assert Confirmation.objects.get(pk=reversal.pk).reason == "wrong order"


def test_an_operator_may_not_reverse_even_at_their_own_work_center(plant, user_with_role, completed):
    from config.exceptions import Forbidden
    from production.models import Operator

    _, final = completed
    operator = user_with_role("operator")
    Operator.objects.create(user=operator, badge="B-REV").work_centers.add(final.work_center_id)

    with pytest.raises(Forbidden) as error:
        services.confirmation_reverse(confirmation_id=final.pk, user=operator, reason="miscounted")

    assert error.value.code == "not_allowed_to_reverse"
    assert not Confirmation.objects.filter(reversal_of=final).exists()
    assert_ledger_consistent()


def test_a_machine_may_reverse_what_it_confirmed(plant, user_with_role, completed):
    order, final = completed

    reversal = services.confirmation_reverse(
        confirmation_id=final.pk, user=user_with_role("integration"), reason="sensor double count"
    )

    assert reversal.reversal_of_id == final.pk
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
