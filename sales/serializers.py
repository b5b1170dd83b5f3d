"""Shapes of sales resources. Serializers validate input and shape output; services decide."""

from rest_framework import serializers

from config.fields import MONEY_DIGITS, MONEY_PLACES, QTY_DIGITS, QTY_PLACES
from production.serializers import ReasonSerializer
from sales.models import Customer, Delivery, DeliveryLine, SalesOrder, SalesOrderLine


def Qty(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES, **kwargs)


def Money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, **kwargs)


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "code", "name", "email", "currency", "is_active", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is the service's (and the database's) business.
        extra_kwargs = {"code": {"validators": []}, "currency": {"required": False}}


class CustomerUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    currency = serializers.CharField(max_length=3, required=False)
    is_active = serializers.BooleanField(required=False)


class LineInputSerializer(serializers.Serializer):
    item = serializers.IntegerField(required=False)
    item_sku = serializers.CharField(required=False)
    quantity = Qty()
    requested_date = serializers.DateField()
    unit_price = Money(required=False, default=0)

    def validate(self, attrs):
        if "item" not in attrs and "item_sku" not in attrs:
            raise serializers.ValidationError({"item": "item or item_sku is required."})
        return attrs


class SalesOrderCreateSerializer(serializers.Serializer):
    customer = serializers.IntegerField(required=False)
    customer_code = serializers.CharField(required=False)
    customer_reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    currency = serializers.CharField(max_length=3, required=False)
    lines = LineInputSerializer(many=True, allow_empty=False, max_length=1000)

    def validate(self, attrs):
        if "customer" not in attrs and "customer_code" not in attrs:
            raise serializers.ValidationError({"customer": "customer or customer_code is required."})
        return attrs


class SalesOrderUpdateSerializer(serializers.Serializer):
    customer = serializers.IntegerField(required=False)
    customer_reference = serializers.CharField(max_length=64, required=False, allow_blank=True)
    currency = serializers.CharField(max_length=3, required=False)
    lines = LineInputSerializer(many=True, allow_empty=False, max_length=1000, required=False)


class LineCancelSerializer(ReasonSerializer):
    line = serializers.IntegerField()


class DeliveryLineInputSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    quantity = Qty()
    lot = serializers.IntegerField(required=False, allow_null=True)


class DeliverSerializer(serializers.Serializer):
    lines = DeliveryLineInputSerializer(many=True, allow_empty=False, max_length=1000)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class PeggedOrderSerializer(serializers.Serializer):
    production_order_id = serializers.IntegerField()
    number = serializers.CharField()
    item_id = serializers.IntegerField()
    quantity = Qty()
    status = serializers.CharField()
    order_type = serializers.CharField()
    path = serializers.CharField()
    level = serializers.IntegerField()


class SalesOrderLineSerializer(serializers.ModelSerializer):
    item_sku = serializers.CharField(source="item.sku", read_only=True)
    item_name = serializers.CharField(source="item.name", read_only=True)
    uom = serializers.CharField(source="item.uom.code", read_only=True)
    fulfilment_status = serializers.SerializerMethodField()
    reserved_quantity = serializers.SerializerMethodField()
    production_orders = serializers.SerializerMethodField()

    class Meta:
        model = SalesOrderLine
        fields = [
            "id",
            "position",
            "item",
            "item_sku",
            "item_name",
            "uom",
            "quantity",
            "requested_date",
            "unit_price",
            "strategy",
            "status",
            "fulfilment_status",
            "delivered_quantity",
            "reserved_quantity",
            "production_orders",
            "planner_flag",
            "planner_flag_reason",
            "cancel_reason",
        ]
        read_only_fields = fields

    def _info(self, line):
        return self.context.get("fulfilment", {}).get(line.pk)

    def get_fulfilment_status(self, line) -> str | None:
        info = self._info(line)
        return info.status if info else None

    def get_reserved_quantity(self, line) -> str | None:
        info = self._info(line)
        return f"{info.reserved_open:.4f}" if info else None

    def get_production_orders(self, line) -> list[dict]:
        info = self._info(line)
        return PeggedOrderSerializer(info.pegged if info else [], many=True).data


class DeliveryLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryLine
        fields = ["id", "line", "quantity", "lot"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    lines = DeliveryLineSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "number", "stock_posting", "delivered_at", "note", "lines"]
        read_only_fields = fields


class SalesOrderListSerializer(serializers.ModelSerializer):
    customer_code = serializers.CharField(source="customer.code", read_only=True)
    line_count = serializers.IntegerField(read_only=True)
    total_amount = Money(read_only=True)

    class Meta:
        model = SalesOrder
        fields = [
            "id",
            "number",
            "customer",
            "customer_code",
            "customer_reference",
            "status",
            "currency",
            "line_count",
            "total_amount",
            "generation_error",
            "confirmed_at",
            "generated_at",
            "created_at",
        ]
        read_only_fields = fields


class SalesOrderDetailSerializer(serializers.ModelSerializer):
    customer_code = serializers.CharField(source="customer.code", read_only=True)
    lines = SalesOrderLineSerializer(many=True, read_only=True)
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta:
        model = SalesOrder
        fields = [
            "id",
            "number",
            "customer",
            "customer_code",
            "customer_reference",
            "status",
            "currency",
            "generation_error",
            "generation_attempts",
            "confirmed_at",
            "generated_at",
            "cancel_reason",
            "lines",
            "deliveries",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AvailabilitySerializer(serializers.Serializer):
    line_id = serializers.IntegerField()
    position = serializers.IntegerField()
    sku = serializers.CharField()
    strategy = serializers.CharField()
    quantity = Qty()
    available = Qty()
    shortfall = Qty()
