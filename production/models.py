import datetime as dt
from decimal import Decimal

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q

from config.fields import ZERO, MoneyField, QuantityField
from config.models import TimeStampedModel
from production.enums import (
    CostCategory,
    Flushing,
    OperationStatus,
    OrderStatus,
    OrderType,
    OutboxStatus,
    PostingStatus,
    ScrapReason,
)


class OrderNumberSequence(models.Model):
    """Gap-free order numbers per year: the row is incremented inside the order's creating
    transaction, so a rolled-back creation gives its number back and concurrent creations
    queue on the row lock instead of skipping numbers."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


@pghistory.track(level=pghistory.Statement)
class ProductionOrder(TimeStampedModel):
    number = models.CharField(max_length=32, unique=True)
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    quantity = QuantityField()
    order_type = models.CharField(max_length=3, choices=OrderType.choices)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PLANNED, db_index=True)
    priority = models.PositiveSmallIntegerField(default=5, help_text="1 = most urgent, 9 = least")
    due_date = models.DateField(db_index=True)
    scheduled_start = models.DateTimeField(null=True, blank=True)
    scheduled_end = models.DateTimeField(null=True, blank=True)
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    # Set when the schedule cannot meet the due date.
    late_by_minutes = models.PositiveIntegerField(null=True, blank=True)
    cost_center = models.ForeignKey(
        "planning.CostCenter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    bom = models.ForeignKey("inventory.Bom", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    routing = models.ForeignKey("planning.Routing", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    issue_location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    receipt_location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    # Demand pegging. Sales depends on production, not the other way round, so the sales
    # order line is referenced by id; the sales app enforces one order per line.
    sales_order_line_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    # Combining: a merged order points at the order that took it over (its quantity and its
    # demand, ``OrderMergeSource``); a split-off order at the order it was split from.
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_orders"
    )
    split_from = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="split_orders")
    # ETO orders start in engineering: the structure stays editable until approved.
    engineering_approved_at = models.DateTimeField(null=True, blank=True)
    released_with_shortages = models.BooleanField(default=False)
    scrap_quantity = QuantityField(default=ZERO)
    # A campaign (process industries) runs for a period with no fixed final quantity: the
    # quantity is the target for the whole period, confirmations may exceed it, and the
    # planner closes the order when the campaign ends (no final confirmation).
    is_campaign = models.BooleanField(default=False)
    campaign_start = models.DateField(null=True, blank=True)
    campaign_end = models.DateField(null=True, blank=True)
    # Optimistic concurrency for edits (ETag / If-Match).
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="production_order_quantity_gt_0"),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=9), name="production_order_priority_1_9"),
            # A campaign has its period; any other order has none.
            models.CheckConstraint(
                condition=(
                    Q(is_campaign=True, campaign_start__isnull=False, campaign_end__isnull=False)
                    & Q(campaign_start__lte=F("campaign_end"))
                )
                | Q(is_campaign=False, campaign_start__isnull=True, campaign_end__isnull=True),
                name="production_order_campaign_period",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_date"]),
            models.Index(fields=["item", "status"]),
            # Orders completed in a period (production.kpis).
            models.Index(fields=["actual_end"], name="production_order_end_idx", condition=Q(actual_end__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def in_engineering(self) -> bool:
        return self.order_type == OrderType.ETO and self.engineering_approved_at is None

    def campaign_overdue(self, today: dt.date) -> bool:
        """A campaign whose period has ended but which is still open (not closed or cancelled)."""
        return (
            self.is_campaign
            and self.campaign_end is not None
            and self.campaign_end < today
            and self.status not in (OrderStatus.CLOSED, OrderStatus.CANCELLED)
        )

    @property
    def received_quantity(self) -> Decimal:
        """Output received into stock so far (``OrderReceived``; select_related("received")
        in lists)."""
        try:
            return self.received.quantity
        except OrderReceived.DoesNotExist:
            return ZERO


class OrderReceived(models.Model):
    """What the ledger has received of an order's output so far. Kept apart from the order
    row, which every confirmation on the shop floor locks: the posting worker adds to it
    after its stock locks (one upsert per batch) and never waits for the order."""

    order = models.OneToOneField(ProductionOrder, on_delete=models.CASCADE, primary_key=True, related_name="received")
    quantity = QuantityField(default=ZERO)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=0), name="order_received_quantity_gte_0")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.quantity}"


# What postings add to a component (issued_quantity) is not an edit: the stock ledger, with
# the confirmation or issue behind each movement, is its history.
# Inserts are logged per statement (an order's structure is copied in one); updates per row,
# with the changed-fields test in the trigger's WHEN clause, which Postgres evaluates without
# calling the trigger: the posting worker and every confirmation update fields that are not
# tracked (issued quantities, confirmed totals), and a statement-level trigger would build
# and join its transition tables for each of those updates to find nothing to log.
@pghistory.track(
    pghistory.InsertEvent("insert", level=pghistory.Statement),
    pghistory.UpdateEvent("update", level=pghistory.Row),
    exclude=["issued_quantity"],
)
class OrderComponent(models.Model):
    """The order's own copy of a BOM line, scaled to the order quantity."""

    order = models.ForeignKey(ProductionOrder, on_delete=models.CASCADE, related_name="components")
    position = models.PositiveIntegerField()
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    # Per one unit of the order's item, scrap included; negative for by-products.
    quantity_per_unit = QuantityField()
    scrap_percent = models.DecimalField(max_digits=6, decimal_places=3, default=ZERO)
    required_quantity = QuantityField()
    flushing = models.CharField(max_length=8, choices=Flushing.choices, default=Flushing.MANUAL)
    operation_sequence = models.PositiveIntegerField(null=True, blank=True)
    issue_location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    issued_quantity = QuantityField(default=ZERO)
    reservation_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["order_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="order_component_unique_position"),
            models.CheckConstraint(
                condition=Q(scrap_percent__gte=0, scrap_percent__lt=100), name="order_component_scrap_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.position}"

    @property
    def is_by_product(self) -> bool:
        return self.required_quantity < 0


class OrderMergeSource(models.Model):
    """One share of a merged order: the quantity an order brought into the merge, with the
    demand it was made for (the sales order line it is pegged to, the parent order it
    supplies) and its due date. A merge writes one row for the target's own quantity and
    one per source; output received on the target is allocated to the shares in due-date
    order, cost in proportion to quantity (``production.selectors.merge_allocation``)."""

    target = models.ForeignKey(ProductionOrder, on_delete=models.PROTECT, related_name="merge_sources")
    # The order whose quantity this is; the target itself for its own share. One share per
    # order: a merged order is read only, so it is never merged twice.
    source = models.OneToOneField(ProductionOrder, on_delete=models.PROTECT, related_name="merge_share")
    quantity = QuantityField()
    due_date = models.DateField()
    sales_order_line_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    parent = models.ForeignKey(ProductionOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    merged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["target_id", "due_date", "id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="order_merge_source_quantity_gt_0")]

    def __str__(self) -> str:
        return f"{self.source_id} → {self.target_id}: {self.quantity}"


# What confirmations add up on their operation.
OPERATION_CONFIRMED_TOTALS = (
    "confirmed_good",
    "confirmed_scrap",
    "confirmed_rework",
    "actual_setup_minutes",
    "actual_labor_minutes",
    "actual_machine_minutes",
)


# Confirmed quantities and times are the sums of the operation's confirmations, immutable
# records with operator and time: the history of those totals is the confirmations table.
# As OrderComponent: inserts per statement, updates per row with a WHEN clause.
@pghistory.track(
    pghistory.InsertEvent("insert", level=pghistory.Statement),
    pghistory.UpdateEvent("update", level=pghistory.Row),
    exclude=list(OPERATION_CONFIRMED_TOTALS),
)
class OrderOperation(models.Model):
    """The order's own copy of a routing operation."""

    order = models.ForeignKey(ProductionOrder, on_delete=models.CASCADE, related_name="operations")
    sequence = models.PositiveIntegerField()
    work_center = models.ForeignKey("planning.WorkCenter", on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=200, blank=True)
    setup_minutes = QuantityField(default=ZERO)
    run_minutes_per_unit = QuantityField(default=ZERO)
    queue_minutes = QuantityField(default=ZERO)
    move_minutes = QuantityField(default=ZERO)
    instructions = models.TextField(blank=True)
    reporting_point = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=OperationStatus.choices, default=OperationStatus.PLANNED)
    scheduled_start = models.DateTimeField(null=True, blank=True)
    scheduled_end = models.DateTimeField(null=True, blank=True)
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    confirmed_good = QuantityField(default=ZERO)
    confirmed_scrap = QuantityField(default=ZERO)
    confirmed_rework = QuantityField(default=ZERO)
    # Times reported by confirmations, the basis of actual conversion cost.
    actual_setup_minutes = QuantityField(default=ZERO)
    actual_labor_minutes = QuantityField(default=ZERO)
    actual_machine_minutes = QuantityField(default=ZERO)

    class Meta:
        ordering = ["order_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["order", "sequence"], name="order_operation_unique_sequence"),
            models.CheckConstraint(
                condition=Q(
                    setup_minutes__gte=0,
                    run_minutes_per_unit__gte=0,
                    queue_minutes__gte=0,
                    move_minutes__gte=0,
                ),
                name="order_operation_times_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.sequence}"

    @property
    def total_minutes(self):
        return self.setup_minutes + self.run_minutes_per_unit * self.order.quantity


class OrderStatusChange(models.Model):
    """Append-only audit of status transitions: who, when, from, to, why."""

    order = models.ForeignKey(ProductionOrder, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=OrderStatus.choices)
    reason = models.TextField(blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order_id", "id"]
        # Orders released or closed in a period (production.kpis).
        indexes = [models.Index(fields=["to_status", "at"], name="status_change_to_at_idx")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} → {self.to_status}"


class OrderCost(models.Model):
    """Planned, actual and variance per cost category and cost center."""

    order = models.ForeignKey(ProductionOrder, on_delete=models.CASCADE, related_name="costs")
    category = models.CharField(max_length=16, choices=CostCategory.choices)
    cost_center = models.ForeignKey(
        "planning.CostCenter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    planned = MoneyField(default=ZERO)
    actual = MoneyField(default=ZERO)
    variance = MoneyField(null=True, blank=True)

    class Meta:
        ordering = ["order_id", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "category", "cost_center"],
                nulls_distinct=False,
                name="order_cost_unique_category",
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.category}"


class Operator(TimeStampedModel):
    """A shop-floor operator: the user who confirms, the badge and PIN they sign in with at
    a terminal, and the work centers whose operations they may confirm."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator")
    badge = models.CharField(max_length=32, unique=True)
    pin_hash = models.CharField(max_length=128, blank=True)
    work_centers = models.ManyToManyField("planning.WorkCenter", related_name="+", blank=True)
    failed_pin_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.badge


class Confirmation(models.Model):
    """One report of work on one operation. Immutable once written: a mistake is undone by a
    reversal, which is a confirmation of its own with the opposite quantities."""

    # The (order, operation) index serves look-ups by order.
    order = models.ForeignKey(ProductionOrder, on_delete=models.PROTECT, related_name="confirmations", db_index=False)
    operation = models.ForeignKey(OrderOperation, on_delete=models.PROTECT, related_name="confirmations")
    work_center = models.ForeignKey("planning.WorkCenter", on_delete=models.PROTECT, related_name="+")
    good_quantity = QuantityField(default=ZERO)
    scrap_quantity = QuantityField(default=ZERO)
    scrap_reason = models.CharField(max_length=16, choices=ScrapReason.choices, blank=True)
    rework_quantity = QuantityField(default=ZERO)
    setup_minutes = QuantityField(default=ZERO)
    labor_minutes = QuantityField(default=ZERO)
    machine_minutes = QuantityField(default=ZERO)
    final = models.BooleanField(default=False)
    # The lot the output goes into (lot-tracked items); generated when not given.
    output_lot_number = models.CharField(max_length=64, blank=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reversal_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    reason = models.TextField(blank=True)
    posting_status = models.CharField(max_length=8, choices=PostingStatus.choices, default=PostingStatus.NONE)
    posting_error = models.JSONField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["order", "operation"]),
            # A plain index: db_index on a CharField adds a LIKE index no query uses.
            models.Index(fields=["posting_status"], name="confirmation_posting_idx"),
        ]
        # What was reported stays as reported: only the posting status may change later.
        triggers = [
            pgtrigger.Protect(name="confirmation_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="confirmation_reported_immutable",
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange(
                    "order",
                    "operation",
                    "good_quantity",
                    "scrap_quantity",
                    "rework_quantity",
                    "setup_minutes",
                    "labor_minutes",
                    "machine_minutes",
                    "final",
                    "reversal_of",
                    "confirmed_at",
                    "operator",
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.operation_id} #{self.pk}"

    @property
    def is_reversal(self) -> bool:
        return self.reversal_of_id is not None


class PostingOutbox(models.Model):
    """Work the confirmation still owes the ledger, written in the confirmation's transaction.
    The task marks it done in the posting's transaction; the sweeper re-queues whatever a
    lost task left pending, so no posting is ever lost."""

    confirmation = models.OneToOneField(Confirmation, on_delete=models.PROTECT, related_name="outbox")
    status = models.CharField(max_length=8, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    # Exactly what to post, decided under the order lock when the confirmation was made:
    # {"backflush": [{"component_id", "item_id", "location_id", "quantity"}], "receipt": "5"}
    payload = models.JSONField(default=dict)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["queued_at"], condition=Q(status="pending"), name="outbox_pending_idx"),
            models.Index(fields=["queued_at"], condition=Q(status="failed"), name="outbox_failed_idx"),
        ]

    def __str__(self) -> str:
        return f"outbox {self.confirmation_id} {self.status}"


class Terminal(TimeStampedModel):
    """A shared tablet or kiosk on the floor, bound to the work centers whose queue it shows."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    work_centers = models.ManyToManyField("planning.WorkCenter", related_name="+")
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.code


class OperationClock(models.Model):
    """Time an operator spent on an operation, from start to pause/finish. Attributed to the
    confirmation that reports it, so it is counted exactly once."""

    operation = models.ForeignKey(OrderOperation, on_delete=models.PROTECT, related_name="clocks")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    confirmation = models.ForeignKey(
        Confirmation, on_delete=models.PROTECT, null=True, blank=True, related_name="clocks"
    )

    class Meta:
        constraints = [
            # One running clock per operator and operation: a double tap on "start" cannot open two.
            models.UniqueConstraint(
                fields=["operation", "operator"], condition=Q(stopped_at__isnull=True), name="one_running_clock"
            )
        ]

    def __str__(self) -> str:
        return f"{self.operation_id} {self.operator_id} {self.started_at:%H:%M}"
