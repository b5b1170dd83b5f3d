"""The MRP calculation, in memory: no database access here.

The loader (``planning.mrp.snapshot``) builds a ``Snapshot`` in a handful of queries; this
module nets it item by item, level by level, and returns planned supply, pegging and
exception messages for the writer. Keeping it pure makes the textbook examples cheap to test
and the run's cost easy to measure."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from config.fields import QTY_PLACES, ZERO
from planning.enums import ExceptionKind, LotSizing
from planning.mrp.sources import Demand

QUANT = Decimal(1).scaleb(-QTY_PLACES)
HUNDRED = Decimal(100)
# Cheap lead-time estimate for made items without lead_time_days: one 8-hour shift a day.
MINUTES_PER_DAY = 480
# Source type of dependent demand from a planned order of this run, identified by its key
# until the writer knows its primary key.
PLANNED_KEY = "planned_key"


def ceil_q(value: Decimal) -> Decimal:
    return value.quantize(QUANT, rounding=ROUND_CEILING)


@dataclass
class ItemData:
    id: int
    sku: str
    make: bool
    level: int
    lead_time_days: int
    safety_stock: Decimal = ZERO
    reorder_point: Decimal | None = None
    min_lot: Decimal = ZERO
    lot_multiple: Decimal = ZERO
    max_stock: Decimal | None = None
    lot_sizing: str | None = None  # explicit policy; None = derived from the parameters
    period_days: int = 7

    @property
    def rule(self) -> str:
        if self.lot_sizing:
            return self.lot_sizing
        if self.reorder_point is not None and self.reorder_point > 0:
            return LotSizing.REORDER_POINT
        if self.max_stock is not None and self.max_stock > 0:
            return LotSizing.MAX_STOCK
        if self.min_lot > 0 or self.lot_multiple > 0:
            return LotSizing.MIN_MULTIPLE
        return LotSizing.LOT_FOR_LOT


@dataclass(frozen=True)
class BomLineData:
    component_id: int
    quantity: Decimal
    scrap_percent: Decimal
    phantom: bool


@dataclass(frozen=True)
class BomData:
    item_id: int
    version: int
    valid_from: dt.date | None
    valid_to: dt.date | None
    base_quantity: Decimal
    lines: tuple[BomLineData, ...]

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or self.valid_to >= day)


@dataclass(frozen=True)
class Receipt:
    """Scheduled supply: an open production order or a released requisition."""

    item_id: int
    quantity: Decimal
    date: dt.date
    source_type: str
    source_id: int
    source_ref: str


@dataclass
class Snapshot:
    today: dt.date
    items: dict[int, ItemData]
    boms: dict[int, list[BomData]]  # per item, highest version first
    routing_minutes: dict[int, tuple[Decimal, Decimal]]  # item -> (fixed, per unit)
    on_hand: dict[int, Decimal]
    receipts: dict[int, list[Receipt]]
    demands: dict[int, list[Demand]]


@dataclass
class PlannedSupply:
    key: int
    item_id: int
    make: bool
    quantity: Decimal
    start_date: dt.date
    due_date: dt.date
    level: int
    peggings: list[tuple[Demand, Decimal]] = field(default_factory=list)


@dataclass(frozen=True)
class ExceptionMessage:
    item_id: int
    kind: str
    message: str
    date: dt.date | None = None
    suggested_date: dt.date | None = None
    source_type: str = ""
    source_id: int | None = None


@dataclass
class PlanResult:
    supplies: list[PlannedSupply]
    exceptions: list[ExceptionMessage]
    items_planned: int
    levels: int


Progress = Callable[[int, int, int, int], None]


def lot_size(item: ItemData, net: Decimal, projected_end: Decimal) -> Decimal:
    """Order quantity for a net requirement ``net`` when the projected on hand at the end of
    the bucket would be ``projected_end`` without the new order."""
    rule = item.rule
    qty = net
    if rule == LotSizing.FIXED and item.min_lot > 0:
        qty = item.min_lot * math.ceil(net / item.min_lot)
    elif rule == LotSizing.MIN_MULTIPLE:
        qty = _round_up(max(net, item.min_lot), item.lot_multiple)
    elif rule == LotSizing.MAX_STOCK and item.max_stock is not None:
        qty = max(net, item.max_stock - projected_end)
    elif rule == LotSizing.REORDER_POINT:
        if item.max_stock is not None and item.max_stock > 0:
            qty = max(net, item.max_stock - projected_end)
        else:
            qty = _round_up(max(net, item.min_lot), item.lot_multiple)
    return ceil_q(qty)


def _round_up(qty: Decimal, multiple: Decimal) -> Decimal:
    if multiple <= 0:
        return qty
    return multiple * math.ceil(qty / multiple)


def lead_time_days(snapshot: Snapshot, item: ItemData, quantity: Decimal) -> int:
    if item.lead_time_days or not item.make:
        return item.lead_time_days
    fixed, per_unit = snapshot.routing_minutes.get(item.id, (ZERO, ZERO))
    return math.ceil((fixed + per_unit * quantity) / MINUTES_PER_DAY)


def bom_on(snapshot: Snapshot, item_id: int, day: dt.date) -> BomData | None:
    for bom in snapshot.boms.get(item_id, ()):
        if bom.valid_on(day):
            return bom
    return None


def explode(snapshot: Snapshot, item_id: int, quantity: Decimal, day: dt.date) -> dict[int, Decimal]:
    """Single-level requirements of ``quantity`` of an item on a date, phantoms exploded
    through (they are never stocked), scrap applied, by-products left out."""
    out: dict[int, Decimal] = defaultdict(lambda: ZERO)
    bom = bom_on(snapshot, item_id, day)
    if bom is None:
        return out
    stack = [(bom, quantity, 0)]
    while stack:
        current, qty, depth = stack.pop()
        factor = qty / current.base_quantity
        for line in current.lines:
            if line.quantity <= 0:
                continue
            need = line.quantity * factor * (1 + line.scrap_percent / HUNDRED)
            if line.phantom and depth < 20:
                sub = bom_on(snapshot, line.component_id, day)
                if sub is not None:
                    stack.append((sub, need, depth + 1))
                    continue
            out[line.component_id] += need
    return out


def phantom_items(snapshot: Snapshot) -> set[int]:
    return {line.component_id for boms in snapshot.boms.values() for b in boms for line in b.lines if line.phantom}


def levels(snapshot: Snapshot) -> dict[int, int]:
    """Low-level codes as stored on the items, raised where a BOM edge says otherwise, so a
    stale code never lets a component be planned before its parents' dependent demand."""
    level = {item_id: item.level for item_id, item in snapshot.items.items()}
    children: dict[int, set[int]] = defaultdict(set)
    indegree: dict[int, int] = defaultdict(int)
    for item_id, boms in snapshot.boms.items():
        for b in boms:
            for line in b.lines:
                if line.component_id not in children[item_id]:
                    children[item_id].add(line.component_id)
                    indegree[line.component_id] += 1
    queue = deque(i for i in level if indegree[i] == 0)
    while queue:
        parent = queue.popleft()
        for child in children.get(parent, ()):
            if child in level and level[child] <= level[parent]:
                level[child] = level[parent] + 1
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    return level


