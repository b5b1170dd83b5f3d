"""Copying a BOM and a routing into an order's own structure."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db.models import Q

from config.fields import ZERO
from inventory.models import Bom, BomLine
from planning.models import Routing
from planning.selectors import routing_for_item
from production.enums import Flushing

HUNDRED = Decimal(100)
MAX_PHANTOM_DEPTH = 20


@dataclass(frozen=True)
class ComponentDraft:
    item_id: int
    quantity_per_unit: Decimal  # per one unit of the order's item, scrap included
    scrap_percent: Decimal
    flushing: str
    operation_sequence: int | None


@dataclass(frozen=True)
class OperationDraft:
    sequence: int
    work_center_id: int
    setup_minutes: Decimal = ZERO
    run_minutes_per_unit: Decimal = ZERO
    queue_minutes: Decimal = ZERO
    move_minutes: Decimal = ZERO
    description: str = ""
    instructions: str = ""
    reporting_point: bool = False

    def as_fields(self) -> dict:
        return asdict(self)


def _valid(qs, on_date: dt.date):
    return qs.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=on_date)).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=on_date)
    )


def bom_for_item(*, item_id: int, on_date: dt.date) -> Bom | None:
    """The active BOM valid on the date, highest version first."""
    return _valid(Bom.objects.filter(item_id=item_id, status="active"), on_date).order_by("-version").first()


def routing_for(*, item_id: int, on_date: dt.date) -> Routing | None:
    return routing_for_item(item_id=item_id, on_date=on_date)


def components_from_bom(*, bom: Bom, on_date: dt.date) -> list[ComponentDraft]:
    """Single-level components per unit of the BOM's item, with phantoms exploded through
    (their components take the phantom line's consuming operation) and scrap applied.
    Phantom BOMs are loaded level by level, one query per phantom depth."""
    drafts: list[ComponentDraft] = []
    # (line, factor per unit of the order item, inherited operation)
    frontier = [(line, Decimal(1) / bom.base_quantity, None) for line in _lines(bom.pk)]
    depth = 0
    while frontier:
        depth += 1
        phantoms: list[tuple[BomLine, Decimal, int | None]] = []
        for line, factor, inherited_op in frontier:
            scrap = Decimal(line.scrap_percent)
            per_unit = Decimal(line.quantity) * factor * (1 + scrap / HUNDRED)
            operation = line.operation_sequence if line.operation_sequence is not None else inherited_op
            if line.phantom and line.quantity > 0:
                phantoms.append((line, per_unit, operation))
                continue
            drafts.append(
                ComponentDraft(
                    item_id=line.component_id,
                    quantity_per_unit=per_unit,
                    scrap_percent=scrap,
                    flushing=line.flushing or Flushing.MANUAL,
                    operation_sequence=operation,
                )
            )
        if not phantoms or depth > MAX_PHANTOM_DEPTH:
            break
        boms = {}
        for candidate in _valid(
            Bom.objects.filter(item_id__in={p[0].component_id for p in phantoms}, status="active"), on_date
        ).order_by("item_id", "-version"):
            boms.setdefault(candidate.item_id, candidate)
        lines_by_bom: dict[int, list[BomLine]] = {}
        for child in BomLine.objects.filter(bom_id__in=[b.pk for b in boms.values()]).order_by(
            "bom_id", "position", "pk"
        ):
            lines_by_bom.setdefault(child.bom_id, []).append(child)
        frontier = []
        for line, per_unit, operation in phantoms:
            phantom_bom = boms.get(line.component_id)
            if phantom_bom is None:
                # A phantom without a BOM cannot be exploded: keep it as a normal component
                # so the shortage shows up instead of silently vanishing.
                drafts.append(
                    ComponentDraft(line.component_id, per_unit, Decimal(line.scrap_percent), line.flushing, operation)
                )
                continue
            for child in lines_by_bom.get(phantom_bom.pk, []):
                frontier.append((child, per_unit / phantom_bom.base_quantity, operation))
    return drafts


def _lines(bom_id: int) -> list[BomLine]:
    return list(BomLine.objects.filter(bom_id=bom_id).order_by("position", "pk"))


def operations_from_routing(*, routing: Routing) -> list[OperationDraft]:
    return [
        OperationDraft(
            sequence=op.sequence,
            work_center_id=op.work_center_id,
            setup_minutes=op.setup_minutes,
            run_minutes_per_unit=op.run_minutes_per_unit,
            queue_minutes=op.queue_minutes,
            move_minutes=op.move_minutes,
            description=op.description,
            instructions=op.work_instructions,
            reporting_point=op.reporting_point,
        )
        for op in routing.operations.order_by("sequence")
    ]
