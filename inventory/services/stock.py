"""Stock ledger writes: postings, transfers, reversals, reservations.

The contract other apps (production, sales) code against. Every function owns its
transaction; balances change in the same transaction as the ledger rows, under row locks
taken in one fixed order (see ``inventory.locks``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from config.db import (
    array_literal,
    execute_prepared,
    instance_from_row,
    prepared_instances,
    select_columns,
    service_atomic,
)
from config.exceptions import DomainError, InsufficientStock, NotFound, StateConflict, ValidationFailed
from config.fields import ZERO
from inventory.enums import MOVEMENT_SIGN, MovementType, ReservationStatus
from inventory.locks import (
    BalanceKey,
    _key_order,
    reservations_lock,
    reservations_qs_select_for_update,
    stock_balances_lock,
    stock_posting_qs_select_for_update,
)
from inventory.models import (
    Item,
    Location,
    Lot,
    Reservation,
    StockBalance,
    StockMovement,
    StockPosting,
    UnitOfMeasure,
)
from inventory.selectors import back_oldest_first

QTY_QUANT = Decimal("0.0001")


def _fmt(value: Decimal) -> str:
    """3, not 3.0000, in messages."""
    return f"{Decimal(value).normalize():f}"


@dataclass(frozen=True)
class DocumentRef:
    document_type: str
    document_id: int
    document_number: str = ""
    document_line_id: int | None = None


@dataclass(frozen=True)
class PostingLine:
    item_id: int
    location_id: int
    quantity: Decimal  # signed: + into stock, - out
    lot_id: int | None = None
    unit_cost: Decimal | None = None  # None -> item.standard_cost
    reservation_id: int | None = None  # an issue against a reservation consumes it first
    document_line_id: int | None = None
    # A lot-tracked issue without a lot: split it over the lots first-expiry-first, under the lock.
    pick_lots: bool = False


@dataclass(frozen=True)
class ReserveAgain:
    """What the reversal of an issue gives back to the reservation the issue consumed: at
    most ``quantity`` of its consumption (what the reversal puts back at the reservation's
    item and location), and no more than leaves it open for ``open_at_most`` (what the
    document still needs). A reservation its document released stays released."""

    reservation_id: int
    quantity: Decimal
    open_at_most: Decimal


@dataclass(frozen=True)
class _Line:
    """A validated line; ``reverses_id`` only for reversals."""

    line: PostingLine
    reverses_id: int | None = None


def _validate_reference(reference: DocumentRef) -> None:
    if not reference.document_type:
        raise ValidationFailed("A document type is required.", code="required", fields={"document_type": "required"})


@cache
def _master_sql() -> tuple[str, str, str]:
    """Items with their units, locations and lots of a batch, by id arrays: hand-written and
    prepared, as every posting batch runs them (the ORM compiled each in about a millisecond)."""
    item, uom = Item._meta.db_table, UnitOfMeasure._meta.db_table
    return (
        f"SELECT {select_columns(Item, 'i')}, {select_columns(UnitOfMeasure, 'u')} FROM {item} i "  # noqa: S608
        f"JOIN {uom} u ON u.id = i.uom_id WHERE i.id = ANY(%s)",
        f"SELECT {select_columns(Location, 'l')} FROM {Location._meta.db_table} l WHERE l.id = ANY(%s)",  # noqa: S608
        f"SELECT {select_columns(Lot, 't')} FROM {Lot._meta.db_table} t WHERE t.id = ANY(%s)",  # noqa: S608
    )


def _load_master(lines: Sequence[PostingLine]) -> tuple[dict[int, Item], dict[int, Location], dict[int, Lot]]:
    items_sql, locations_sql, _ = _master_sql()
    items = {}
    for item in prepared_instances(Item, items_sql, [sorted({ln.item_id for ln in lines})]):
        item.uom = instance_from_row(UnitOfMeasure, item._extra)
        items[item.pk] = item
    locations = {
        loc.pk: loc for loc in prepared_instances(Location, locations_sql, [sorted({ln.location_id for ln in lines})])
    }
    return items, locations, _lots_by_id({ln.lot_id for ln in lines if ln.lot_id})


def _lots_by_id(ids) -> dict[int, Lot]:
    if not ids:
        return {}
    return {lot.pk: lot for lot in prepared_instances(Lot, _master_sql()[2], [sorted(ids)])}


_MOVEMENT_TYPES = frozenset(MovementType.values)  # built once: a batch validates hundreds of postings


def _validate_lines(
    *, movement_type: str, lines: Sequence[PostingLine], items: dict, locations: dict, lots: dict
) -> None:
    if movement_type not in _MOVEMENT_TYPES:
        raise ValidationFailed(
            f"Unknown movement type {movement_type!r}.",
            code="invalid_movement_type",
            fields={"movement_type": f"one of {', '.join(MovementType.values)}"},
        )
    if not lines:
        raise ValidationFailed("A posting needs at least one line.", code="required", fields={"lines": "required"})
    sign = MOVEMENT_SIGN[movement_type]
    for index, ln in enumerate(lines):
        prefix = f"lines[{index}]"
        item = items.get(ln.item_id)
        if item is None:
            raise ValidationFailed(
                f"Item {ln.item_id} does not exist.",
                code="unknown_item",
                fields={f"{prefix}.item_id": "unknown"},
            )
        location = locations.get(ln.location_id)
        if location is None:
            raise ValidationFailed(
                f"Location {ln.location_id} does not exist.",
                code="unknown_location",
                fields={f"{prefix}.location_id": "unknown"},
            )
        if not location.is_active:
            raise ValidationFailed(
                f"Location {location.code} is inactive.",
                code="inactive_location",
                fields={f"{prefix}.location_id": "inactive"},
            )
        qty = Decimal(ln.quantity)
        if qty == 0 or (sign > 0 and qty < 0) or (sign < 0 and qty > 0):
            expected = {1: "positive", -1: "negative", 0: "non-zero"}[sign]
            raise ValidationFailed(
                f"Quantity of a {movement_type} line for {item.sku} must be {expected}, got {qty}.",
                code="invalid_quantity",
                fields={f"{prefix}.quantity": f"must be {expected}"},
            )
        if qty != qty.quantize(Decimal(1).scaleb(-min(item.uom.decimals, 4))):
            raise ValidationFailed(
                f"{item.sku} is counted in {item.uom.code}, which allows {item.uom.decimals} decimals; got {qty}.",
                code="too_many_decimals",
                fields={f"{prefix}.quantity": f"at most {item.uom.decimals} decimals"},
            )
        if ln.unit_cost is not None and ln.unit_cost < 0:
            raise ValidationFailed(
                "Unit cost must not be negative.",
                code="invalid_cost",
                fields={f"{prefix}.unit_cost": "negative"},
            )
        if ln.pick_lots and not ln.lot_id and qty < 0:
            continue  # lots are picked under the lock
        _validate_lot(item=item, lot_id=ln.lot_id, lots=lots, field=f"{prefix}.lot_id")


def _validate_lot(*, item: Item, lot_id: int | None, lots: dict, field: str) -> None:
    if item.lot_tracked and not lot_id:
        raise ValidationFailed(
            f"{item.sku} is lot-tracked: a lot is required.", code="lot_required", fields={field: "required"}
        )
    if not item.lot_tracked and lot_id:
        raise ValidationFailed(
            f"{item.sku} is not lot-tracked: it takes no lot.",
            code="lot_not_allowed",
            fields={field: "not allowed"},
        )
    if lot_id:
        lot = lots.get(lot_id)
        if lot is None or lot.item_id != item.pk:
            raise ValidationFailed(
                f"Lot {lot_id} does not belong to {item.sku}.",
                code="unknown_lot",
                fields={field: "unknown lot"},
            )


@dataclass(frozen=True)
class PostingRequest:
    """One posting of a batch (``stock_post_many``); the arguments of ``stock_post``."""

    movement_type: str
    lines: Sequence[PostingLine]
    reference: DocumentRef
    user: Any = None
    posting_key: str | None = None
    note: str = ""


@dataclass(frozen=True)
class _Request:
    movement_type: str
    lines: Sequence[_Line]
    reference: DocumentRef
    user: Any
    posting_key: str | None
    note: str
    reversal_of_id: int | None = None
    reserve_again: Sequence[ReserveAgain] = ()


class _Batch:
    """Everything a batch of postings works on: masters, locked rows, what changed, and a
    journal of the changes, so that a refused posting can be taken back in memory."""

    def __init__(self, *, items, locations, lots, reservations, balances):
        self.items: dict[int, Item] = items
        self.locations: dict[int, Location] = locations
        self.lots: dict[int, Lot] = lots
        self.reservations: dict[int, Reservation] = reservations
        self.balances: dict[BalanceKey, StockBalance] = balances
        self.by_pair: dict[tuple[int, int], list[StockBalance]] = defaultdict(list)
        for key, balance in balances.items():
            self.by_pair[key[:2]].append(balance)
        self.changed_balances: set[BalanceKey] = set()
        self.changed_reservations: set[int] = set()
        self._journal: list[tuple[Any, str, Any]] = []
        # Open reservations per (item, location) as the batch found them (read when needed).
        self.claims: dict[tuple[int, int], dict[int, Decimal]] = {}

    def remember(self, obj, *attrs: str) -> None:
        """Journal the values of ``attrs`` of ``obj`` before a change."""
        self._journal.extend((obj, attr, getattr(obj, attr)) for attr in attrs)

    def mark(self) -> tuple[int, set, set]:
        return len(self._journal), set(self.changed_balances), set(self.changed_reservations)

    def undo(self, mark: tuple[int, set, set]) -> None:
        """Back to how the rows were at ``mark``."""
        length, self.changed_balances, self.changed_reservations = mark
        while len(self._journal) > length:
            obj, attr, value = self._journal.pop()
            setattr(obj, attr, value)


def _tag(exc: DomainError, index: int) -> DomainError:
    """Name the failing posting of a batch on the error (``exc.request_index``)."""
    exc.request_index = index
    return exc


def _pick_lots(line: PostingLine, request: _Request, batch: _Batch, picked: dict[int, Decimal]) -> list[PostingLine]:
    """FEFO split of a lot-tracked issue that names no lot, on the locked balances: first
    expiry first (no expiry last), then lot id. ``picked``: what earlier lines of the posting
    took per lot (updated), so that two lines of one item never pick the same stock."""
    quantity = -Decimal(line.quantity)
    rows = sorted(
        (
            b
            for b in batch.by_pair.get((line.item_id, line.location_id), ())
            if b.lot_id and b.on_hand - picked.get(b.lot_id, ZERO) > 0
        ),
        key=lambda b: (batch.lots[b.lot_id].expiry_date is None, batch.lots[b.lot_id].expiry_date, b.lot_id),
    )
    remaining, picks = quantity, []
    for balance in rows:
        if remaining <= 0:
            break
        take = min(balance.on_hand - picked.get(balance.lot_id, ZERO), remaining)
        picks.append(replace(line, quantity=-take, lot_id=balance.lot_id, pick_lots=False))
        picked[balance.lot_id] = picked.get(balance.lot_id, ZERO) + take
        remaining -= take
    if remaining > 0:
        pair = (line.item_id, line.location_id)
        own = {ln.line.reservation_id: ZERO for ln in request.lines if ln.line.reservation_id}
        own = {pk: q for pk, q in own.items() if pk in batch.reservations and _at(batch.reservations[pk], pair)}
        needed = -sum((Decimal(ln.line.quantity) for ln in request.lines if _takes_from(ln.line, pair)), ZERO)
        raise _short(pair, needed=needed, available=_may_take(pair, own, batch), batch=batch)
    return picks


def _takes_from(line: PostingLine, pair: tuple[int, int]) -> bool:
    return (line.item_id, line.location_id) == pair and Decimal(line.quantity) < 0


def _resolve(request: _Request, batch: _Batch) -> list[_Line]:
    resolved: list[_Line] = []
    picked: dict[int, Decimal] = {}
    for ln in request.lines:
        if ln.line.pick_lots and batch.items[ln.line.item_id].lot_tracked:
            resolved.extend(_Line(line=pick) for pick in _pick_lots(ln.line, request, batch, picked))
        else:
            resolved.append(ln)
    return resolved


def _claims(pair: tuple[int, int], batch: _Batch) -> dict[int, Decimal]:
    """The open reservations at ``pair`` now, {id: open quantity}: as the batch found them
    (one query per pair and batch, only when a check needs them), with the batch's own
    changes of the reservations it locked. The balance rows of the pair are locked, and every
    change of a reservation changes them too, so none changes meanwhile."""
    found = batch.claims.get(pair)
    if found is None:
        found = dict(
            Reservation.objects.filter(item_id=pair[0], location_id=pair[1], status=ReservationStatus.OPEN)
            .annotate(open=F("quantity") - F("consumed_quantity"))
            .values_list("pk", "open")
        )
        batch.claims[pair] = found
    claims = dict(found)
    for res in batch.reservations.values():
        if _at(res, pair):
            claims[res.pk] = _open(res)
    return claims


def _open(reservation: Reservation) -> Decimal:
    """What a reservation still claims (as the batch has it)."""
    if reservation.status != ReservationStatus.OPEN:
        return ZERO
    return reservation.quantity - reservation.consumed_quantity


def _may_take(
    pair: tuple[int, int], own: dict[int, Decimal], batch: _Batch, *, on_hand_change=ZERO, available_change=ZERO
) -> Decimal:
    """What a posting may take at ``pair`` before it applies its changes (``on_hand_change``,
    ``available_change``: what it changed there already): what no reservation claims, and the
    reservations it consumes (``own``: {id: what it consumed of it}) as far as stock backs
    them, oldest claim first (``inventory.selectors.back_oldest_first``, as ``stock_cover``
    counts). When nothing is over-reserved every claim is backed and nothing is read."""
    rows = batch.by_pair[pair]
    available = sum((b.on_hand - b.reserved for b in rows), ZERO) - available_change
    free = max(available, ZERO)
    if not own:
        return free
    before = {pk: _open(batch.reservations[pk]) + consumed for pk, consumed in own.items()}
    if available >= 0:
        return free + sum(before.values(), ZERO)
    on_hand = sum((b.on_hand for b in rows), ZERO) - on_hand_change
    backed, _ = back_oldest_first(on_hand, {**_claims(pair, batch), **before}.items())
    return free + sum((backed[pk] for pk in own), ZERO)


def _at(reservation: Reservation, pair: tuple[int, int]) -> bool:
    return (reservation.item_id, reservation.location_id) == pair


def _short(
    pair: tuple[int, int], *, needed: Decimal, available: Decimal, batch: _Batch, on_hand_change=ZERO
) -> InsufficientStock:
    """The refusal of a posting that needs more of an item at a location than it may take
    (``available``, what ``_may_take`` says; ``on_hand_change``: what it changed there already)."""
    item, location = batch.items[pair[0]], batch.locations[pair[1]]
    on_hand = sum((b.on_hand for b in batch.by_pair[pair]), ZERO) - on_hand_change
    reserved = "; the rest is reserved for other documents" if on_hand >= needed else ""
    return InsufficientStock(
        f"Insufficient stock of {item.sku} at {location.code}: needed {_fmt(needed)}, available "
        f"{_fmt(available)}{reserved}.",
        fields={
            "item": item.sku,
            "location": location.code,
            "needed": _fmt(needed),
            "available": _fmt(available),
        },
    )


def _ensure_reservations_respected(*, outgoing, on_hand_delta, reserved_delta, consumed, batch: _Batch) -> None:
    """Refuse a posting that takes stock another document has reserved: per (item,
    location), over all lots, it may take what no reservation claims and the reservations it
    consumes (``consumed``: {id: quantity}) as far as stock backs them, oldest claim first.
    When available (on hand − reserved) stays ≥ 0 that always holds; consuming one's own
    reservation leaves available unchanged, but a reservation forced beyond the stock may
    not take what backs an older one. Anything goes at a location that allows negative stock."""
    on_hand_change: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    change: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for key, delta in on_hand_delta.items():
        on_hand_change[key[:2]] += delta
        change[key[:2]] += delta
    for key, delta in reserved_delta.items():
        change[key[:2]] -= delta
    for pair in sorted(outgoing):
        if batch.locations[pair[1]].allow_negative:
            continue
        if sum((b.on_hand - b.reserved for b in batch.by_pair[pair]), ZERO) >= 0:
            continue  # the common case: every claim is still backed, nothing to read
        own = {pk: quantity for pk, quantity in consumed.items() if _at(batch.reservations[pk], pair)}
        available = _may_take(pair, own, batch, on_hand_change=on_hand_change[pair], available_change=change[pair])
        # Beyond what is free, it takes only its own reservations' backed stock.
        if -on_hand_change[pair] > available:
            raise _short(
                pair,
                needed=-on_hand_change[pair],
                available=available,
                batch=batch,
                on_hand_change=on_hand_change[pair],
            )


def _apply(request: _Request, lines: list[_Line], batch: _Batch, now) -> None:
    """Apply one posting to the locked rows in memory (journalled in ``batch``), or raise;
    nothing is written here."""
    on_hand_delta: dict[BalanceKey, Decimal] = defaultdict(lambda: ZERO)
    reserved_delta: dict[BalanceKey, Decimal] = defaultdict(lambda: ZERO)
    consumed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for index, ln in enumerate(ln.line for ln in lines):
        on_hand_delta[(ln.item_id, ln.location_id, ln.lot_id)] += Decimal(ln.quantity)
        if not ln.reservation_id:
            continue
        res = batch.reservations.get(ln.reservation_id)
        field = {f"lines[{index}].reservation_id": "unknown or closed"}
        if res is None:
            raise ValidationFailed(
                f"Reservation {ln.reservation_id} does not exist.", code="unknown_reservation", fields=field
            )
        if (res.item_id, res.location_id) != (ln.item_id, ln.location_id) or Decimal(ln.quantity) > 0:
            raise ValidationFailed(
                f"Reservation {res.pk} is for another item or location, or the line is not an issue.",
                code="reservation_mismatch",
                fields=field,
            )
        if res.status != ReservationStatus.OPEN:
            continue  # closed meanwhile: the issue simply does not consume it
        consume = min(-Decimal(ln.quantity), res.quantity - res.consumed_quantity)
        batch.remember(res, "consumed_quantity", "status", "updated_at")
        res.consumed_quantity += consume
        if res.consumed_quantity >= res.quantity:
            res.status = ReservationStatus.CLOSED
        res.updated_at = now  # bulk updates skip auto_now
        batch.changed_reservations.add(res.pk)
        reserved_delta[(res.item_id, res.location_id, res.lot_id)] -= consume
        consumed[res.pk] += consume
    if request.reserve_again:
        _reserve_again(request, batch, now, on_hand_delta, reserved_delta)

    for key, delta in sorted(on_hand_delta.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
        balance = batch.balances[key]
        new_on_hand = balance.on_hand + delta
        location = batch.locations[key[1]]
        if delta < 0 and new_on_hand < 0 and not location.allow_negative:
            if not key[2]:
                # No lot: the stock of the (item, location), as what the posting may take.
                pair = key[:2]
                own = {pk: q for pk, q in consumed.items() if _at(batch.reservations[pk], pair)}
                needed = -sum((d for k, d in on_hand_delta.items() if k[:2] == pair and d < 0), ZERO)
                raise _short(pair, needed=needed, available=_may_take(pair, own, batch), batch=batch)
            item = batch.items[key[0]]
            lot = batch.lots.get(key[2])
            at = f"{location.code}" + (f" lot {lot.lot_number}" if lot else "")
            raise InsufficientStock(
                f"Insufficient stock of {item.sku} at {at}: needed {_fmt(-delta)}, available {_fmt(balance.on_hand)}.",
                fields={
                    "item": item.sku,
                    "location": location.code,
                    "lot": lot.lot_number if lot else "",
                    "needed": _fmt(-delta),
                    "available": _fmt(balance.on_hand),
                },
            )
        batch.remember(balance, "on_hand")
        balance.on_hand = new_on_hand
    for key, delta in reserved_delta.items():
        batch.remember(batch.balances[key], "reserved")
        batch.balances[key].reserved += delta
    _ensure_reservations_respected(
        outgoing={k[:2] for k, d in on_hand_delta.items() if d < 0},
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        consumed=consumed,
        batch=batch,
    )
    batch.changed_balances.update(on_hand_delta)
    batch.changed_balances.update(reserved_delta)


def _reserve_again(request: _Request, batch: _Batch, now, on_hand_delta, reserved_delta) -> None:
    """Take back consumption of reservations for stock a reversal puts back (journalled,
    like every change of the batch)."""
    returned: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for key, delta in on_hand_delta.items():
        if delta > 0:
            returned[key[:2]] += delta
    for index, again in enumerate(request.reserve_again):
        res = batch.reservations.get(again.reservation_id)
        field = {f"reserve_again[{index}].reservation_id": "unknown or not returned to"}
        if res is None:
            raise ValidationFailed(
                f"Reservation {again.reservation_id} does not exist.", code="unknown_reservation", fields=field
            )
        pair = (res.item_id, res.location_id)
        if returned[pair] <= 0:
            raise ValidationFailed(
                f"Reservation {res.pk} is for stock this posting does not put back.",
                code="reservation_mismatch",
                fields=field,
            )
        if res.status != ReservationStatus.OPEN and res.consumed_quantity < res.quantity:
            continue  # released by its document, not consumed: it stays released
        open_before = res.quantity - res.consumed_quantity if res.status == ReservationStatus.OPEN else ZERO
        take = min(Decimal(again.quantity), returned[pair], res.consumed_quantity, again.open_at_most - open_before)
        if take <= 0:
            continue
        batch.remember(res, "consumed_quantity", "status", "updated_at")
        res.consumed_quantity -= take
        res.status = ReservationStatus.OPEN
        res.updated_at = now  # bulk updates skip auto_now
        batch.changed_reservations.add(res.pk)
        reserved_delta[(res.item_id, res.location_id, res.lot_id)] += take
        returned[pair] -= take


def _lock(requests: Sequence[_Request], items, locations, lots) -> _Batch:
    """Lock what the batch touches in the global order: reservations by id, then balances
    by (item, location, lot) — every lot row of an (item, location) that loses stock, for
    the availability check across lots and for FEFO picks."""
    lines = [ln.line for r in requests for ln in r.lines]
    reservation_ids = sorted(
        {ln.reservation_id for ln in lines if ln.reservation_id}
        | {again.reservation_id for r in requests for again in r.reserve_again}
    )
    reservations: dict[int, Reservation] = {}
    if reservation_ids:
        reservations = {r.pk: r for r in reservations_lock(reservation_ids)}
    keys = {(ln.item_id, ln.location_id, ln.lot_id) for ln in lines if not ln.pick_lots}
    keys |= {(r.item_id, r.location_id, r.lot_id) for r in reservations.values()}
    outgoing = {(ln.item_id, ln.location_id) for ln in lines if Decimal(ln.quantity) < 0}
    balances = stock_balances_lock(keys=keys, item_location_pairs=outgoing)
    picked = {(ln.item_id, ln.location_id) for ln in lines if ln.pick_lots}
    missing = {b.lot_id for k, b in balances.items() if b.lot_id and k[:2] in picked and b.lot_id not in lots}
    if missing:
        lots = {**lots, **_lots_by_id(missing)}
    return _Batch(items=items, locations=locations, lots=lots, reservations=reservations, balances=balances)


@cache
def _posting_keys_sql() -> str:
    table = StockPosting._meta.db_table
    return f"SELECT {select_columns(StockPosting, 'p')} FROM {table} p WHERE p.posting_key = ANY(%s)"  # noqa: S608


def _existing_postings(requests: Sequence[_Request], refuse: Callable[[int, DomainError], None]) -> dict:
    """Postings already made under the batch's keys (read after the locks, so a concurrent
    posting of the same key has committed by now). Same key again returns the first posting;
    a key used for another document or movement type is refused (``refuse(index, error)``)."""
    keys = [r.posting_key for r in requests if r.posting_key]
    if len(set(keys)) != len(keys):
        raise ValidationFailed(
            "Two postings of one batch share a posting key.",
            code="posting_key_reused",
            fields={"posting_key": "duplicate in batch"},
        )
    if not keys:
        return {}
    existing = {p.posting_key: p for p in prepared_instances(StockPosting, _posting_keys_sql(), [keys])}
    for index, r in enumerate(requests):
        found = existing.get(r.posting_key) if r.posting_key else None
        if found is None:
            continue
        if found.movement_type != r.movement_type or (found.document_type, found.document_id) != (
            r.reference.document_type,
            r.reference.document_id,
        ):
            refuse(
                index,
                ValidationFailed(
                    f"Posting key {r.posting_key!r} was already used for another posting (#{found.pk}).",
                    code="posting_key_reused",
                    fields={"posting_key": "already used for another posting"},
                ),
            )
    return existing


_MOVEMENT_COLUMNS = (
    "posting_id",
    "movement_type",
    "item_id",
    "location_id",
    "lot_id",
    "quantity",
    "unit_cost",
    "value",
    "document_line_id",
    "reservation_id",
    "reverses_id",
    "posted_at",
)


_HEADER_COLUMNS = (
    "document_type",
    "document_id",
    "document_line_id",
    "document_number",
    "movement_type",
    "posting_key",
    "user_id",
    "posted_at",
    "note",
    "reversal_of_id",
)


def _arrays(model, attnames: Sequence[str], alias: str) -> tuple[str, str]:
    """``unnest(%s::type[], ...)`` over the columns of ``attnames`` and its column list."""
    meta = model._meta
    types = [meta.get_field(a).db_type(connection) for a in attnames]
    return ", ".join(f"%s::{t}[]" for t in types), ", ".join(f"{alias}.{a}" for a in attnames)


@cache
def _write_sql(with_reservations: bool) -> str:
    """Everything a batch writes, in one statement: posting headers (ids drawn from their
    sequence, so that movements can point at them), movements, balances and reservations.
    Values go as one array literal per column (``config.db.array_literal``): Postgres reads
    each with one call, and the statement is the same for every batch, so it is prepared."""
    posting, movement = StockPosting._meta.db_table, StockMovement._meta.db_table
    balance, reservation = StockBalance._meta.db_table, Reservation._meta.db_table
    header_arrays, header_columns = _arrays(StockPosting, _HEADER_COLUMNS, "u")
    movement_arrays, movement_columns = _arrays(StockMovement, _MOVEMENT_COLUMNS[1:], "u")
    reservations = (
        (
            f", r AS (UPDATE {reservation} t SET consumed_quantity = u.consumed, status = u.status, "  # noqa: S608
            "updated_at = u.at FROM unnest(%s::bigint[], %s::numeric[], %s::varchar[], %s::timestamptz[]) "
            "AS u(id, consumed, status, at) WHERE t.id = u.id) "
        )
        if with_reservations
        else ""
    )
    return (
        "WITH ids AS MATERIALIZED (SELECT n, nextval("  # noqa: S608 - identifiers from the models only
        f"(SELECT pg_get_serial_sequence('{posting}', 'id')::regclass)) AS id FROM generate_series(1, %s) AS n), "
        f"h AS (INSERT INTO {posting} (id, {', '.join(_HEADER_COLUMNS)}) SELECT ids.id, {header_columns} "
        f"FROM unnest({header_arrays}) WITH ORDINALITY AS u({', '.join(_HEADER_COLUMNS)}, n) "
        "JOIN ids ON ids.n = u.n), "
        f"m AS (INSERT INTO {movement} ({', '.join(_MOVEMENT_COLUMNS)}) SELECT ids.id, {movement_columns} "
        f"FROM unnest(%s::bigint[], {movement_arrays}) AS u(n, {', '.join(_MOVEMENT_COLUMNS[1:])}) "
        "JOIN ids ON ids.n = u.n), "
        f"b AS (UPDATE {balance} t SET on_hand = u.on_hand, reserved = u.reserved "
        "FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) AS u(id, on_hand, reserved) WHERE t.id = u.id) "
        f"{reservations}SELECT id FROM ids ORDER BY n"
    )


def _write(headers: list[StockPosting], movements: list[tuple], batch: _Batch) -> None:
    """Write the batch (``movements``: rows of ``_MOVEMENT_COLUMNS`` whose first value is
    the position of their header, from 1) and give the headers their ids."""
    if not headers:
        return
    balances = [batch.balances[k] for k in sorted(batch.changed_balances, key=_key_order)]
    reservations = [batch.reservations[pk] for pk in sorted(batch.changed_reservations)]
    params = [len(headers)]
    params += [array_literal([getattr(h, c) for h in headers]) for c in _HEADER_COLUMNS]
    params += [array_literal(column) for column in zip(*movements, strict=True)]
    params += [array_literal(column) for column in ([b.pk for b in balances], [b.on_hand for b in balances])]
    params.append(array_literal([b.reserved for b in balances]))
    if reservations:
        params += [
            array_literal([getattr(r, a) for r in reservations])
            for a in ("pk", "consumed_quantity", "status", "updated_at")
        ]
    with connection.cursor() as cursor:
        execute_prepared(cursor, _write_sql(bool(reservations)), params)
        for header, (pk,) in zip(headers, cursor.fetchall(), strict=True):
            header.pk = pk
            header._state.adding = False


def _runs(indexes: list[int], groups: Sequence | None) -> list[list[int]]:
    """The postings to apply, in runs that stand or fall together: a group's, or one each."""
    if groups is None:
        return [[i] for i in indexes]
    runs: list[list[int]] = []
    seen = set()
    for i in indexes:
        if runs and groups[runs[-1][-1]] == groups[i]:
            runs[-1].append(i)
            continue
        if groups[i] in seen:
            raise ValueError("The postings of a group must be next to each other.")
        seen.add(groups[i])
        runs.append([i])
    return runs


