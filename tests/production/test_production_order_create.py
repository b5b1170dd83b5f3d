from decimal import Decimal

import pytest

from config.exceptions import ValidationFailed
from production import services
from production.enums import OrderStatus
from production.models import ProductionOrder
from tests.inventory.factories import ItemFactory
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


def test_create_copies_structure_with_phantoms_exploded_and_scrap_applied(plant, planner):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(10), due_date=in_days(30), user=planner
    )

    components = {c.item.sku: c for c in order.components.select_related("item")}
    assert set(components) == {"P-BACK", "P-FWD", "P-PHA", "P-LOT"}  # the phantom itself is gone
    assert components["P-BACK"].required_quantity == Decimal("20")
    assert components["P-FWD"].required_quantity == Decimal("10")
    assert components["P-PHA"].required_quantity == Decimal("30")  # 10 × 1 phantom × 3
    assert components["P-PHA"].operation_sequence == 20  # consumed where the phantom is
    assert components["P-LOT"].required_quantity == Decimal("5.5")  # 10 × 0.5 × 1.10
    assert [op.sequence for op in order.operations.all()] == [10, 20]
    assert order.status == OrderStatus.PLANNED
    assert order.order_type == "MTS"


def test_create_schedules_backward_and_records_capacity(plant, planner):
    from planning.models import CapacityRequirement

    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(10), due_date=in_days(30), user=planner
    )

    order.refresh_from_db()
    assert order.scheduled_start is not None and order.scheduled_end is not None
    assert order.scheduled_end.date() <= in_days(30)
    assert order.late_by_minutes is None
    hours = sum(r.hours for r in CapacityRequirement.objects.filter(source_type="production_order", source_id=order.pk))
    assert hours == Decimal("2.0")  # op 10: (30 + 10×6)/60 = 1.5 h; op 20: (10×3)/60 = 0.5 h


def test_a_due_date_that_cannot_be_met_is_reported_as_late_not_scheduled_in_the_past(plant, planner):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(500), due_date=in_days(1), user=planner
    )

    order.refresh_from_db()
    assert order.late_by_minutes and order.late_by_minutes > 0
    from django.utils import timezone

    assert order.scheduled_start >= timezone.now() - timezone.timedelta(minutes=1)


def test_numbers_are_sequential_per_year(plant, planner):
    first = services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(9), user=planner)
    second = services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(9), user=planner)

    prefix, _year, n1 = first.number.split("-")
    assert prefix == "PO"
    assert int(second.number.split("-")[2]) == int(n1) + 1


def test_a_failed_creation_gives_its_number_back(plant, planner):
    first = services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(9), user=planner)
    with pytest.raises(ValidationFailed):
        services.production_order_create(
            item_id=plant.finished.pk, quantity=1, due_date=in_days(9), user=planner, cost_center_id=999999
        )

    third = services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(9), user=planner)

    assert int(third.number.split("-")[2]) == int(first.number.split("-")[2]) + 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"quantity": Decimal(0)}, "invalid_quantity"),
        ({"quantity": Decimal(-3)}, "invalid_quantity"),
    ],
)
def test_bad_quantity_is_refused_and_nothing_written(plant, planner, kwargs, code):
    with pytest.raises(ValidationFailed) as error:
        services.production_order_create(item_id=plant.finished.pk, due_date=in_days(5), user=planner, **kwargs)

    assert error.value.code == code
    assert "quantity" in error.value.fields
    assert not ProductionOrder.objects.exists()


def test_bought_item_is_refused(plant, planner):
    with pytest.raises(ValidationFailed) as error:
        services.production_order_create(item_id=plant.part_back.pk, quantity=1, due_date=in_days(5), user=planner)

    assert error.value.code == "item_not_made"


def test_item_without_bom_is_refused(plant, planner):
    item = ItemFactory(procurement="make", item_type="finished")

    with pytest.raises(ValidationFailed) as error:
        services.production_order_create(item_id=item.pk, quantity=1, due_date=in_days(5), user=planner)

    assert error.value.code == "no_bom"
    assert not ProductionOrder.objects.exists()


def test_eto_order_may_start_empty_in_engineering(plant, planner):
    order = services.production_order_create(
        item_id=plant.finished.pk,
        quantity=1,
        due_date=in_days(20),
        user=planner,
        order_type="ETO",
        copy_structure=False,
    )

    assert order.in_engineering
    assert not order.components.exists()


def test_requirements_round_up_to_the_unit_precision(plant, planner):
    from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory

    half = ItemFactory(sku="HALF-PCS")  # pcs: 0 decimals
    bom = BomFactory(item=ItemFactory(sku="ODD", procurement="make", item_type="finished"), version=1)
    BomLineFactory(bom=bom, component=half, quantity=Decimal("0.5"))
    from tests.planning.factories import RoutingFactory, RoutingOperationFactory

    RoutingOperationFactory(routing=RoutingFactory(item=bom.item), work_center=plant.wc_a)

    order = services.production_order_create(
        item_id=bom.item.pk, quantity=Decimal(3), due_date=in_days(9), user=planner
    )

    assert order.components.get().required_quantity == Decimal(2)  # 1.5 pieces → 2 to pick


def test_sub_assemblies_are_received_where_their_consumers_issue_from(plant, planner):
    from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory
    from tests.planning.factories import RoutingFactory, RoutingOperationFactory

    sub = ItemFactory(sku="SUB", procurement="make", item_type="semi_finished")
    BomLineFactory(bom=BomFactory(item=sub), component=plant.part_back, quantity=Decimal(1))
    RoutingOperationFactory(routing=RoutingFactory(item=sub), work_center=plant.wc_a)
    parent = services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(20), user=planner)

    standalone = services.production_order_create(item_id=sub.pk, quantity=1, due_date=in_days(9), user=planner)
    child = services.production_order_create(
        item_id=sub.pk, quantity=1, due_date=in_days(9), user=planner, parent_id=parent.pk
    )

    assert parent.receipt_location == plant.fg  # a finished good goes to the finished-goods store
    assert standalone.receipt_location_id == plant.rm.pk
    assert child.receipt_location_id == parent.issue_location_id
