"""Shapes of production order resources. Serializers validate input and shape output; the
services decide."""

from decimal import Decimal
from functools import cache

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.fields import QTY_DIGITS, QTY_PLACES
from production.enums import Flushing, OrderType, ScrapReason
from production.models import (
    Confirmation,
    OrderComponent,
    OrderCost,
    OrderOperation,
    OrderStatusChange,
    ProductionOrder,
)
from production.selectors import merge_allocation, production_order_costs


def Qty(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES, **kwargs)


class ComponentSerializer(serializers.ModelSerializer):
    item_sku = serializers.CharField(source="item.sku", read_only=True)
    item_name = serializers.CharField(source="item.name", read_only=True)
    uom = serializers.CharField(source="item.uom.code", read_only=True)
    issue_location_code = serializers.CharField(source="issue_location.code", read_only=True)

    class Meta:
        model = OrderComponent
        fields = [
            "id",
            "position",
            "item",
            "item_sku",
            "item_name",
            "uom",
            "quantity_per_unit",
            "scrap_percent",
            "required_quantity",
            "issued_quantity",
            "flushing",
            "operation_sequence",
            "issue_location",
            "issue_location_code",
            "reservation_id",
        ]
        read_only_fields = fields


class OperationSerializer(serializers.ModelSerializer):
    work_center_code = serializers.CharField(source="work_center.code", read_only=True)

    class Meta:
        model = OrderOperation
        fields = [
            "id",
            "sequence",
            "work_center",
            "work_center_code",
            "description",
            "setup_minutes",
            "run_minutes_per_unit",
            "queue_minutes",
            "move_minutes",
            "instructions",
            "reporting_point",
            "status",
            "scheduled_start",
            "scheduled_end",
            "actual_start",
            "actual_end",
            "confirmed_good",
            "confirmed_scrap",
            "confirmed_rework",
            "actual_setup_minutes",
            "actual_labor_minutes",
            "actual_machine_minutes",
        ]
        read_only_fields = fields


class CostSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderCost
        fields = ["category", "cost_center", "planned", "actual", "variance"]
        read_only_fields = fields