def _post_many(requests: Sequence[_Request], groups: Sequence | None = None) -> tuple[list, dict]:
    """Post a batch of postings (the caller's transaction): validate all, lock once in the
    global order, apply them one after the other in memory, then write headers, movements,
    balances and reservations with one statement.

    Without ``groups`` a refused posting raises (tagged with its index) and nothing is
    written. With ``groups`` (one key per posting; a group's postings next to each other) a
    refused posting takes its whole group back in memory and the others go on; returns
    (the posting of each request, None where refused; {group: error})."""
    refused: dict = {}

    def refuse(index: int, exc: DomainError) -> None:
        if groups is None:
            raise _tag(exc, index)
        refused.setdefault(groups[index], _tag(exc, index))

    items, locations, lots = _load_master([ln.line for r in requests for ln in r.lines])
    for index, r in enumerate(requests):
        try:
            _validate_lines(
                movement_type=r.movement_type,
                lines=[ln.line for ln in r.lines],
                items=items,
                locations=locations,
                lots=lots,
            )
            _validate_reference(r.reference)
        except DomainError as exc:
            refuse(index, exc)

    def live() -> list[int]:
        return [i for i in range(len(requests)) if groups is None or groups[i] not in refused]

    batch = _lock([requests[i] for i in live()], items, locations, lots)
    existing = _existing_postings(requests, refuse)
    now = timezone.now()
    made: dict[int, StockPosting] = {}
    movements: list[tuple] = []
    for run in _runs(live(), groups):
        mark = batch.mark()
        run_made, run_movements = {}, []
        try:
            for index in run:
                r = requests[index]
                if r.posting_key in existing:
                    continue
                try:
                    lines = _resolve(r, batch)
                    _apply(r, lines, batch, now)
                except DomainError as exc:
                    raise _tag(exc, index) from None
                run_made[index] = _header(r, now)
                run_movements += _movement_rows(r, lines, batch, now, len(made) + len(run_made))
        except DomainError as exc:
            if groups is None:
                raise
            batch.undo(mark)
            refused[groups[run[0]]] = exc
            continue
        made.update(run_made)
        movements += run_movements
    _write(list(made.values()), movements, batch)
    postings = [
        None
        if groups is not None and groups[i] in refused
        else (existing[r.posting_key] if r.posting_key in existing else made[i])
        for i, r in enumerate(requests)
    ]
    return postings, refused


