"""Work centers, calendars, routings and capacity requirements.

Single-row rules live here as constraints; rules that span rows (overlapping shifts,
inactive work centers in a routing, one active routing per date) live in ``services``.
"""

from django.db import models
from django.db.models import F, Q

from config.fields import ZERO, CurrencyField, MoneyField, QuantityField
from config.models import TimeStampedModel
from inventory.models import Item
from planning.enums import CapacityStatus, RoutingStatus

MINUTES_DIGITS, MINUTES_PLACES = 12, 4
HOURS_DIGITS, HOURS_PLACES = 14, 4


class CostCenter(TimeStampedModel):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Calendar(TimeStampedModel):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class CalendarShift(models.Model):
    """A working period on one weekday (0 = Monday). A shift crossing midnight is stored as
    two rows, one per day, so every interval lies inside its day."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="shifts")
    weekday = models.PositiveSmallIntegerField()
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["calendar_id", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="calendar_shift_weekday_0_6"),
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="calendar_shift_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.calendar_id} d{self.weekday} {self.start_time}-{self.end_time}"


class CalendarException(models.Model):
    """Days that differ from the weekly shifts: a closure (``working=False``) or an override
    with its own hours (``working=True`` with start and end time) for every day in the range."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="exceptions")
    date_from = models.DateField()
    date_to = models.DateField()
    working = models.BooleanField(default=False)
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["calendar_id", "date_from"]
        constraints = [
            models.CheckConstraint(condition=Q(date_to__gte=F("date_from")), name="calendar_exception_range"),
            models.CheckConstraint(
                condition=Q(working=False, start_time__isnull=True, end_time__isnull=True)
                | Q(working=True, start_time__isnull=False, end_time__gt=F("start_time")),
                name="calendar_exception_hours",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.calendar_id} {self.date_from}..{self.date_to}"


class WorkCenter(TimeStampedModel):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="work_centers")
    efficiency_pct = models.DecimalField(max_digits=6, decimal_places=2, default=100)
    # Machines or people that work in parallel; capacity per day = calendar hours x this.
    parallel_units = models.PositiveIntegerField(default=1)
    labor_rate = MoneyField(default=ZERO)
    machine_rate = MoneyField(default=ZERO)
    overhead_rate = MoneyField(default=ZERO)
    currency = CurrencyField()
    cost_center = models.ForeignKey(
        CostCenter, on_delete=models.PROTECT, related_name="work_centers", null=True, blank=True
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(efficiency_pct__gt=0), name="work_center_efficiency_gt_0"),
            models.CheckConstraint(condition=Q(parallel_units__gte=1), name="work_center_parallel_units_gte_1"),
            models.CheckConstraint(
                condition=Q(labor_rate__gte=0, machine_rate__gte=0, overhead_rate__gte=0),
                name="work_center_rates_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Routing(TimeStampedModel):
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="routings")
    version = models.PositiveIntegerField(default=1)
    description = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=RoutingStatus.choices, default=RoutingStatus.DRAFT)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["item_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["item", "version"], name="routing_unique_item_version"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")), name="routing_validity"
            ),
        ]
        indexes = [models.Index(fields=["item", "status", "valid_from"], name="routing_item_status_from")]

    def __str__(self) -> str:
        return f"{self.item_id} v{self.version}"


class RoutingOperation(models.Model):
    routing = models.ForeignKey(Routing, on_delete=models.CASCADE, related_name="operations")
    sequence = models.PositiveIntegerField()
    work_center = models.ForeignKey(WorkCenter, on_delete=models.PROTECT, related_name="routing_operations")
    description = models.CharField(max_length=200, blank=True)
    setup_minutes = models.DecimalField(max_digits=MINUTES_DIGITS, decimal_places=MINUTES_PLACES, default=ZERO)
    run_minutes_per_unit = models.DecimalField(max_digits=MINUTES_DIGITS, decimal_places=MINUTES_PLACES, default=ZERO)
    queue_minutes = models.DecimalField(max_digits=MINUTES_DIGITS, decimal_places=MINUTES_PLACES, default=ZERO)
    move_minutes = models.DecimalField(max_digits=MINUTES_DIGITS, decimal_places=MINUTES_PLACES, default=ZERO)
    # Free text; may hold links to drawings or documents.
    work_instructions = models.TextField(blank=True)
    # Components assigned to a reporting point are backflushed when it is confirmed.
    reporting_point = models.BooleanField(default=False)

    class Meta:
        ordering = ["routing_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["routing", "sequence"], name="routing_operation_unique_sequence"),
            models.CheckConstraint(
                condition=Q(
                    setup_minutes__gte=0,
                    run_minutes_per_unit__gte=0,
                    queue_minutes__gte=0,
                    move_minutes__gte=0,
                ),
                name="routing_operation_times_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.routing_id}/{self.sequence}"


class CapacityRequirement(models.Model):
    """Hours that one demand (a production order, a planned order, demo data) needs at one
    work center on one day. Owned by planning; written only through
    ``capacity_requirements_replace`` so callers from production or MRP never touch it directly."""

    work_center = models.ForeignKey(WorkCenter, on_delete=models.CASCADE, related_name="capacity_requirements")
    date = models.DateField()
    hours = QuantityField()
    source_type = models.CharField(max_length=32)
    source_id = models.BigIntegerField()
    source_line_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=CapacityStatus.choices, default=CapacityStatus.PLANNED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["work_center_id", "date"]
        constraints = [models.CheckConstraint(condition=Q(hours__gte=0), name="capacity_requirement_hours_gte_0")]
        indexes = [
            models.Index(fields=["work_center", "date"], name="capreq_wc_date"),
            models.Index(fields=["source_type", "source_id"], name="capreq_source"),
        ]

    def __str__(self) -> str:
        return f"{self.work_center_id} {self.date} {self.hours}h ({self.source_type}:{self.source_id})"
