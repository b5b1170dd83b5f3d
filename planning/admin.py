"""Django admin for planning master data. Rules that span rows (overlaps, inactive work
centers) live in services; the admin is for inspection and quick fixes by admins."""

from django.contrib import admin

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
