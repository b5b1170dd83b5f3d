"""Helpers other apps' tests call after they post stock."""

from __future__ import annotations

from decimal import Decimal

from inventory.selectors import stock_ledger_check
from inventory.services import DocumentRef, PostingLine, stock_post


def assert_ledger_consistent() -> None:
    """Every balance equals its ledger sum and its open reservations."""
    differences = stock_ledger_check()
    assert differences == [], "ledger and balances disagree:\n" + "\n".join(map(str, differences))


def receive(item, location, quantity, *, lot=None, user=None, unit_cost=None):
    """Given-step shortcut: post a receipt of ``quantity``."""
    return stock_post(
        movement_type="receipt",
        lines=[
            PostingLine(
                item_id=item.pk,
                location_id=location.pk,
                quantity=Decimal(quantity),
                lot_id=lot.pk if lot else None,
                unit_cost=unit_cost,
            )
        ],
        reference=DocumentRef(document_type="test", document_id=1),
        user=user,
    )
