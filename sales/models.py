from django.conf import settings
from django.db import models
from django.db.models import F, Q

from config.fields import ZERO, CurrencyField, MoneyField, QuantityField
from config.models import TimeStampedModel
from sales.enums import LineStatus, PeggingKind, SalesOrderStatus


class Customer(TimeStampedModel):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    currency = CurrencyField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SalesOrderNumberSequence(models.Model):
    """Gap-free numbers per year, incremented inside the creating transaction."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class SalesOrder(TimeStampedModel):
    number = models.CharField(max_length=32, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    customer_reference = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=20, choices=SalesOrderStatus.choices, default=SalesOrderStatus.DRAFT, db_index=True
    )
    currency = CurrencyField()
    # Why the last order generation failed; empty when it succeeded or has not run.
    generation_error = models.TextField(blank=True)
    generation_attempts = models.PositiveIntegerField(default=0)
    generated_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The generation task acts on behalf of whoever confirmed (production orders need a creator).
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.number


class SalesOrderLine(TimeStampedModel):
    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    # In the item's base unit.
    quantity = QuantityField()
    requested_date = models.DateField()
    unit_price = MoneyField(default=ZERO)
    # Snapshot of the item's strategy at confirmation: what generation did for this line.
    strategy = models.CharField(max_length=3, blank=True)
    status = models.CharField(max_length=12, choices=LineStatus.choices, default=LineStatus.OPEN)
    delivered_quantity = QuantityField(default=ZERO)
    # Set when a cancellation found production already started: the planner decides.
    planner_flag = models.BooleanField(default=False)
    planner_flag_reason = models.TextField(blank=True)
    cancel_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["order_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="sales_line_unique_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="sales_line_quantity_gt_0"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="sales_line_price_gte_0"),
            models.CheckConstraint(
                condition=Q(delivered_quantity__gte=0) & Q(delivered_quantity__lte=F("quantity")),
                name="sales_line_delivered_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.position}"

    @property
    def open_quantity(self):
        return self.quantity - self.delivered_quantity


class LinePegging(models.Model):
    """What order generation made for a line: a production order (the top one at path "0",
    pegged sub-assembly orders below it, e.g. "0/20" for the order of the parent's
    component at position 20) or an MTS reservation (path "res").

    The unique (line, path) constraint is what makes generation idempotent: the row is
    inserted before the production order is created, in the same transaction, so a second
    run of the task hits the constraint instead of creating a second order."""

    line = models.ForeignKey(SalesOrderLine, on_delete=models.CASCADE, related_name="peggings")
    path = models.CharField(max_length=200)
    level = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=PeggingKind.choices)
    item = models.ForeignKey("inventory.Item", on_delete=models.PROTECT, related_name="+")
    quantity = QuantityField()
    production_order = models.ForeignKey(
        "production.ProductionOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reservation = models.ForeignKey(
        "inventory.Reservation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["line_id", "path"]
        constraints = [
            models.UniqueConstraint(fields=["line", "path"], name="line_pegging_unique_path"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="line_pegging_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.line_id}:{self.path}"


class Delivery(models.Model):
    order = models.ForeignKey(SalesOrder, on_delete=models.PROTECT, related_name="deliveries")
    number = models.CharField(max_length=40, unique=True)
    # The goods issue in the stock ledger.
    stock_posting = models.OneToOneField(
        "inventory.StockPosting", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    delivered_at = models.DateTimeField()
    note = models.TextField(blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["order_id", "id"]

    def __str__(self) -> str:
        return self.number


class DeliveryLine(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(SalesOrderLine, on_delete=models.PROTECT, related_name="delivery_lines")
    quantity = QuantityField()
    lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["delivery_id", "id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="delivery_line_quantity_gt_0")]

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.line_id} x {self.quantity}"
