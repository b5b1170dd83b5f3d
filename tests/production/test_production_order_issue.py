from decimal import Decimal

import pytest

from config.exceptions import InsufficientStock, ValidationFailed
from inventory.models import Reservation, StockBalance, StockMovement
from production import services
from production.services import IssueLine
from tests.inventory.helpers import assert_ledger_consistent
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def released(plant, planner):
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(10), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    return order


def test_manual_issue_of_a_lot_part_picks_first_expiry_first_and_consumes_the_reservation(plant, planner, released):
    component = released.components.get(item=plant.part_lot)

    services.production_order_issue(
        order_id=released.pk,
        user=planner,
        lines=[IssueLine(quantity=Decimal("5.5"), component_id=component.pk)],
    )

    moves = StockMovement.objects.filter(
        posting__document_type="production_order", posting__document_id=released.pk, item=plant.part_lot
    )
    assert [(m.lot.lot_number, m.quantity) for m in moves] == [("LOT-EARLY", Decimal("-5.5"))]
    component.refresh_from_db()
    assert component.issued_quantity == Decimal("5.5")
    reservation = Reservation.objects.get(pk=component.reservation_id)
    assert reservation.consumed_quantity == Decimal("5.5")
    assert_ledger_consistent()


def test_issue_spanning_two_lots(plant, planner, released):
    component = released.components.get(item=plant.part_lot)

    services.production_order_issue(
        order_id=released.pk, user=planner, lines=[IssueLine(quantity=Decimal(40), component_id=component.pk)]
    )

    moves = StockMovement.objects.filter(
        posting__document_type="production_order", posting__document_id=released.pk, item=plant.part_lot
    ).order_by("pk")
    assert [(m.lot.lot_number, m.quantity) for m in moves] == [
        ("LOT-EARLY", Decimal(-30)),
        ("LOT-LATE", Decimal(-10)),
    ]
    assert_ledger_consistent()


def test_return_puts_stock_back_and_cannot_exceed_what_was_issued(plant, planner, released):
    fwd = released.components.get(item=plant.part_fwd)  # 10 issued at release

    services.production_order_issue(
        order_id=released.pk, user=planner, lines=[IssueLine(quantity=Decimal(-4), component_id=fwd.pk)]
    )
    with pytest.raises(ValidationFailed) as error:
        services.production_order_issue(
            order_id=released.pk, user=planner, lines=[IssueLine(quantity=Decimal(-7), component_id=fwd.pk)]
        )

    assert error.value.code == "return_exceeds_issued"
    fwd.refresh_from_db()
    assert fwd.issued_quantity == Decimal(6)
    assert StockBalance.objects.get(item=plant.part_fwd, location=plant.rm).on_hand == Decimal(94)
    assert_ledger_consistent()


def test_extra_consumption_of_an_unplanned_item_adds_a_component(plant, planner, released):
    services.production_order_issue(
        order_id=released.pk, user=planner, lines=[IssueLine(quantity=Decimal(3), item_id=plant.part_fwd.pk)]
    )
    from tests.inventory.factories import ItemFactory
    from tests.inventory.helpers import receive

    glue = ItemFactory(sku="GLUE")
    receive(glue, plant.rm, 5)

    services.production_order_issue(
        order_id=released.pk, user=planner, lines=[IssueLine(quantity=Decimal(2), item_id=glue.pk)]
    )

    added = released.components.get(item=glue)
    assert added.required_quantity == 0 and added.issued_quantity == Decimal(2)
    assert_ledger_consistent()


def test_issue_beyond_stock_is_refused_and_nothing_written(plant, planner, released):
    before = StockMovement.objects.count()

    with pytest.raises(InsufficientStock):
        services.production_order_issue(
            order_id=released.pk,
            user=planner,
            lines=[IssueLine(quantity=Decimal(500), item_id=plant.part_back.pk)],
        )

    assert StockMovement.objects.count() == before
    assert_ledger_consistent()
