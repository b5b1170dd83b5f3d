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
from typing import NamedTuple

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


@dataclass(slots=True)
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


class BomLineData(NamedTuple):
    # Named tuples, not dataclasses: the loader makes one per BOM line and a frozen
    # dataclass costs three times as much to create (the repr, which fingerprints use, is
    # the same).
    component_id: int
    quantity: Decimal
    scrap_percent: Decimal
    phantom: bool


class BomData(NamedTuple):
    item_id: int
    version: int
    valid_from: dt.date | None
    valid_to: dt.date | None
    base_quantity: Decimal
    lines: tuple[BomLineData, ...]

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or self.valid_to >= day)


class Receipt(NamedTuple):
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


# Quantities inside the engine are integers in the smallest unit the database stores
# (QuantityField: 4 decimals), dates are ordinals. Decimal arithmetic and date objects cost
# several times more per operation, and the run does millions of them; the values are the
# same (exact sums, exact products, rounding up to the unit where Decimal rounded with
# ceil_q).
UNIT = 10**QTY_PLACES
# Explosion in integers: line quantity (units) x order quantity (units) x (100 + scrap %)
# with the scrap in thousandths of a percent: 10^-4 x 10^-4 x 10^-5 = 10^-13.
SCRAP_SCALE = 1000
NEED_SCALE = UNIT * UNIT * 100 * SCRAP_SCALE
TO_UNITS = NEED_SCALE // UNIT
# Decimal products stay exact below 28 significant digits; past that the Decimal path (the
# reference) is used so both round alike.
EXACT_LIMIT = 10**27

# A demand inside the engine: (quantity in units, date ordinal, source_type, source_id,
# source_ref). Tuples: the run creates one per planned order and component.
DemandRow = tuple[int, int, str, int | None, str]


def to_units(value: Decimal) -> int:
    scaled = value.scaleb(QTY_PLACES)
    units = int(scaled)
    if units != scaled:
        raise ValueError(f"quantity {value} has more than {QTY_PLACES} decimal places")
    return units


def from_units(units: int) -> Decimal:
    return Decimal(units).scaleb(-QTY_PLACES)


def units_str(units: int) -> str:
    """The text of ``ceil_q`` of the same quantity (always 4 decimals)."""
    if units < 0:
        return "-" + units_str(-units)
    whole, frac = divmod(units, UNIT)
    return f"{whole}.{frac:0{QTY_PLACES}d}"


def demand_row(d: Demand) -> DemandRow:
    return (to_units(d.quantity), d.date.toordinal(), d.source_type, d.source_id, d.source_ref)


class PlannedSupply:
    """A planned order (make) or requisition (buy) proposed by the run. ``qty`` in units,
    ``start``/``due`` as ordinals; ``peggings`` are (demand, units) in the order consumed."""

    __slots__ = ("due", "item_id", "key", "level", "make", "peggings", "qty", "start")

    def __init__(self, key: int, item_id: int, make: bool, qty: int, start: int, due: int, level: int):
        self.key = key
        self.item_id = item_id
        self.make = make
        self.qty = qty
        self.start = start
        self.due = due
        self.level = level
        self.peggings: list[tuple[DemandRow, int]] = []

    @property
    def quantity(self) -> Decimal:
        return from_units(self.qty)

    @property
    def start_date(self) -> dt.date:
        return dt.date.fromordinal(self.start)

    @property
    def due_date(self) -> dt.date:
        return dt.date.fromordinal(self.due)

    def __repr__(self) -> str:
        return f"PlannedSupply({self.key}, item {self.item_id}, {self.quantity} {self.start_date}..{self.due_date})"


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


