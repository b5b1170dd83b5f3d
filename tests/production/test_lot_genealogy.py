"""Lot genealogy across two levels of production: raw lots → sub-assembly lot → product lot."""

from decimal import Decimal

import pytest

from inventory.models import Lot
from inventory.selectors import lot_genealogy
from production import services
from production.services import ConfirmationInput
from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory, LotFactory
from tests.inventory.helpers import receive
from tests.planning.factories import RoutingFactory, RoutingOperationFactory
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


def _make(plant, planner, item, qty, lot_number, django_capture_on_commit_callbacks):
    order = services.production_order_create(item_id=item.pk, quantity=Decimal(qty), due_date=in_days(20), user=planner)
    services.production_order_release(order_id=order.pk, user=planner)
    with django_capture_on_commit_callbacks(execute=False):
        c = services.confirmation_create(
            data=ConfirmationInput(
                operation_id=order.operations.get().pk,
                good_quantity=Decimal(qty),
                final=True,
                output_lot_number=lot_number,
            ),
            user=planner,
        )
    services.confirmation_post(confirmation_id=c.pk)
    return order, c


def test_backward_and_forward_genealogy(plant, planner, django_capture_on_commit_callbacks, planner_api):
    steel = ItemFactory(sku="STEEL", lot_tracked=True)
    frame = ItemFactory(sku="FRAME", lot_tracked=True, procurement="make", item_type="semi_finished")
    bike = ItemFactory(sku="BIKE", lot_tracked=True, procurement="make", item_type="finished")
    BomLineFactory(bom=BomFactory(item=frame), component=steel, quantity=Decimal(2), flushing="backward")
    BomLineFactory(bom=BomFactory(item=bike), component=frame, quantity=Decimal(1), flushing="backward")
    for item in (frame, bike):
        RoutingOperationFactory(routing=RoutingFactory(item=item), work_center=plant.wc_a, sequence=10)
    early, late = LotFactory(item=steel, lot_number="S-1", expiry_date=None), LotFactory(item=steel, lot_number="S-2")
    receive(steel, plant.rm, 3, lot=early)
    receive(steel, plant.rm, 10, lot=late)

    _make(plant, planner, frame, 4, "F-100", django_capture_on_commit_callbacks)  # 8 steel: 3 of S-1, 5 of S-2
    # Semi-finished output lands where its consumers issue from (RM-STORE), ready for the bike order.
    _make(plant, planner, bike, 3, "B-7", django_capture_on_commit_callbacks)
    bikes = Lot.objects.get(item=bike, lot_number="B-7")

    backward = lot_genealogy(lot_id=bikes.pk, direction="backward")
    forward = lot_genealogy(lot_id=early.pk, direction="forward")

    assert [(link.level, link.sku, link.lot_number, link.quantity) for link in backward] == [
        (1, "FRAME", "F-100", Decimal(3)),
        (2, "STEEL", "S-1", Decimal(3)),
        (2, "STEEL", "S-2", Decimal(5)),
    ]
    assert [(link.level, link.lot_number) for link in forward] == [(1, "F-100"), (2, "B-7")]
    response = planner_api.get(f"/api/v1/lots/{bikes.pk}/genealogy/?direction=backward")
    assert response.status_code == 200
    assert [link["lot_number"] for link in response.json()["links"]] == ["F-100", "S-1", "S-2"]


def test_items_without_lots_are_links_where_the_trail_ends(plant, planner, django_capture_on_commit_callbacks):
    # given a lot-tracked raw material and a bolt without lots going into a frame without lots
    steel = ItemFactory(sku="STEEL", lot_tracked=True)
    bolt = ItemFactory(sku="BOLT")
    frame = ItemFactory(sku="FRAME", procurement="make", item_type="semi_finished")
    bom = BomFactory(item=frame)
    BomLineFactory(bom=bom, component=steel, quantity=Decimal(2), flushing="backward")
    BomLineFactory(bom=bom, component=bolt, quantity=Decimal(4), flushing="backward")
    RoutingOperationFactory(routing=RoutingFactory(item=frame), work_center=plant.wc_a, sequence=10)
    steel_lot = LotFactory(item=steel, lot_number="S-9")
    receive(steel, plant.rm, 10, lot=steel_lot)
    receive(bolt, plant.rm, 100)

    order, _ = _make(plant, planner, frame, 3, "", django_capture_on_commit_callbacks)

    # then the steel lot's forward trail names the frame order it went into, with no lot
    forward = lot_genealogy(lot_id=steel_lot.pk, direction="forward")
    assert [(link.level, link.sku, link.lot_id, link.quantity, link.document_number) for link in forward] == [
        (1, "FRAME", None, Decimal(3), order.number)
    ]

    # and a lot made of it lists the bolts too: everything that went in
    gear = ItemFactory(sku="GEAR", lot_tracked=True, procurement="make", item_type="finished")
    gear_bom = BomFactory(item=gear)
    BomLineFactory(bom=gear_bom, component=steel, quantity=Decimal(1), flushing="backward")
    BomLineFactory(bom=gear_bom, component=bolt, quantity=Decimal(2), flushing="backward")
    RoutingOperationFactory(routing=RoutingFactory(item=gear), work_center=plant.wc_a, sequence=10)
    _make(plant, planner, gear, 2, "G-1", django_capture_on_commit_callbacks)
    backward = lot_genealogy(lot_id=Lot.objects.get(lot_number="G-1").pk, direction="backward")
    assert [(link.sku, link.lot_number, link.quantity) for link in backward] == [
        ("BOLT", None, Decimal(4)),
        ("STEEL", "S-9", Decimal(2)),
    ]
