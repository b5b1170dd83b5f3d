"""Property test: any sequence of postings, reservations and reversals keeps every balance
equal to its ledger sum, and never leaves negative on-hand where the location forbids it."""

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.exceptions import DomainError
from inventory.models import StockBalance, StockPosting
from inventory.services import (
    DocumentRef,
    PostingLine,
    reservation_create,
    reservations_release,
    stock_post,
    stock_posting_reverse,
    stock_transfer,
)
from tests.inventory.factories import ItemFactory, LocationFactory
from tests.inventory.helpers import assert_ledger_consistent

qty = st.integers(min_value=1, max_value=20).map(Decimal)
idx = st.integers(min_value=0, max_value=1)
step = st.one_of(
    st.tuples(st.just("receipt"), idx, idx, qty),
    st.tuples(st.just("issue"), idx, idx, qty),
    st.tuples(st.just("transfer"), idx, idx, qty),
    st.tuples(st.just("reserve"), idx, idx, qty),
    st.tuples(st.just("issue_reserved"), idx, idx, qty),
    st.tuples(st.just("release"), idx, idx, qty),
    st.tuples(st.just("reverse"), idx, idx, qty),
)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_stock_ledger_invariants_hold_for_any_sequence(steps):
    with transaction.atomic():
        items = [ItemFactory(), ItemFactory()]
        # Location 0 forbids negative stock, location 1 (scrap-like) allows it.
        locations = [LocationFactory(), LocationFactory(allow_negative=True)]
        reservations = []
        for n, (kind, i, loc_index, q) in enumerate(steps):
            item, loc = items[i], locations[loc_index]
            ref = DocumentRef(document_type="prop", document_id=n % 3)
            try:
                if kind in ("receipt", "issue"):
                    stock_post(
                        movement_type=kind,
                        lines=[
                            PostingLine(item_id=item.pk, location_id=loc.pk, quantity=q if kind == "receipt" else -q)
                        ],
                        reference=ref,
                        user=None,
                    )
                elif kind == "transfer":
                    stock_transfer(
                        item_id=item.pk,
                        from_location_id=loc.pk,
                        to_location_id=locations[1 - loc_index].pk,
                        quantity=q,
                        reference=ref,
                        user=None,
                    )
                elif kind == "reserve":
                    reservations.append(
                        reservation_create(item_id=item.pk, location_id=loc.pk, quantity=q, reference=ref, user=None)
                    )
                elif kind == "issue_reserved" and reservations:
                    res = reservations[n % len(reservations)]
                    stock_post(
                        movement_type="issue",
                        lines=[
                            PostingLine(
                                item_id=res.item_id,
                                location_id=res.location_id,
                                quantity=-q,
                                reservation_id=res.pk,
                            )
                        ],
                        reference=ref,
                        user=None,
                    )
                elif kind == "release":
                    reservations_release(document_type="prop", document_id=n % 3, user=None)
                elif kind == "reverse":
                    posting = StockPosting.objects.exclude(movement_type="reversal").order_by("?").first()
                    if posting is not None:
                        stock_posting_reverse(posting_id=posting.pk, user=None, reason="prop")
            except DomainError:
                pass  # refused steps must leave nothing behind; the checks below prove it
            assert_ledger_consistent()
            assert not StockBalance.objects.filter(location=locations[0], on_hand__lt=0).exists()
        transaction.set_rollback(True)
