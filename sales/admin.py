from django.contrib import admin

from sales.models import Customer, Delivery, DeliveryLine, LinePegging, SalesOrder, SalesOrderLine


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "currency", "is_active"]
    search_fields = ["code", "name"]


class SalesOrderLineInline(admin.TabularInline):
    model = SalesOrderLine
    extra = 0
    raw_id_fields = ["item"]
    readonly_fields = ["strategy", "status", "delivered_quantity", "planner_flag", "planner_flag_reason"]


@admin.register(SalesOrder)
class SalesOrderAdmin(admin.ModelAdmin):
    """Read-mostly: status changes go through the services (API), never through admin saves."""

    list_display = ["number", "customer", "status", "confirmed_at", "generation_error"]
    list_filter = ["status"]
    search_fields = ["number", "customer__code", "customer_reference"]
    list_select_related = ["customer"]
    inlines = [SalesOrderLineInline]
    readonly_fields = [
        "number",
        "status",
        "generation_error",
        "generation_attempts",
        "generated_at",
        "confirmed_at",
        "confirmed_by",
        "created_by",
    ]


@admin.register(LinePegging)
class LinePeggingAdmin(admin.ModelAdmin):
    list_display = ["line", "path", "level", "kind", "item", "quantity", "production_order", "reservation"]
    list_select_related = ["item", "production_order"]
    raw_id_fields = ["line", "item", "production_order", "reservation"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class DeliveryLineInline(admin.TabularInline):
    model = DeliveryLine
    extra = 0
    can_delete = False
    readonly_fields = ["line", "quantity", "lot"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["number", "order", "delivered_at", "user"]
    inlines = [DeliveryLineInline]
    readonly_fields = ["order", "number", "stock_posting", "delivered_at", "user"]
