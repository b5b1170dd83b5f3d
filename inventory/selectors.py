"""Reads of the inventory app: annotated, prefetched querysets and ledger checks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Q, QuerySet, Sum

from config.fields import ZERO
from inventory.enums import ReservationStatus
from inventory.models import (
    Bom,
    Item,
    Location,
    Lot,
    Reservation,
    StockBalance,
    StockMovement,
    StockPosting,
    UnitOfMeasure,
)


def stock_available(*, item_ids: Iterable[int], location_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """Available (on hand - reserved) per item, summed over locations and lots; one query.
    Items without any balance row map to 0."""
    item_ids = list(item_ids)
    qs = StockBalance.objects.filter(item_id__in=item_ids)
    if location_ids is not None:
        qs = qs.filter(location_id__in=list(location_ids))
    result = dict.fromkeys(item_ids, ZERO)
    for item_id, available in (
        qs.values("item_id").annotate(a=Sum(F("on_hand") - F("reserved"))).values_list("item_id", "a")
    ):
        result[item_id] = available or ZERO
    return result


@dataclass(frozen=True)
class ReservationCover:
    reservation_id: int
    item_id: int
    location_id: int
    document_type: str
    document_id: int
    document_line_id: int | None
    open_quantity: Decimal  # quantity - consumed
    on_hand: Decimal  # the part of open_quantity that stock on hand backs


@dataclass(frozen=True)
class StockCover:
    reservations: list[ReservationCover]
    free: dict[tuple[int, int], Decimal]  # (item, location) -> on hand that no open reservation claims


def stock_cover(*, pairs: Iterable[tuple[int, int]]) -> StockCover:
    """How far stock on hand backs the open reservations at each (item, location), over all
    lots. A reservation is a claim, not stock: a forced one (``allow_shortage``) can exceed what
    is on hand, which leaves ``on_hand - reserved`` negative. On hand (never counted below zero)
    backs the claims oldest first, the order in which they were accepted: a reservation made
    within availability stays covered, one forced beyond it is not. What no claim takes is free.
    Two queries, whatever the number of pairs and reservations."""
    pairs = set(pairs)
    if not pairs:
        return StockCover(reservations=[], free={})
    item_ids, location_ids = {i for i, _ in pairs}, {loc for _, loc in pairs}
    on_hand: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for item_id, location_id, quantity in (
        StockBalance.objects.filter(item_id__in=item_ids, location_id__in=location_ids)
        .values("item_id", "location_id")
        .annotate(q=Sum("on_hand"))
        .values_list("item_id", "location_id", "q")
    ):
        on_hand[(item_id, location_id)] = quantity or ZERO
    left = {pair: max(on_hand[pair], ZERO) for pair in pairs}
    reservations = []
    for rid, item_id, location_id, doc_type, doc_id, line_id, quantity, consumed in (
        Reservation.objects.filter(status=ReservationStatus.OPEN, item_id__in=item_ids, location_id__in=location_ids)
        .order_by("pk")
        .values_list(
            "pk",
            "item_id",
            "location_id",
            "document_type",
            "document_id",
            "document_line_id",
            "quantity",
            "consumed_quantity",
        )
    ):
        pair = (item_id, location_id)
        if pair not in left:
            continue
        remainder = quantity - consumed
        backed = min(remainder, left[pair])
        left[pair] -= backed
        reservations.append(ReservationCover(rid, item_id, location_id, doc_type, doc_id, line_id, remainder, backed))
    return StockCover(reservations=reservations, free=left)


def back_oldest_first(on_hand: Decimal, claims: Iterable[tuple[int, Decimal]]) -> tuple[dict[int, Decimal], Decimal]:
    """How far ``on_hand`` at one (item, location) backs open reservations ``claims`` ((id,
    open quantity)): oldest (lowest id) first, as ``stock_cover`` counts it. Returns ({id: the
    part stock backs}, what no claim takes). The ledger checks a posting with the same rule."""
    left = max(on_hand, ZERO)
    backed = {}
    for pk, quantity in sorted(claims):
        backed[pk] = min(max(quantity, ZERO), left)
        left -= backed[pk]
    return backed, left


def stock_available_to(
    *, pairs: Iterable[tuple[int, int]], reservation_ids: Iterable[int]
) -> dict[tuple[int, int], Decimal]:
    """What a document holding the open reservations ``reservation_ids`` may take at each
    (item, location): its reservations as far as stock backs them (``stock_cover``) and what
    no reservation claims. The figure the ledger checks an issue against; two queries."""
    own = set(reservation_ids)
    cover = stock_cover(pairs=pairs)
    available = dict(cover.free)
    for r in cover.reservations:
        if r.reservation_id in own:
            available[(r.item_id, r.location_id)] += r.on_hand
    return available


@dataclass(frozen=True)
class Discrepancy:
    item_id: int
    location_id: int
    lot_id: int | None
    field: str  # "on_hand" or "reserved"
    expected: Decimal  # recomputed from the ledger / open reservations
    actual: Decimal  # stored in the balance row


def stock_ledger_check() -> list[Discrepancy]:
    """Recompute every balance (on hand from the movements, reserved from open reservation
    remainders) and return each difference from the stored rows. Three aggregate queries."""
    expected_on_hand: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for row in StockMovement.objects.values("item_id", "location_id", "lot_id").annotate(q=Sum("quantity")):
        expected_on_hand[(row["item_id"], row["location_id"], row["lot_id"])] = row["q"]
    expected_reserved: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for row in (
        Reservation.objects.filter(status=ReservationStatus.OPEN)
        .values("item_id", "location_id", "lot_id")
        .annotate(q=Sum(F("quantity") - F("consumed_quantity")))
    ):
        expected_reserved[(row["item_id"], row["location_id"], row["lot_id"])] = row["q"]
    actual = {
        (b["item_id"], b["location_id"], b["lot_id"]): (b["on_hand"], b["reserved"])
        for b in StockBalance.objects.values("item_id", "location_id", "lot_id", "on_hand", "reserved")
    }
    out: list[Discrepancy] = []
    for key in sorted(
        set(expected_on_hand) | set(expected_reserved) | set(actual), key=lambda k: (k[0], k[1], k[2] or 0)
    ):
        on_hand, reserved = actual.get(key, (ZERO, ZERO))
        if expected_on_hand[key] != on_hand:
            out.append(Discrepancy(*key, field="on_hand", expected=expected_on_hand[key], actual=on_hand))
        if expected_reserved[key] != reserved:
            out.append(Discrepancy(*key, field="reserved", expected=expected_reserved[key], actual=reserved))
    return out


def item_list() -> QuerySet[Item]:
    return Item.objects.select_related("uom").prefetch_related("unit_conversions__uom")


def unit_list() -> QuerySet[UnitOfMeasure]:
    return UnitOfMeasure.objects.all()


def location_list() -> QuerySet[Location]:
    return Location.objects.select_related("warehouse")


def lot_list() -> QuerySet[Lot]:
    return Lot.objects.select_related("item")


def stock_balance_list() -> QuerySet[StockBalance]:
    return StockBalance.objects.select_related("item", "location", "lot")


def stock_movement_list() -> QuerySet[StockMovement]:
    return StockMovement.objects.select_related("item", "location", "lot", "posting")


def stock_posting_list() -> QuerySet[StockPosting]:
    return StockPosting.objects.select_related("user").prefetch_related(
        "movements__item", "movements__location", "movements__lot"
    )


def reservation_list() -> QuerySet[Reservation]:
    return Reservation.objects.select_related("item", "location", "lot")


def bom_list() -> QuerySet[Bom]:
    return Bom.objects.select_related("item").prefetch_related("lines__component")


@dataclass(frozen=True)
class GenealogyLink:
    level: int
    lot_id: int | None  # None: an item without lots, where the trail ends
    lot_number: str | None
    item_id: int
    sku: str
    quantity: Decimal  # consumed into (backward) or produced from (forward) the lot above
    document_type: str
    document_id: int
    document_number: str


_CONSUMPTION = ("backflush", "production_issue", "production_return")
_PRODUCTION = ("production_receipt",)


def _net_movements(types: tuple[str, ...]):
    # A reversal row carries the lot and document of the row it reverses, so it nets out.
    return StockMovement.objects.filter(
        Q(movement_type__in=types) | Q(movement_type="reversal", reverses__movement_type__in=types)
    )


def lot_genealogy(*, lot_id: int, direction: str = "backward", max_depth: int = 20) -> list[GenealogyLink]:
    """Which lots went into a lot (backward) or where a lot went (forward), level by level
    across production documents, from the ledger itself; one query per direction step.
    Items without lots are links too (what else went in; which orders took the lot in), with
    no lot: the trail ends there, their stock being one pool."""
    if direction not in ("backward", "forward"):
        from config.exceptions import ValidationFailed

        raise ValidationFailed("direction must be backward or forward.", fields={"direction": "backward|forward"})
    links: list[GenealogyLink] = []
    frontier, seen = {lot_id}, {lot_id}
    source_types, target_types = (_PRODUCTION, _CONSUMPTION) if direction == "backward" else (_CONSUMPTION, _PRODUCTION)
    for level in range(1, max_depth + 1):
        documents = set(
            _net_movements(source_types)
            .filter(lot_id__in=frontier)
            .values_list("posting__document_type", "posting__document_id")
            .distinct()
        )
        if not documents:
            break
        doc_filter = Q()
        for doc_type, doc_id in documents:
            doc_filter |= Q(posting__document_type=doc_type, posting__document_id=doc_id)
        rows = (
            _net_movements(target_types)
            .filter(doc_filter)
            .values(
                "lot_id",
                "lot__lot_number",
                "item_id",
                "item__sku",
                "posting__document_type",
                "posting__document_id",
                "posting__document_number",
            )
            .annotate(quantity=Sum("quantity"))
            .order_by("item__sku", "lot__lot_number", "posting__document_id")
        )
        next_frontier = set()
        for row in rows:
            if row["quantity"] == 0:
                continue
            links.append(
                GenealogyLink(
                    level=level,
                    lot_id=row["lot_id"],
                    lot_number=row["lot__lot_number"],
                    item_id=row["item_id"],
                    sku=row["item__sku"],
                    quantity=abs(row["quantity"]),
                    document_type=row["posting__document_type"],
                    document_id=row["posting__document_id"],
                    document_number=row["posting__document_number"],
                )
            )
            if row["lot_id"] is not None and row["lot_id"] not in seen:
                next_frontier.add(row["lot_id"])
                seen.add(row["lot_id"])
        if not next_frontier:
            break
        frontier = next_frontier
    return links
