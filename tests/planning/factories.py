from datetime import date, time
from decimal import Decimal

import factory

from planning.enums import RoutingStatus
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
from tests.inventory.factories import ItemFactory as InventoryItemFactory


class ItemFactory(InventoryItemFactory):
    """A made semi-finished item: what routings are for."""

    item_type = "semi_finished"
    procurement = "make"


class CostCenterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CostCenter

    code = factory.Sequence(lambda n: f"CC-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Cost center {o.code}")


class CalendarFactory(factory.django.DjangoModelFactory):
    """Mon-Fri 06:00-14:00 unless ``shifts`` is given as (weekday, start, end) tuples."""

    class Meta:
        model = Calendar
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"CAL-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Calendar {o.code}")

    @factory.post_generation
    def shifts(obj, create, extracted, **kwargs):
        if not create:
            return
        rows = extracted if extracted is not None else [(d, time(6), time(14)) for d in range(5)]
        CalendarShift.objects.bulk_create(
            CalendarShift(calendar=obj, weekday=w, start_time=s, end_time=e) for w, s, e in rows
        )


class CalendarExceptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarException

    calendar = factory.SubFactory(CalendarFactory)
    date_from = date(2025, 1, 1)
    date_to = factory.SelfAttribute("date_from")
    working = False


class WorkCenterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkCenter

    code = factory.Sequence(lambda n: f"WC-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Work center {o.code}")
    calendar = factory.SubFactory(CalendarFactory)
    efficiency_pct = Decimal("100")
    parallel_units = 1
    labor_rate = Decimal("40")
    machine_rate = Decimal("20")
    overhead_rate = Decimal("10")
    cost_center = factory.SubFactory(CostCenterFactory)


class RoutingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Routing

    item = factory.SubFactory(ItemFactory)
    version = 1
    status = RoutingStatus.ACTIVE
    valid_from = date(2020, 1, 1)


class RoutingOperationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingOperation

    routing = factory.SubFactory(RoutingFactory)
    sequence = factory.Sequence(lambda n: (n + 1) * 10)
    work_center = factory.SubFactory(WorkCenterFactory)
    setup_minutes = Decimal("10")
    run_minutes_per_unit = Decimal("5")


class CapacityRequirementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CapacityRequirement

    work_center = factory.SubFactory(WorkCenterFactory)
    date = date(2025, 1, 6)
    hours = Decimal("1")
    source_type = "test"
    source_id = factory.Sequence(lambda n: n + 1)
