"""Batched postings: several postings in one lock round, applied as if posted one after the
other, all or nothing (or, in groups, each group all or nothing)."""

import datetime as dt
from decimal import Decimal

import pytest

from config.exceptions import InsufficientStock, ValidationFailed
from inventory.models import StockBalance, StockMovement, StockPosting
from inventory.services import DocumentRef, PostingLine, PostingRequest, stock_post_groups, stock_post_many
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


def _receipt(item, location, qty, key) -> PostingRequest:
    return PostingRequest(
        movement_type="receipt",
        lines=[PostingLine(item_id=item.pk, location_id=location.pk, quantity=Decimal(qty))],
        reference=DocumentRef(document_type="test", document_id=1),
        posting_key=key,
    )


def test_a_refused_group_is_taken_back_whole_and_the_others_are_posted():
    item, other, loc = ItemFactory(), ItemFactory(), LocationFactory()
    receive(item, loc, 10)
    postings = [
        _issue(item, loc, 4, "g1-issue"),
        _receipt(other, loc, 5, "g2-receipt"),  # applied, then taken back with its group
        _issue(item, loc, 7, "g2-issue"),  # 6 left: refused
        _issue(item, loc, 6, "g3-issue"),  # sees the 6 that g2 did not take
    ]

    made, refused = stock_post_groups(postings=postings, groups=["g1", "g2", "g2", "g3"])

    assert [p.posting_key if p else None for p in made] == ["g1-issue", None, None, "g3-issue"]
    assert list(refused) == ["g2"]
    assert isinstance(refused["g2"], InsufficientStock) and refused["g2"].request_index == 2
    assert not StockPosting.objects.filter(posting_key__startswith="g2").exists()
    assert StockBalance.objects.get(item=item, location=loc).on_hand == 0
    assert not StockBalance.objects.filter(item=other, on_hand__gt=0).exists()
    assert_ledger_consistent()


def test_a_group_refused_by_validation_is_left_out_before_anything_is_locked():
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 10)
    bad = PostingRequest(
        movement_type="issue",
        lines=[PostingLine(item_id=item.pk, location_id=loc.pk, quantity=Decimal(3))],  # an issue must be negative
        reference=DocumentRef(document_type="test", document_id=1),
        posting_key="bad",
    )

    made, refused = stock_post_groups(postings=[bad, _issue(item, loc, 2, "good")], groups=[1, 2])

    assert made[0] is None and made[1].posting_key == "good"
    assert refused[1].code == "invalid_quantity" and refused[1].request_index == 0
    assert StockBalance.objects.get(item=item, location=loc).on_hand == 8
    assert_ledger_consistent()


def test_reserved_stock_taken_back_with_a_refused_group():
    from inventory.services import reservation_create

    item, other, loc = ItemFactory(), ItemFactory(), LocationFactory()
    receive(item, loc, 10)
    reservation = reservation_create(
        item_id=item.pk, location_id=loc.pk, quantity=Decimal(5), reference=DocumentRef("test", 1), user=None
    )
    consume = PostingRequest(
        movement_type="issue",
        lines=[PostingLine(item_id=item.pk, location_id=loc.pk, quantity=Decimal(-5), reservation_id=reservation.pk)],
        reference=DocumentRef(document_type="test", document_id=1),
        posting_key="consume",
    )

    made, refused = stock_post_groups(
        postings=[consume, _issue(other, loc, 1, "short"), _issue(item, loc, 1, "later")], groups=["g", "g", "h"]
    )

    assert made[:2] == [None, None] and made[2].posting_key == "later" and list(refused) == ["g"]
    reservation.refresh_from_db()
    assert reservation.consumed_quantity == 0 and reservation.status == "open"
    balance = StockBalance.objects.get(item=item, location=loc)
    assert (balance.on_hand, balance.reserved) == (9, 5)
    assert_ledger_consistent()


def test_the_postings_of_a_group_must_be_next_to_each_other():
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 10)

    with pytest.raises(ValueError, match="next to each other"):
        stock_post_groups(
            postings=[_issue(item, loc, 1, "a"), _issue(item, loc, 1, "b"), _issue(item, loc, 1, "c")],
            groups=["x", "y", "x"],
        )
