"""Stock ledger writes: postings, transfers, reversals, reservations.

The contract other apps (production, sales) code against. Every function owns its
transaction; balances change in the same transaction as the ledger rows, under row locks
taken in one fixed order (see ``inventory.locks``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from config.db import bulk_update_fields
from config.exceptions import InsufficientStock, NotFound, StateConflict, ValidationFailed
from config.fields import ZERO
from inventory.enums import MOVEMENT_SIGN, MovementType, ReservationStatus
from inventory.locks import (
    reservations_qs_select_for_update,
    stock_balances_lock,
    stock_posting_qs_select_for_update,
)
from inventory.models import Item, Location, Lot, Reservation, StockBalance, StockMovement, StockPosting

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


@dataclass(frozen=True)
class _Line:
    """A validated line; ``reverses_id`` only for reversals."""

    line: PostingLine
    reverses_id: int | None = None


def _validate_reference(reference: DocumentRef) -> None:
    if not reference.document_type:
        raise ValidationFailed("A document type is required.", code="required", fields={"document_type": "required"})


def _load_master(lines: Sequence[PostingLine]) -> tuple[dict[int, Item], dict[int, Location], dict[int, Lot]]:
    items = Item.objects.select_related("uom").in_bulk({ln.item_id for ln in lines})
    locations = Location.objects.in_bulk({ln.location_id for ln in lines})
    lots = Lot.objects.in_bulk({ln.lot_id for ln in lines if ln.lot_id})
    return items, locations, lots


def _validate_lines(
    *, movement_type: str, lines: Sequence[PostingLine], items: dict, locations: dict, lots: dict
) -> None:
    if movement_type not in MovementType.values:
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


def _insert_header(
    *,
    movement_type: str,
    reference: DocumentRef,
    user,
    posting_key: str | None,
    note: str,
    reversal_of_id=None,
) -> tuple[StockPosting, bool]:
    """Insert the posting header. With a key, ``INSERT ... ON CONFLICT DO NOTHING``: a
    concurrent insert of the same key waits for the first transaction and then finds the
    row, so the same key is never posted twice and nobody check-then-inserts."""
    now = timezone.now()
    posting = StockPosting(
        movement_type=movement_type,
        document_type=reference.document_type,
        document_id=reference.document_id,
        document_line_id=reference.document_line_id,
        document_number=reference.document_number or "",
        posting_key=posting_key,
        user=user if getattr(user, "pk", None) else None,
        posted_at=now,
        note=note,
        reversal_of_id=reversal_of_id,
    )
    if posting_key is None:
        posting.save(force_insert=True)
        return posting, True
    fields = [f for f in StockPosting._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    values = [f.get_db_prep_save(getattr(posting, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {StockPosting._meta.db_table} ({columns}) VALUES ({placeholders}) "  # noqa: S608
            "ON CONFLICT (posting_key) DO NOTHING RETURNING id",
            values,
        )
        row = cursor.fetchone()
    if row is not None:
        posting.pk = row[0]
        posting._state.adding = False
        return posting, True
    existing = StockPosting.objects.get(posting_key=posting_key)
    if existing.movement_type != movement_type or (existing.document_type, existing.document_id) != (
        reference.document_type,
        reference.document_id,
    ):
        raise ValidationFailed(
            f"Posting key {posting_key!r} was already used for another posting (#{existing.pk}).",
            code="posting_key_reused",
            fields={"posting_key": "already used for another posting"},
        )
    return existing, False


def _ensure_reservations_respected(*, outgoing, balances, on_hand_delta, reserved_delta, items, locations) -> None:
    """Refuse a posting that takes stock another document has reserved: per (item,
    location), available (on hand − reserved, over all lots) must not drop below zero
    because of it. Consuming one's own reservation leaves available unchanged and is always
    allowed; so is anything at a location that allows negative stock."""
    for item_id, location_id in sorted(outgoing):
        location = locations[location_id]
        if location.allow_negative:
            continue
        after = sum(
            (b.on_hand - b.reserved for k, b in balances.items() if k[0] == item_id and k[1] == location_id), ZERO
        )
        change = sum((d for k, d in on_hand_delta.items() if k[0] == item_id and k[1] == location_id), ZERO) - sum(
            (d for k, d in reserved_delta.items() if k[0] == item_id and k[1] == location_id), ZERO
        )
        before = after - change
        if after < 0 and change < 0:
            item = items[item_id]
            needed = -sum((d for k, d in on_hand_delta.items() if k[:2] == (item_id, location_id) and d < 0), ZERO)
            raise InsufficientStock(
                f"Insufficient stock of {item.sku} at {location.code}: needed {_fmt(needed)}, available "
                f"{_fmt(max(before, ZERO))}; the rest is reserved for other documents.",
                fields={
                    "item": item.sku,
                    "location": location.code,
                    "needed": _fmt(needed),
                    "available": _fmt(max(before, ZERO)),
                },
            )


def _post(
    *,
    movement_type: str,
    lines: Sequence[_Line],
    reference: DocumentRef,
    user,
    posting_key: str | None,
    note: str,
    reversal_of_id: int | None = None,
) -> StockPosting:
    plain = [ln.line for ln in lines]
    items, locations, lots = _load_master(plain)
    _validate_lines(movement_type=movement_type, lines=plain, items=items, locations=locations, lots=lots)
    _validate_reference(reference)

    posting, created = _insert_header(
        movement_type=movement_type,
        reference=reference,
        user=user,
        posting_key=posting_key,
        note=note,
        reversal_of_id=reversal_of_id,
    )
    if not created:
        return posting

    # Reservations first (by id), then balances: the global lock order.
    reservation_ids = sorted({ln.reservation_id for ln in plain if ln.reservation_id})
    reservations: dict[int, Reservation] = {}
    if reservation_ids:
        reservations = {r.pk: r for r in reservations_qs_select_for_update().filter(pk__in=reservation_ids)}

    on_hand_delta: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    reserved_delta: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for index, ln in enumerate(plain):
        on_hand_delta[(ln.item_id, ln.location_id, ln.lot_id)] += Decimal(ln.quantity)
        if ln.reservation_id:
            res = reservations.get(ln.reservation_id)
            field = {f"lines[{index}].reservation_id": "unknown or closed"}
            if res is None:
                raise ValidationFailed(
                    f"Reservation {ln.reservation_id} does not exist.",
                    code="unknown_reservation",
                    fields=field,
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
            res.consumed_quantity += consume
            if res.consumed_quantity >= res.quantity:
                res.status = ReservationStatus.CLOSED
            res.updated_at = posting.posted_at  # bulk_update skips auto_now
            reserved_delta[(res.item_id, res.location_id, res.lot_id)] -= consume

    # Outgoing stock must also leave what other documents reserved, summed over lots:
    # lock every lot row of those (item, location) pairs, in the same global order.
    outgoing = {(k[0], k[1]) for k, d in on_hand_delta.items() if d < 0}
    balances = stock_balances_lock(keys=set(on_hand_delta) | set(reserved_delta), item_location_pairs=outgoing)
    for key, delta in sorted(on_hand_delta.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
        balance = balances[key]
        new_on_hand = balance.on_hand + delta
        location = locations[key[1]]
        if delta < 0 and new_on_hand < 0 and not location.allow_negative:
            item = items[key[0]]
            lot = lots.get(key[2]) if key[2] else None
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
        balance.on_hand = new_on_hand
    for key, delta in reserved_delta.items():
        balances[key].reserved += delta
    _ensure_reservations_respected(
        outgoing=outgoing,
        balances=balances,
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        items=items,
        locations=locations,
    )
    changed = [balances[k] for k in set(on_hand_delta) | set(reserved_delta)]
    bulk_update_fields(changed, ["on_hand", "reserved"])
    if reservations:
        bulk_update_fields(list(reservations.values()), ["consumed_quantity", "status", "updated_at"])

    StockMovement.objects.bulk_create(
        [
            StockMovement(
                posting=posting,
                movement_type=movement_type,
                item_id=ln.line.item_id,
                location_id=ln.line.location_id,
                lot_id=ln.line.lot_id,
                quantity=Decimal(ln.line.quantity),
                unit_cost=(
                    cost := items[ln.line.item_id].standard_cost if ln.line.unit_cost is None else ln.line.unit_cost
                ),
                value=(Decimal(ln.line.quantity) * cost).quantize(QTY_QUANT),
                document_line_id=ln.line.document_line_id or reference.document_line_id,
                reservation_id=ln.line.reservation_id,
                reverses_id=ln.reverses_id,
                posted_at=posting.posted_at,
            )
            for ln in lines
        ]
    )
    return posting


@transaction.atomic
def stock_post(
    *,
    movement_type: str,
    lines: Sequence[PostingLine],
    reference: DocumentRef,
    user,
    posting_key: str | None = None,
    note: str = "",
) -> StockPosting:
    """Post many lines atomically. Same ``posting_key`` again returns the first posting."""
    if movement_type == MovementType.REVERSAL:
        raise ValidationFailed(
            "Reversals are posted with stock_posting_reverse.",
            code="invalid_movement_type",
            fields={"movement_type": "use the reverse action"},
        )
    return _post(
        movement_type=movement_type,
        lines=[_Line(line=ln) for ln in lines],
        reference=reference,
        user=user,
        posting_key=posting_key,
        note=note,
    )


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
    return _post(
        movement_type=MovementType.TRANSFER,
        lines=[_Line(line=out), _Line(line=into)],
        reference=reference,
        user=user,
        posting_key=posting_key,
        note="",
    )


@transaction.atomic
def stock_posting_reverse(*, posting_id: int, user, reason: str, posting_key: str | None = None) -> StockPosting:
    """Write the opposite rows of a posting and link both. Consumed reservations stay
    consumed: the document that issued against them decides whether to reserve again."""
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
    return _post(
        movement_type=MovementType.REVERSAL,
        lines=lines,
        reference=reference,
        user=user,
        posting_key=posting_key,
        note=reason,
        reversal_of_id=original.pk,
    )


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
