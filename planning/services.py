"""Every write of the planning app: master data (cost centers, calendars, work centers,
routings) and capacity requirements. Keyword-only, typed, one transaction each."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q

from config.exceptions import NotFound, StateConflict, ValidationFailed
from config.locks import advisory_xact_lock
from inventory.models import Item
from planning.enums import ROUTING_TRANSITIONS, CapacityStatus, RoutingStatus
from planning.models import (
    Calendar,
    CalendarException,
    CalendarShift,
    CapacityRequirement,
    CostCenter,
    Routing,
    RoutingOperation,
    WorkCenter,
)
from planning.scheduling import RequirementSpec

ZERO = Decimal(0)


# -- helpers --------------------------------------------------------------------------------


def _get(model, pk: int, *, lock: bool = False):
    qs = model.objects.select_for_update(of=("self",), no_key=True) if lock else model.objects
    try:
        return qs.get(pk=pk)
    except model.DoesNotExist as exc:
        raise NotFound(f"{model._meta.verbose_name.capitalize()} {pk} does not exist.") from exc


def _unique_code(model, code: str, *, exclude_pk: int | None = None) -> None:
    # A friendly message for the common case; the unique constraint still decides under races.
    qs = model.objects.filter(code=code)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise ValidationFailed(
            f"A {model._meta.verbose_name} with code {code!r} already exists.",
            code="duplicate",
            fields={"code": "Already exists."},
        )


def _save_unique(obj, field: str = "code") -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise ValidationFailed(
            f"{obj._meta.verbose_name.capitalize()} {field} must be unique.",
            code="duplicate",
            fields={field: "Already exists."},
        ) from exc


def _delete(obj) -> None:
    try:
        with transaction.atomic():
            obj.delete()
    except ProtectedError as exc:
        raise StateConflict(
            f"{obj._meta.verbose_name.capitalize()} {obj} is still in use and cannot be deleted.",
            code="in_use",
        ) from exc


# -- cost centers ---------------------------------------------------------------------------


@transaction.atomic
def cost_center_create(*, code: str, name: str, user: Any = None) -> CostCenter:
    _unique_code(CostCenter, code)
    cost_center = CostCenter(code=code, name=name)
    _save_unique(cost_center)
    return cost_center


@transaction.atomic
def cost_center_update(
    *, cost_center_id: int, user: Any = None, code: str | None = None, name: str | None = None
) -> CostCenter:
    cost_center = _get(CostCenter, cost_center_id, lock=True)
    if code is not None and code != cost_center.code:
        _unique_code(CostCenter, code, exclude_pk=cost_center.pk)
        cost_center.code = code
    if name is not None:
        cost_center.name = name
    _save_unique(cost_center)
    return cost_center


@transaction.atomic
def cost_center_delete(*, cost_center_id: int, user: Any = None) -> None:
    _delete(_get(CostCenter, cost_center_id, lock=True))


# -- calendars ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftData:
    weekday: int
    start_time: time
    end_time: time


@dataclass(frozen=True)
class ExceptionData:
    date_from: date
    date_to: date
    working: bool = False
    start_time: time | None = None
    end_time: time | None = None
    description: str = ""


def _validate_shifts(shifts: Sequence[ShiftData]) -> None:
    for index, shift in enumerate(shifts):
        if not 0 <= shift.weekday <= 6:
            raise ValidationFailed(
                "A shift's weekday is 0 (Monday) to 6 (Sunday).",
                fields={f"shifts[{index}].weekday": "Must be between 0 and 6."},
            )
        if shift.end_time <= shift.start_time:
            raise ValidationFailed(
                "A shift must end after it starts (split a shift across midnight into two).",
                fields={f"shifts[{index}].end_time": "Must be after start_time."},
            )
    ordered = sorted(enumerate(shifts), key=lambda pair: (pair[1].weekday, pair[1].start_time))
    for (_, prev), (index, shift) in itertools.pairwise(ordered):
        if shift.weekday == prev.weekday and shift.start_time < prev.end_time:
            raise ValidationFailed(
                f"Shifts overlap on weekday {shift.weekday}: {prev.start_time}-{prev.end_time} "
                f"and {shift.start_time}-{shift.end_time}.",
                code="overlapping_shifts",
                fields={f"shifts[{index}].start_time": "Overlaps another shift of the same day."},
            )
    if not shifts:
        raise ValidationFailed(
            "A calendar needs working hours: it has no shifts at all.",
            code="zero_capacity_calendar",
            fields={"shifts": "At least one shift is required."},
        )


def _validate_exceptions(exceptions: Sequence[ExceptionData]) -> None:
    for index, exc in enumerate(exceptions):
        if exc.date_to < exc.date_from:
            raise ValidationFailed(
                "An exception's date_to must not be before its date_from.",
                fields={f"exceptions[{index}].date_to": "Must not be before date_from."},
            )
        if exc.working:
            if exc.start_time is None or exc.end_time is None or exc.end_time <= exc.start_time:
                raise ValidationFailed(
                    "A working exception needs its own hours: start_time before end_time.",
                    fields={f"exceptions[{index}].end_time": "Required, after start_time, when working."},
                )
        elif exc.start_time is not None or exc.end_time is not None:
            raise ValidationFailed(
                "A non-working exception (closure) has no hours.",
                fields={f"exceptions[{index}].start_time": "Must be empty when working is false."},
            )
    ordered = sorted(enumerate(exceptions), key=lambda pair: pair[1].date_from)
    for (_, prev), (index, exc) in itertools.pairwise(ordered):
        if exc.date_from <= prev.date_to:
            raise ValidationFailed(
                f"Exceptions overlap: {prev.date_from}..{prev.date_to} and {exc.date_from}..{exc.date_to}.",
                code="overlapping_exceptions",
                fields={f"exceptions[{index}].date_from": "Overlaps another exception of this calendar."},
            )


def _replace_children(calendar: Calendar, shifts, exceptions) -> None:
    if shifts is not None:
        calendar.shifts.all().delete()
        CalendarShift.objects.bulk_create(
            CalendarShift(calendar=calendar, weekday=s.weekday, start_time=s.start_time, end_time=s.end_time)
            for s in shifts
        )
    if exceptions is not None:
        calendar.exceptions.all().delete()
        CalendarException.objects.bulk_create(
            CalendarException(
                calendar=calendar,
                date_from=e.date_from,
                date_to=e.date_to,
                working=e.working,
                start_time=e.start_time if e.working else None,
                end_time=e.end_time if e.working else None,
                description=e.description,
            )
            for e in exceptions
        )


@transaction.atomic
def calendar_create(
    *,
    code: str,
    name: str,
    shifts: Sequence[ShiftData],
    exceptions: Sequence[ExceptionData] = (),
    user: Any = None,
) -> Calendar:
    _validate_shifts(shifts)
    _validate_exceptions(exceptions)
    _unique_code(Calendar, code)
    calendar = Calendar(code=code, name=name)
    _save_unique(calendar)
    _replace_children(calendar, shifts, exceptions)
    return calendar


@transaction.atomic
def calendar_update(
    *,
    calendar_id: int,
    user: Any = None,
    code: str | None = None,
    name: str | None = None,
    shifts: Sequence[ShiftData] | None = None,
    exceptions: Sequence[ExceptionData] | None = None,
) -> Calendar:
    """Change header fields; ``shifts`` / ``exceptions``, when given, replace the whole set
    (the calendar row is locked, so two editors cannot interleave and create overlaps)."""
    calendar = _get(Calendar, calendar_id, lock=True)
    if shifts is not None:
        _validate_shifts(shifts)
    if exceptions is not None:
        _validate_exceptions(exceptions)
    if code is not None and code != calendar.code:
        _unique_code(Calendar, code, exclude_pk=calendar.pk)
        calendar.code = code
    if name is not None:
        calendar.name = name
    _save_unique(calendar)
    _replace_children(calendar, shifts, exceptions)
    return calendar


@transaction.atomic
def calendar_delete(*, calendar_id: int, user: Any = None) -> None:
    _delete(_get(Calendar, calendar_id, lock=True))


# -- work centers ---------------------------------------------------------------------------

WORK_CENTER_FIELDS = frozenset(
    {
        "code",
        "name",
        "calendar_id",
        "efficiency_pct",
        "parallel_units",
        "labor_rate",
        "machine_rate",
        "overhead_rate",
        "currency",
        "cost_center_id",
        "is_active",
    }
)


def _validate_work_center(wc: WorkCenter) -> None:
    if wc.efficiency_pct is None or Decimal(wc.efficiency_pct) <= 0:
        raise ValidationFailed("Efficiency must be greater than 0 %.", fields={"efficiency_pct": "Must be > 0."})
    if wc.parallel_units is None or int(wc.parallel_units) < 1:
        raise ValidationFailed(
            "Parallel capacity must be at least 1 machine or person.",
            fields={"parallel_units": "Must be >= 1."},
        )
    for name in ("labor_rate", "machine_rate", "overhead_rate"):
        if Decimal(getattr(wc, name)) < 0:
            raise ValidationFailed(f"{name} must not be negative.", fields={name: "Must not be negative."})
    if not Calendar.objects.filter(pk=wc.calendar_id).exists():
        raise ValidationFailed(f"Calendar {wc.calendar_id} does not exist.", fields={"calendar": "Does not exist."})
    if wc.cost_center_id is not None and not CostCenter.objects.filter(pk=wc.cost_center_id).exists():
        raise ValidationFailed(
            f"Cost center {wc.cost_center_id} does not exist.", fields={"cost_center": "Does not exist."}
        )


@transaction.atomic
def work_center_create(
    *,
    code: str,
    name: str,
    calendar_id: int,
    efficiency_pct: Decimal = Decimal(100),
    parallel_units: int = 1,
    labor_rate: Decimal = ZERO,
    machine_rate: Decimal = ZERO,
    overhead_rate: Decimal = ZERO,
    cost_center_id: int | None = None,
    is_active: bool = True,
    currency: str | None = None,
    user: Any = None,
) -> WorkCenter:
    wc = WorkCenter(
        code=code,
        name=name,
        calendar_id=calendar_id,
        efficiency_pct=efficiency_pct,
        parallel_units=parallel_units,
        labor_rate=labor_rate,
        machine_rate=machine_rate,
        overhead_rate=overhead_rate,
        cost_center_id=cost_center_id,
        is_active=is_active,
    )
    if currency:
        wc.currency = currency
    _validate_work_center(wc)
    _unique_code(WorkCenter, code)
    _save_unique(wc)
    return wc


@transaction.atomic
def work_center_update(*, work_center_id: int, user: Any = None, **changes: Any) -> WorkCenter:
    """Change any of ``WORK_CENTER_FIELDS``. Deactivating a work center keeps existing
    routings readable; it only refuses new operations on it (and activation of routings)."""
    unknown = set(changes) - WORK_CENTER_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown work center field(s): {sorted(unknown)}.")
    wc = _get(WorkCenter, work_center_id, lock=True)
    if "code" in changes and changes["code"] != wc.code:
        _unique_code(WorkCenter, changes["code"], exclude_pk=wc.pk)
    for name, value in changes.items():
        setattr(wc, name, value)
    _validate_work_center(wc)
    _save_unique(wc)
    return wc


@transaction.atomic
def work_center_delete(*, work_center_id: int, user: Any = None) -> None:
    _delete(_get(WorkCenter, work_center_id, lock=True))


# -- routings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingOperationData:
    sequence: int
    work_center_id: int
    setup_minutes: Decimal = ZERO
    run_minutes_per_unit: Decimal = ZERO
    queue_minutes: Decimal = ZERO
    move_minutes: Decimal = ZERO
    description: str = ""
    work_instructions: str = ""
    reporting_point: bool = False


TIME_FIELDS = ("setup_minutes", "run_minutes_per_unit", "queue_minutes", "move_minutes")


def _validate_operations(operations: Sequence[RoutingOperationData]) -> None:
    seen: set[int] = set()
    for index, op in enumerate(operations):
        if op.sequence in seen:
            raise ValidationFailed(
                f"Operation sequence {op.sequence} appears twice in the routing.",
                code="duplicate_sequence",
                fields={f"operations[{index}].sequence": "Must be unique within the routing."},
            )
        seen.add(op.sequence)
        for name in TIME_FIELDS:
            if Decimal(getattr(op, name)) < 0:
                raise ValidationFailed(
                    f"Operation {op.sequence}: {name} must not be negative.",
                    code="negative_time",
                    fields={f"operations[{index}].{name}": "Must not be negative."},
                )
    wc_ids = {op.work_center_id for op in operations}
    states = dict(WorkCenter.objects.filter(pk__in=wc_ids).values_list("pk", "is_active"))
    for index, op in enumerate(operations):
        if op.work_center_id not in states:
            raise ValidationFailed(
                f"Operation {op.sequence}: work center {op.work_center_id} does not exist.",
                fields={f"operations[{index}].work_center": "Does not exist."},
            )
        if not states[op.work_center_id]:
            raise ValidationFailed(
                f"Operation {op.sequence}: work center {op.work_center_id} is inactive.",
                code="inactive_work_center",
                fields={f"operations[{index}].work_center": "The work center is inactive."},
            )


def _replace_operations(routing: Routing, operations: Sequence[RoutingOperationData]) -> None:
    routing.operations.all().delete()
    RoutingOperation.objects.bulk_create(
        RoutingOperation(
            routing=routing,
            sequence=op.sequence,
            work_center_id=op.work_center_id,
            description=op.description,
            setup_minutes=op.setup_minutes,
            run_minutes_per_unit=op.run_minutes_per_unit,
            queue_minutes=op.queue_minutes,
            move_minutes=op.move_minutes,
            work_instructions=op.work_instructions,
            reporting_point=op.reporting_point,
        )
        for op in operations
    )


def _validate_validity(valid_from: date, valid_to: date | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed("valid_to must not be before valid_from.", fields={"valid_to": "Before valid_from."})


@transaction.atomic
def routing_create(
    *,
    item_id: int,
    valid_from: date,
    operations: Sequence[RoutingOperationData],
    version: int | None = None,
    valid_to: date | None = None,
    description: str = "",
    user: Any = None,
) -> Routing:
    """A new routing version in ``draft``; ``version`` defaults to the item's next one."""
    try:
        item = Item.objects.select_for_update(of=("self",), no_key=True).get(pk=item_id)
    except Item.DoesNotExist as exc:
        raise ValidationFailed(f"Item {item_id} does not exist.", fields={"item": "Does not exist."}) from exc
    _validate_validity(valid_from, valid_to)
    _validate_operations(operations)
    if version is None:
        last = Routing.objects.filter(item=item).order_by("-version").values_list("version", flat=True).first()
        version = (last or 0) + 1
    routing = Routing(item=item, version=version, valid_from=valid_from, valid_to=valid_to, description=description)
    _save_unique(routing, "version")
    _replace_operations(routing, operations)
    return routing