def _header(r: _Request, now) -> StockPosting:
    return StockPosting(
        movement_type=r.movement_type,
        document_type=r.reference.document_type,
        document_id=r.reference.document_id,
        document_line_id=r.reference.document_line_id,
        document_number=r.reference.document_number or "",
        posting_key=r.posting_key,
        user_id=getattr(r.user, "pk", None),
        posted_at=now,
        note=r.note,
        reversal_of_id=r.reversal_of_id,
    )


def _movement_rows(r: _Request, lines: list[_Line], batch: _Batch, now, position: int) -> list[tuple]:
    """The movement rows of a posting, the first value the position of its header."""
    rows = []
    for ln in lines:
        line = ln.line
        quantity = Decimal(line.quantity)
        cost = batch.items[line.item_id].standard_cost if line.unit_cost is None else line.unit_cost
        rows.append(
            (
                position,
                r.movement_type,
                line.item_id,
                line.location_id,
                line.lot_id,
                quantity,
                cost,
                (quantity * cost).quantize(QTY_QUANT),
                line.document_line_id or r.reference.document_line_id,
                line.reservation_id,
                ln.reverses_id,
                now,
            )
        )
    return rows


@transaction.atomic
def stock_post(
    *,
    movement_type: str,
    lines: Sequence[PostingLine],
    reference: DocumentRef,
    user,
    posting_key: str | None = None,
    note: str = "",
    reserve_again: Sequence[ReserveAgain] = (),
) -> StockPosting:
    """Post many lines atomically. Same ``posting_key`` again returns the first posting.
    ``reserve_again``: for a return of issued stock, what to give back to the reservations
    the issue consumed (see ``ReserveAgain``), in the same posting."""
    if movement_type == MovementType.REVERSAL:
        raise ValidationFailed(
            "Reversals are posted with stock_posting_reverse.",
            code="invalid_movement_type",
            fields={"movement_type": "use the reverse action"},
        )
    request = _Request(
        movement_type=movement_type,
        lines=[_Line(line=ln) for ln in lines],
        reference=reference,
        user=user,
        posting_key=posting_key,
        note=note,
        reserve_again=tuple(reserve_again),
    )
    return _post_many([request])[0][0]


