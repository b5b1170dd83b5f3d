import threading
from decimal import Decimal

import pytest
from django.db import connection

from config.exceptions import InsufficientStock, StateConflict, ValidationFailed
from inventory.models import Reservation, StockBalance, StockMovement
from production import services
from production.enums import OrderStatus
from production.models import OrderCost
from tests.inventory.helpers import assert_ledger_consistent
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


def _order(plant, planner, qty=10):
    return services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(qty), due_date=in_days(30), user=planner
    )


def test_release_reserves_components_and_issues_forward_flushed_ones(plant, planner):
    plant.stock()
    order = _order(plant, planner)

    services.production_order_release(order_id=order.pk, user=planner)

    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED
    reservations = {
        r.item.sku: r
        for r in Reservation.objects.filter(document_type="production_order", document_id=order.pk).select_related(
            "item"
        )
    }
    assert reservations["P-BACK"].quantity == Decimal(20)
    assert reservations["P-PHA"].quantity == Decimal(30)
    assert reservations["P-LOT"].quantity == Decimal("5.5")
    # The forward-flushed part is issued at once, consuming its reservation.
    fwd = order.components.get(item=plant.part_fwd)
    assert fwd.issued_quantity == Decimal(10)
    assert reservations["P-FWD"].consumed_quantity == Decimal(10)
    assert StockBalance.objects.get(item=plant.part_fwd, location=plant.rm).on_hand == Decimal(90)
    assert StockBalance.objects.get(item=plant.part_back, location=plant.rm).reserved == Decimal(20)
    assert (
        StockMovement.objects.filter(
            posting__document_type="production_order", posting__document_id=order.pk, item=plant.part_back
        ).count()
        == 0
    )
    assert order.status_changes.get().to_status == OrderStatus.RELEASED
    assert_ledger_consistent()


def test_release_fixes_the_planned_cost(plant, planner):
    plant.stock()
    order = _order(plant, planner)

    services.production_order_release(order_id=order.pk, user=planner)

    planned: dict[str, Decimal] = {}
    for cost in OrderCost.objects.filter(order=order):
        planned[cost.category] = planned.get(cost.category, Decimal(0)) + cost.planned
    # Per cost center there is a row of each; summed per category:
    # 20×2 + 10×5 + 30×1 + 5.5×10
    assert planned["material"] == Decimal("175.0000")
    # (30 + 60 + 30 min) = 2 h at labor 40, machine 20, overhead 10
    assert planned["labor"] == Decimal("80.0000")
    assert planned["machine"] == Decimal("40.0000")
    assert planned["overhead"] == Decimal("20.0000")
    assert planned["output"] == Decimal("-315.0000")


def test_release_with_shortage_is_refused_with_the_list_and_nothing_written(plant, planner):
    plant.stock(back=5)
    order = _order(plant, planner)

    with pytest.raises(InsufficientStock) as error:
        services.production_order_release(order_id=order.pk, user=planner)

    assert error.value.code == "shortages"
    assert any("P-BACK at RM-STORE" in line and "short 15" in line for line in error.value.fields["components"])
    order.refresh_from_db()
    assert order.status == OrderStatus.PLANNED
    assert not Reservation.objects.exists()
    assert not StockMovement.objects.filter(
        posting__document_id=order.pk, posting__document_type="production_order"
    ).exists()


def test_forced_release_needs_a_reason_and_is_recorded(plant, planner):
    plant.stock(back=5)
    order = _order(plant, planner)

    with pytest.raises(ValidationFailed):
        services.production_order_release(order_id=order.pk, user=planner, force=True)
    services.production_order_release(order_id=order.pk, user=planner, force=True, reason="parts arrive tomorrow")

    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED
    assert order.released_with_shortages
    assert order.status_changes.get().reason == "parts arrive tomorrow"
    assert_ledger_consistent()


def test_eto_order_must_be_approved_before_release(plant, planner):
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=1, due_date=in_days(20), user=planner, order_type="ETO"
    )

    with pytest.raises(StateConflict) as error:
        services.production_order_release(order_id=order.pk, user=planner)
    assert error.value.code == "engineering_not_approved"

    services.production_order_engineering_approve(order_id=order.pk, user=planner)
    services.production_order_release(order_id=order.pk, user=planner)

    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED


def test_release_of_an_empty_order_is_refused(plant, planner):
    order = services.production_order_create(
        item_id=plant.finished.pk,
        quantity=1,
        due_date=in_days(20),
        user=planner,
        order_type="ETO",
        copy_structure=False,
    )

    with pytest.raises(StateConflict) as error:
        services.production_order_engineering_approve(order_id=order.pk, user=planner)

    assert error.value.code == "empty_structure"


@pytest.mark.django_db(transaction=True)
def test_two_planners_releasing_for_the_last_stock_exactly_one_gets_it(plant, planner):
    # Stock for exactly one order of 10.
    plant.stock(back=20, fwd=10, phantom_part=30, lot=(6, 0))
    first, second = _order(plant, planner), _order(plant, planner)
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def release(order_id: int) -> None:
        try:
            barrier.wait(5)
            services.production_order_release(order_id=order_id, user=planner)
            outcomes[order_id] = "released"
        except InsufficientStock:
            outcomes[order_id] = "short"
        finally:
            connection.close()

    threads = [threading.Thread(target=release, args=(o.pk,)) for o in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert sorted(outcomes.values()) == ["released", "short"]
    balance = StockBalance.objects.get(item=plant.part_back, location=plant.rm)
    assert balance.reserved == Decimal(20) and balance.on_hand == Decimal(20)
    assert_ledger_consistent()
