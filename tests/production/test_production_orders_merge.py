"""Merging production orders: one order takes over the quantity and demand of others for the
same item and BOM version while nothing is posted on any of them; every refusal writes
nothing; the guards run on locked rows."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from config.exceptions import NotFound, PreconditionFailed, StateConflict, ValidationFailed
from inventory.enums import ReservationStatus
from inventory.models import Reservation, StockBalance
from planning.models import CapacityRequirement
from planning.mrp.snapshot import snapshot_load
from planning.mrp.sources import production_component_demand
from production import selectors, services
from production.enums import OrderStatus
from production.models import OrderCost, OrderMergeSource, OrderStatusChange, ProductionOrder
from production.services import ConfirmationInput
from tests.inventory.factories import BomFactory, BomLineFactory
from tests.inventory.helpers import assert_ledger_consistent, receive
from tests.planning.factories import RoutingFactory, RoutingOperationFactory
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


def _order(item, planner, qty, days=30, **extra) -> ProductionOrder:
    return services.production_order_create(
        item_id=item.pk, quantity=Decimal(qty), due_date=in_days(days), user=planner, **extra
    )


def _released(item, planner, qty, days=30) -> ProductionOrder:
    order = _order(item, planner, qty, days)
    return services.production_order_release(order_id=order.pk, user=planner)


def _snapshot(*orders) -> list:
    """Everything a failed merge must leave as it was."""
    return [
        ProductionOrder.objects.filter(pk=o.pk).values("status", "quantity", "version", "due_date", "merged_into").get()
        for o in orders
    ] + [OrderMergeSource.objects.count(), OrderStatusChange.objects.count()]


def test_production_orders_merge_sums_quantities_and_keeps_every_share(plant, planner):
    # given three planned orders for the same item, due on different days
    target = _order(plant.finished, planner, 4, days=30, priority=5)
    early = _order(plant.finished, planner, 2, days=10, priority=7)
    urgent = _order(plant.finished, planner, 3, days=20, priority=2)

    # when the later two are merged into the first
    merged = services.production_orders_merge(
        target_id=target.pk, source_ids=[early.pk, urgent.pk], user=planner, reason="one setup"
    )

    # then the target carries the sum, the earliest due date and the most urgent priority
    merged.refresh_from_db()
    assert merged.quantity == Decimal(9)
    assert merged.due_date == in_days(10)
    assert merged.priority == 2
    assert merged.status == OrderStatus.PLANNED
    assert merged.version > target.version
    # components rescaled from its own structure copy
    assert merged.components.get(item=plant.part_back).required_quantity == Decimal(18)
    assert merged.components.get(item=plant.part_in_phantom).required_quantity == Decimal(27)
    # the sources are merged into it, with the transition in their audit trail
    for source in (early, urgent):
        source.refresh_from_db()
        assert source.status == OrderStatus.MERGED
        assert source.merged_into_id == merged.pk
        change = source.status_changes.get(to_status=OrderStatus.MERGED)
        assert change.from_status == OrderStatus.PLANNED
        assert change.user == planner
        assert change.reason == f"Merged into {merged.number}: one setup"
        assert not CapacityRequirement.objects.filter(source_type="production_order", source_id=source.pk).exists()
    assert merged.status_changes.filter(reason__startswith=f"Took over {early.number}, {urgent.number}").exists()
    # every share is kept, in due-date order, with its quantity
    assert [(s.source_id, s.quantity, s.due_date) for s in merged.merge_sources.all()] == [
        (early.pk, Decimal(2), in_days(10)),
        (urgent.pk, Decimal(3), in_days(20)),
        (target.pk, Decimal(4), in_days(30)),
    ]
    # the target is rescheduled for the whole quantity: 30 min setup + 9 × 6 at WC-A
    load = CapacityRequirement.objects.filter(source_type="production_order", source_id=merged.pk)
    hours = sum(r.hours for r in load.filter(work_center=plant.wc_a))
    assert abs(hours - Decimal(30 + 9 * 6) / 60) < Decimal("0.01")


def test_merging_released_orders_moves_their_reservations_to_the_target(simple, plant, planner):
    # given two released orders holding reservations of P-BACK
    receive(plant.part_back, plant.rm, 100)
    target = _released(simple, planner, 4)
    source = _released(simple, planner, 6)
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).reserved == Decimal(20)
    assert OrderCost.objects.filter(order=source).exists()

    # when merged
    services.production_orders_merge(target_id=target.pk, source_ids=[source.pk], user=planner)

    # then the source holds nothing any more and the target holds the whole requirement
    target.refresh_from_db()
    assert target.status == OrderStatus.RELEASED
    assert not Reservation.objects.filter(
        document_type="production_order", document_id=source.pk, status=ReservationStatus.OPEN
    ).exists()
    open_res = Reservation.objects.get(
        document_type="production_order", document_id=target.pk, status=ReservationStatus.OPEN
    )
    assert open_res.quantity == Decimal(20)
    assert target.components.get().reservation_id == open_res.pk
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).reserved == Decimal(20)
    assert not target.released_with_shortages
    # planned cost is fixed again for the whole quantity; the source's plan went with it
    material = OrderCost.objects.get(order=target, category="material")
    assert material.planned == Decimal(20) * plant.part_back.standard_cost
    assert not OrderCost.objects.filter(order=source).exists()
    assert_ledger_consistent()


def test_a_merge_target_merged_again_hands_its_shares_on(plant, planner):
    a = _order(plant.finished, planner, 1, days=10)
    b = _order(plant.finished, planner, 2, days=20)
    c = _order(plant.finished, planner, 3, days=30)
    services.production_orders_merge(target_id=b.pk, source_ids=[a.pk], user=planner)

    services.production_orders_merge(target_id=c.pk, source_ids=[b.pk], user=planner)

    c.refresh_from_db()
    assert c.quantity == Decimal(6)
    assert [(s.source_id, s.quantity) for s in c.merge_sources.all()] == [
        (a.pk, Decimal(1)),
        (b.pk, Decimal(2)),
        (c.pk, Decimal(3)),
    ]


def _other_bom_version_order(plant, planner):
    bom = BomFactory(item=plant.finished, version=2)
    BomLineFactory(bom=bom, component=plant.part_back, quantity=Decimal(3))
    return _order(plant.finished, planner, 1)


def _other_routing_order(plant, planner):
    from planning.models import Routing

    Routing.objects.filter(item=plant.finished).update(status="obsolete")
    routing = RoutingFactory(item=plant.finished, version=2)
    RoutingOperationFactory(routing=routing, sequence=10, work_center=plant.wc_b)
    return _order(plant.finished, planner, 1)


@pytest.mark.parametrize(
    ("make_source", "error", "code"),
    [
        (lambda plant, planner, simple: _order(simple, planner, 1), ValidationFailed, "item_mismatch"),
        (lambda plant, planner, simple: _other_bom_version_order(plant, planner), ValidationFailed, "bom_mismatch"),
        (lambda plant, planner, simple: _other_routing_order(plant, planner), ValidationFailed, "routing_mismatch"),
        (
            lambda plant, planner, simple: _order(plant.finished, planner, 1, order_type="MTO"),
            ValidationFailed,
            "order_type_mismatch",
        ),
        (
            lambda plant, planner, simple: _order(plant.finished, planner, 1, receipt_location_id=plant.rm.pk),
            ValidationFailed,
            "location_mismatch",
        ),
        (
            lambda plant, planner, simple: _order(plant.finished, planner, 1, sales_order_line_id=999),
            ValidationFailed,
            "pegging_mismatch",
        ),
        (
            lambda plant, planner, simple: services.production_order_cancel(
                order_id=_order(plant.finished, planner, 1).pk, user=planner
            ),
            StateConflict,
            "invalid_status",
        ),
    ],
    ids=["item", "bom-version", "routing", "order-type", "receipt-location", "pegging", "cancelled"],
)
def test_production_orders_merge_refuses_incompatible_orders(make_source, error, code, plant, simple, planner):
    target = _order(plant.finished, planner, 2)
    source = make_source(plant, planner, simple)
    before = _snapshot(target, source)

    with pytest.raises(error) as refused:
        services.production_orders_merge(target_id=target.pk, source_ids=[source.pk], user=planner)

    assert refused.value.code == code, refused.value.message
    assert "source_orders" in refused.value.fields
    assert _snapshot(target, source) == before


def test_production_orders_merge_refuses_a_source_in_another_status(plant, planner):
    plant.stock()
    target = _order(plant.finished, planner, 2)
    released = _order(plant.finished, planner, 1)
    services.production_order_release(order_id=released.pk, user=planner)
    before = _snapshot(target, released)

    with pytest.raises(StateConflict) as refused:
        services.production_orders_merge(target_id=target.pk, source_ids=[released.pk], user=planner)

    # forward-flushed parts were issued at release: the first thing wrong is the status
    assert refused.value.code == "status_mismatch"
    assert _snapshot(target, released) == before


def test_production_orders_merge_refuses_orders_with_postings(plant, planner, django_capture_on_commit_callbacks):
    # given released orders of the plant: each issued its forward-flushed part at release
    plant.stock()
    target = services.production_order_release(order_id=_order(plant.finished, planner, 2).pk, user=planner)
    source = services.production_order_release(order_id=_order(plant.finished, planner, 1).pk, user=planner)
    before = _snapshot(target, source)

    with pytest.raises(StateConflict) as refused:
        services.production_orders_merge(target_id=target.pk, source_ids=[source.pk], user=planner)

    assert refused.value.code == "has_postings"
    assert target.number in refused.value.message and source.number in refused.value.message
    assert _snapshot(target, source) == before


def test_production_orders_merge_refuses_an_order_in_progress(
    simple, plant, planner, django_capture_on_commit_callbacks
):
    receive(plant.part_back, plant.rm, 100)
    target = _released(simple, planner, 4)
    source = _released(simple, planner, 2)
    with django_capture_on_commit_callbacks(execute=False):
        services.confirmation_create(
            data=ConfirmationInput(operation_id=source.operations.get().pk, labor_minutes=Decimal(5)), user=planner
        )
    source.refresh_from_db()
    assert source.status == OrderStatus.IN_PROGRESS
    before = _snapshot(target, source)

    with pytest.raises(StateConflict) as refused:
        services.production_orders_merge(target_id=target.pk, source_ids=[source.pk], user=planner)

    assert refused.value.code == "invalid_status"
    assert "in progress" in refused.value.message
    assert _snapshot(target, source) == before
    # nor can it take over others
    with pytest.raises(StateConflict) as refused:
        services.production_orders_merge(target_id=source.pk, source_ids=[target.pk], user=planner)
    assert refused.value.code == "invalid_status"


@pytest.mark.parametrize(
    ("sources", "code"),
    [
        (lambda target, other: [target.pk], "self_merge"),
        (lambda target, other: [other.pk, other.pk], "duplicate_source"),
        (lambda target, other: [], "required"),
        (lambda target, other: [other.pk, 987654], "unknown_order"),
    ],
    ids=["self", "duplicates", "empty", "unknown"],
)
def test_production_orders_merge_validates_the_source_list(sources, code, plant, planner):
    target = _order(plant.finished, planner, 2)
    other = _order(plant.finished, planner, 1)
    before = _snapshot(target, other)

    with pytest.raises(ValidationFailed) as refused:
        services.production_orders_merge(target_id=target.pk, source_ids=sources(target, other), user=planner)

    assert refused.value.code == code
    assert list(refused.value.fields) == ["source_orders"]
    assert _snapshot(target, other) == before


def test_production_orders_merge_of_an_unknown_target_is_not_found(plant, planner):
    other = _order(plant.finished, planner, 1)
    with pytest.raises(NotFound):
        services.production_orders_merge(target_id=987654, source_ids=[other.pk], user=planner)


def test_production_orders_merge_refuses_eto_orders(plant, planner):
    target = _order(plant.finished, planner, 2, order_type="ETO")
    source = _order(plant.finished, planner, 1, order_type="ETO")

    with pytest.raises(ValidationFailed) as refused:
        services.production_orders_merge(target_id=target.pk, source_ids=[source.pk], user=planner)

    assert refused.value.code == "eto_not_mergeable"


def test_production_orders_merge_checks_the_target_version(plant, planner):
    target = _order(plant.finished, planner, 2)
    source = _order(plant.finished, planner, 1)
    stale = target.version
    services.production_order_update(order_id=target.pk, user=planner, priority=3)
    before = _snapshot(target, source)

    with pytest.raises(PreconditionFailed):
        services.production_orders_merge(
            target_id=target.pk, source_ids=[source.pk], user=planner, expected_version=stale
        )

    assert _snapshot(target, source) == before


def test_merged_orders_are_no_supply_or_demand_for_planning(plant, planner):
    # given two free (MTS) orders merged into one
    target = _order(plant.finished, planner, 4, days=30)
    source = _order(plant.finished, planner, 2, days=10)
    services.production_orders_merge(target_id=target.pk, source_ids=[source.pk], user=planner)

    # then planning sees one receipt of 6, due when the earlier order was
    receipts = snapshot_load().receipts[plant.finished.pk]
    assert [(r.source_id, r.quantity, r.date) for r in receipts] == [(target.pk, Decimal(6), in_days(10))]
    # and the component demand of the merged order only
    demand = [d for d in production_component_demand({plant.part_back.pk}) if d.item_id == plant.part_back.pk]
    assert [(d.source_id, d.quantity) for d in demand] == [(target.pk, Decimal(12))]
    # merged orders are not shown as work anywhere open statuses count
    assert source.pk not in {
        op.order_id for op in selectors.order_operation_schedule(date_from=in_days(-400), date_to=in_days(400))
    }


def test_merge_allocation_gives_output_by_due_date_and_cost_by_quantity(
    simple, plant, planner, django_capture_on_commit_callbacks
):
    # given released orders of 4 (due in 30 days) and 2 (due in 10) merged into the first
    receive(plant.part_back, plant.rm, 100)
    target = _released(simple, planner, 4, days=30)
    source = _released(simple, planner, 2, days=10)
    services.production_orders_merge(target_id=target.pk, source_ids=[source.pk], user=planner)
    target.refresh_from_db()

    # when 3 pieces are confirmed and received
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(
                operation_id=target.operations.get().pk, good_quantity=Decimal(3), labor_minutes=Decimal(30)
            ),
            user=planner,
        )
    services.confirmation_post(confirmation_id=confirmation.pk)
    target.refresh_from_db()

    # then the earlier-due share is covered first, the rest goes to the target's own
    rows = selectors.merge_allocation(order=target)
    assert [(r.source_number, r.quantity, r.allocated_output, r.is_target) for r in rows] == [
        (source.number, Decimal(2), Decimal(2), False),
        (target.number, Decimal(4), Decimal(1), True),
    ]
    # cost in proportion to quantity, adding up to the order's actual cost
    actual = sum(c.actual for c in selectors.production_order_costs(order=target) if c.category != "output")
    assert actual > 0
    assert sum(r.allocated_cost for r in rows) == actual
    assert rows[0].allocated_cost == selectors.m(actual * 2 / 6)
    # a merged order's page reads the same allocation
    source.refresh_from_db()
    assert selectors.merge_allocation(order=source) == rows
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_production_orders_merge_rechecks_the_status_after_the_lock(plant, planner):
    """A planner cancels a source while the merge waits for its lock: the merge sees the
    cancelled order, not the planned one it was asked about, and refuses."""
    target = _order(plant.finished, planner, 2)
    source = _order(plant.finished, planner, 1)
    locked = threading.Event()
    errors: list[BaseException] = []

    def cancel_slowly() -> None:
        try:
            with transaction.atomic():
                ProductionOrder.objects.select_for_update().get(pk=source.pk)
                locked.set()
                time.sleep(0.5)
                services.production_order_cancel(order_id=source.pk, user=planner, reason="not needed")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=cancel_slowly)
    thread.start()
    assert locked.wait(10)
    started = time.monotonic()
    with pytest.raises(StateConflict) as refused:
        services.production_orders_merge(target_id=target.pk, source_ids=[source.pk], user=planner)
    waited = time.monotonic() - started
    thread.join(10)

    assert not errors
    assert waited > 0.3, "the merge did not wait for the lock"
    assert refused.value.code == "invalid_status"
    target.refresh_from_db()
    assert target.quantity == Decimal(2)
    assert not OrderMergeSource.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_opposite_merges_never_deadlock(plant, planner):
    """Two planners merge the same two orders into each other at once: the locks are taken
    in id order, so one waits for the other, which wins; the loser finds a merged order."""
    a = _order(plant.finished, planner, 2)
    b = _order(plant.finished, planner, 3)
    barrier = threading.Barrier(2)
    results: list = []

    def merge(target, source) -> None:
        try:
            barrier.wait(5)
            services.production_orders_merge(target_id=target.pk, source_ids=[source.pk], user=planner)
            results.append("ok")
        except StateConflict as exc:
            results.append(exc.code)
        except BaseException as exc:
            results.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=merge, args=pair) for pair in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert sorted(results) == ["invalid_status", "ok"]
    statuses = sorted(ProductionOrder.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True))
    assert statuses == [OrderStatus.MERGED, OrderStatus.PLANNED]
    assert ProductionOrder.objects.get(status=OrderStatus.PLANNED).quantity == Decimal(5)
