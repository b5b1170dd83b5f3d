"""Splitting a quantity off a production order into an order of its own: same item, BOM and
routing, structure copied and scaled, rescheduled, reservations divided; refused once
anything is posted and for quantities that leave nothing or everything."""

from __future__ import annotations

from decimal import Decimal

import pytest

from config.exceptions import PreconditionFailed, StateConflict, ValidationFailed
from inventory.enums import ReservationStatus
from inventory.models import Reservation, StockBalance
from planning.models import CapacityRequirement
from production import services
from production.enums import OrderStatus
from production.models import OrderCost, OrderStatusChange, ProductionOrder
from production.services import ConfirmationInput
from tests.inventory.helpers import assert_ledger_consistent, receive
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


def _order(item, planner, qty, **extra) -> ProductionOrder:
    return services.production_order_create(
        item_id=item.pk, quantity=Decimal(qty), due_date=in_days(30), user=planner, **extra
    )


def _state(order) -> tuple:
    return (
        ProductionOrder.objects.filter(pk=order.pk).values("status", "quantity", "version").get(),
        ProductionOrder.objects.count(),
        OrderStatusChange.objects.count(),
    )


def test_production_order_split_moves_the_quantity_into_a_new_order(plant, planner):
    # given a planned order of 10
    order = _order(plant.finished, planner, 10, priority=3, sales_order_line_id=None)

    # when 4 are split off, due later
    new = services.production_order_split(
        order_id=order.pk, quantity=Decimal(4), due_date=in_days(45), user=planner, reason="second batch"
    )

    # then the new order is a copy for 4 with its own number, linked to its origin
    order.refresh_from_db()
    assert order.quantity == Decimal(6)
    assert new.quantity == Decimal(4)
    assert new.number != order.number
    assert new.split_from_id == order.pk
    assert (new.item_id, new.bom_id, new.routing_id, new.order_type, new.status, new.priority) == (
        order.item_id,
        order.bom_id,
        order.routing_id,
        order.order_type,
        OrderStatus.PLANNED,
        3,
    )
    assert new.due_date == in_days(45)
    # both structures scaled from the order's own copy
    required = {c.item.sku: c.required_quantity for c in new.components.select_related("item")}
    assert required == {"P-BACK": Decimal(8), "P-FWD": Decimal(4), "P-PHA": Decimal(12), "P-LOT": Decimal("2.2")}
    assert order.components.get(item=plant.part_back).required_quantity == Decimal(12)
    assert list(new.operations.values_list("sequence", "work_center_id")) == list(
        order.operations.values_list("sequence", "work_center_id")
    )
    # both scheduled, each with its own capacity
    assert new.scheduled_end is not None
    assert CapacityRequirement.objects.filter(source_type="production_order", source_id=new.pk).exists()
    # the audit trail of both says what happened
    assert new.status_changes.get().reason == f"Split from {order.number}: second batch"
    assert order.status_changes.get().reason == f"Split 4 off into {new.number}: second batch"


def test_splitting_a_released_order_divides_its_reservations(simple, plant, planner):
    receive(plant.part_back, plant.rm, 100)
    order = services.production_order_release(order_id=_order(simple, planner, 10).pk, user=planner)

    new = services.production_order_split(order_id=order.pk, quantity=Decimal(3), user=planner)

    assert new.status == OrderStatus.RELEASED
    assert set(new.operations.values_list("status", flat=True)) == {"released"}

    def reserved(o):
        return [
            r.quantity
            for r in Reservation.objects.filter(
                document_type="production_order", document_id=o.pk, status=ReservationStatus.OPEN
            )
        ]

    assert reserved(order) == [Decimal(14)]
    assert reserved(new) == [Decimal(6)]
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).reserved == Decimal(20)
    unit_cost = plant.part_back.standard_cost
    assert OrderCost.objects.get(order=new, category="material").planned == Decimal(6) * unit_cost
    assert OrderCost.objects.get(order=order, category="material").planned == Decimal(14) * unit_cost
    assert new.status_changes.get().to_status == OrderStatus.RELEASED
    assert_ledger_consistent()


