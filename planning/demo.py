"""Demo data for the planning app (docs/demo-factory.md); called by `manage.py demo_data`
after inventory's. Idempotent, keyed by codes. Routings are created only for items that
exist, so it is safe to run before the inventory demo items are there (and again after)."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from inventory.models import Item
from planning import services
from planning.enums import CapacityStatus, RoutingStatus
from planning.models import Calendar, CostCenter, Routing, WorkCenter
from planning.scheduling import RequirementSpec

CALENDARS = {
    "5x8": ("Day shift Mon-Fri 06:00-14:00", [(time(6), time(14))]),
    "2SHIFT": ("Two shifts Mon-Fri 06:00-22:00", [(time(6), time(14)), (time(14), time(22))]),
}
COST_CENTERS = {"CC-FAB": "Fabrication", "CC-ASSY": "Assembly"}
# code: name, calendar, machines, efficiency, labor/h, machine/h, overhead/h, cost center
WORK_CENTERS = {
    "WC-CUT": ("Tube cutting", "5x8", 1, 95, 42, 18, 10, "CC-FAB"),
    "WC-WELD": ("Welding cell", "2SHIFT", 2, 90, 48, 25, 12, "CC-FAB"),
    "WC-PAINT": ("Powder coating", "5x8", 1, 100, 40, 30, 15, "CC-FAB"),
    "WC-WHEEL": ("Wheel building", "5x8", 2, 100, 38, 6, 8, "CC-ASSY"),
    "WC-ASSY": ("Final assembly", "2SHIFT", 3, 100, 38, 0, 9, "CC-ASSY"),
}
_ASSEMBLY = [(10, "WC-ASSY", 15, 35, True, "Assembly"), (20, "WC-ASSY", 0, 10, False, "Final check")]
# sku: [(sequence, work center, setup, run, reporting point, description)]
ROUTINGS = {
    "SA-100": [
        (10, "WC-CUT", 20, 6, False, "Cut tubes"),
        (20, "WC-WELD", 30, 25, True, "Weld frame"),
        (30, "WC-PAINT", 45, 8, False, "Powder coat"),
    ],
    "SA-110": [
        (10, "WC-CUT", 20, 10, False, "Cut tubes"),
        (20, "WC-WELD", 30, 50, False, "Weld cargo frame"),
        (30, "WC-PAINT", 45, 15, False, "Powder coat"),
    ],
    "SA-200": [(10, "WC-WHEEL", 10, 18, False, "Build wheel")],
    "FG-1000": _ASSEMBLY,
    "FG-2000": _ASSEMBLY,
    "FG-3000": _ASSEMBLY,
    "FG-4000": _ASSEMBLY,
}
VALID_FROM = date(2024, 1, 1)


def _calendars() -> dict[str, Calendar]:
    existing = {c.code: c for c in Calendar.objects.filter(code__in=CALENDARS)}
    for code, (name, shifts) in CALENDARS.items():
        if code not in existing:
            existing[code] = services.calendar_create(
                code=code,
                name=name,
                shifts=[services.ShiftData(weekday=d, start_time=s, end_time=e) for d in range(5) for s, e in shifts],
            )
    return existing


def _cost_centers() -> dict[str, CostCenter]:
    existing = {c.code: c for c in CostCenter.objects.filter(code__in=COST_CENTERS)}
    for code, name in COST_CENTERS.items():
        if code not in existing:
            existing[code] = services.cost_center_create(code=code, name=name)
    return existing


def _work_centers(calendars, cost_centers) -> dict[str, WorkCenter]:
    existing = {w.code: w for w in WorkCenter.objects.filter(code__in=WORK_CENTERS)}
    for code, (name, cal, units, eff, labor, machine, overhead, cc) in WORK_CENTERS.items():
        if code not in existing:
            existing[code] = services.work_center_create(
                code=code,
                name=name,
                calendar_id=calendars[cal].pk,
                parallel_units=units,
                efficiency_pct=Decimal(eff),
                labor_rate=Decimal(labor),
                machine_rate=Decimal(machine),
                overhead_rate=Decimal(overhead),
                cost_center_id=cost_centers[cc].pk,
            )
    return existing


def _routings(work_centers) -> None:
    items = dict(Item.objects.filter(sku__in=ROUTINGS).values_list("sku", "pk"))
    have = set(Routing.objects.filter(item_id__in=items.values(), version=1).values_list("item_id", flat=True))
    for sku, item_id in items.items():
        if item_id in have:
            continue
        routing = services.routing_create(
            item_id=item_id,
            version=1,
            valid_from=VALID_FROM,
            operations=[
                services.RoutingOperationData(
                    sequence=seq,
                    work_center_id=work_centers[wc].pk,
                    setup_minutes=Decimal(setup),
                    run_minutes_per_unit=Decimal(run),
                    reporting_point=reporting,
                    description=description,
                )
                for seq, wc, setup, run, reporting, description in ROUTINGS[sku]
            ],
        )
        if routing.status == RoutingStatus.DRAFT:
            services.routing_activate(routing_id=routing.pk)


def _demo_load(work_centers) -> None:
    """Load WC-WELD beyond its capacity next week (32 h/day: 2 units x 16 h), so the load view
    shows an overload before any real order exists. Re-running moves it to the new next week."""
    today = timezone.localdate()
    monday = today + timedelta(days=7 - today.weekday())
    weld = work_centers["WC-WELD"]
    hours = [Decimal(36), Decimal(38), Decimal(34), Decimal(30), Decimal(28)]  # 166 h of 160
    services.capacity_requirements_replace(
        source_type="demo",
        source_id=1,
        status=CapacityStatus.FIRMED,
        requirements=[
            RequirementSpec(work_center_id=weld.pk, date=monday + timedelta(days=i), hours=h)
            for i, h in enumerate(hours)
        ],
    )
    services.capacity_requirements_replace(
        source_type="demo",
        source_id=2,
        requirements=[
            RequirementSpec(
                work_center_id=work_centers["WC-ASSY"].pk, date=monday + timedelta(days=i), hours=Decimal(30)
            )
            for i in range(5)
        ],
    )


@transaction.atomic
def load() -> None:
    calendars = _calendars()
    cost_centers = _cost_centers()
    work_centers = _work_centers(calendars, cost_centers)
    _routings(work_centers)
    _demo_load(work_centers)
    _forecasts()


def _forecasts() -> None:
    """Forecast for the make-to-stock city bike: 20 a week on the next 8 Mondays, so a
    planning run has something to plan before any sales order exists."""
    from planning.models import Forecast

    item = Item.objects.filter(sku="FG-1000").first()
    if item is None:
        return
    today = timezone.localdate()
    monday = today + timedelta(days=7 - today.weekday())
    for week in range(8):
        Forecast.objects.get_or_create(
            item=item, date=monday + timedelta(weeks=week), defaults={"quantity": Decimal(20), "note": "demo"}
        )
