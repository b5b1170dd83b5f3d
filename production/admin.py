from django.contrib import admin

from production.models import OrderComponent, OrderCost, OrderOperation, OrderStatusChange, ProductionOrder


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ComponentInline(ReadOnlyInline):
    model = OrderComponent
    fields = [
        "position",
        "item",
        "required_quantity",
        "issued_quantity",
        "flushing",
        "operation_sequence",
        "issue_location",
    ]
    readonly_fields = fields


class OperationInline(ReadOnlyInline):
    model = OrderOperation
    fields = [
        "sequence",
        "work_center",
        "status",
        "scheduled_start",
        "scheduled_end",
        "confirmed_good",
        "confirmed_scrap",
    ]
    readonly_fields = fields


class StatusChangeInline(ReadOnlyInline):
    model = OrderStatusChange
    fields = ["at", "from_status", "to_status", "user", "reason"]
    readonly_fields = fields


class CostInline(ReadOnlyInline):
    model = OrderCost
    fields = ["category", "cost_center", "planned", "actual", "variance"]
    readonly_fields = fields


@admin.register(ProductionOrder)
class ProductionOrderAdmin(admin.ModelAdmin):
    """Read-only: every change goes through the services (status guards, locks, audit), which
    the API and the planner's pages call."""

    list_display = [
        "number",
        "item",
        "quantity",
        "order_type",
        "status",
        "priority",
        "due_date",
        "scheduled_end",
    ]
    list_filter = ["status", "order_type", "priority"]
    search_fields = ["number", "item__sku", "item__name"]
    list_select_related = ["item"]
    date_hierarchy = "due_date"
    inlines = [ComponentInline, OperationInline, CostInline, StatusChangeInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


from django import forms  # noqa: E402

from production.models import Operator, Terminal  # noqa: E402
from production.services.floor import operator_pin_set  # noqa: E402


class OperatorForm(forms.ModelForm):
    new_pin = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="4 to 8 digits; leave empty to keep the current PIN."
    )

    class Meta:
        model = Operator
        fields = ["user", "badge", "work_centers", "new_pin"]


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    form = OperatorForm
    list_display = ["badge", "user", "failed_pin_attempts", "locked_until"]
    search_fields = ["badge", "user__username"]
    filter_horizontal = ["work_centers"]
    actions = ["unlock"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("new_pin"):
            operator_pin_set(operator_id=obj.pk, pin=form.cleaned_data["new_pin"], user=request.user)

    @admin.action(description="Unlock the selected badges")
    def unlock(self, request, queryset):
        queryset.update(failed_pin_attempts=0, locked_until=None)


@admin.register(Terminal)
class TerminalAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active"]
    filter_horizontal = ["work_centers"]
