"""Confirmations through the real Celery worker on real Redis: exact movements, exactly once."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from config.exceptions import Forbidden, StateConflict, ValidationFailed
from config.roles import Role
from inventory.models import StockBalance, StockMovement, StockPosting
from production import services
from production.enums import OperationStatus, OrderStatus, PostingStatus
from production.models import Confirmation, PostingOutbox
from production.services import ConfirmationInput
from tests.conftest import wait_until
from tests.inventory.helpers import assert_ledger_consistent
from tests.production.conftest import in_days


def _released(plant, planner, qty=10):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(qty), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    order.refresh_from_db()
    return order


def _ops(order):
    first, last = order.operations.order_by("sequence")
    return first, last


def _movements(order, confirmation):
    return sorted(
        (m.item.sku, m.quantity, m.movement_type)
        for m in StockMovement.objects.filter(
            posting__document_type="production_order",
            posting__document_id=order.pk,
            posting__document_line_id=confirmation.pk,
        ).select_related("item")
    )


@pytest.mark.celery
def test_confirming_the_reporting_point_backflushes_and_receives_exactly(plant, planner, celery_worker):
    plant.stock()
    order = _released(plant, planner)
    first, last = _ops(order)

    services.confirmation_create(data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(4)), user=planner)
    confirmation = services.confirmation_create(
        data=ConfirmationInput(
            operation_id=last.pk, good_quantity=Decimal(4), scrap_quantity=Decimal(1), scrap_reason="material"
        ),
        user=planner,
    )

    wait_until(lambda: Confirmation.objects.get(pk=confirmation.pk).posting_status == PostingStatus.POSTED)
    # op 20 is the reporting point: it flushes its own components and op 10's, for good + scrap = 5.
    assert _movements(order, confirmation) == [
        ("FIN", Decimal(4), "production_receipt"),
        ("P-BACK", Decimal(-10), "backflush"),  # 5 × 2
        ("P-PHA", Decimal(-15), "backflush"),  # 5 × 3 through the phantom
    ]
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
    assert order.received_quantity == Decimal(4)
    assert order.components.get(item=plant.part_back).issued_quantity == Decimal(10)
    # The backflush consumed the order's own reservation.
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).reserved == Decimal(10)
    assert StockBalance.objects.get(item=plant.finished, location=plant.fg).on_hand == Decimal(4)
    assert_ledger_consistent()


@pytest.mark.celery
def test_final_confirmation_of_the_last_operation_completes_the_order(plant, planner, celery_worker):
    plant.stock()
    order = _released(plant, planner, qty=2)
    first, last = _ops(order)

    services.confirmation_create(
        data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(2), final=True), user=planner
    )
    final = services.confirmation_create(
        data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(2), final=True, labor_minutes=Decimal(12)),
        user=planner,
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    wait_until(lambda: Confirmation.objects.get(pk=final.pk).posting_status == PostingStatus.POSTED)
    with pytest.raises(StateConflict) as error:
        services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(1)), user=planner
        )
    assert error.value.code == "order_not_open_for_confirmations"
    assert_ledger_consistent()


@pytest.mark.django_db
def test_the_same_posting_run_twice_posts_once(plant, planner, django_capture_on_commit_callbacks):
    plant.stock()
    order = _released(plant, planner)
    _, last = _ops(order)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(3)), user=planner
        )

    assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.POSTED
    assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.POSTED

    assert StockPosting.objects.filter(document_line_id=confirmation.pk).count() == 2  # backflush + receipt
    assert order.components.get(item=plant.part_back).issued_quantity == Decimal(6)
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_a_task_delivered_twice_at_once_posts_once(plant, planner, django_capture_on_commit_callbacks):
    plant.stock()
    order = _released(plant, planner)
    _, last = _ops(order)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(3)), user=planner
        )
    barrier = threading.Barrier(4)
    results = []

    def deliver():
        try:
            barrier.wait(5)
            results.append(services.confirmation_post(confirmation_id=confirmation.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert results == [PostingStatus.POSTED] * 4
    assert StockMovement.objects.filter(posting__document_line_id=confirmation.pk, item=plant.part_back).count() == 1
    assert order.components.get(item=plant.part_back).issued_quantity == Decimal(6)
    assert_ledger_consistent()


@pytest.mark.celery
def test_a_lost_task_is_recovered_by_the_sweeper(plant, planner, celery_worker, django_capture_on_commit_callbacks):
    plant.stock()
    order = _released(plant, planner)
    _, last = _ops(order)
    # The worker "dies" between the confirmation's commit and the posting: the task is never
    # queued, but the outbox row was committed with the confirmation.
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(2)), user=planner
        )
    assert PostingOutbox.objects.get(confirmation=confirmation).status == "pending"

    done = services.posting_outbox_sweep(older_than_seconds=0)

    assert done["requeued"] == 1
    wait_until(lambda: Confirmation.objects.get(pk=confirmation.pk).posting_status == PostingStatus.POSTED)
    assert_ledger_consistent()


@pytest.mark.django_db
def test_over_confirmation_is_refused_unless_within_tolerance(plant, planner, settings):
    plant.stock()
    order = _released(plant, planner, qty=10)
    first, _ = _ops(order)

    with pytest.raises(StateConflict) as error:
        services.confirmation_create(
            data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(11)), user=planner
        )
    assert error.value.code == "over_confirmation"
    assert str(error.value) == (
        f"Operation {first.sequence} of {order.number} would be confirmed for 11 of 10 (tolerance 0 %, at most 10); "
        "good quantity: at most 10 more."
    )

    settings.CONFIRMATION_TOLERANCE_PERCENT = "10"
    services.confirmation_create(data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(11)), user=planner)
    first.refresh_from_db()
    assert first.confirmed_good == Decimal(11)

    # Full: the message says nothing more fits, not "at most 0.0000 more".
    with pytest.raises(StateConflict) as error:
        services.confirmation_create(
            data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(1)), user=planner
        )
    assert error.value.fields == {"good_quantity": ["nothing more: it has its full quantity"]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"good_quantity": Decimal(-1)}, "invalid_quantity"),
        ({}, "empty_confirmation"),
        ({"scrap_quantity": Decimal(1)}, "scrap_reason_required"),
    ],
)
def test_bad_confirmations_are_refused_and_nothing_written(plant, planner, data, code):
    plant.stock()
    order = _released(plant, planner)
    first, _ = _ops(order)

    with pytest.raises(ValidationFailed) as error:
        services.confirmation_create(data=ConfirmationInput(operation_id=first.pk, **data), user=planner)

    assert error.value.code == code
    assert not Confirmation.objects.exists()
    first.refresh_from_db()
    assert first.status == OperationStatus.RELEASED


@pytest.mark.django_db
def test_a_planned_order_takes_no_confirmation(plant, planner):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(30), user=planner
    )

    with pytest.raises(StateConflict):
        services.confirmation_create(
            data=ConfirmationInput(operation_id=order.operations.first().pk, good_quantity=Decimal(1)),
            user=planner,
        )


@pytest.mark.django_db
def test_operators_confirm_only_at_their_work_centers(plant, planner, user_with_role):
    from production.models import Operator

    plant.stock()
    order = _released(plant, planner)
    first, last = _ops(order)
    user = user_with_role(Role.OPERATOR)
    Operator.objects.create(user=user, badge="B-1").work_centers.add(plant.wc_a)

    services.confirmation_create(data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(1)), user=user)
    with pytest.raises(Forbidden):
        services.confirmation_create(data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(1)), user=user)


@pytest.mark.django_db
def test_backflush_rounds_on_cumulative_quantities(plant, planner):
    from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory
    from tests.inventory.helpers import receive
    from tests.planning.factories import RoutingFactory, RoutingOperationFactory

    half = ItemFactory(sku="HALF")  # pcs, 0 decimals, half a piece per unit
    receive(half, plant.rm, 10)
    product = ItemFactory(sku="PROD", procurement="make", item_type="finished")
    BomLineFactory(bom=BomFactory(item=product), component=half, quantity=Decimal("0.5"), flushing="backward")
    RoutingOperationFactory(routing=RoutingFactory(item=product), work_center=plant.wc_a, sequence=10)
    order = services.production_order_create(
        item_id=product.pk, quantity=Decimal(4), due_date=in_days(20), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    operation = order.operations.get()

    flushed = []
    for _ in range(4):
        c = services.confirmation_create(
            data=ConfirmationInput(operation_id=operation.pk, good_quantity=Decimal(1)), user=planner
        )
        services.confirmation_post(confirmation_id=c.pk)
        flushed.append(c.outbox.payload["backflush"][0]["quantity"] if c.outbox.payload["backflush"] else "0")

    # 0.5 → 1 (half up), 1.0 → 1, 1.5 → 2, 2.0 → 2: differences of the cumulative figures.
    assert [Decimal(q) for q in flushed] == [Decimal(1), Decimal(0), Decimal(1), Decimal(0)]
    assert order.components.get().issued_quantity == Decimal(2)
    assert_ledger_consistent()


@pytest.mark.django_db
@pytest.mark.parametrize("sequence", [10, 20])
@pytest.mark.parametrize(
    ("field", "data"),
    [
        ("good_quantity", {"good_quantity": Decimal("0.1")}),
        ("scrap_quantity", {"scrap_quantity": Decimal("0.5"), "scrap_reason": "material"}),
        ("rework_quantity", {"rework_quantity": Decimal("1.25")}),
    ],
)
def test_fractions_of_a_unit_counted_in_whole_units_are_refused_and_nothing_written(
    plant, planner, sequence, field, data
):
    # Given an order for FIN, counted in pcs (0 decimals)
    plant.stock()
    order = _released(plant, planner)
    operation = order.operations.get(sequence=sequence)

    # When a fraction of a piece is confirmed, on a middle or on the last operation
    with pytest.raises(ValidationFailed) as error:
        services.confirmation_create(data=ConfirmationInput(operation_id=operation.pk, **data), user=planner)

    # Then it is refused naming the field, and nothing is written
    assert error.value.code == "too_many_decimals"
    assert list(error.value.fields) == [field]
    assert "pcs" in error.value.message and "0 decimals" in error.value.message
    assert not Confirmation.objects.exists() and not PostingOutbox.objects.exists()
    operation.refresh_from_db()
    assert operation.status == OperationStatus.RELEASED
    assert operation.confirmed_good == operation.confirmed_scrap == operation.confirmed_rework == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED


@pytest.mark.django_db
def test_whole_units_written_with_trailing_zeros_and_fractions_of_a_decimal_unit_are_accepted(plant, planner):
    from tests.inventory.factories import UnitFactory

    plant.stock()
    order = _released(plant, planner)
    first, _ = _ops(order)

    # "2.0000" is how the API's decimal field hands over 2 pieces.
    services.confirmation_create(
        data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal("2.0000")), user=planner
    )
    plant.finished.uom = UnitFactory(code="kg", decimals=3)
    plant.finished.save(update_fields=["uom"])
    services.confirmation_create(
        data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal("0.125")), user=planner
    )
    with pytest.raises(ValidationFailed) as error:
        services.confirmation_create(
            data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal("0.0001")), user=planner
        )

    assert error.value.code == "too_many_decimals"
    first.refresh_from_db()
    assert first.confirmed_good == Decimal("2.125")


@pytest.mark.django_db
def test_a_backflushing_operation_reports_no_more_than_its_preceding_reporting_point_confirmed(
    plant, planner, django_capture_on_commit_callbacks
):
    # given an order whose op 10 is a reporting point too (it writes off what op 10 uses)
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(5), due_date=in_days(30), user=planner
    )
    order.operations.filter(sequence=10).update(reporting_point=True)
    services.production_order_release(order_id=order.pk, user=planner)
    first, last = _ops(order)

    # when the last operation is confirmed before op 10 has confirmed anything
    with pytest.raises(StateConflict) as error:
        services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(2)), user=planner
        )

    # then it is refused, saying which operation must confirm first, and nothing is written
    assert error.value.code == "exceeds_preceding_operation"
    assert str(error.value) == (
        f"Operation 20 of {order.number} would report 2 pieces, but the reporting point before it, operation 10, "
        "has confirmed 0 good; confirm operation 10 first (its confirmation writes off the material up to it)."
    )
    assert not Confirmation.objects.filter(order=order).exists()

    # and once op 10 has confirmed 3 good, op 20 takes up to 3 pieces, scrap included
    with django_capture_on_commit_callbacks(execute=False):
        services.confirmation_create(
            data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(3)), user=planner
        )
        services.confirmation_create(
            data=ConfirmationInput(
                operation_id=last.pk, good_quantity=Decimal(2), scrap_quantity=Decimal(1), scrap_reason="machine"
            ),
            user=planner,
        )
    with pytest.raises(StateConflict) as error:
        services.confirmation_create(
            data=ConfirmationInput(operation_id=last.pk, good_quantity=Decimal(1)), user=planner
        )
    assert error.value.fields == {"good_quantity": ["at most 0 (good + scrap) until operation 10 confirms more"]}