@pytest.mark.parametrize(
    ("quantity", "code"),
    [("0", "invalid_quantity"), ("-1", "invalid_quantity"), ("5", "quantity_too_large"), ("7", "quantity_too_large")],
)
def test_production_order_split_refuses_quantities_that_leave_nothing(quantity, code, plant, planner):
    order = _order(plant.finished, planner, 5)
    before = _state(order)

    with pytest.raises(ValidationFailed) as refused:
        services.production_order_split(order_id=order.pk, quantity=Decimal(quantity), user=planner)

    assert refused.value.code == code
    assert list(refused.value.fields) == ["quantity"]
    assert _state(order) == before


def test_production_order_split_refuses_a_released_order_with_postings(plant, planner):
    # the plant's BOM has a forward-flushed part: issued at release
    plant.stock()
    order = services.production_order_release(order_id=_order(plant.finished, planner, 5).pk, user=planner)
    before = _state(order)

    with pytest.raises(StateConflict) as refused:
        services.production_order_split(order_id=order.pk, quantity=Decimal(2), user=planner)

    assert refused.value.code == "has_postings"
    assert _state(order) == before


def test_production_order_split_refuses_an_order_in_progress(
    simple, plant, planner, django_capture_on_commit_callbacks
):
    receive(plant.part_back, plant.rm, 100)
    order = services.production_order_release(order_id=_order(simple, planner, 5).pk, user=planner)
    with django_capture_on_commit_callbacks(execute=False):
        services.confirmation_create(
            data=ConfirmationInput(operation_id=order.operations.get().pk, good_quantity=Decimal(1)), user=planner
        )
    before = _state(order)

    with pytest.raises(StateConflict) as refused:
        services.production_order_split(order_id=order.pk, quantity=Decimal(2), user=planner)

    assert refused.value.code == "invalid_status"
    assert "close it short" in refused.value.message
    assert _state(order) == before


def test_production_order_split_refuses_a_merge_target(plant, planner):
    order = _order(plant.finished, planner, 5)
    services.production_orders_merge(
        target_id=order.pk, source_ids=[_order(plant.finished, planner, 1).pk], user=planner
    )
    before = _state(order)

    with pytest.raises(StateConflict) as refused:
        services.production_order_split(order_id=order.pk, quantity=Decimal(2), user=planner)

    assert refused.value.code == "merged_order"
    assert _state(order) == before


def test_production_order_split_checks_the_version(plant, planner):
    order = _order(plant.finished, planner, 5)
    stale = order.version
    services.production_order_update(order_id=order.pk, user=planner, priority=2)
    before = _state(order)

    with pytest.raises(PreconditionFailed):
        services.production_order_split(order_id=order.pk, quantity=Decimal(2), user=planner, expected_version=stale)

    assert _state(order) == before


def test_a_campaign_is_neither_split_nor_merged(plant, planner):
    # given a campaign and an ordinary order of the same item
    start = in_days(5)
    campaign = services.production_order_create(
        item_id=plant.finished.pk,
        quantity=Decimal(100),
        user=planner,
        is_campaign=True,
        campaign_start=start,
        campaign_end=in_days(25),
    )
    other = _order(plant.finished, planner, 10)
    before = _state(campaign)

    # then a split of the campaign is refused, and so is a merge either way round
    with pytest.raises(StateConflict) as split:
        services.production_order_split(order_id=campaign.pk, quantity=Decimal(10), user=planner, reason="x")
    assert split.value.code == "campaign_not_splittable"
    for target, source in ((campaign, other), (other, campaign)):
        with pytest.raises(ValidationFailed) as merge:
            services.production_orders_merge(target_id=target.pk, source_ids=[source.pk], user=planner, reason="x")
        assert merge.value.code == "campaign_not_mergeable"
    assert _state(campaign) == before
