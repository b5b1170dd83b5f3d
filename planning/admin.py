"""Django admin for planning master data. Rules that span rows (overlaps, inactive work
centers) live in services; the admin is for inspection and quick fixes by admins."""

from django.contrib import admin

from planning.models import (
    Calendar,
    CalendarException,
    CalendarShift,
    CapacityRequirement,
    CostCenter,
    Forecast,
    ItemPlanningPolicy,
    PlannedOrder,
    PlanningException,
    PlanningRun,
    PurchaseRequisition,
    Routing,
    RoutingOperation,
    WorkCenter,
)


@admin.register(CostCenter)
class CostCenterAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class CalendarShiftInline(admin.TabularInline):
    model = CalendarShift
    extra = 0


class CalendarExceptionInline(admin.TabularInline):
    model = CalendarException
    extra = 0


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    inlines = [CalendarShiftInline, CalendarExceptionInline]


@admin.register(WorkCenter)
class WorkCenterAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "calendar",
        "parallel_units",
        "efficiency_pct",
        "cost_center",
        "is_active",
    ]
    list_filter = ["is_active", "calendar", "cost_center"]
    list_select_related = ["calendar", "cost_center"]
    search_fields = ["code", "name"]


class RoutingOperationInline(admin.TabularInline):
    model = RoutingOperation
    extra = 0
    autocomplete_fields = ["work_center"]


@admin.register(Routing)
class RoutingAdmin(admin.ModelAdmin):
    list_display = ["item", "version", "status", "valid_from", "valid_to"]
    list_filter = ["status"]
    list_select_related = ["item"]
    search_fields = ["item__sku", "description"]
    raw_id_fields = ["item"]
    inlines = [RoutingOperationInline]


@admin.register(CapacityRequirement)
class CapacityRequirementAdmin(admin.ModelAdmin):
    list_display = ["work_center", "date", "hours", "source_type", "source_id", "source_line_id", "status"]
    list_filter = ["status", "source_type", "work_center"]
    list_select_related = ["work_center"]
    date_hierarchy = "date"


# -- planning run (MRP): read-only inspection; runs write these, firming goes through the API.


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PlanningRun)
class PlanningRunAdmin(_ReadOnly):
    list_display = ["id", "mode", "status", "is_simulation", "started_at", "finished_at"]
    list_filter = ["status", "mode", "is_simulation"]


@admin.register(PlannedOrder)
class PlannedOrderAdmin(_ReadOnly):
    list_display = ["id", "item", "quantity", "start_date", "due_date", "status", "production_order_id"]
    list_filter = ["status"]
    list_select_related = ["item"]


@admin.register(PurchaseRequisition)
class PurchaseRequisitionAdmin(_ReadOnly):
    list_display = ["id", "item", "quantity", "release_date", "due_date", "status"]
    list_filter = ["status"]
    list_select_related = ["item"]


@admin.register(PlanningException)
class PlanningExceptionAdmin(_ReadOnly):
    list_display = ["id", "item", "kind", "message", "date", "suggested_date"]
    list_filter = ["kind"]
    list_select_related = ["item"]


@admin.register(Forecast)
class ForecastAdmin(admin.ModelAdmin):
    list_display = ["item", "date", "quantity"]
    list_select_related = ["item"]


@admin.register(ItemPlanningPolicy)
class ItemPlanningPolicyAdmin(admin.ModelAdmin):
    list_display = ["item", "lot_sizing", "period_days"]
