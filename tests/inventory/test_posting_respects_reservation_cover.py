"""The ledger's reservation rule with reservations forced beyond the stock: an issue takes
its own reservation only as far as stock backs it (oldest claim first, as ``stock_cover``
counts), and beyond that only what no reservation claims."""

from decimal import Decimal

import pytest

from config.exceptions import InsufficientStock
from inventory.selectors import stock_cover
from inventory.services import DocumentRef, PostingLine, reservation_create, stock_post
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


def _issue(item, loc, lines, document_id):
    return stock_post(
        movement_type="production_issue",
        lines=[
            PostingLine(item_id=item.pk, location_id=loc.pk, quantity=-Decimal(q), reservation_id=r.pk, pick_lots=True)
            for q, r in lines
        ],
        reference=DocumentRef(document_type="test", document_id=document_id),
        user=None,
    )


@pytest.mark.parametrize("lots", [False, True], ids=["plain", "lot-tracked"])
def test_an_issue_against_a_forced_reservation_takes_only_its_backed_part(lots):
    # given 10 on hand, 6 reserved within it and 10 forced beyond it (4 of them backed)
    item, loc = ItemFactory(lot_tracked=lots), LocationFactory(code="RM")
    for quantity in (7, 3):
        receive(item, loc, quantity, lot=LotFactory(item=item) if lots else None)
    older = _reserve(item, loc, 6, 1)
    forced = _reserve(item, loc, 10, 2, force=True)

    # when the forced document issues 5 of its reservation
    with pytest.raises(InsufficientStock) as error:
        _issue(item, loc, [(5, forced)], 2)

    # then it is refused with what it may take, and the older claim stays backed
    assert (error.value.fields["needed"], error.value.fields["available"]) == (["5"], ["4"])
    assert "reserved for other documents" in error.value.message
    # 4 go through, and the older claim is still fully backed
    _issue(item, loc, [(4, forced)], 2)
    cover = {r.reservation_id: r.on_hand for r in stock_cover(pairs=[(item.pk, loc.pk)]).reservations}
    assert cover == {older.pk: 6, forced.pk: 0}


def test_an_older_reservation_is_consumed_in_full_though_a_newer_forced_one_over_reserves():
    # given 10 on hand, 6 reserved within it, then 10 forced beyond it
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 10)
    older = _reserve(item, loc, 6, 1)
    _reserve(item, loc, 10, 2, force=True)

    # when the older document issues its 6, then 1 more
    _issue(item, loc, [(6, older)], 1)

    # then its own is its own; beyond it nothing is free
    with pytest.raises(InsufficientStock) as error:
        stock_post(
            movement_type="production_issue",
            lines=[PostingLine(item_id=item.pk, location_id=loc.pk, quantity=Decimal(-1))],
            reference=DocumentRef(document_type="test", document_id=1),
            user=None,
        )
    assert error.value.fields["available"] == ["0"]


def test_two_lines_of_one_lot_tracked_item_pick_different_stock():
    # given two lots of 5 and two reservations of one document, 4 each
    item, loc = ItemFactory(lot_tracked=True), LocationFactory()
    for _ in range(2):
        receive(item, loc, 5, lot=LotFactory(item=item))
    first, second = _reserve(item, loc, 4, 1), _reserve(item, loc, 4, 1)

    # when one posting issues both
    posting = _issue(item, loc, [(4, first), (4, second)], 1)

    # then the second line picks what the first left, over both lots
    assert sorted(m.quantity for m in posting.movements.all()) == [-4, -3, -1]