@transaction.atomic
def stock_post_many(*, postings: Sequence[PostingRequest]) -> list[StockPosting]:
    """Post several postings in one transaction, all or nothing: one lock round in the
    global order, then each posting applied as if posted one after the other (a later one
    sees what an earlier one took). The postings of a shop floor's burst of confirmations
    cost a few statements instead of a few per posting.

    A refused posting refuses the batch: the error (``InsufficientStock``,
    ``ValidationFailed``) carries ``request_index``, the position of the posting that failed.
    A lot-tracked issue line with ``pick_lots=True`` and no lot is split over lots
    first-expiry-first under the lock."""
    return _post_many(_requests(postings))[0] if postings else []


@service_atomic
def stock_post_groups(
    *, postings: Sequence[PostingRequest], groups: Sequence[Hashable]
) -> tuple[list[StockPosting | None], dict[Hashable, DomainError]]:
    """Post what can be posted, as ``stock_post_many`` does, but a refused posting refuses
    only its group (``groups``: one key per posting; a group's postings next to each other):
    the group's other postings are taken back in memory and the rest go on, each seeing
    what the ones before it took. Returns the posting of each request (None for those of a
    refused group) and {group: the error that refused it, with ``request_index``}. Nothing
    of a refused group is written; the database sees one statement for the whole batch."""
    if len(groups) != len(postings):
        raise ValueError("One group per posting.")
    return _post_many(_requests(postings), groups) if postings else ([], {})


