"""Sales demand stays linked when its production orders are merged or split: a merged
order's output fulfils the pegged lines earliest due first; a line's split-off orders are
part of its supply, and are cancelled with it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from production import services as production
from production.enums import OrderStatus
from production.models import ProductionOrder
from production.services import ConfirmationInput
from sales import services
from sales.enums import LineFulfilment, SalesOrderStatus
from sales.models import LinePegging, SalesOrder
from sales.selectors import line_fulfilment_map, sales_demand_open
from tests.sales.helpers import order_for

pytestmark = pytest.mark.django_db


def _generated(splant, planner, *lines, days, capture):
    order = order_for(splant, planner, *lines, days=days)
    with capture(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)
    services.sales_order_generate(order_id=order.pk)
    return order


def _top(order: SalesOrder) -> ProductionOrder:
    return LinePegging.objects.get(line__order=order, path="0").production_order


def _fulfilment(*orders: SalesOrder) -> list[str]:
    lines = [order.lines.get() for order in orders]
    states = line_fulfilment_map(line_ids=[ln.pk for ln in lines])
    return [states[ln.pk].status for ln in lines]


def test_output_of_a_merged_order_fulfils_the_earliest_due_line_first(
    splant, planner, django_capture_on_commit_callbacks
):
    # given two customers' MTO lines, 2 pieces wanted in 10 days and 3 in 20, their orders merged
    early = _generated(splant, planner, (splant.mto, 2), days=10, capture=django_capture_on_commit_callbacks)
    late = _generated(splant, planner, (splant.mto, 3), days=20, capture=django_capture_on_commit_callbacks)
    target = _top(late)
    production.production_orders_merge(target_id=target.pk, source_ids=[_top(early).pk], user=planner)
    target.refresh_from_db()
    assert target.quantity == Decimal(5)
    assert _fulfilment(early, late) == [LineFulfilment.IN_PRODUCTION, LineFulfilment.IN_PRODUCTION]
    # the merged order keeps both demands
    assert sorted(target.merge_sources.values_list("sales_order_line_id", flat=True)) == sorted(
        [early.lines.get().pk, late.lines.get().pk]
    )
    # still covered: planning must not make the lines again
    assert not [d for d in sales_demand_open() if d.item_id == splant.mto.pk]

    # when 2 pieces are received on the merged order
    production.production_order_release(order_id=target.pk, user=planner, force=True, reason="test")
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = production.confirmation_create(
            data=ConfirmationInput(operation_id=target.operations.get().pk, good_quantity=Decimal(2)), user=planner
        )
    production.confirmation_post(confirmation_id=confirmation.pk)

    # then the earlier line is ready and the later one still in production
    assert _fulfilment(early, late) == [LineFulfilment.READY, LineFulfilment.IN_PRODUCTION]
    services.sales_orders_status_refresh()
    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.status, late.status) == (SalesOrderStatus.READY, SalesOrderStatus.IN_PRODUCTION)
    # the sales order page lists the merged order with where it went
    pegged = line_fulfilment_map(line_ids=[early.lines.get().pk])[early.lines.get().pk].pegged
    assert pegged[0].merged_into == target.number


def test_cancelling_a_merged_order_opens_its_lines_demand_again(splant, planner, django_capture_on_commit_callbacks):
    early = _generated(splant, planner, (splant.mto, 2), days=10, capture=django_capture_on_commit_callbacks)
    late = _generated(splant, planner, (splant.mto, 3), days=20, capture=django_capture_on_commit_callbacks)
    target = _top(late)
    production.production_orders_merge(target_id=target.pk, source_ids=[_top(early).pk], user=planner)

    production.production_order_cancel(order_id=target.pk, user=planner, reason="customer plan changed")

    open_lines = {d.line_id: d.quantity_open for d in sales_demand_open() if d.item_id == splant.mto.pk}
    assert open_lines == {early.lines.get().pk: Decimal(2), late.lines.get().pk: Decimal(3)}
    assert _fulfilment(early, late) == [LineFulfilment.AWAITING_SUPPLY, LineFulfilment.AWAITING_SUPPLY]


def test_cancelling_a_line_whose_order_was_merged_flags_it_for_the_planner(
    splant, planner, django_capture_on_commit_callbacks
):
    early = _generated(splant, planner, (splant.mto, 2), days=10, capture=django_capture_on_commit_callbacks)
    late = _generated(splant, planner, (splant.mto, 3), days=20, capture=django_capture_on_commit_callbacks)
    target = _top(late)
    production.production_orders_merge(target_id=target.pk, source_ids=[_top(early).pk], user=planner)

    services.sales_order_cancel(order_id=early.pk, user=planner, reason="withdrawn")

    line = early.lines.get()
    assert line.planner_flag
    assert f"merged into {target.number}" in line.planner_flag_reason
    target.refresh_from_db()
    assert target.status == OrderStatus.PLANNED  # the other customer's order is left alone


def test_a_split_off_order_is_part_of_the_lines_supply(splant, planner, django_capture_on_commit_callbacks):
    # given an MTO line of 5 whose order is split in two
    order = _generated(splant, planner, (splant.mto, 5), days=20, capture=django_capture_on_commit_callbacks)
    top = _top(order)
    split_off = production.production_order_split(order_id=top.pk, quantity=Decimal(2), user=planner)
    assert split_off.sales_order_line_id == order.lines.get().pk

    # then the line lists both and is covered by both
    info = line_fulfilment_map(line_ids=[order.lines.get().pk])[order.lines.get().pk]
    assert [(p.number, p.split_from) for p in info.pegged if p.path == "0"] == [
        (top.number, ""),
        (split_off.number, top.number),
    ]
    assert not [d for d in sales_demand_open() if d.item_id == splant.mto.pk]

    # when the original is cancelled, the split-off still supplies the line
    production.production_order_cancel(order_id=top.pk, user=planner)
    assert _fulfilment(order) == [LineFulfilment.IN_PRODUCTION]

    # and cancelling the sales order cancels the split-off too
    services.sales_order_cancel(order_id=order.pk, user=planner, reason="withdrawn")
    split_off.refresh_from_db()
    assert split_off.status == OrderStatus.CANCELLED
