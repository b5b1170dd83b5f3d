"""Ordered row locks. Every path that locks stock rows takes them in the same order
(reservations by id, then balances by (item, location, lot)), so two postings touching the
same rows queue instead of deadlocking."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from django.db import connection
from django.db.models import QuerySet

from config.db import instance_from_row, prepared_instances, select_columns
from inventory.models import Reservation, StockBalance, StockPosting

BalanceKey = tuple[int, int, int | None]


def stock_balances_lock(*, keys: Iterable[BalanceKey], item_location_pairs: Iterable[tuple[int, int]] = ()) -> dict:
    """Lock the balance rows of ``keys`` in (item, location, lot) order with one query,
    creating the missing ones first. ``item_location_pairs`` additionally locks every lot
    row of an (item, location), for availability checks across lots.

    The rows are looked up first and only missing keys are inserted (INSERT ... ON CONFLICT
    DO NOTHING, then locked): a posting of stock that has been there before costs one round
    trip. Hand-written SQL: every posting runs this, and the ORM spent milliseconds
    compiling the OR of one condition per key."""
    keys = sorted(set(keys), key=_key_order)
    found = _balances_lock(keys, sorted(set(item_location_pairs)))
    missing = [k for k in keys if k not in found]
    if missing:
        values = ", ".join(["(%s::bigint, %s::bigint, %s::bigint)"] * len(missing))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {StockBalance._meta.db_table} (item_id, location_id, lot_id, on_hand, reserved) "  # noqa: S608
                f"SELECT k.i, k.l, k.t, 0, 0 FROM (VALUES {values}) AS k(i, l, t) ON CONFLICT DO NOTHING",
                [v for k in missing for v in k],
            )
        found.update(_balances_lock(missing, []))
    return found


def _key_order(key: BalanceKey) -> tuple[int, int, int]:
    return key[0], key[1], key[2] or 0


def _balances_lock(keys: list[BalanceKey], pairs: list[tuple[int, int]]) -> dict:
    conditions, params = [], []
    with_lot = [k for k in keys if k[2]]
    without_lot = [k[:2] for k in keys if not k[2]]
    if with_lot:
        conditions.append(
            "(b.item_id, b.location_id, b.lot_id) IN (" + ", ".join(["(%s, %s, %s)"] * len(with_lot)) + ")"
        )
        params += [v for k in with_lot for v in k]
    if without_lot:
        conditions.append(
            "(b.lot_id IS NULL AND (b.item_id, b.location_id) IN (" + ", ".join(["(%s, %s)"] * len(without_lot)) + "))"
        )
        params += [v for k in without_lot for v in k]
    if pairs:
        conditions.append("(b.item_id, b.location_id) IN (" + ", ".join(["(%s, %s)"] * len(pairs)) + ")")
        params += [v for p in pairs for v in p]
    if not conditions:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {select_columns(StockBalance, 'b')} FROM {StockBalance._meta.db_table} b "  # noqa: S608
            f"WHERE {' OR '.join(conditions)} ORDER BY b.item_id, b.location_id, b.lot_id FOR NO KEY UPDATE OF b",
            params,
        )
        rows = [instance_from_row(StockBalance, row) for row in cursor.fetchall()]
    return {(b.item_id, b.location_id, b.lot_id): b for b in rows}


@cache
def _reservations_lock_sql() -> str:
    table = Reservation._meta.db_table
    return (
        f"SELECT {select_columns(Reservation, 'r')} FROM {table} r WHERE r.id = ANY(%s) "  # noqa: S608
        "ORDER BY r.id FOR NO KEY UPDATE OF r"
    )


def reservations_lock(ids: Iterable[int]) -> list[Reservation]:
    """Lock reservations by id, in id order (``reservations_qs_select_for_update`` as one
    prepared statement: every posting batch that consumes reservations runs it)."""
    return prepared_instances(Reservation, _reservations_lock_sql(), [sorted(ids)])


def reservations_qs_select_for_update() -> QuerySet[Reservation]:
    return Reservation.objects.select_for_update(no_key=True, of=("self",)).order_by("id")


def stock_posting_qs_select_for_update() -> QuerySet[StockPosting]:
    # FOR UPDATE takes a row lock only; it never fires the append-only UPDATE trigger.
    return StockPosting.objects.select_for_update(of=("self",))