def ceil_q(value: Decimal) -> Decimal:
    return value.quantize(QUANT, rounding=ROUND_CEILING)


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
    through (they are never stocked), scrap applied, by-products left out. The reference
    the integer path in ``_Planner.explode`` agrees with."""
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


class _Bom:
    """A BOM version prepared for integer explosion. ``lines`` is None where the Decimal
    reference must be used (base quantity other than 1, phantom lines)."""

    __slots__ = ("data", "lines", "max_factor", "unique", "valid_from", "valid_to")

    def __init__(self, data: BomData):
        self.data = data
        self.valid_from = data.valid_from.toordinal() if data.valid_from is not None else None
        self.valid_to = data.valid_to.toordinal() if data.valid_to is not None else None
        lines: list[tuple[int, int]] | None = []
        for line in data.lines:
            if line.quantity <= 0:
                continue
            quantity = line.quantity.scaleb(QTY_PLACES)
            scrap = line.scrap_percent * SCRAP_SCALE
            if line.phantom or quantity != int(quantity) or scrap != int(scrap):
                lines = None
                break
            lines.append((line.component_id, int(quantity) * (100 * SCRAP_SCALE + int(scrap))))
        if data.base_quantity != 1:
            lines = None
        self.lines = lines
        # Bounds any component's product (duplicate lines summed), for the exactness check.
        self.max_factor = sum(f for _, f in lines) if lines else 0
        self.unique = lines is not None and len(lines) == len({c for c, _ in lines})


class _Item:
    """An item's planning parameters in units, with its lot-sizing rule resolved once."""

    __slots__ = (
        "boms",
        "data",
        "id",
        "lead_time_days",
        "lot_multiple",
        "make",
        "max_stock",
        "min_lot",
        "period",
        "rule",
        "sku",
        "threshold",
    )

    def __init__(self, item: ItemData, boms: list[_Bom]):
        self.data = item
        self.id = item.id
        self.sku = item.sku
        self.make = item.make
        self.lead_time_days = item.lead_time_days
        self.rule = item.rule
        self.min_lot = to_units(item.min_lot)
        self.lot_multiple = to_units(item.lot_multiple)
        self.max_stock = to_units(item.max_stock) if item.max_stock is not None else None
        rop = to_units(item.reorder_point) if item.reorder_point is not None else 0
        self.threshold = rop if self.rule == LotSizing.REORDER_POINT else 0
        self.period = max(item.period_days, 1) if self.rule == LotSizing.PERIOD else 0
        self.boms = boms


class _Receipt:
    __slots__ = ("qty", "receipt", "sort_key", "when")

    def __init__(self, receipt: Receipt, today: int):
        self.receipt = receipt
        self.qty = to_units(receipt.quantity)
        day = receipt.date.toordinal()
        self.when = day if day > today else today  # when it counts as arrived
        self.sort_key = (day, receipt.source_id)