def descendants(snapshot: Snapshot, item_ids: Iterable[int]) -> set[int]:
    children: dict[int, set[int]] = defaultdict(set)
    for item_id, boms in snapshot.boms.items():
        for b in boms:
            children[item_id].update(line.component_id for line in b.lines)
    seen = set(item_ids)
    stack = list(seen)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


class _Lot:
    __slots__ = ("receipt", "remaining", "supply")

    def __init__(self, remaining: Decimal, supply: PlannedSupply | None = None, receipt: Receipt | None = None):
        self.remaining = remaining
        self.supply = supply
        self.receipt = receipt


def net_item(
    snapshot: Snapshot, item: ItemData, demands: list[Demand], next_key: Callable[[], int]
) -> tuple[list[PlannedSupply], list[ExceptionMessage]]:
    """Net one item over daily buckets: projected on hand = on hand + scheduled receipts −
    gross requirements; where it would fall below zero (below the reorder point for items
    using one) a planned order is sized by the lot-sizing rule and offset by the lead time.
    Supply is consumed first in, first out, which gives the pegging."""
    today = snapshot.today
    supplies: list[PlannedSupply] = []
    messages: list[ExceptionMessage] = []
    by_day: dict[dt.date, list[Demand]] = defaultdict(list)
    for d in demands:
        by_day[max(d.date, today)].append(d)
    receipts = sorted(snapshot.receipts.get(item.id, ()), key=lambda r: (r.date, r.source_id))
    pending = deque(receipts)  # not yet arrived
    first_use: dict[int, dt.date] = {}
    pool: deque[_Lot] = deque()
    on_hand = snapshot.on_hand.get(item.id, ZERO)
    available = on_hand
    if on_hand > 0:
        pool.append(_Lot(on_hand))
    elif on_hand < 0:
        # More reserved than on hand: the gap is a requirement due now.
        by_day[today].insert(0, Demand(item.id, -on_hand, today, "reserved_shortfall", None, "reserved > on hand"))
    threshold = (item.reorder_point or ZERO) if item.rule == LotSizing.REORDER_POINT else ZERO

    days = sorted(set(by_day) | {max(r.date, today) for r in receipts})
    day_total = {d: sum((q.quantity for q in qs), ZERO) for d, qs in by_day.items()}
    for index, day in enumerate(days):
        while pending and max(pending[0].date, today) <= day:
            r = pending.popleft()
            pool.append(_Lot(r.quantity, receipt=r))
            available += r.quantity
        day_demand = day_total.get(day, ZERO)
        # Pull later open supply in before proposing new supply: it is already on its way.
        while pending and available - day_demand < 0:
            r = pending.popleft()
            pool.append(_Lot(r.quantity, receipt=r))
            available += r.quantity
            messages.append(
                ExceptionMessage(
                    item.id,
                    ExceptionKind.RESCHEDULE_IN,
                    f"{r.source_ref}: move in from {r.date} to {day}",
                    date=r.date,
                    suggested_date=day,
                    source_type=r.source_type,
                    source_id=r.source_id,
                )
            )
        projected_end = available - day_demand
        if projected_end < threshold:
            net = threshold - projected_end
            if item.rule == LotSizing.PERIOD:
                # Cover the later requirements of the period too (scheduled receipts in it
                # still count: they arrive before they are needed).
                horizon = day + dt.timedelta(days=max(item.period_days, 1))
                j = index + 1
                while j < len(days) and days[j] < horizon:
                    net += day_total.get(days[j], ZERO)
                    j += 1
                net -= sum((r.quantity for r in pending if max(r.date, today) < horizon), ZERO)
                net = max(net, threshold - projected_end)
            qty = lot_size(item, net, projected_end)
            supply = _planned(snapshot, item, qty, day, next_key, messages)
            supplies.append(supply)
            pool.append(_Lot(qty, supply=supply))
            available += qty
        for d in by_day.get(day, ()):
            need = d.quantity
            while need > 0 and pool:
                lot = pool[0]
                take = min(need, lot.remaining)
                lot.remaining -= take
                need -= take
                if lot.supply is not None:
                    lot.supply.peggings.append((d, take))
                elif lot.receipt is not None:
                    first_use.setdefault(lot.receipt.source_id, day)
                if lot.remaining <= 0:
                    pool.popleft()
            available -= d.quantity - need
    for r in receipts:
        used = first_use.get(r.source_id)
        if r.date < today:
            messages.append(
                ExceptionMessage(
                    item.id,
                    ExceptionKind.EXPEDITE,
                    f"{r.source_ref}: due {r.date}, still open",
                    date=r.date,
                    suggested_date=today,
                    source_type=r.source_type,
                    source_id=r.source_id,
                )
            )
        elif used is None:
            messages.append(
                ExceptionMessage(
                    item.id,
                    ExceptionKind.CANCEL,
                    f"{r.source_ref}: not needed by any demand",
                    date=r.date,
                    source_type=r.source_type,
                    source_id=r.source_id,
                )
            )
        elif used > r.date:
            messages.append(
                ExceptionMessage(
                    item.id,
                    ExceptionKind.RESCHEDULE_OUT,
                    f"{r.source_ref}: first needed on {used}, due {r.date}",
                    date=r.date,
                    suggested_date=used,
                    source_type=r.source_type,
                    source_id=r.source_id,
                )
            )
    return supplies, messages


