import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q

from config.fields import ZERO, CurrencyField, MoneyField, QuantityField
from config.foreign_keys import referenced_guard, references_check
from config.models import TimeStampedModel
from inventory.enums import (
    BomStatus,
    Flushing,
    ItemType,
    MovementType,
    Procurement,
    ReservationStatus,
    Strategy,
)


class UnitOfMeasure(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=64)
    # Places a quantity in this unit may have (0 for "pcs").
    decimals = models.PositiveSmallIntegerField(default=3)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Item(TimeStampedModel):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    item_type = models.CharField(max_length=16, choices=ItemType.choices)
    uom = models.ForeignKey(UnitOfMeasure, on_delete=models.PROTECT, related_name="+")
    procurement = models.CharField(max_length=8, choices=Procurement.choices)
    strategy = models.CharField(max_length=3, choices=Strategy.choices, default=Strategy.MTS)
    lot_tracked = models.BooleanField(default=False)
    standard_cost = MoneyField(default=ZERO)
    currency = CurrencyField()
    lead_time_days = models.PositiveIntegerField(default=0)
    # Planning parameters (MRP).
    safety_stock = QuantityField(default=ZERO)
    reorder_point = QuantityField(null=True, blank=True)
    min_lot = QuantityField(default=ZERO)
    lot_multiple = QuantityField(default=ZERO)
    max_stock = QuantityField(null=True, blank=True)
    # MTS: cover a sales-line shortfall with a production order at once instead of waiting
    # for the next planning run.
    produce_shortfall_immediately = models.BooleanField(default=False)
    # Deepest level at which the item appears in any active BOM (0 = top); maintained on
    # BOM change, read by planning to process items level by level.
    low_level_code = models.PositiveSmallIntegerField(default=0, db_index=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(standard_cost__gte=0), name="item_standard_cost_gte_0"),
            models.CheckConstraint(condition=Q(safety_stock__gte=0), name="item_safety_stock_gte_0"),
            models.CheckConstraint(condition=Q(min_lot__gte=0), name="item_min_lot_gte_0"),
            models.CheckConstraint(condition=Q(lot_multiple__gte=0), name="item_lot_multiple_gte_0"),
        ]
        triggers = referenced_guard(name="item_ledger_refs", referenced_by=[("inventory_stockmovement", "item_id")])

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class ItemUnitConversion(models.Model):
    """``1 uom`` of this item = ``factor`` of the item's base uom (a component bought in
    rolls of 50 m and consumed in m: uom=roll, factor=50)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="unit_conversions")
    uom = models.ForeignKey(UnitOfMeasure, on_delete=models.PROTECT, related_name="+")
    factor = models.DecimalField(max_digits=24, decimal_places=10)

    class Meta:
        ordering = ["item_id", "uom_id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "uom"], name="item_unit_conversion_unique"),
            models.CheckConstraint(condition=Q(factor__gt=0), name="item_unit_conversion_factor_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: 1 {self.uom_id} = {self.factor}"


class Warehouse(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Location(models.Model):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="locations")
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200, blank=True)
    # Scrap and consignment locations may go below zero; stores never do.
    allow_negative = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        triggers = referenced_guard(
            name="location_ledger_refs", referenced_by=[("inventory_stockmovement", "location_id")]
        )

    def __str__(self) -> str:
        return self.code


class Lot(models.Model):
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=64)
    expiry_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item_id", "lot_number"]
        constraints = [models.UniqueConstraint(fields=["item", "lot_number"], name="lot_unique_item_number")]
        triggers = referenced_guard(name="lot_ledger_refs", referenced_by=[("inventory_stockmovement", "lot_id")])

    def __str__(self) -> str:
        return self.lot_number


class DocumentRefFields(models.Model):
    """Generic reference to the document that caused a row. No foreign keys: inventory
    imports none of the apps that post into it."""

    document_type = models.CharField(max_length=32)
    document_id = models.BigIntegerField()
    document_line_id = models.BigIntegerField(null=True, blank=True)
    document_number = models.CharField(max_length=64, blank=True)

    class Meta:
        abstract = True


class StockPosting(DocumentRefFields):
    """Header of one atomic posting. Append-only: the database refuses UPDATE and DELETE."""

    movement_type = models.CharField(max_length=24, choices=MovementType.choices)
    # A caller-chosen key (a confirmation id, a Celery task's business key): posting it
    # again returns the first posting instead of writing twice.
    posting_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    posted_at = models.DateTimeField(db_index=True)
    note = models.TextField(blank=True)
    # Set on the reversal posting; unique, so a posting can be reversed only once even if
    # two reversals race past the service's check.
    reversal_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )

    class Meta:
        ordering = ["-posted_at", "-id"]
        indexes = [models.Index(fields=["document_type", "document_id"], name="posting_document_idx")]
        triggers = [pgtrigger.Protect(name="stock_posting_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"#{self.pk} {self.movement_type} {self.document_type}:{self.document_id}"


class StockMovement(models.Model):
    """One ledger row: signed quantity of an item at a location (and lot). Append-only.

    Its references are checked once per ``INSERT`` statement instead of once per row
    (``config.foreign_keys``): a posting batch writes hundreds of rows that share a few keys.
    """

    posting = models.ForeignKey(StockPosting, on_delete=models.PROTECT, related_name="movements", db_constraint=False)
    movement_type = models.CharField(max_length=24, choices=MovementType.choices)
    # Every index is written for every ledger row (a confirmation writes ~20): item is served
    # by the (item, location) index, and lot, reservation and reverses are indexed only where
    # set (most movements have none of them).
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    lot = models.ForeignKey(
        Lot, on_delete=models.PROTECT, related_name="+", null=True, blank=True, db_constraint=False, db_index=False
    )
    quantity = QuantityField()
    unit_cost = MoneyField()
    value = MoneyField()
    document_line_id = models.BigIntegerField(null=True, blank=True)
    reservation = models.ForeignKey(
        "Reservation",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        db_constraint=False,
        db_index=False,
    )
    # At most one reversal per movement (the partial unique constraint below).
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False, db_index=False
    )
    posted_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-posted_at", "-id"]
        indexes = [
            models.Index(fields=["item", "location"], name="movement_item_location_idx"),
            models.Index(fields=["lot"], name="movement_lot_idx", condition=Q(lot__isnull=False)),
            models.Index(
                fields=["reservation"], name="movement_reservation_idx", condition=Q(reservation__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="movement_quantity_ne_0"),
            models.UniqueConstraint(
                fields=["reverses"], name="movement_reversed_once", condition=Q(reverses__isnull=False)
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="stock_movement_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            # Postings and movements are never deleted (append-only): no guard needed there.
            references_check(
                name="stock_movement_references",
                references=[
                    ("posting_id", "inventory_stockposting"),
                    ("item_id", "inventory_item"),
                    ("location_id", "inventory_location"),
                    ("lot_id", "inventory_lot"),
                    ("reservation_id", "inventory_reservation"),
                    ("reverses_id", "inventory_stockmovement"),
                ],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}@{self.location_id} {self.quantity}"


class StockBalance(models.Model):
    """On hand and reserved per (item, location, lot); maintained in the same transaction as
    the ledger and checked against it by ``stock_check``."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    on_hand = QuantityField(default=ZERO)
    reserved = QuantityField(default=ZERO)

    class Meta:
        ordering = ["item_id", "location_id", "lot_id"]
        constraints = [
            # One row per key, the "no lot" row included (NULLs compare equal here).
            models.UniqueConstraint(
                fields=["item", "location", "lot"], name="stock_balance_unique_key", nulls_distinct=False
            ),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_balance_reserved_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}@{self.location_id}/{self.lot_id}: {self.on_hand} ({self.reserved} reserved)"

    @property
    def available(self):
        return self.on_hand - self.reserved


