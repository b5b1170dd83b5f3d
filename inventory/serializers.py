"""Serializers validate and shape; they decide nothing (the services do)."""

from __future__ import annotations

from rest_framework import serializers

from config.fields import MONEY_DIGITS, MONEY_PLACES, QTY_DIGITS, QTY_PLACES
from inventory.enums import BomStatus, Flushing, MovementType
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
)


def qty(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES, **kwargs)


class UnitSerializer(serializers.ModelSerializer):
    class Meta:
        model = UnitOfMeasure
        fields = ["id", "code", "name", "decimals"]


class ItemUnitConversionSerializer(serializers.ModelSerializer):
    uom = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = ItemUnitConversion
        fields = ["uom", "factor"]


class ItemSerializer(serializers.ModelSerializer):
    uom = serializers.SlugRelatedField(slug_field="code", queryset=UnitOfMeasure.objects.all())
    unit_conversions = ItemUnitConversionSerializer(many=True, read_only=True)

    class Meta:
        model = Item
        fields = [
            "id", "sku", "name", "description", "item_type", "uom", "procurement", "strategy", "lot_tracked",
            "standard_cost", "currency", "lead_time_days", "safety_stock", "reorder_point", "min_lot",
            "lot_multiple", "max_stock", "produce_shortfall_immediately", "low_level_code", "is_active",
            "unit_conversions",
        ]  # fmt: skip
        read_only_fields = ["low_level_code", "currency"]


class LocationSerializer(serializers.ModelSerializer):
    warehouse = serializers.SlugRelatedField(slug_field="code", read_only=True)
    warehouse_code = serializers.CharField(write_only=True, required=False)

    class Meta:
        model = Location
        fields = ["id", "warehouse", "warehouse_code", "code", "name", "allow_negative", "is_active"]


class LotSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)

    class Meta:
        model = Lot
        fields = ["id", "item", "sku", "lot_number", "expiry_date"]


class StockBalanceSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    lot_number = serializers.CharField(source="lot.lot_number", read_only=True, default=None, allow_null=True)
    available = qty(read_only=True)

    class Meta:
        model = StockBalance
        fields = [
            "id",
            "item",
            "sku",
            "location",
            "location_code",
            "lot",
            "lot_number",
            "on_hand",
            "reserved",
            "available",
        ]


class StockMovementSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    lot_number = serializers.CharField(source="lot.lot_number", read_only=True, default=None, allow_null=True)

    class Meta:
        model = StockMovement
        fields = [
            "id", "posting", "movement_type", "item", "sku", "location", "location_code", "lot", "lot_number",
            "quantity", "unit_cost", "value", "document_line_id", "reservation", "reverses", "posted_at",
        ]  # fmt: skip


class StockPostingSerializer(serializers.ModelSerializer):
    movements = StockMovementSerializer(many=True, read_only=True)
    user = serializers.CharField(source="user.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = StockPosting
        fields = [
            "id", "movement_type", "document_type", "document_id", "document_line_id", "document_number",
            "posting_key", "user", "posted_at", "note", "reversal_of", "movements",
        ]  # fmt: skip


class StockMovementCreateSerializer(serializers.Serializer):
    """One manual posting: receipt, issue (positive quantity, taken out), transfer, or
    adjustment (signed quantity)."""

    movement_type = serializers.ChoiceField(
        choices=[MovementType.RECEIPT, MovementType.ISSUE, MovementType.TRANSFER, MovementType.ADJUSTMENT]
    )
    item = serializers.IntegerField()
    location = serializers.IntegerField()
    to_location = serializers.IntegerField(required=False)
    lot = serializers.IntegerField(required=False, allow_null=True)
    quantity = qty()
    uom = serializers.CharField(required=False, max_length=16)
    unit_cost = serializers.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, required=False)
    document_type = serializers.CharField(required=False, default="manual", max_length=32)
    document_id = serializers.IntegerField(required=False, default=0)
    document_number = serializers.CharField(required=False, default="", allow_blank=True, max_length=64)
    note = serializers.CharField(required=False, default="", allow_blank=True)

    def validate(self, attrs):
        if attrs["movement_type"] == MovementType.TRANSFER and "to_location" not in attrs:
            raise serializers.ValidationError({"to_location": "required for a transfer"})
        if attrs["movement_type"] == MovementType.TRANSFER and attrs["to_location"] == attrs["location"]:
            raise serializers.ValidationError({"to_location": "must differ from location"})
        if attrs["movement_type"] != MovementType.ADJUSTMENT and attrs["quantity"] <= 0:
            raise serializers.ValidationError({"quantity": "must be positive"})
        if attrs["quantity"] == 0:
            raise serializers.ValidationError({"quantity": "must not be zero"})
        return attrs


class ReverseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class ReservationSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)

    class Meta:
        model = Reservation
        fields = [
            "id", "item", "sku", "location", "location_code", "lot", "quantity", "consumed_quantity", "status",
            "document_type", "document_id", "document_line_id", "document_number", "created_at",
        ]  # fmt: skip


class BomLineSerializer(serializers.ModelSerializer):
    component_sku = serializers.CharField(source="component.sku", read_only=True)
    flushing = serializers.ChoiceField(choices=Flushing.choices, default=Flushing.MANUAL)

    class Meta:
        model = BomLine
        fields = [
            "id", "position", "component", "component_sku", "quantity", "scrap_percent", "phantom", "flushing",
            "operation_sequence",
        ]  # fmt: skip
        extra_kwargs = {"position": {"required": False}}


class BomSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="item.sku", read_only=True)
    lines = BomLineSerializer(many=True)
    status = serializers.ChoiceField(choices=BomStatus.choices, default=BomStatus.DRAFT)
    version = serializers.IntegerField(required=False, min_value=1)

    class Meta:
        model = Bom
        fields = [
            "id",
            "item",
            "sku",
            "version",
            "valid_from",
            "valid_to",
            "status",
            "base_quantity",
            "lines",
        ]
        validators = []  # (item, version) uniqueness is the service's (and the DB's) job


class ExplosionLineSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    item_id = serializers.IntegerField()
    sku = serializers.CharField()
    quantity = qty()
    uom = serializers.CharField()


class WhereUsedLineSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    item_id = serializers.IntegerField()
    sku = serializers.CharField()
    bom_id = serializers.IntegerField()
    bom_version = serializers.IntegerField()
    component_id = serializers.IntegerField()
    quantity = qty()


class BomExplosionSerializer(serializers.Serializer):
    """A BOM exploded for a quantity: every component, level by level."""

    bom = serializers.IntegerField()
    quantity = qty()
    lines = ExplosionLineSerializer(many=True)


class WhereUsedSerializer(serializers.Serializer):
    """Where an item is used: every parent, level by level."""

    item = serializers.IntegerField()
    lines = WhereUsedLineSerializer(many=True)


class GenealogyLinkSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    lot_id = serializers.IntegerField(allow_null=True, help_text="Null for an item without lots.")
    lot_number = serializers.CharField(allow_null=True)
    item_id = serializers.IntegerField()
    sku = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)
    document_type = serializers.CharField()
    document_id = serializers.IntegerField()
    document_number = serializers.CharField()


class GenealogySerializer(serializers.Serializer):
    """A lot's genealogy: the lot asked about and its links, level by level."""

    lot = serializers.CharField(help_text="Lot number of the lot asked about.")
    item = serializers.CharField(help_text="SKU of its item.")
    links = GenealogyLinkSerializer(many=True)