def _planned(
    snapshot: Snapshot,
    item: ItemData,
    qty: Decimal,
    due: dt.date,
    next_key: Callable[[], int],
    messages: list[ExceptionMessage],
) -> PlannedSupply:
    start = due - dt.timedelta(days=lead_time_days(snapshot, item, qty))
    if start < snapshot.today:
        messages.append(
            ExceptionMessage(
                item.id,
                ExceptionKind.LATE,
                f"{item.sku}: {qty} due {due} should have started on {start}",
                date=start,
                suggested_date=snapshot.today,
            )
        )
    return PlannedSupply(next_key(), item.id, item.make, qty, start, due, item.level)


def plan(
    snapshot: Snapshot,
    *,
    item_ids: set[int] | None = None,
    inherited: dict[int, list[Demand]] | None = None,
    progress: Progress | None = None,
) -> PlanResult:
    """Plan ``item_ids`` (all items when None) level by level. ``inherited`` is dependent
    demand from supply that is not re-planned (net change: parents left as they were)."""
    level_of = levels(snapshot)
    skip = phantom_items(snapshot)
    targets = [i for i in (snapshot.items if item_ids is None else item_ids) if i in snapshot.items and i not in skip]
    by_level: dict[int, list[int]] = defaultdict(list)
    for i in targets:
        by_level[level_of[i]].append(i)
    dependent: dict[int, list[Demand]] = defaultdict(list)
    for i, ds in (inherited or {}).items():
        dependent[i].extend(ds)
    counter = iter(range(1, 1 << 62))

    def next_key() -> int:
        return next(counter)

    supplies: list[PlannedSupply] = []
    messages: list[ExceptionMessage] = []
    ordered = sorted(by_level)
    done = 0
    for index, lvl in enumerate(ordered, start=1):
        for item_id in sorted(by_level[lvl]):
            item = snapshot.items[item_id]
            item.level = lvl
            demands = snapshot.demands.get(item_id, []) + dependent.pop(item_id, [])
            new, msgs = net_item(snapshot, item, demands, next_key)
            messages.extend(msgs)
            supplies.extend(new)
            if item.make and (new or demands):
                if not snapshot.boms.get(item_id):
                    messages.append(ExceptionMessage(item_id, ExceptionKind.NO_BOM, f"{item.sku} has no active BOM"))
                if item_id not in snapshot.routing_minutes:
                    messages.append(
                        ExceptionMessage(item_id, ExceptionKind.NO_ROUTING, f"{item.sku} has no active routing")
                    )
                for s in new:
                    for component_id, qty in explode(snapshot, item_id, s.quantity, s.start_date).items():
                        dependent[component_id].append(
                            Demand(component_id, ceil_q(qty), s.start_date, PLANNED_KEY, s.key, item.sku)
                        )
            done += 1
        if progress is not None:
            progress(index, len(ordered), done, len(targets))
    return PlanResult(supplies, messages, len(targets), len(ordered))


