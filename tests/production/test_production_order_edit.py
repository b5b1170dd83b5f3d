from decimal import Decimal

import pytest

from config.exceptions import PreconditionFailed, StateConflict
from production import services
from production.services import ComponentInput, OperationInput
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


def _order(plant, planner, qty=4):
    return services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(qty), due_date=in_days(30), user=planner
    )


def test_quantity_change_while_planned_rescales_the_structure(plant, planner):
    order = _order(plant, planner)

    services.production_order_update(order_id=order.pk, user=planner, quantity=Decimal(8))

    assert order.components.get(item=plant.part_back).required_quantity == Decimal(16)


def test_after_release_quantity_and_structure_changes_say_close_and_replan(plant, planner):
    plant.stock()
    order = _order(plant, planner)
    services.production_order_release(order_id=order.pk, user=planner)

    with pytest.raises(StateConflict) as error:
        services.production_order_update(order_id=order.pk, user=planner, quantity=Decimal(8))
    assert error.value.code == "order_locked"
    assert "close the order and plan a new one" in error.value.message

    with pytest.raises(StateConflict):
        services.production_order_component_add(
            order_id=order.pk,
            user=planner,
            data=ComponentInput(item_id=plant.part_back.pk, quantity_per_unit=Decimal(1)),
        )
    with pytest.raises(StateConflict):
        services.production_order_operation_remove(
            order_id=order.pk, operation_id=order.operations.first().pk, user=planner
        )


def test_due_date_may_still_move_after_release_and_reschedules(plant, planner):
    plant.stock()
    order = _order(plant, planner)
    services.production_order_release(order_id=order.pk, user=planner)
    order.refresh_from_db()
    before = order.scheduled_end

    services.production_order_update(order_id=order.pk, user=planner, due_date=in_days(60))

    order.refresh_from_db()
    assert order.scheduled_end > before


def test_stale_version_is_refused_with_412(plant, planner):
    order = _order(plant, planner)
    services.production_order_update(order_id=order.pk, user=planner, priority=2, expected_version=order.version)

    with pytest.raises(PreconditionFailed):
        services.production_order_update(order_id=order.pk, user=planner, priority=3, expected_version=order.version)


def test_structure_edits_while_planned(plant, planner):
    order = _order(plant, planner)
    extra = services.production_order_component_add(
        order_id=order.pk,
        user=planner,
        data=ComponentInput(item_id=plant.part_back.pk, quantity_per_unit=Decimal(1), scrap_percent=Decimal(50)),
    )
    assert extra.required_quantity == Decimal(6)  # 4 × 1 × 1.5

    operation = services.production_order_operation_add(
        order_id=order.pk,
        user=planner,
        data=OperationInput(sequence=30, work_center_id=plant.wc_a.pk, run_minutes_per_unit=Decimal(2)),
    )

    order.refresh_from_db()
    assert operation.scheduled_end is not None or order.operations.get(sequence=30).scheduled_end is not None
    services.production_order_component_remove(order_id=order.pk, component_id=extra.pk, user=planner)
    assert not order.components.filter(pk=extra.pk).exists()


def test_delete_only_while_planned(plant, planner):
    plant.stock()
    order = _order(plant, planner)
    services.production_order_release(order_id=order.pk, user=planner)

    with pytest.raises(StateConflict):
        services.production_order_delete(order_id=order.pk, user=planner)

    planned = _order(plant, planner)
    services.production_order_delete(order_id=planned.pk, user=planner)
    from production.models import ProductionOrder

    assert not ProductionOrder.objects.filter(pk=planned.pk).exists()
