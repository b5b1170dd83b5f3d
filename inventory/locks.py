"""Ordered row locks. Every path that locks stock rows takes them in the same order
(reservations by id, then balances by (item, location, lot)), so two postings touching the
same rows queue instead of deadlocking."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from inventory.models import Reservation, StockBalance, StockPosting

BalanceKey = tuple[int, int, int | None]


def _keys_q(keys: Iterable[BalanceKey]) -> Q:
    q = Q(pk__in=[])
    for item_id, location_id, lot_id in keys:
        q |= (
            Q(item_id=item_id, location_id=location_id, lot_id=lot_id)
            if lot_id
            else Q(item_id=item_id, location_id=location_id, lot__isnull=True)
        )
    return q


def stock_balances_lock(*, keys: Iterable[BalanceKey], item_location_pairs: Iterable[tuple[int, int]] = ()) -> dict:
    """Create missing balance rows (INSERT ... ON CONFLICT DO NOTHING), then lock them in
    (item, location, lot) order with one query. ``item_location_pairs`` additionally locks
    every lot row of an (item, location), for availability checks across lots."""
    keys = sorted(set(keys), key=lambda k: (k[0], k[1], k[2] or 0))
    if keys:
        StockBalance.objects.bulk_create(
            [StockBalance(item_id=i, location_id=loc, lot_id=lot) for i, loc, lot in keys],
            ignore_conflicts=True,
        )
    q = _keys_q(keys)
    for item_id, location_id in set(item_location_pairs):
        q |= Q(item_id=item_id, location_id=location_id)
    rows = list(
        StockBalance.objects.select_for_update(no_key=True, of=("self",))
        .filter(q)
        .order_by("item_id", "location_id", "lot_id")
    )
    return {(b.item_id, b.location_id, b.lot_id): b for b in rows}


def reservations_qs_select_for_update() -> QuerySet[Reservation]:
    return Reservation.objects.select_for_update(no_key=True, of=("self",)).order_by("id")


def stock_posting_qs_select_for_update() -> QuerySet[StockPosting]:
    # FOR UPDATE takes a row lock only; it never fires the append-only UPDATE trigger.
    return StockPosting.objects.select_for_update(of=("self",))