def _round_up(qty: int, multiple: int) -> int:
    if multiple <= 0:
        return qty
    return multiple * -(-qty // multiple)


class _Lazy(dict):
    """A dict that makes a missing value from its key once: a net-change run converts only
    the items it plans."""

    def __init__(self, make: Callable):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value


class _Planner:
    """The snapshot converted to units and ordinals (item by item, when first needed), and
    netting of one item at a time."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self.today = snapshot.today.toordinal()
        self.items: dict[int, _Item] = _Lazy(self._item)
        self.receipts: dict[int, list[_Receipt]] = _Lazy(self._receipts)
        self.demands: dict[int, list[DemandRow]] = _Lazy(lambda i: [demand_row(d) for d in snapshot.demands.get(i, ())])
        counter = iter(range(1, 1 << 62))
        self.next_key = counter.__next__

    def _item(self, item_id: int) -> _Item:
        return _Item(self.snapshot.items[item_id], [_Bom(b) for b in self.snapshot.boms.get(item_id, ())])

    def _receipts(self, item_id: int) -> list[_Receipt]:
        rows = (_Receipt(r, self.today) for r in self.snapshot.receipts.get(item_id, ()))
        return sorted(rows, key=lambda r: r.sort_key)

    def on_hand(self, item_id: int) -> int:
        on_hand = self.snapshot.on_hand.get(item_id)
        return to_units(on_hand) if on_hand is not None else 0

    def explode(self, item: _Item, qty: int, day: int) -> list[tuple[int, int]]:
        """(component, units) for ``qty`` units of the item started on ``day``, in the order
        and with the rounding of ``explode`` + ``ceil_q``."""
        bom = None
        for b in item.boms:
            if (b.valid_from is None or b.valid_from <= day) and (b.valid_to is None or b.valid_to >= day):
                bom = b
                break
        if bom is None:
            return []
        lines = bom.lines
        if lines is not None and qty * bom.max_factor < EXACT_LIMIT:
            if bom.unique:
                return [(c, -(-(qty * f) // TO_UNITS)) for c, f in lines]
            need: dict[int, int] = {}
            for c, f in lines:
                need[c] = need.get(c, 0) + qty * f
            return [(c, -(-v // TO_UNITS)) for c, v in need.items()]
        exploded = explode(self.snapshot, item.id, from_units(qty), dt.date.fromordinal(day))
        return [(c, to_units(ceil_q(v))) for c, v in exploded.items()]

    def lead_time(self, item: _Item, qty: int) -> int:
        if item.lead_time_days or not item.make:
            return item.lead_time_days
        return lead_time_days(self.snapshot, item.data, from_units(qty))

    def lot_size(self, item: _Item, net: int, projected_end: int) -> int:
        rule = item.rule
        if rule == LotSizing.FIXED and item.min_lot > 0:
            return item.min_lot * -(-net // item.min_lot)
        if rule == LotSizing.MIN_MULTIPLE:
            return _round_up(max(net, item.min_lot), item.lot_multiple)
        if rule == LotSizing.MAX_STOCK and item.max_stock is not None:
            return max(net, item.max_stock - projected_end)
        if rule == LotSizing.REORDER_POINT:
            if item.max_stock is not None and item.max_stock > 0:
                return max(net, item.max_stock - projected_end)
            return _round_up(max(net, item.min_lot), item.lot_multiple)
        return net

    def net(
        self, item: _Item, demands: list[DemandRow], level: int
    ) -> tuple[list[PlannedSupply], list[ExceptionMessage]]:
        """Net one item over daily buckets: projected on hand = on hand + scheduled receipts
        − gross requirements; where it would fall below zero (below the reorder point for
        items using one) a planned order is sized by the lot-sizing rule and offset by the
        lead time. Supply is consumed first in, first out, which gives the pegging."""
        today = self.today
        supplies: list[PlannedSupply] = []
        messages: list[ExceptionMessage] = []
        by_day: dict[int, list[DemandRow]] = {}
        for d in demands:
            key = d[1] if d[1] > today else today
            bucket = by_day.get(key)
            if bucket is None:
                by_day[key] = [d]
            else:
                bucket.append(d)
        receipts = self.receipts[item.id]
        pending = deque(receipts)  # not yet arrived
        first_use: dict[int, int] = {}
        # Supply lots in first-in-first-out order: [remaining, planned supply, receipt].
        pool: deque[list] = deque()
        on_hand = self.on_hand(item.id)
        available = on_hand
        if on_hand > 0:
            pool.append([on_hand, None, None])
        elif on_hand < 0:
            # More reserved than on hand: the gap is a requirement due now.
            shortfall = (-on_hand, today, "reserved_shortfall", None, "reserved > on hand")
            by_day.setdefault(today, []).insert(0, shortfall)
        threshold = item.threshold
        period = item.period

        # A campaign is supply in several receipts (``campaign_supply``); its order gets one
        # message of a kind, about its earliest receipt.
        pulled_in: set[tuple[str, int]] = set()
        days = sorted(set(by_day).union(r.when for r in receipts))
        day_total = {day: sum(d[0] for d in ds) for day, ds in by_day.items()}
        for index, day in enumerate(days):
            while pending and pending[0].when <= day:
                r = pending.popleft()
                pool.append([r.qty, None, r])
                available += r.qty
            day_demand = day_total.get(day, 0)
            # Pull later open supply in before proposing new supply: it is already on its way.
            while pending and available - day_demand < 0:
                r = pending.popleft()
                pool.append([r.qty, None, r])
                available += r.qty
                if (r.receipt.source_type, r.receipt.source_id) in pulled_in:
                    continue  # a campaign's later receipts: its order is told once
                pulled_in.add((r.receipt.source_type, r.receipt.source_id))
                messages.append(
                    ExceptionMessage(
                        item.id,
                        ExceptionKind.RESCHEDULE_IN,
                        f"{r.receipt.source_ref}: move in from {r.receipt.date} to {dt.date.fromordinal(day)}",
                        date=r.receipt.date,
                        suggested_date=dt.date.fromordinal(day),
                        source_type=r.receipt.source_type,
                        source_id=r.receipt.source_id,
                    )
                )
            projected_end = available - day_demand
            if projected_end < threshold:
                net = threshold - projected_end
                if period:
                    # Cover the later requirements of the period too (scheduled receipts in
                    # it still count: they arrive before they are needed).
                    horizon = day + period
                    j = index + 1
                    while j < len(days) and days[j] < horizon:
                        net += day_total.get(days[j], 0)
                        j += 1
                    for r in pending:
                        if r.when >= horizon:
                            break  # sorted by date: the rest arrive later still
                        net -= r.qty
                    net = max(net, threshold - projected_end)
                qty = self.lot_size(item, net, projected_end)
                start = day - self.lead_time(item, qty)
                if start < today:
                    messages.append(
                        ExceptionMessage(
                            item.id,
                            ExceptionKind.LATE,
                            f"{item.sku}: {units_str(qty)} due {dt.date.fromordinal(day)} should have started on "
                            f"{dt.date.fromordinal(start)}",
                            date=dt.date.fromordinal(start),
                            suggested_date=self.snapshot.today,
                        )
                    )
                supply = PlannedSupply(self.next_key(), item.id, item.make, qty, start, day, level)
                supplies.append(supply)
                pool.append([qty, supply, None])
                available += qty
            bucket = by_day.get(day)
            if bucket is None:
                continue
            for d in bucket:
                need = d[0]
                while need > 0 and pool:
                    lot = pool[0]
                    remaining = lot[0]
                    if need < remaining:
                        take = need
                        lot[0] = remaining - need
                        need = 0
                    else:
                        take = remaining
                        lot[0] = 0
                        need -= remaining
                        pool.popleft()
                    if lot[1] is not None:
                        lot[1].peggings.append((d, take))
                    elif lot[2] is not None:
                        first_use.setdefault(lot[2].receipt.source_id, day)
                available -= d[0] - need
        reported: set[tuple[str, int]] = set()
        for r in receipts:
            receipt = r.receipt
            if (receipt.source_type, receipt.source_id) in reported:
                continue
            reported.add((receipt.source_type, receipt.source_id))
            used = first_use.get(receipt.source_id)
            if r.sort_key[0] < today:
                messages.append(
                    ExceptionMessage(
                        item.id,
                        ExceptionKind.EXPEDITE,
                        f"{receipt.source_ref}: due {receipt.date}, still open",
                        date=receipt.date,
                        suggested_date=self.snapshot.today,
                        source_type=receipt.source_type,
                        source_id=receipt.source_id,
                    )
                )
            elif used is None:
                messages.append(
                    ExceptionMessage(
                        item.id,
                        ExceptionKind.CANCEL,
                        f"{receipt.source_ref}: not needed by any demand",
                        date=receipt.date,
                        source_type=receipt.source_type,
                        source_id=receipt.source_id,
                    )
                )
            elif used > r.sort_key[0]:
                messages.append(
                    ExceptionMessage(
                        item.id,
                        ExceptionKind.RESCHEDULE_OUT,
                        f"{receipt.source_ref}: first needed on {dt.date.fromordinal(used)}, due {receipt.date}",
                        date=receipt.date,
                        suggested_date=dt.date.fromordinal(used),
                        source_type=receipt.source_type,
                        source_id=receipt.source_id,
                    )
                )
        return supplies, messages

    def structure_messages(self, item: _Item) -> list[ExceptionMessage]:
        """For a made item with demand or supply: what it lacks to be made."""
        out = []
        if not self.snapshot.boms.get(item.id):
            out.append(ExceptionMessage(item.id, ExceptionKind.NO_BOM, f"{item.sku} has no active BOM"))
        if item.id not in self.snapshot.routing_minutes:
            out.append(ExceptionMessage(item.id, ExceptionKind.NO_ROUTING, f"{item.sku} has no active routing"))
        return out

    def dependent_demand(
        self, item: _Item, supplies: Iterable[PlannedSupply], into: dict[int, list[DemandRow]]
    ) -> None:
        """Append the components' demand of these planned orders, pegged to them by key."""
        sku = item.sku
        for s in supplies:
            start = s.start
            for component_id, qty in self.explode(item, s.qty, start):
                row = (qty, start, PLANNED_KEY, s.key, sku)
                bucket = into.get(component_id)
                if bucket is None:
                    into[component_id] = [row]
                else:
                    bucket.append(row)


def plan(
    snapshot: Snapshot,
    *,
    item_ids: set[int] | None = None,
    inherited: dict[int, list[Demand]] | None = None,
    progress: Progress | None = None,
) -> PlanResult:
    """Plan ``item_ids`` (all items when None) level by level. ``inherited`` is dependent
    demand from supply that is not re-planned (net change: parents left as they were)."""
    planner = _Planner(snapshot)
    level_of = levels(snapshot)
    skip = phantom_items(snapshot)
    targets = [i for i in (snapshot.items if item_ids is None else item_ids) if i in snapshot.items and i not in skip]
    by_level: dict[int, list[int]] = defaultdict(list)
    for i in targets:
        by_level[level_of[i]].append(i)
    dependent: dict[int, list[DemandRow]] = {}
    for i, ds in (inherited or {}).items():
        dependent.setdefault(i, []).extend(demand_row(d) for d in ds)

    supplies: list[PlannedSupply] = []
    messages: list[ExceptionMessage] = []
    own = planner.demands
    ordered = sorted(by_level)
    done = 0
    for index, lvl in enumerate(ordered, start=1):
        for item_id in sorted(by_level[lvl]):
            item = planner.items[item_id]
            snapshot.items[item_id].level = lvl
            mine = own[item_id]
            theirs = dependent.pop(item_id, None)
            demands = (mine + theirs if theirs else mine) if mine else (theirs or [])
            new, msgs = planner.net(item, demands, lvl)
            messages.extend(msgs)
            supplies.extend(new)
            if item.make and (new or demands):
                messages.extend(planner.structure_messages(item))
                planner.dependent_demand(item, new, dependent)
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


def _old_signature(o: OldSupply) -> tuple[int, int, int]:
    return (to_units(o.quantity), o.start_date.toordinal(), o.due_date.toordinal())


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
    planner = _Planner(snapshot)
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

    dependent: dict[int, list[DemandRow]] = {}
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
        inherited: dict[int, list[DemandRow]] = defaultdict(list)
        for p in still:
            parent = planner.items[p] if p in snapshot.items else None
            for o in old.get(p, ()):
                qty, start, _ = _old_signature(o)
                if parent is not None:
                    needs = planner.explode(parent, qty, start)
                else:  # an inactive item's live orders: not in the snapshot's items
                    needs = [
                        (c, to_units(ceil_q(v))) for c, v in explode(snapshot, p, o.quantity, o.start_date).items()
                    ]
                sku = parent.sku if parent is not None else str(p)
                for component_id, need in needs:
                    if component_id in targets:
                        inherited[component_id].append((need, start, "planned_order", o.pk, sku))
        for item_id in sorted(targets):
            item = planner.items[item_id]
            snapshot.items[item_id].level = lvl
            demands = planner.demands[item_id] + dependent.pop(item_id, []) + inherited.get(item_id, [])
            new, msgs = planner.net(item, demands, lvl)
            replanned.add(item_id)
            messages.extend(msgs)
            supplies.extend(new)
            if item.make and (new or demands):
                messages.extend(planner.structure_messages(item))
            previous = old.get(item_id, [])
            if sorted((s.qty, s.start, s.due) for s in new) == sorted(map(_old_signature, previous)):
                # Same proposals as before: keep the live rows (and what is pegged to them)
                # and stop here, its components see no change.
                by_sig: dict[tuple, list[int]] = defaultdict(list)
                for o in previous:
                    by_sig[_old_signature(o)].append(o.pk)
                for s in new:
                    kept[s.key] = by_sig[(s.qty, s.start, s.due)].pop()
                unchanged.add(item_id)
                continue
            if item.make:
                planner.dependent_demand(item, new, dependent)
                changed = {c for s in new for c, _ in planner.explode(item, s.qty, s.start)}
                for o in previous:
                    qty, start, _ = _old_signature(o)
                    changed.update(c for c, _ in planner.explode(item, qty, start))
                for component_id in changed:
                    if component_id not in skip and component_id in snapshot.items:
                        pending[level_of[component_id]].add(component_id)
        if progress is not None:
            progress(
                level_no, level_no + len(pending), len(replanned), len(replanned) + sum(map(len, pending.values()))
            )
    return NetChangeResult(
        supplies, messages, len(replanned), level_no, replanned=replanned, kept=kept, unchanged=unchanged
    )