class Reservation(DocumentRefFields, TimeStampedModel):
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    quantity = QuantityField()
    consumed_quantity = QuantityField(default=ZERO)
    status = models.CharField(max_length=8, choices=ReservationStatus.choices, default=ReservationStatus.OPEN)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["document_type", "document_id"], name="reservation_document_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(consumed_quantity__gte=0) & Q(consumed_quantity__lte=models.F("quantity")),
                name="reservation_consumed_within_quantity",
            ),
        ]
        triggers = referenced_guard(
            name="reservation_ledger_refs", referenced_by=[("inventory_stockmovement", "reservation_id")]
        )

    def __str__(self) -> str:
        return f"R{self.pk} {self.item_id}@{self.location_id} {self.quantity}"

    @property
    def open_quantity(self):
        return self.quantity - self.consumed_quantity if self.status == ReservationStatus.OPEN else ZERO


class Bom(TimeStampedModel):
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="boms")
    version = models.PositiveIntegerField(default=1)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=BomStatus.choices, default=BomStatus.DRAFT)
    base_quantity = QuantityField(default=1)

    class Meta:
        ordering = ["item_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["item", "version"], name="bom_unique_item_version"),
            models.CheckConstraint(condition=Q(base_quantity__gt=0), name="bom_base_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_to__gte=models.F("valid_from")),
                name="bom_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"BOM {self.item_id} v{self.version}"


class BomLine(models.Model):
    bom = models.ForeignKey(Bom, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=10)
    component = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="used_in_lines")
    # Per base quantity of the header; negative = by-product.
    quantity = QuantityField()
    scrap_percent = models.DecimalField(max_digits=7, decimal_places=3, default=ZERO)
    phantom = models.BooleanField(default=False)
    flushing = models.CharField(max_length=8, choices=Flushing.choices, default=Flushing.MANUAL)
    # The routing operation (planning app) that consumes the component; a number, not a FK,
    # because inventory must not depend on planning.
    operation_sequence = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["bom_id", "position", "id"]
        indexes = [models.Index(fields=["component"], name="bomline_component_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="bomline_quantity_ne_0"),
            models.CheckConstraint(
                condition=Q(scrap_percent__gte=0) & Q(scrap_percent__lt=100), name="bomline_scrap_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bom_id}: {self.component_id} x {self.quantity}"
