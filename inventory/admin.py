from django.contrib import admin

from inventory.models import (
    Bom,
    BomLine,
    Item,
    ItemUnitConversion,
    Location,
    Lot,
    Reservation,
    StockBalance,
    StockMovement,
    StockPosting,
    UnitOfMeasure,
    Warehouse,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledger rows are written by services only and never changed (the DB refuses it)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ItemUnitConversionInline(admin.TabularInline):
    model = ItemUnitConversion
    extra = 0


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = [
        "sku",
        "name",
        "item_type",
        "uom",
        "procurement",
        "strategy",
        "lot_tracked",
        "low_level_code",
    ]
    list_filter = ["item_type", "procurement", "strategy", "lot_tracked"]
    search_fields = ["sku", "name"]
    readonly_fields = ["low_level_code"]
    inlines = [ItemUnitConversionInline]


admin.site.register(UnitOfMeasure)
admin.site.register(Warehouse)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["code", "warehouse", "name", "allow_negative", "is_active"]


@admin.register(Lot)
class LotAdmin(admin.ModelAdmin):
    list_display = ["lot_number", "item", "expiry_date"]
    search_fields = ["lot_number", "item__sku"]


class StockMovementInline(admin.TabularInline):
    model = StockMovement
    extra = 0
    can_delete = False
    fields = ["item", "location", "lot", "quantity", "unit_cost", "value", "reverses"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StockPosting)
class StockPostingAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "movement_type",
        "document_type",
        "document_id",
        "document_number",
        "posted_at",
        "user",
    ]
    list_filter = ["movement_type", "document_type"]
    inlines = [StockMovementInline]


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "posting",
        "movement_type",
        "item",
        "location",
        "lot",
        "quantity",
        "value",
        "posted_at",
    ]
    list_filter = ["movement_type"]
    list_select_related = ["item", "location", "lot", "posting"]


@admin.register(StockBalance)
class StockBalanceAdmin(ReadOnlyAdmin):
    list_display = ["item", "location", "lot", "on_hand", "reserved"]
    list_select_related = ["item", "location", "lot"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "item",
        "location",
        "quantity",
        "consumed_quantity",
        "status",
        "document_type",
        "document_id",
    ]
    list_select_related = ["item", "location"]


class BomLineInline(admin.TabularInline):
    model = BomLine
    extra = 0


@admin.register(Bom)
class BomAdmin(ReadOnlyAdmin):
    """Read-only here: BOM writes must pass the cycle check and refresh low-level codes,
    which only the services (and the API) do."""

    list_display = ["item", "version", "status", "valid_from", "valid_to", "base_quantity"]
    list_filter = ["status"]
    inlines = [BomLineInline]