def _requests(postings: Sequence[PostingRequest]) -> list[_Request]:
    for index, p in enumerate(postings):
        if p.movement_type == MovementType.REVERSAL:
            raise _tag(
                ValidationFailed(
                    "Reversals are posted with stock_posting_reverse.",
                    code="invalid_movement_type",
                    fields={"movement_type": "use the reverse action"},
                ),
                index,
            )
    return [
        _Request(
            movement_type=p.movement_type,
            lines=[_Line(line=ln) for ln in p.lines],
            reference=p.reference,
            user=p.user,
            posting_key=p.posting_key,
            note=p.note,
        )
        for p in postings
    ]


@transaction.atomic
def stock_transfer(
    *,
    item_id: int,
    from_location_id: int,
    to_location_id: int,
    quantity: Decimal,
    lot_id: int | None = None,
    reference: DocumentRef,
    user,
    posting_key: str | None = None,
) -> StockPosting:
    quantity = Decimal(quantity)
    if quantity <= 0:
        raise ValidationFailed(
            "Transfer quantity must be positive.",
            code="invalid_quantity",
            fields={"quantity": "must be positive"},
        )
    if from_location_id == to_location_id:
        raise ValidationFailed(
            "Source and destination are the same location.",
            code="same_location",
            fields={"to_location_id": "must differ from from_location_id"},
        )
    out = PostingLine(item_id=item_id, location_id=from_location_id, quantity=-quantity, lot_id=lot_id)
    into = PostingLine(item_id=item_id, location_id=to_location_id, quantity=quantity, lot_id=lot_id)
    request = _Request(
        movement_type=MovementType.TRANSFER,
        lines=[_Line(line=out), _Line(line=into)],
        reference=reference,
        user=user,
        posting_key=posting_key,
        note="",
    )
    return _post_many([request])[0][0]


