"""Work centers, calendars, routings and capacity requirements.

Single-row rules live here as constraints; rules that span rows (overlapping shifts,
inactive work centers in a routing, one active routing per date) live in ``services``.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from config.fields import ZERO, CurrencyField, MoneyField, QuantityField
from config.models import TimeStampedModel
from inventory.models import Item
from planning.enums import (
    CapacityStatus,
    ExceptionKind,
    LotSizing,
    PlannedOrderStatus,
    RequisitionStatus,
    RoutingStatus,
    RunMode,
    RunStatus,
)

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


class ItemPlanningPolicy(models.Model):
    """How MRP sizes lots for one item. Optional: without a row the rule follows from the
    item's planning parameters (reorder point, max stock, min lot / multiple, else lot for
    lot). Kept in planning because inventory does not know about lot-sizing rules."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, primary_key=True, related_name="planning_policy")
    lot_sizing = models.CharField(max_length=16, choices=LotSizing.choices)
    # For the period rule: one order covers the net requirements of this many days.
    period_days = models.PositiveSmallIntegerField(default=7)

    def __str__(self) -> str:
        return f"{self.item_id}: {self.lot_sizing}"


class Forecast(models.Model):
    """Expected independent demand of an item for the period starting on ``date``."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    quantity = QuantityField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["item_id", "date"]
        constraints = [
            models.UniqueConstraint(fields=["item", "date"], name="forecast_unique_item_date"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="forecast_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.date} {self.quantity}"


class PlanningRun(TimeStampedModel):
    mode = models.CharField(max_length=16, choices=RunMode.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    is_simulation = models.BooleanField(default=False)
    # What-if parameters: extra demand, stock and lead-time changes (see planning.mrp.scenario).
    scenario = models.JSONField(default=dict, blank=True)
    # {"level": k, "levels": n, "items_done": i, "items_total": t}
    progress = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"run {self.pk} {self.mode} {self.status}"


class PlannedOrder(models.Model):
    """A proposal to make ``quantity`` of an item, due on ``due_date`` and started on
    ``start_date``. Replaced by the next run unless firmed into a production order, whose id
    is kept as a number (planning does not depend on production)."""

    run = models.ForeignKey(PlanningRun, on_delete=models.CASCADE, related_name="planned_orders")
    # Indexed by (item, status) below.
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+", db_index=False)
    quantity = QuantityField()
    start_date = models.DateField()
    due_date = models.DateField(db_index=True)
    level = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=8, choices=PlannedOrderStatus.choices, default=PlannedOrderStatus.PLANNED)
    production_order_id = models.BigIntegerField(null=True, blank=True, unique=True)
    firmed_at = models.DateTimeField(null=True, blank=True)
    firmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="planned_order_quantity_gt_0")]
        indexes = [models.Index(fields=["item", "status"], name="planned_order_item_status")]

    def __str__(self) -> str:
        return f"PL{self.pk} {self.item_id} {self.quantity} @{self.due_date}"


class PurchaseRequisition(models.Model):
    run = models.ForeignKey(PlanningRun, on_delete=models.CASCADE, related_name="requisitions")
    # Indexed by (item, status) below.
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+", db_index=False)
    quantity = QuantityField()
    release_date = models.DateField()
    due_date = models.DateField(db_index=True)
    status = models.CharField(max_length=8, choices=RequisitionStatus.choices, default=RequisitionStatus.PLANNED)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="requisition_quantity_gt_0")]
        indexes = [models.Index(fields=["item", "status"], name="requisition_item_status")]

    def __str__(self) -> str:
        return f"PR{self.pk} {self.item_id} {self.quantity} @{self.due_date}"


class Pegging(models.Model):
    """Which demand (and how much of it) a planned order or requisition covers."""

    # No database FK constraints: a run writes hundreds of thousands of pegging rows and the
    # deferred constraint checks cost as much as the COPY itself. Pegging is derived data,
    # only written by the run (which deletes it with its supply) and cascaded by Django.
    # Indexes: one partial index per supply kind, so a row is written to one of them instead
    # of both (NULLs are indexed too); none on run, which nothing looks pegging up by (a run
    # is never deleted while the plan is in use) and which cost a fifth of the run's write.
    run = models.ForeignKey(
        PlanningRun, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    planned_order = models.ForeignKey(
        PlannedOrder,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="peggings",
        db_constraint=False,
        db_index=False,
    )
    requisition = models.ForeignKey(
        PurchaseRequisition,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="peggings",
        db_constraint=False,
        db_index=False,
    )
    quantity = QuantityField()
    demand_date = models.DateField()
    source_type = models.CharField(max_length=32)
    source_id = models.BigIntegerField(null=True, blank=True)
    source_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_order__isnull=False, requisition__isnull=True)
                | Q(planned_order__isnull=True, requisition__isnull=False),
                name="pegging_one_supply",
            )
        ]
        indexes = [
            models.Index(
                fields=["planned_order"], condition=Q(planned_order__isnull=False), name="pegging_planned_order"
            ),
            models.Index(fields=["requisition"], condition=Q(requisition__isnull=False), name="pegging_requisition"),
        ]

    def __str__(self) -> str:
        return f"{self.source_type}:{self.source_id} {self.quantity}"


class PlanningException(models.Model):
    run = models.ForeignKey(PlanningRun, on_delete=models.CASCADE, related_name="exceptions")
    # Indexed by (item, kind) below.
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=16, choices=ExceptionKind.choices)
    message = models.CharField(max_length=300)
    date = models.DateField(null=True, blank=True)
    suggested_date = models.DateField(null=True, blank=True)
    source_type = models.CharField(max_length=32, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["item_id", "id"]
        indexes = [models.Index(fields=["item", "kind"], name="planning_exception_item_kind")]

    def __str__(self) -> str:
        return f"{self.item_id} {self.kind}"


class PlanningDirtyItem(models.Model):
    """Items whose demand or supply changed since the last live run: the net-change run
    re-plans them (and everything below them in their BOMs)."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, primary_key=True, related_name="+")
    marked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.item_id} dirty since {self.marked_at}"


class PlanningItemState(models.Model):
    """The per-item fingerprint (on hand, open supply and demand, planning parameters) that
    the last live run planned against; a net-change run re-plans items whose fingerprint
    differs, which catches stock postings without inventory calling planning."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, primary_key=True, related_name="+")
    fingerprint = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.item_id}: {self.fingerprint}"