@transaction.atomic
def routing_update(
    *,
    routing_id: int,
    user: Any = None,
    valid_from: date | None = None,
    valid_to: date | None = None,
    clear_valid_to: bool = False,
    description: str | None = None,
    operations: Sequence[RoutingOperationData] | None = None,
) -> Routing:
    """Edit a draft routing. Active and obsolete versions are what orders were planned with:
    change means a new version."""
    routing = _get(Routing, routing_id, lock=True)
    if routing.status != RoutingStatus.DRAFT:
        raise StateConflict(
            f"Routing {routing.pk} is {routing.status}; only draft routings can be edited. Create a new version.",
            code="routing_not_draft",
        )
    if valid_from is not None:
        routing.valid_from = valid_from
    if valid_to is not None or clear_valid_to:
        routing.valid_to = valid_to
    if description is not None:
        routing.description = description
    _validate_validity(routing.valid_from, routing.valid_to)
    if operations is not None:
        _validate_operations(operations)
        _replace_operations(routing, operations)
    routing.save()
    return routing


def _ensure_transition(routing: Routing, target: str) -> None:
    if target not in ROUTING_TRANSITIONS[routing.status]:
        raise StateConflict(f"Routing {routing.pk} cannot go from {routing.status} to {target}.")


@transaction.atomic
def routing_activate(*, routing_id: int, user: Any = None) -> Routing:
    # Lock the item first: activations of two versions of one item serialize on it, so the
    # overlap check below cannot race.
    item_id = Routing.objects.filter(pk=routing_id).values_list("item_id", flat=True).first()
    if item_id is None:
        raise NotFound(f"Routing {routing_id} does not exist.")
    Item.objects.select_for_update(of=("self",), no_key=True).filter(pk=item_id).first()
    routing = _get(Routing, routing_id, lock=True)
    _ensure_transition(routing, RoutingStatus.ACTIVE)
    ops = [
        RoutingOperationData(sequence=op.sequence, work_center_id=op.work_center_id) for op in routing.operations.all()
    ]
    if not ops:
        raise ValidationFailed(
            "A routing needs at least one operation to be activated.", fields={"operations": "Empty."}
        )
    _validate_operations(ops)
    overlap = Routing.objects.filter(item_id=routing.item_id, status=RoutingStatus.ACTIVE).exclude(pk=routing.pk)
    overlap = overlap.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=routing.valid_from))
    if routing.valid_to is not None:
        overlap = overlap.filter(valid_from__lte=routing.valid_to)
    clash = overlap.first()
    if clash is not None:
        raise StateConflict(
            f"Active routing version {clash.version} of this item is valid in the same period; "
            "end its validity or make it obsolete first.",
            code="overlapping_routing",
            fields={"valid_from": "Overlaps an active routing of the same item."},
        )
    routing.status = RoutingStatus.ACTIVE
    routing.save(update_fields=["status", "updated_at"])
    return routing


