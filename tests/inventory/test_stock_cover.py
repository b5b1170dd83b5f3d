from decimal import Decimal

import pytest

from inventory.selectors import stock_cover
from inventory.services import DocumentRef, reservation_create
from tests.inventory.factories import ItemFactory, LocationFactory, LotFactory
from tests.inventory.helpers import receive

pytestmark = pytest.mark.django_db


def _reserve(item, loc, qty, document_id, *, force=False):
    return reservation_create(
        item_id=item.pk,
        location_id=loc.pk,
        quantity=Decimal(qty),
        reference=DocumentRef(document_type="test", document_id=document_id),
        user=None,
        allow_shortage=force,
    )


def test_stock_cover_backs_the_oldest_reservation_first_and_a_forced_one_only_with_what_is_left():
    # given 10 on hand over two lots, 8 reserved within availability and 6 forced beyond it
    item, loc = ItemFactory(lot_tracked=True), LocationFactory()
    receive(item, loc, 4, lot=LotFactory(item=item))
    receive(item, loc, 6, lot=LotFactory(item=item))
    first = _reserve(item, loc, 8, 1)
    forced = _reserve(item, loc, 6, 2, force=True)

    # when the cover is read
    cover = stock_cover(pairs=[(item.pk, loc.pk)])

    # then the first is fully backed, the forced one by the 2 left, and nothing is free
    backed = {r.reservation_id: (r.open_quantity, r.on_hand) for r in cover.reservations}
    assert backed == {first.pk: (8, 8), forced.pk: (6, 2)}
    assert cover.free == {(item.pk, loc.pk): 0}


def test_stock_cover_with_nothing_on_hand_backs_nothing_and_leaves_the_rest_free_elsewhere():
    # given an item reserved with nothing on hand, and another item with stock nobody reserved
    short, stocked, loc = ItemFactory(), ItemFactory(), LocationFactory()
    receive(stocked, loc, 5)
    forced = _reserve(short, loc, 3, 1, force=True)

    cover = stock_cover(pairs=[(short.pk, loc.pk), (stocked.pk, loc.pk)])

    assert [(r.reservation_id, r.on_hand) for r in cover.reservations] == [(forced.pk, 0)]
    assert cover.free == {(short.pk, loc.pk): 0, (stocked.pk, loc.pk): 5}
