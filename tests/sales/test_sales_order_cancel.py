"""Cancelling orders and lines: unstarted pegged orders cancelled, started ones flagged for
the planner, reservations released; nothing left behind."""

from __future__ import annotations

from decimal import Decimal

import pytest

from config.exceptions import StateConflict, ValidationFailed
from inventory.models import Reservation
from production.enums import OrderStatus
from production.models import ProductionOrder
from sales import services
from sales.enums import LineStatus, SalesOrderStatus
from sales.selectors import sales_demand_open
from tests.inventory.helpers import assert_ledger_consistent
from tests.sales.helpers import order_for


def _generated(splant, planner, *lines, capture):
    order = order_for(splant, planner, *lines)
    with capture(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)
    services.sales_order_generate(order_id=order.pk)
    return order


def test_sales_order_cancel_cancels_orders_and_releases_reservations(
    splant, planner, django_capture_on_commit_callbacks
):
    # given a generated order with a reservation and a three-level MTO chain
    order = _generated(splant, planner, (splant.mts, 4), (splant.mto, 1), capture=django_capture_on_commit_callbacks)

    # when it is cancelled
    services.sales_order_cancel(order_id=order.pk, user=planner, reason="customer withdrew")

    # then every pegged order is cancelled and the reservation released
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.CANCELLED
    assert set(ProductionOrder.objects.values_list("status", flat=True)) == {OrderStatus.CANCELLED}
    assert not Reservation.objects.filter(document_type="sales_order", status="open").exists()
    assert set(order.lines.values_list("status", flat=True)) == {LineStatus.CANCELLED}
    assert sales_demand_open() == []
    assert_ledger_consistent()


def test_sales_order_line_cancel_flags_started_order(splant, planner, django_capture_on_commit_callbacks):
    # given an MTO line whose top order is already in progress, and an MTS line
    order = _generated(splant, planner, (splant.mto, 1), (splant.mts, 1), capture=django_capture_on_commit_callbacks)
    mto_line, mts_line = order.lines.order_by("position")
    top = ProductionOrder.objects.get(item=splant.mto)
    ProductionOrder.objects.filter(pk=top.pk).update(status=OrderStatus.IN_PROGRESS)

    # when the MTO line is cancelled
    services.sales_order_line_cancel(order_id=order.pk, line_id=mto_line.pk, user=planner, reason="changed mind")

    # then the unstarted sub-assembly orders are cancelled, the started one is flagged
    mto_line.refresh_from_db()
    assert mto_line.status == LineStatus.CANCELLED
    assert mto_line.planner_flag and top.number in mto_line.planner_flag_reason
    statuses = dict(ProductionOrder.objects.values_list("item__sku", "status"))
    assert statuses == {"FG-MTO": "in_progress", "SA-MTO": "cancelled", "SA-MTO2": "cancelled"}
    # the other line and the order stay open
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.READY
    assert Reservation.objects.get(document_line_id=mts_line.pk).status == "open"


def test_sales_order_cancel_needs_a_reason_and_an_open_order(splant, planner, django_capture_on_commit_callbacks):
    order = _generated(splant, planner, (splant.mts, 1), capture=django_capture_on_commit_callbacks)
    with pytest.raises(ValidationFailed):
        services.sales_order_cancel(order_id=order.pk, user=planner, reason=" ")
    services.sales_order_deliver(
        order_id=order.pk,
        lines=[services.DeliveryLineInput(line_id=order.lines.get().pk, quantity=Decimal(1))],
        user=planner,
    )

    with pytest.raises(StateConflict) as exc:
        services.sales_order_cancel(order_id=order.pk, user=planner, reason="too late")

    assert exc.value.code == "invalid_transition"


def test_sales_order_cancel_before_generation_makes_task_a_no_op(splant, planner, django_capture_on_commit_callbacks):
    # given a confirmed order whose task has not run yet
    order = order_for(splant, planner, (splant.mto, 1))
    with django_capture_on_commit_callbacks(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)

    # when it is cancelled and the task then runs
    services.sales_order_cancel(order_id=order.pk, user=planner, reason="duplicate order")
    result = services.sales_order_generate(order_id=order.pk)

    # then nothing was generated
    assert result.production_orders_created == 0
    assert not ProductionOrder.objects.exists()
