from decimal import Decimal

import pytest

from config.exceptions import InsufficientStock, PreconditionFailed, ValidationFailed
from inventory.models import Reservation, StockBalance, StockMovement
from production import services
from production.models import ProductionOrder
from production.services import IssueLine
from tests.inventory.factories import ItemFactory
from tests.inventory.helpers import assert_ledger_consistent, receive
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


def test_issue_against_a_stale_version_is_refused_and_nothing_written(plant, planner, released):
    # given a version read before another planner changed the order
    glue = ItemFactory(sku="GLUE")
    receive(glue, plant.rm, 5)
    stale = released.version
    services.production_order_update(order_id=released.pk, user=planner, priority=released.priority + 1)
    component = released.components.get(item=plant.part_lot)
    movements, components = StockMovement.objects.count(), list(released.components.values())

    # when an issue of a listed component and of an unplanned item is sent with it
    with pytest.raises(PreconditionFailed) as error:
        services.production_order_issue(
            order_id=released.pk,
            user=planner,
            expected_version=stale,
            lines=[IssueLine(quantity=Decimal(2), component_id=component.pk), IssueLine(quantity=1, item_id=glue.pk)],
        )

    # then no stock moved and the components are as they were
    assert error.value.code == "stale_version"
    assert StockMovement.objects.count() == movements
    assert list(released.components.values()) == components
    assert_ledger_consistent()


def test_issue_of_listed_components_keeps_the_version(plant, planner, released):
    version = ProductionOrder.objects.get(pk=released.pk).version
    component = released.components.get(item=plant.part_lot)

    services.production_order_issue(
        order_id=released.pk,
        user=planner,
        expected_version=version,
        lines=[
            IssueLine(quantity=Decimal(2), component_id=component.pk),
            IssueLine(quantity=1, item_id=plant.part_fwd.pk),
        ],
    )

    assert ProductionOrder.objects.get(pk=released.pk).version == version


def test_issue_that_adds_unplanned_components_moves_the_version_once(plant, planner, released):
    # given two items the order does not list
    glue, tape = ItemFactory(sku="GLUE"), ItemFactory(sku="TAPE")
    receive(glue, plant.rm, 5)
    receive(tape, plant.rm, 5)
    version = ProductionOrder.objects.get(pk=released.pk).version

    # when one issue takes both
    services.production_order_issue(
        order_id=released.pk,
        user=planner,
        expected_version=version,
        lines=[IssueLine(quantity=1, item_id=glue.pk), IssueLine(quantity=1, item_id=tape.pk)],
    )

    # then the structure changed once: one new version, both components added
    assert ProductionOrder.objects.get(pk=released.pk).version == version + 1
    assert set(released.components.filter(required_quantity=0).values_list("item__sku", flat=True)) == {"GLUE", "TAPE"}


def test_return_gives_back_what_the_issue_took_from_the_reservation(plant, planner, released):
    # Given 5 of the 20 reserved P-BACK issued by hand (consuming 5 of the reservation)
    back = released.components.get(item=plant.part_back)
    services.production_order_issue(
        order_id=released.pk, user=planner, lines=[IssueLine(quantity=Decimal(5), component_id=back.pk)]
    )
    reservation = Reservation.objects.get(pk=back.reservation_id)
    assert reservation.consumed_quantity == Decimal(5)

    # When 3 are returned
    services.production_order_issue(
        order_id=released.pk, user=planner, lines=[IssueLine(quantity=Decimal(-3), component_id=back.pk)]
    )

    # Then they are reserved for the order again, not free for anyone
    reservation.refresh_from_db()
    assert reservation.consumed_quantity == Decimal(2) and reservation.status == "open"
    balance = StockBalance.objects.get(item=plant.part_back, location=plant.rm)
    assert (balance.on_hand, balance.reserved) == (Decimal(98), Decimal(18))
    assert_ledger_consistent()


def test_return_of_an_over_issue_reserves_nothing_beyond_the_need(plant, planner, released):
    # Given all 20 needed P-BACK issued and 4 more (the reservation is used up)
    back = released.components.get(item=plant.part_back)
    services.production_order_issue(
        order_id=released.pk, user=planner, lines=[IssueLine(quantity=Decimal(24), component_id=back.pk)]
    )

    # When the 4 extra come back, then 2 more
    services.production_order_issue(
        order_id=released.pk, user=planner, lines=[IssueLine(quantity=Decimal(-4), component_id=back.pk)]
    )
    reservation = Reservation.objects.get(pk=back.reservation_id)
    assert reservation.consumed_quantity == Decimal(20)  # nothing more is needed
    services.production_order_issue(
        order_id=released.pk, user=planner, lines=[IssueLine(quantity=Decimal(-2), component_id=back.pk)]
    )

    # Then only what the order still needs is reserved again
    reservation.refresh_from_db()
    assert reservation.consumed_quantity == Decimal(18) and reservation.status == "open"
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).reserved == Decimal(2)
    assert_ledger_consistent()
