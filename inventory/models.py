from django.db import models
from django.db.models import Q

from config.fields import ZERO, CurrencyField, MoneyField, QuantityField
from config.models import TimeStampedModel
from inventory.enums import ItemType, Procurement, Strategy


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

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"