@transaction.atomic
def stock_posting_reverse(
    *,
    posting_id: int,
    user,
    reason: str,
    posting_key: str | None = None,
    reserve_again: Sequence[ReserveAgain] = (),
) -> StockPosting:
    """Write the opposite rows of a posting and link both. Consumed reservations stay
    consumed unless the document that issued against them reserves again what comes back
    (``reserve_again``), in the same posting: reservations are locked before the balances,
    as every posting locks them."""
    if posting_key is not None:
        existing = StockPosting.objects.filter(posting_key=posting_key).first()
        if existing is not None and existing.reversal_of_id == posting_id:
            return existing
    try:
        original = stock_posting_qs_select_for_update().get(pk=posting_id)
    except StockPosting.DoesNotExist as exc:
        raise NotFound(f"Stock posting {posting_id} does not exist.", fields={"posting_id": "unknown"}) from exc
    # Guards run after the lock: a concurrent reversal of the same posting waits here.
    if original.movement_type == MovementType.REVERSAL:
        raise StateConflict(
            f"Posting #{original.pk} is itself a reversal and cannot be reversed.",
            code="reversal_of_reversal",
            fields={"posting_id": "is a reversal"},
        )
    already = StockPosting.objects.filter(reversal_of_id=original.pk).values_list("pk", flat=True).first()
    if already is not None:
        raise StateConflict(
            f"Posting #{original.pk} was already reversed by #{already}.",
            code="already_reversed",
            fields={"posting_id": "already reversed"},
        )
    if not reason.strip():
        raise ValidationFailed("A reason is required.", code="required", fields={"reason": "required"})
    for index, again in enumerate(reserve_again):
        if Decimal(again.quantity) <= 0:
            raise ValidationFailed(
                "A quantity to reserve again must be positive.",
                code="invalid_quantity",
                fields={f"reserve_again[{index}].quantity": "must be positive"},
            )
    lines = [
        _Line(
            line=PostingLine(
                item_id=m.item_id,
                location_id=m.location_id,
                lot_id=m.lot_id,
                quantity=-m.quantity,
                unit_cost=m.unit_cost,
                document_line_id=m.document_line_id,
            ),
            reverses_id=m.pk,
        )
        for m in original.movements.order_by("id")
    ]
    reference = DocumentRef(
        document_type=original.document_type,
        document_id=original.document_id,
        document_number=original.document_number,
        document_line_id=original.document_line_id,
    )
    request = _Request(
        movement_type=MovementType.REVERSAL,
        lines=lines,
        reference=reference,
        user=user,
        posting_key=posting_key,
        note=reason,
        reversal_of_id=original.pk,
        reserve_again=tuple(reserve_again),
    )
    return _post_many([request])[0][0]


