"""Deliveries: goods issues from FG-STORE consuming the line's reservation; partial and full;
over-delivery and missing stock refused with nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from config.exceptions import InsufficientStock, StateConflict
from inventory.models import Reservation, StockBalance, StockMovement
from sales import services
from sales.enums import LineStatus, SalesOrderStatus
from sales.models import Delivery
from tests.inventory.helpers import assert_ledger_consistent, receive
from tests.sales.helpers import order_for


def _generated(splant, planner, *lines, capture):
    order = order_for(splant, planner, *lines)
    with capture(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)
    services.sales_order_generate(order_id=order.pk)
    return order, list(order.lines.order_by("position"))


def _on_hand(item, location) -> Decimal:
    return StockBalance.objects.get(item=item, location=location, lot=None).on_hand


def test_sales_order_deliver_partial_then_full(splant, planner, django_capture_on_commit_callbacks):
    # given an MTS line of 4 reserved from the 10 in stock
    order, (line,) = _generated(splant, planner, (splant.mts, 4), capture=django_capture_on_commit_callbacks)
    reservation = Reservation.objects.get(document_type="sales_order", document_line_id=line.pk)

    # when 1 is delivered
    services.sales_order_deliver(
        order_id=order.pk,
        lines=[services.DeliveryLineInput(line_id=line.pk, quantity=Decimal(1))],
        user=planner,
    )

    # then the reservation is consumed by 1, the order is partially delivered
    reservation.refresh_from_db()
    line.refresh_from_db()
    order.refresh_from_db()
    assert reservation.consumed_quantity == 1 and reservation.status == "open"
    assert line.delivered_quantity == 1 and line.status == LineStatus.OPEN
    assert order.status == SalesOrderStatus.PARTIALLY_DELIVERED
    assert _on_hand(splant.mts, splant.fg) == 9

    # when the remaining 3 are delivered
    delivery = services.sales_order_deliver(
        order_id=order.pk,
        lines=[services.DeliveryLineInput(line_id=line.pk, quantity=Decimal(3))],
        user=planner,
    )

    # then the line and the order are delivered, the reservation closed, the ledger consistent
    reservation.refresh_from_db()
    line.refresh_from_db()
    order.refresh_from_db()
    assert reservation.status == "closed" and reservation.consumed_quantity == 4
    assert line.status == LineStatus.DELIVERED and order.status == SalesOrderStatus.DELIVERED
    assert _on_hand(splant.mts, splant.fg) == 6
    movement = StockMovement.objects.get(posting=delivery.stock_posting)
    assert (movement.movement_type, movement.quantity, movement.document_line_id) == ("delivery", -3, line.pk)
    assert Delivery.objects.filter(order=order).count() == 2
    assert_ledger_consistent()


def test_sales_order_deliver_refuses_over_delivery(splant, planner, django_capture_on_commit_callbacks):
    order, (line,) = _generated(splant, planner, (splant.mts, 4), capture=django_capture_on_commit_callbacks)

    with pytest.raises(StateConflict) as exc:
        services.sales_order_deliver(
            order_id=order.pk,
            lines=[services.DeliveryLineInput(line_id=line.pk, quantity=Decimal(5))],
            user=planner,
        )

    assert exc.value.code == "over_delivery" and "lines[0].quantity" in exc.value.fields
    assert not Delivery.objects.exists()
    assert not StockMovement.objects.filter(movement_type="delivery").exists()


def test_sales_order_deliver_refuses_stock_reserved_for_others(splant, planner, django_capture_on_commit_callbacks):
    # given 2 of FG-MTS-SHORT, both reserved by a first order; a second order of 2 has none
    _generated(splant, planner, (splant.mts_short, 2), capture=django_capture_on_commit_callbacks)
    order, (line,) = _generated(splant, planner, (splant.mts_short, 2), capture=django_capture_on_commit_callbacks)

    # when the second order tries to ship
    with pytest.raises(InsufficientStock) as exc:
        services.sales_order_deliver(
            order_id=order.pk,
            lines=[services.DeliveryLineInput(line_id=line.pk, quantity=Decimal(1))],
            user=planner,
        )

    # then it is refused: the stock belongs to the first order
    assert "lines[0].quantity" in exc.value.fields
    assert _on_hand(splant.mts_short, splant.fg) == 2
    assert_ledger_consistent()


def test_sales_order_deliver_mto_from_completed_output(splant, planner, django_capture_on_commit_callbacks):
    # given an MTO line whose output arrived in FG-STORE
    order, (line,) = _generated(splant, planner, (splant.mto, 2), capture=django_capture_on_commit_callbacks)
    receive(splant.mto, splant.fg, 2)

    # when delivered in full
    services.sales_order_deliver(
        order_id=order.pk,
        lines=[services.DeliveryLineInput(line_id=line.pk, quantity=Decimal(2))],
        user=planner,
    )

    # then
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.DELIVERED
    assert _on_hand(splant.mto, splant.fg) == 0
    assert_ledger_consistent()


def test_sales_order_deliver_refused_before_generation(splant, planner):
    order = order_for(splant, planner, (splant.mts, 1))
    line = order.lines.get()

    with pytest.raises(StateConflict) as exc:
        services.sales_order_deliver(
            order_id=order.pk,
            lines=[services.DeliveryLineInput(line_id=line.pk, quantity=Decimal(1))],
            user=planner,
        )

    assert exc.value.code == "not_deliverable"