@transaction.atomic
def routing_obsolete(*, routing_id: int, user: Any = None) -> Routing:
    routing = _get(Routing, routing_id, lock=True)
    _ensure_transition(routing, RoutingStatus.OBSOLETE)
    routing.status = RoutingStatus.OBSOLETE
    routing.save(update_fields=["status", "updated_at"])
    return routing


@transaction.atomic
def routing_delete(*, routing_id: int, user: Any = None) -> None:
    routing = _get(Routing, routing_id, lock=True)
    if routing.status != RoutingStatus.DRAFT:
        raise StateConflict("Only draft routings can be deleted; make it obsolete instead.", code="routing_not_draft")
    _delete(routing)


# -- capacity requirements ------------------------------------------------------------------


@transaction.atomic
def capacity_requirements_replace(
    *,
    source_type: str,
    source_id: int,
    requirements: Sequence[RequirementSpec],
    status: str = CapacityStatus.PLANNED,
    user: Any = None,
) -> list[CapacityRequirement]:
    """Make ``requirements`` the whole capacity demand of one source (an order that was
    (re)scheduled). Rows for the same work center, day and line are summed."""
    if status not in CapacityStatus.values:
        raise ValidationFailed(f"Unknown capacity status {status!r}.", fields={"status": "Unknown."})
    if not source_type:
        raise ValidationFailed("source_type is required.", fields={"source_type": "Required."})
    merged: dict[tuple[int, date, int | None], Decimal] = {}
    for index, req in enumerate(requirements):
        if Decimal(req.hours) < 0:
            raise ValidationFailed(
                "Capacity hours must not be negative.", fields={f"requirements[{index}].hours": "Negative."}
            )
        key = (req.work_center_id, req.date, req.source_line_id)
        merged[key] = merged.get(key, ZERO) + Decimal(req.hours)
    wc_ids = {key[0] for key in merged}
    known = set(WorkCenter.objects.filter(pk__in=wc_ids).values_list("pk", flat=True))
    if wc_ids - known:
        raise ValidationFailed(
            f"Unknown work center(s): {sorted(wc_ids - known)}.",
            fields={"requirements": "Unknown work center."},
        )
    # Two reschedules of one source must not interleave delete and insert.
    advisory_xact_lock(f"capacity:{source_type}:{source_id}")
    CapacityRequirement.objects.filter(source_type=source_type, source_id=source_id).delete()
    return CapacityRequirement.objects.bulk_create(
        CapacityRequirement(
            work_center_id=wc_id,
            date=day,
            hours=hours,
            source_type=source_type,
            source_id=source_id,
            source_line_id=line_id,
            status=status,
        )
        for (wc_id, day, line_id), hours in sorted(merged.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0))
        if hours > 0
    )


