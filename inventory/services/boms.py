"""BOM writes and queries: create/update with cycle refusal, multi-level explosion,
where-used and low-level codes. Every traversal is level-wise: one or two queries per
BOM level, never one per node."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q

from config.exceptions import NotFound, ValidationFailed
from config.fields import ZERO
from inventory.enums import BomStatus, Flushing
from inventory.models import Bom, BomLine, Item

MAX_DEPTH = 64
HUNDRED = Decimal(100)
QTY_QUANT = Decimal("0.0001")
# Lines with component and unit in one query: two queries per BOM level in an explosion.
_LINES = Prefetch("lines", queryset=BomLine.objects.select_related("component__uom"))


@dataclass(frozen=True)
class ExplosionLine:
    level: int
    item_id: int
    sku: str
    quantity: Decimal  # total gross quantity for the exploded quantity (negative: by-product)
    uom: str


@dataclass(frozen=True)
class WhereUsedLine:
    level: int
    item_id: int
    sku: str
    bom_id: int
    bom_version: int
    component_id: int
    quantity: Decimal


# ---------------------------------------------------------------- cycle check


def bom_cycle_check(*, parent_item_id: int, component_ids: Iterable[int], exclude_bom_id: int | None = None) -> None:
    """Refuse components that contain ``parent_item_id`` at any depth (through active and
    draft BOMs). The error shows the path, e.g. ``FG-1 → SA-1 → FG-1``."""
    component_ids = set(component_ids)
    came_from: dict[int, int] = {c: parent_item_id for c in component_ids}
    hit: int | None = parent_item_id if parent_item_id in component_ids else None
    frontier = set(component_ids) - {parent_item_id}
    depth = 0
    while frontier and hit is None and depth < MAX_DEPTH:
        depth += 1
        qs = BomLine.objects.filter(bom__item_id__in=frontier, bom__status__in=[BomStatus.ACTIVE, BomStatus.DRAFT])
        if exclude_bom_id:
            qs = qs.exclude(bom_id=exclude_bom_id)
        nxt: set[int] = set()
        for parent, child in qs.values_list("bom__item_id", "component_id").distinct():
            if child == parent_item_id:
                hit = parent
                break
            if child not in came_from:
                came_from[child] = parent
                nxt.add(child)
        frontier = nxt
    if hit is None:
        return
    path = [parent_item_id]
    node = hit if hit != parent_item_id else None
    chain = []
    while node is not None and node != parent_item_id:
        chain.append(node)
        node = came_from.get(node)
    path += [*reversed(chain), parent_item_id]
    skus = dict(Item.objects.filter(pk__in=path).values_list("pk", "sku"))
    shown = " → ".join(skus[p] for p in path)
    raise ValidationFailed(
        f"This BOM would contain itself: {shown}.",
        code="bom_cycle",
        fields={"lines": f"cycle {shown}"},
    )


# ---------------------------------------------------------------- writes


def _validate_lines(*, item_id: int, lines: list[dict[str, Any]]) -> None:
    for index, line in enumerate(lines):
        prefix = f"lines[{index}]"
        if line["component_id"] == item_id:
            sku = Item.objects.filter(pk=item_id).values_list("sku", flat=True).first()
            raise ValidationFailed(
                f"A BOM cannot contain its own item: {sku} → {sku}.",
                code="bom_cycle",
                fields={f"{prefix}.component": "equals the BOM's item"},
            )
        if Decimal(line["quantity"]) == 0:
            raise ValidationFailed(
                "Quantity per base must not be zero.",
                code="invalid_quantity",
                fields={f"{prefix}.quantity": "must not be zero"},
            )
        scrap = Decimal(line.get("scrap_percent", ZERO))
        if not ZERO <= scrap < HUNDRED:
            raise ValidationFailed(
                "Scrap % must be between 0 and 100.",
                code="invalid_scrap",
                fields={f"{prefix}.scrap_percent": "0 <= scrap < 100"},
            )
        if line.get("flushing", Flushing.MANUAL) not in Flushing.values:
            raise ValidationFailed("Unknown flushing.", code="invalid", fields={f"{prefix}.flushing": "unknown"})
    known = set(Item.objects.filter(pk__in=[ln["component_id"] for ln in lines]).values_list("pk", flat=True))
    for index, line in enumerate(lines):
        if line["component_id"] not in known:
            raise ValidationFailed(
                f"Item {line['component_id']} does not exist.",
                code="unknown_item",
                fields={f"lines[{index}].component": "unknown"},
            )


def _write_lines(bom: Bom, lines: list[dict[str, Any]]) -> None:
    BomLine.objects.bulk_create(
        [
            BomLine(
                bom=bom,
                position=line.get("position") or (index + 1) * 10,
                component_id=line["component_id"],
                quantity=line["quantity"],
                scrap_percent=line.get("scrap_percent", ZERO),
                phantom=line.get("phantom", False),
                flushing=line.get("flushing", Flushing.MANUAL),
                operation_sequence=line.get("operation_sequence"),
            )
            for index, line in enumerate(lines)
        ]
    )


def _validate_header(data: dict[str, Any]) -> None:
    if "base_quantity" in data and Decimal(data["base_quantity"]) <= 0:
        raise ValidationFailed(
            "Base quantity must be positive.",
            code="invalid_quantity",
            fields={"base_quantity": "must be > 0"},
        )
    vf, vt = data.get("valid_from"), data.get("valid_to")
    if vf and vt and vt < vf:
        raise ValidationFailed(
            "valid_to is before valid_from.", code="invalid_range", fields={"valid_to": "before valid_from"}
        )
    if data.get("status", BomStatus.DRAFT) not in BomStatus.values:
        raise ValidationFailed("Unknown status.", code="invalid", fields={"status": "unknown"})


@transaction.atomic
def bom_create(
    *,
    item_id: int,
    lines: list[dict[str, Any]],
    user,
    version: int | None = None,
    status: str = BomStatus.DRAFT,
    base_quantity: Decimal = Decimal(1),
    valid_from: dt.date | None = None,
    valid_to: dt.date | None = None,
) -> Bom:
    """``lines``: dicts with component_id, quantity, scrap_percent, phantom, flushing,
    operation_sequence, position."""
    header = {
        "status": status,
        "base_quantity": base_quantity,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }
    _validate_header(header)
    if not Item.objects.filter(pk=item_id).exists():
        raise ValidationFailed(f"Item {item_id} does not exist.", code="unknown_item", fields={"item": "unknown"})
    _validate_lines(item_id=item_id, lines=lines)
    # Serialise BOM writes for one parent, so two edits cannot each pass the cycle check.
    Item.objects.select_for_update().filter(pk=item_id).first()
    bom_cycle_check(parent_item_id=item_id, component_ids=[ln["component_id"] for ln in lines])
    if version is None:
        version = (
            Bom.objects.filter(item_id=item_id).order_by("-version").values_list("version", flat=True).first() or 0
        ) + 1
    try:
        with transaction.atomic():
            bom = Bom.objects.create(item_id=item_id, version=version, **header)
    except IntegrityError as exc:
        raise ValidationFailed(
            f"Version {version} of this BOM exists.", code="duplicate", fields={"version": "already exists"}
        ) from exc
    _write_lines(bom, lines)
    low_level_codes_update()
    return bom


@transaction.atomic
def bom_update(*, bom_id: int, user, lines: list[dict[str, Any]] | None = None, **data: Any) -> Bom:
    bom = Bom.objects.select_for_update().filter(pk=bom_id).first()
    if bom is None:
        raise NotFound(f"BOM {bom_id} does not exist.")
    allowed = {"status", "base_quantity", "valid_from", "valid_to", "version"}
    unknown = set(data) - allowed
    if unknown:
        raise ValidationFailed("Unknown fields.", code="invalid", fields={f: "unknown" for f in unknown})
    _validate_header({**{k: getattr(bom, k) for k in allowed}, **data})
    if lines is not None:
        _validate_lines(item_id=bom.item_id, lines=lines)
        bom_cycle_check(
            parent_item_id=bom.item_id,
            component_ids=[ln["component_id"] for ln in lines],
            exclude_bom_id=bom.pk,
        )
    elif data.get("status") in (BomStatus.ACTIVE, BomStatus.DRAFT) and bom.status == BomStatus.OBSOLETE:
        # Reviving an obsolete BOM brings its edges back into the graph.
        bom_cycle_check(
            parent_item_id=bom.item_id,
            component_ids=list(bom.lines.values_list("component_id", flat=True)),
            exclude_bom_id=bom.pk,
        )
    for key, value in data.items():
        setattr(bom, key, value)
    try:
        with transaction.atomic():
            bom.save()
    except IntegrityError as exc:
        raise ValidationFailed("Version exists.", code="duplicate", fields={"version": "already exists"}) from exc
    if lines is not None:
        bom.lines.all().delete()
        _write_lines(bom, lines)
    low_level_codes_update()
    return bom


@transaction.atomic
def bom_delete(*, bom_id: int, user) -> None:
    bom = Bom.objects.select_for_update().filter(pk=bom_id).first()
    if bom is None:
        raise NotFound(f"BOM {bom_id} does not exist.")
    bom.delete()
    low_level_codes_update()


def low_level_codes_update() -> int:
    """Recompute every item's low-level code (deepest level in any active BOM) from the
    active BOM edges in one query, and write the changed ones in one UPDATE. Returns the
    number of items changed."""
    edges = _children_of_all()
    children: dict[int, set[int]] = defaultdict(set)
    for parent, child in edges:
        children[parent].add(child)
    codes: dict[int, int] = {}
    frontier = {p for p in children} - {c for cs in children.values() for c in cs}
    level = 0
    while frontier and level < MAX_DEPTH:
        for node in frontier:
            codes[node] = max(codes.get(node, 0), level)
        level += 1
        frontier = {c for p in frontier for c in children.get(p, ())}
    changed = []
    for item in Item.objects.only("pk", "low_level_code"):
        code = codes.get(item.pk, 0)
        if item.low_level_code != code:
            item.low_level_code = code
            changed.append(item)
    Item.objects.bulk_update(changed, ["low_level_code"])
    return len(changed)


def _children_of_all() -> list[tuple[int, int]]:
    return list(
        BomLine.objects.filter(bom__status=BomStatus.ACTIVE).values_list("bom__item_id", "component_id").distinct()
    )


# ---------------------------------------------------------------- queries


def _valid_boms_for(item_ids: Iterable[int], on_date: dt.date) -> dict[int, Bom]:
    """The active BOM valid on ``on_date`` per item (highest version wins), lines prefetched."""
    qs = (
        Bom.objects.filter(item_id__in=list(item_ids), status=BomStatus.ACTIVE)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=on_date))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on_date))
        .order_by("item_id", "-version")
        .prefetch_related(_LINES)
    )
    result: dict[int, Bom] = {}
    for bom in qs:
        result.setdefault(bom.item_id, bom)
    return result


def bom_explode(*, bom_id: int, quantity: Decimal, on_date: dt.date | None = None) -> list[ExplosionLine]:
    """Multi-level gross requirements for ``quantity`` of the BOM's item.

    Per line: parent quantity / base quantity x quantity per x (1 + scrap %). Phantoms are
    exploded through: their components appear at the phantom's level, the phantom not at
    all. Sub-assemblies appear at their level and their components one level deeper.
    By-products (negative quantity) are listed, never exploded. Quantities are summed per
    (level, component)."""
    on_date = on_date or dt.date.today()
    quantity = Decimal(quantity)
    if quantity <= 0:
        raise ValidationFailed(
            "Quantity must be positive.", code="invalid_quantity", fields={"quantity": "must be positive"}
        )
    root = Bom.objects.prefetch_related(_LINES).filter(pk=bom_id).first()
    if root is None:
        raise NotFound(f"BOM {bom_id} does not exist.")
    if (
        root.status != BomStatus.ACTIVE
        or (root.valid_from and root.valid_from > on_date)
        or (root.valid_to and root.valid_to < on_date)
    ):
        raise ValidationFailed(
            f"BOM {bom_id} is {root.status} or not valid on {on_date}; only an active, valid BOM explodes.",
            code="bom_not_active",
            fields={"bom": f"{root.status}, valid {root.valid_from or '…'} to {root.valid_to or '…'}"},
        )
    totals: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    info: dict[int, tuple[str, str]] = {}
    # Work list per level: (bom, parent quantity, level at which its lines appear).
    work: list[tuple[Bom, Decimal, int]] = [(root, quantity, 1)]
    depth = 0
    while work:
        depth += 1
        if depth > MAX_DEPTH:
            raise ValidationFailed("BOM structure too deep (a cycle?).", code="bom_cycle", fields={"bom": "too deep"})
        # Expand phantoms within the same level first (they may nest).
        explode_next: list[tuple[int, Decimal, int, bool]] = []
        for bom, parent_qty, level in work:
            for line in bom.lines.all():
                factor = Decimal(line.quantity) / bom.base_quantity
                if line.quantity > 0:
                    factor *= 1 + line.scrap_percent / HUNDRED
                qty = parent_qty * factor
                if line.phantom and line.quantity > 0:
                    explode_next.append((line.component_id, qty, level, True))  # same level
                    continue
                totals[(level, line.component_id)] += qty
                info[line.component_id] = (line.component.sku, line.component.uom.code)
                if line.quantity > 0:
                    explode_next.append((line.component_id, qty, level + 1, False))
        boms = _valid_boms_for({c for c, _, _, _ in explode_next}, on_date) if explode_next else {}
        work = []
        for component_id, qty, level, phantom in explode_next:
            bom = boms.get(component_id)
            if bom is not None:
                work.append((bom, qty, level))
            elif phantom:
                # A phantom without a valid BOM cannot be exploded: require it as it is.
                comp = Item.objects.select_related("uom").get(pk=component_id)
                totals[(level, component_id)] += qty
                info[component_id] = (comp.sku, comp.uom.code)
    return sorted(
        (
            ExplosionLine(
                level=lvl,
                item_id=item_id,
                sku=info[item_id][0],
                quantity=q.quantize(QTY_QUANT),
                uom=info[item_id][1],
            )
            for (lvl, item_id), q in totals.items()
        ),
        key=lambda e: (e.level, e.sku),
    )


def bom_where_used(*, item_id: int, include_draft: bool = False) -> list[WhereUsedLine]:
    """Every BOM that uses the item, directly (level 1) or through sub-assemblies."""
    statuses = [BomStatus.ACTIVE, BomStatus.DRAFT] if include_draft else [BomStatus.ACTIVE]
    if not Item.objects.filter(pk=item_id).exists():
        raise ValidationFailed(f"Item {item_id} does not exist.", code="unknown_item", fields={"item": "unknown"})
    result: list[WhereUsedLine] = []
    seen: set[int] = {item_id}
    frontier = {item_id}
    level = 0
    while frontier and level < MAX_DEPTH:
        level += 1
        rows = (
            BomLine.objects.filter(component_id__in=frontier, bom__status__in=statuses)
            .select_related("bom__item")
            .order_by("bom__item__sku", "bom__version", "position")
        )
        nxt: set[int] = set()
        for line in rows:
            result.append(
                WhereUsedLine(
                    level=level,
                    item_id=line.bom.item_id,
                    sku=line.bom.item.sku,
                    bom_id=line.bom_id,
                    bom_version=line.bom.version,
                    component_id=line.component_id,
                    quantity=line.quantity,
                )
            )
            if line.bom.item_id not in seen:
                seen.add(line.bom.item_id)
                nxt.add(line.bom.item_id)
        frontier = nxt
    return result
