"""Batched postings: several postings in one lock round, applied as if posted one after the
other, all or nothing."""

import datetime as dt
from decimal import Decimal

import pytest

from config.exceptions import InsufficientStock, ValidationFailed
from inventory.models import StockBalance, StockMovement, StockPosting
from inventory.services import DocumentRef, PostingLine, PostingRequest, stock_post_many
from tests.inventory.factories import ItemFactory, LocationFactory, LotFactory
from tests.inventory.helpers import assert_ledger_consistent, receive

pytestmark = pytest.mark.django_db


def _issue(item, location, qty, key, **kw) -> PostingRequest:
    return PostingRequest(
        movement_type="issue",
        lines=[PostingLine(item_id=item.pk, location_id=location.pk, quantity=-Decimal(qty), **kw)],
        reference=DocumentRef(document_type="test", document_id=1),
        posting_key=key,
    )


def test_a_batch_is_applied_in_order_and_written_once():
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 10)

    postings = stock_post_many(postings=[_issue(item, loc, 3, "a"), _issue(item, loc, 7, "b")])

    assert [p.posting_key for p in postings] == ["a", "b"]
    assert StockBalance.objects.get(item=item, location=loc).on_hand == 0
    assert StockMovement.objects.filter(posting__posting_key__in=["a", "b"]).count() == 2
    assert_ledger_consistent()


def test_a_later_posting_sees_what_an_earlier_one_took_and_the_batch_writes_nothing():
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 10)

    with pytest.raises(InsufficientStock) as error:
        stock_post_many(postings=[_issue(item, loc, 6, "a"), _issue(item, loc, 6, "b")])

    assert error.value.request_index == 1
    assert not StockPosting.objects.filter(posting_key__in=["a", "b"]).exists()
    assert StockBalance.objects.get(item=item, location=loc).on_hand == 10
    assert_ledger_consistent()


def test_a_key_posted_before_returns_the_first_posting_and_moves_nothing_again():
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 10)
    first = stock_post_many(postings=[_issue(item, loc, 4, "k")])[0]

    again = stock_post_many(postings=[_issue(item, loc, 4, "k"), _issue(item, loc, 1, "other")])

    assert again[0].pk == first.pk
    assert StockBalance.objects.get(item=item, location=loc).on_hand == 5
    assert_ledger_consistent()


def test_the_same_key_twice_in_one_batch_is_refused():
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 10)

    with pytest.raises(ValidationFailed) as error:
        stock_post_many(postings=[_issue(item, loc, 1, "k"), _issue(item, loc, 1, "k")])

    assert error.value.code == "posting_key_reused"


def test_pick_lots_takes_first_expiry_first_across_the_postings_of_a_batch():
    item, loc = ItemFactory(lot_tracked=True), LocationFactory()
    today = dt.date.today()
    late = LotFactory(item=item, lot_number="LATE", expiry_date=today + dt.timedelta(days=90))
    early = LotFactory(item=item, lot_number="EARLY", expiry_date=today + dt.timedelta(days=10))
    undated = LotFactory(item=item, lot_number="NONE", expiry_date=None)
    for lot in (late, early, undated):
        receive(item, loc, 5, lot=lot)

    stock_post_many(postings=[_issue(item, loc, 4, "a", pick_lots=True), _issue(item, loc, 4, "b", pick_lots=True)])

    taken = {
        (m.posting.posting_key, m.lot.lot_number): -m.quantity
        for m in StockMovement.objects.filter(posting__posting_key__in=["a", "b"]).select_related("posting", "lot")
    }
    assert taken == {("a", "EARLY"): 4, ("b", "EARLY"): 1, ("b", "LATE"): 3}
    assert_ledger_consistent()


def test_pick_lots_short_of_lot_stock_names_the_item_and_what_is_there():
    item, loc = ItemFactory(lot_tracked=True, sku="LOTTED"), LocationFactory()
    receive(item, loc, 2, lot=LotFactory(item=item))

    with pytest.raises(InsufficientStock) as error:
        stock_post_many(postings=[_issue(item, loc, 3, "a", pick_lots=True)])

    assert "LOTTED" in error.value.message and "available 2" in error.value.message
    assert error.value.request_index == 0