class ProductionOrderListSerializer(serializers.ModelSerializer):
    # A property over OrderReceived: declared, so it is a decimal string like every quantity.
    received_quantity = Qty(read_only=True)
    item_sku = serializers.CharField(source="item.sku", read_only=True)
    item_name = serializers.CharField(source="item.name", read_only=True)
    uom = serializers.CharField(source="item.uom.code", read_only=True)
    cost_center_code = serializers.CharField(source="cost_center.code", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ProductionOrder
        fields = [
            "id",
            "number",
            "item",
            "item_sku",
            "item_name",
            "uom",
            "quantity",
            "order_type",
            "status",
            "priority",
            "due_date",
            "scheduled_start",
            "scheduled_end",
            "late_by_minutes",
            "received_quantity",
            "cost_center",
            "cost_center_code",
            "sales_order_line_id",
            "parent",
            "is_campaign",
            "campaign_start",
            "campaign_end",
            "merged_into",
            "split_from",
            "version",
            "created_at",
        ]
        read_only_fields = fields


class MergeShareSerializer(serializers.Serializer):
    """One share of a merged order: an order's quantity and demand, and what it gets."""

    order = serializers.IntegerField(source="source_id", help_text="The order whose quantity this is.")
    order_number = serializers.CharField(source="source_number")
    is_target = serializers.BooleanField(help_text="The merged order's own quantity.")
    quantity = Qty()
    due_date = serializers.DateField()
    sales_order_line_id = serializers.IntegerField(allow_null=True)
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    demand = serializers.CharField(help_text="What the quantity was made for: a sales order line, an order, stock.")
    allocated_output = Qty(help_text="Output received on the merged order allocated to it, earliest due first.")
    allocated_cost = serializers.DecimalField(
        max_digits=18, decimal_places=2, help_text="Actual cost so far in proportion to its quantity."
    )
    planned_cost = serializers.DecimalField(max_digits=18, decimal_places=2)


class ProductionOrderDetailSerializer(ProductionOrderListSerializer):
    components = ComponentSerializer(many=True, read_only=True)
    operations = OperationSerializer(many=True, read_only=True)
    costs = serializers.SerializerMethodField()
    issue_location_code = serializers.CharField(source="issue_location.code", read_only=True)
    receipt_location_code = serializers.CharField(source="receipt_location.code", read_only=True)

    posting_summary = serializers.SerializerMethodField()
    merge_sources = serializers.SerializerMethodField(
        help_text="For a merged order (or one merged into another): every share with its demand, in due-date "
        "order, and the output and cost allocated to it. Empty when the order was never merged."
    )
    split_orders = serializers.SerializerMethodField(help_text="Ids of the orders split off this one.")

    @extend_schema_field(MergeShareSerializer(many=True))
    def get_merge_sources(self, order) -> list:
        return MergeShareSerializer(merge_allocation(order=order), many=True).data

    def get_split_orders(self, order) -> list[int]:
        return list(order.split_orders.order_by("pk").values_list("pk", flat=True))

    @extend_schema_field(CostSerializer(many=True))
    def get_costs(self, order) -> list:
        # Actual cost as of now while the order is open (see production_order_costs).
        return CostSerializer(production_order_costs(order=order), many=True).data

    def get_posting_summary(self, order) -> dict:
        counts = {status: 0 for status in ("pending", "posted", "failed")}
        for confirmation in order.confirmations.all():
            if confirmation.posting_status in counts:
                counts[confirmation.posting_status] += 1
        return counts

    class Meta(ProductionOrderListSerializer.Meta):
        fields = [
            "posting_summary",
            *ProductionOrderListSerializer.Meta.fields,
            "actual_start",
            "actual_end",
            "bom",
            "routing",
            "issue_location",
            "issue_location_code",
            "receipt_location",
            "receipt_location_code",
            "engineering_approved_at",
            "released_with_shortages",
            "scrap_quantity",
            "components",
            "operations",
            "costs",
            "merge_sources",
            "split_orders",
        ]
        read_only_fields = fields


class ProductionOrderCreateSerializer(serializers.Serializer):
    item = serializers.IntegerField(required=False, help_text="Item id (or give item_sku).")
    item_sku = serializers.CharField(required=False)
    quantity = Qty(help_text="For a campaign: the target for the whole campaign period, not a fixed final quantity.")
    due_date = serializers.DateField(
        required=False, help_text="Required, except for a campaign, which is due at its campaign_end."
    )
    order_type = serializers.ChoiceField(choices=OrderType.choices, required=False)
    priority = serializers.IntegerField(min_value=1, max_value=9, default=5)
    start_date = serializers.DateField(required=False)
    cost_center = serializers.IntegerField(required=False)
    issue_location = serializers.IntegerField(required=False)
    receipt_location = serializers.IntegerField(required=False)
    sales_order_line_id = serializers.IntegerField(required=False)
    parent = serializers.IntegerField(required=False)
    copy_structure = serializers.BooleanField(default=True)
    is_campaign = serializers.BooleanField(
        default=False,
        help_text="A campaign order stays open for its period (campaign_start to campaign_end), takes "
        "confirmations beyond its quantity and no final confirmation, and is closed by the planner.",
    )
    campaign_start = serializers.DateField(required=False, help_text="Required for a campaign.")
    campaign_end = serializers.DateField(required=False, help_text="Required for a campaign; not before its start.")

    def validate(self, attrs):
        if "item" not in attrs and "item_sku" not in attrs:
            raise serializers.ValidationError({"item": "Give item (id) or item_sku."})
        return attrs


class ProductionOrderUpdateSerializer(serializers.Serializer):
    quantity = Qty(required=False)
    due_date = serializers.DateField(required=False)
    priority = serializers.IntegerField(min_value=1, max_value=9, required=False)
    cost_center = serializers.IntegerField(required=False)
    is_campaign = serializers.BooleanField(required=False, help_text="Only while planned.")
    campaign_start = serializers.DateField(required=False, help_text="Only while planned.")
    campaign_end = serializers.DateField(
        required=False, help_text="Until the order is closed; a campaign's due date moves with it."
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")


# The sales API uses this one too: one serializer, one ``ReasonRequest`` in the schema.
class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReversalSerializer(serializers.Serializer):
    # Required: a reversal without a reason is refused (400 reason_required, by the service).
    reason = serializers.CharField(max_length=2000, help_text="Why the confirmation is reversed.")


class ReleaseSerializer(ReasonSerializer):
    force = serializers.BooleanField(default=False, help_text="Release despite shortages (needs a reason).")


class RescheduleSerializer(serializers.Serializer):
    due_date = serializers.DateField(required=False)
    start = serializers.DateTimeField(required=False, help_text="Forward-schedule from this moment instead.")


class MergeSerializer(serializers.Serializer):
    source_orders = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=False,
        max_length=50,
        help_text="Ids of the orders to merge into this one: same item, BOM version, routing, order type and "
        "receipt location, all planned or all released, nothing posted.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SplitSerializer(serializers.Serializer):
    quantity = Qty(help_text="How much to move into the new order: more than 0, less than the order's quantity.")
    due_date = serializers.DateField(required=False, help_text="Due date of the new order (default: the order's).")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class IssueLineSerializer(serializers.Serializer):
    component = serializers.IntegerField(required=False)
    item = serializers.IntegerField(required=False)
    quantity = Qty(help_text="Positive issues, negative returns.")
    lot = serializers.IntegerField(required=False)
    location = serializers.IntegerField(required=False)

    def validate(self, attrs):
        if "component" not in attrs and "item" not in attrs:
            raise serializers.ValidationError({"component": "Give component (id) or item (id)."})
        if attrs["quantity"] == 0:
            raise serializers.ValidationError({"quantity": "Must not be zero."})
        return attrs


class IssueSerializer(serializers.Serializer):
    lines = IssueLineSerializer(many=True, allow_empty=False)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ComponentInputSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    quantity_per_unit = Qty()
    scrap_percent = serializers.DecimalField(
        max_digits=6, decimal_places=3, min_value=0, max_value=Decimal("99.999"), default=0
    )
    flushing = serializers.ChoiceField(choices=Flushing.choices, default=Flushing.MANUAL)
    operation_sequence = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    issue_location = serializers.IntegerField(required=False, allow_null=True)


class OperationInputSerializer(serializers.Serializer):
    sequence = serializers.IntegerField(min_value=1)
    work_center = serializers.IntegerField()
    setup_minutes = Qty(min_value=0, default=0)
    run_minutes_per_unit = Qty(min_value=0, default=0)
    queue_minutes = Qty(min_value=0, default=0)
    move_minutes = Qty(min_value=0, default=0)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    reporting_point = serializers.BooleanField(default=False)


class AvailabilitySerializer(serializers.Serializer):
    component_id = serializers.IntegerField()
    item_id = serializers.IntegerField()
    sku = serializers.CharField()
    location_id = serializers.IntegerField()
    location_code = serializers.CharField()
    required = Qty()
    issued = Qty()
    reserved_for_order = Qty(help_text="Open reservations of this component.")
    reserved_on_hand = Qty(
        help_text="The part of reserved_for_order that stock on hand backs (oldest reservation first); "
        "a release forced despite shortages can reserve more than is on hand."
    )
    open_requirement = Qty(help_text="required - issued")
    available = Qty(help_text="Available to this order: reserved_on_hand plus on-hand stock nobody reserved.")
    short = Qty(help_text="open_requirement that available does not cover.")


class StatusChangeSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = OrderStatusChange
        fields = ["from_status", "to_status", "reason", "user", "at"]
        read_only_fields = fields


class AuditEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField(source="pgh_created_at")
    model = serializers.CharField(source="pgh_model")
    object_id = serializers.CharField(source="pgh_obj_id")
    label = serializers.CharField(source="pgh_label")
    changes = serializers.JSONField(source="pgh_diff")
    context = serializers.JSONField(source="pgh_context")


class OrderAvailabilitySerializer(serializers.Serializer):
    order = serializers.CharField(help_text="The order's number.")
    ready = serializers.BooleanField(help_text="True when no component is short.")
    components = AvailabilitySerializer(many=True)


class OrderAuditSerializer(serializers.Serializer):
    transitions = StatusChangeSerializer(many=True)
    changes = AuditEventSerializer(many=True)


class ConfirmationSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number", read_only=True)
    operation_sequence = serializers.IntegerField(source="operation.sequence", read_only=True)
    work_center_code = serializers.CharField(source="work_center.code", read_only=True)
    operator_username = serializers.CharField(source="operator.username", read_only=True)
    # Blank when nothing was scrapped.
    scrap_reason = serializers.ChoiceField(choices=ScrapReason.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Confirmation
        fields = [
            "id",
            "order",
            "order_number",
            "operation",
            "operation_sequence",
            "work_center",
            "work_center_code",
            "good_quantity",
            "scrap_quantity",
            "scrap_reason",
            "rework_quantity",
            "setup_minutes",
            "labor_minutes",
            "machine_minutes",
            "final",
            "output_lot_number",
            "operator",
            "operator_username",
            "confirmed_at",
            "created_at",
            "reversal_of",
            "reason",
            "posting_status",
            "posting_error",
            "posted_at",
        ]
        read_only_fields = fields


@cache
def _confirmation_shape() -> ConfirmationSerializer:
    return ConfirmationSerializer()


def confirmation_representation(confirmation: Confirmation) -> dict:
    """``ConfirmationSerializer(confirmation).data`` without building the serializer's 25
    fields again: one bound instance per process shapes every confirmation (its read-only
    fields keep no per-call state)."""
    return _confirmation_shape().to_representation(confirmation)


class ConfirmationCreateSerializer(serializers.Serializer):
    operation = serializers.IntegerField()
    good_quantity = Qty(default=Decimal(0))
    scrap_quantity = Qty(default=Decimal(0))
    scrap_reason = serializers.ChoiceField(choices=ScrapReason.choices, required=False, allow_blank=True, default="")
    rework_quantity = Qty(default=Decimal(0))
    setup_minutes = Qty(default=Decimal(0))
    labor_minutes = Qty(default=Decimal(0))
    machine_minutes = Qty(default=Decimal(0))
    final = serializers.BooleanField(default=False)
    output_lot_number = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    confirmed_at = serializers.DateTimeField(required=False)


@cache
def _confirmation_input_shape() -> ConfirmationCreateSerializer:
    return ConfirmationCreateSerializer()


def confirmation_input(data) -> dict:
    """``ConfirmationCreateSerializer(data=data)``'s validated data (or its ValidationError)
    without deep-copying the serializer's 11 fields on every POST: one unbound instance per
    process validates every body (its fields keep no per-call state)."""
    return dict(_confirmation_input_shape().run_validation(data))


class ConfirmationPreviewQuerySerializer(serializers.Serializer):
    operation = serializers.IntegerField()
    good_quantity = Qty(default=Decimal(0), min_value=Decimal(0))
    scrap_quantity = Qty(default=Decimal(0), min_value=Decimal(0))


class ConsumptionPreviewSerializer(serializers.Serializer):
    component_id = serializers.IntegerField()
    item_id = serializers.IntegerField()
    sku = serializers.CharField()
    flushing = serializers.CharField()
    operation_sequence = serializers.IntegerField(allow_null=True)
    bom_quantity_per_unit = Qty()
    required = Qty()
    reserved = Qty()
    issued = Qty()
    backflush_now = Qty()
    available = Qty(help_text="Available to the order at the issue location (see the order's availability).")
    short = serializers.BooleanField(help_text="The confirmation would write off more than is available.")


class CampaignReportQuerySerializer(serializers.Serializer):
    bucket = serializers.ChoiceField(choices=["day", "week", "month"], default="week")


class CampaignConsumptionSerializer(serializers.Serializer):
    item = serializers.IntegerField(source="item_id")
    item_sku = serializers.CharField(source="sku")
    uom = serializers.CharField()
    quantity = Qty(help_text="Consumed, net of returns and reversals; a by-product received is negative.")


class CampaignPeriodSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day of the period (weeks start on Monday).")
    end = serializers.DateField(help_text="Last day of the period.")
    target = Qty(help_text="The order quantity prorated over the campaign days in this period.")
    good = Qty(help_text="Output received into stock (stock ledger, by posting date), net of reversals.")
    scrap = Qty(help_text="Scrap reported on the last operation, by confirmation date.")
    consumption = CampaignConsumptionSerializer(many=True)


class CampaignReportSerializer(serializers.Serializer):
    order = serializers.IntegerField(source="order.pk")
    number = serializers.CharField(source="order.number")
    item_sku = serializers.CharField(source="order.item.sku")
    uom = serializers.CharField(source="order.item.uom.code")
    status = serializers.CharField(source="order.status")
    campaign_start = serializers.DateField(source="order.campaign_start")
    campaign_end = serializers.DateField(source="order.campaign_end")
    target = Qty(source="order.quantity", help_text="The campaign's target for its whole period.")
    bucket = serializers.CharField()
    good = Qty(help_text="Total output received.")
    scrap = Qty(help_text="Total scrap reported on the last operation.")
    consumption = CampaignConsumptionSerializer(many=True, help_text="Total consumption per component item.")
    periods = CampaignPeriodSerializer(many=True)