@transaction.atomic
def capacity_requirements_clear(*, source_type: str, source_id: int, user: Any = None) -> int:
    """Remove a source's capacity demand (order completed, cancelled or deleted)."""
    advisory_xact_lock(f"capacity:{source_type}:{source_id}")
    deleted, _ = CapacityRequirement.objects.filter(source_type=source_type, source_id=source_id).delete()
    return deleted


@transaction.atomic
def capacity_requirements_replace_many(
    *,
    source_type: str,
    requirements_by_source: dict[int, Sequence[RequirementSpec]],
    status: str = CapacityStatus.PLANNED,
) -> int:
    """``capacity_requirements_replace`` for many sources at once: one delete, one insert.
    For sources the caller has locked or created in this transaction (a batch of new
    orders), so no per-source advisory lock is taken."""
    if status not in CapacityStatus.values:
        raise ValidationFailed(f"Unknown capacity status {status!r}.", fields={"status": "Unknown."})
    CapacityRequirement.objects.filter(source_type=source_type, source_id__in=list(requirements_by_source)).delete()
    rows: dict[tuple[int, int, date, int | None], Decimal] = {}
    for source_id, requirements in requirements_by_source.items():
        for req in requirements:
            key = (source_id, req.work_center_id, req.date, req.source_line_id)
            rows[key] = rows.get(key, ZERO) + Decimal(req.hours)
    created = CapacityRequirement.objects.bulk_create(
        CapacityRequirement(
            work_center_id=wc_id,
            date=day,
            hours=hours,
            source_type=source_type,
            source_id=source_id,
            source_line_id=line_id,
            status=status,
        )
        for (source_id, wc_id, day, line_id), hours in rows.items()
        if hours > 0
    )
    return len(created)