@dataclass(frozen=True)
class OldSupply:
    """A planned order or requisition of the live plan, as the net-change run finds it."""

    pk: int
    item_id: int
    quantity: Decimal
    start_date: dt.date
    due_date: dt.date


@dataclass
class NetChangeResult(PlanResult):
    replanned: set[int] = field(default_factory=set)  # items netted again
    kept: dict[int, int] = field(default_factory=dict)  # supply key -> pk of the identical live row
    unchanged: set[int] = field(default_factory=set)  # re-planned items whose proposals came out the same


def _signature(rows: Iterable) -> list[tuple]:
    return sorted((r.quantity, r.start_date, r.due_date) for r in rows)


def plan_net_change(
    snapshot: Snapshot,
    *,
    seeds: set[int],
    old_supply: Callable[[set[int]], dict[int, list[OldSupply]]],
    progress: Progress | None = None,
) -> NetChangeResult:
    """Re-plan the ``seeds`` (items whose own demand, supply or parameters changed) and,
    level by level, only those components whose parents' planned supply came out different.
    A component of a parent that was not re-planned gets that parent's live planned orders
    as dependent demand. ``old_supply(item_ids)`` reads live planned supply per item; it is
    called once per level."""
    level_of = levels(snapshot)
    skip = phantom_items(snapshot)
    parents: dict[int, set[int]] = defaultdict(set)
    for item_id, boms in snapshot.boms.items():
        for b in boms:
            for line in b.lines:
                parents[line.component_id].add(item_id)

    def effective_parents(component: int) -> set[int]:
        # Through phantoms: a phantom's parents consume its components directly.
        out, stack, seen = set(), [component], {component}
        while stack:
            for p in parents.get(stack.pop(), ()):
                if p in skip and p not in seen:
                    seen.add(p)
                    stack.append(p)
                elif p not in skip:
                    out.add(p)
        return out

    pending: dict[int, set[int]] = defaultdict(set)
    for i in seeds:
        if i in snapshot.items and i not in skip:
            pending[level_of[i]].add(i)
    counter = iter(range(1, 1 << 62))

    def next_key() -> int:
        return next(counter)

    dependent: dict[int, list[Demand]] = defaultdict(list)
    replanned: set[int] = set()
    kept: dict[int, int] = {}
    unchanged: set[int] = set()
    supplies: list[PlannedSupply] = []
    messages: list[ExceptionMessage] = []
    level_no = 0
    while pending:
        lvl = min(pending)
        targets = pending.pop(lvl)
        level_no += 1
        still = {p for i in targets for p in effective_parents(i) if p not in replanned}
        old = old_supply(targets | still)
        inherited: dict[int, list[Demand]] = defaultdict(list)
        for p in still:
            sku = snapshot.items[p].sku if p in snapshot.items else str(p)
            for o in old.get(p, ()):
                for component_id, qty in explode(snapshot, p, o.quantity, o.start_date).items():
                    if component_id in targets:
                        inherited[component_id].append(
                            Demand(component_id, ceil_q(qty), o.start_date, "planned_order", o.pk, sku)
                        )
        for item_id in sorted(targets):
            item = snapshot.items[item_id]
            item.level = lvl
            demands = snapshot.demands.get(item_id, []) + dependent.pop(item_id, []) + inherited.get(item_id, [])
            new, msgs = net_item(snapshot, item, demands, next_key)
            replanned.add(item_id)
            messages.extend(msgs)
            supplies.extend(new)
            if item.make and (new or demands):
                if not snapshot.boms.get(item_id):
                    messages.append(ExceptionMessage(item_id, ExceptionKind.NO_BOM, f"{item.sku} has no active BOM"))
                if item_id not in snapshot.routing_minutes:
                    messages.append(
                        ExceptionMessage(item_id, ExceptionKind.NO_ROUTING, f"{item.sku} has no active routing")
                    )
            previous = old.get(item_id, [])
            if _signature(new) == _signature(previous):
                # Same proposals as before: keep the live rows (and what is pegged to them)
                # and stop here, its components see no change.
                by_sig: dict[tuple, list[int]] = defaultdict(list)
                for o in previous:
                    by_sig[(o.quantity, o.start_date, o.due_date)].append(o.pk)
                for s in new:
                    kept[s.key] = by_sig[(s.quantity, s.start_date, s.due_date)].pop()
                unchanged.add(item_id)
                continue
            if item.make:
                for s in new:
                    for component_id, qty in explode(snapshot, item_id, s.quantity, s.start_date).items():
                        dependent[component_id].append(
                            Demand(component_id, ceil_q(qty), s.start_date, PLANNED_KEY, s.key, item.sku)
                        )
                for component_id in {
                    c for s in [*new, *previous] for c in explode(snapshot, item_id, s.quantity, s.start_date)
                }:
                    if component_id not in skip and component_id in snapshot.items:
                        pending[level_of[component_id]].add(component_id)
        if progress is not None:
            progress(
                level_no, level_no + len(pending), len(replanned), len(replanned) + sum(map(len, pending.values()))
            )
    return NetChangeResult(
        supplies, messages, len(replanned), level_no, replanned=replanned, kept=kept, unchanged=unchanged
    )