@transaction.atomic
def reservation_create(
    *,
    item_id: int,
    location_id: int,
    quantity: Decimal,
    reference: DocumentRef,
    user,
    lot_id: int | None = None,
    allow_shortage: bool = False,
) -> Reservation:
    """Reserve stock at a location. Without a lot, availability is summed over all lots."""
    quantity = Decimal(quantity)
    if quantity <= 0:
        raise ValidationFailed(
            "Reserved quantity must be positive.",
            code="invalid_quantity",
            fields={"quantity": "must be positive"},
        )
    _validate_reference(reference)
    item = Item.objects.filter(pk=item_id).first()
    location = Location.objects.filter(pk=location_id).first()
    if item is None:
        raise ValidationFailed(f"Item {item_id} does not exist.", code="unknown_item", fields={"item_id": "unknown"})
    if location is None:
        raise ValidationFailed(
            f"Location {location_id} does not exist.",
            code="unknown_location",
            fields={"location_id": "unknown"},
        )
    if lot_id:
        _validate_lot(item=item, lot_id=lot_id, lots=Lot.objects.in_bulk([lot_id]), field="lot_id")
    balances = stock_balances_lock(
        keys=[(item_id, location_id, lot_id)], item_location_pairs=[] if lot_id else [(item_id, location_id)]
    )
    available = sum((b.on_hand - b.reserved for b in balances.values()), ZERO)
    if available < quantity and not allow_shortage:
        raise InsufficientStock(
            f"Insufficient stock of {item.sku} at {location.code} to reserve: "
            f"needed {_fmt(quantity)}, available {_fmt(available)}.",
            fields={
                "item": item.sku,
                "location": location.code,
                "needed": _fmt(quantity),
                "available": _fmt(available),
            },
        )
    reservation = Reservation.objects.create(
        item_id=item_id,
        location_id=location_id,
        lot_id=lot_id,
        quantity=quantity,
        document_type=reference.document_type,
        document_id=reference.document_id,
        document_line_id=reference.document_line_id,
        document_number=reference.document_number or "",
        user=user if getattr(user, "pk", None) else None,
    )
    balance = balances[(item_id, location_id, lot_id)]
    balance.reserved += quantity
    balance.save(update_fields=["reserved"])
    return reservation


@transaction.atomic
def reservations_release(*, document_type: str, document_id: int, user, document_line_id: int | None = None) -> int:
    """Close every open reservation of a document (or one of its lines); returns how many."""
    qs = reservations_qs_select_for_update().filter(
        document_type=document_type, document_id=document_id, status=ReservationStatus.OPEN
    )
    if document_line_id is not None:
        qs = qs.filter(document_line_id=document_line_id)
    reservations = list(qs)
    if not reservations:
        return 0
    delta: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for res in reservations:
        delta[(res.item_id, res.location_id, res.lot_id)] += res.quantity - res.consumed_quantity
        res.status = ReservationStatus.CLOSED
        res.updated_at = timezone.now()  # bulk_update skips auto_now
    balances = stock_balances_lock(keys=delta)
    for key, qty in delta.items():
        balances[key].reserved -= qty
    StockBalance.objects.bulk_update([balances[k] for k in delta], ["reserved"])
    Reservation.objects.bulk_update(reservations, ["status", "updated_at"])
    return len(reservations)
