"""Master data writes: units, conversions, items, warehouses, locations, lots."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from config.exceptions import NotFound, ValidationFailed
from inventory.models import Item, ItemUnitConversion, Location, Lot, UnitOfMeasure, Warehouse


def quantity_to_base(*, item_id: int, quantity: Decimal, uom_code: str | None) -> Decimal:
    """Convert a quantity in ``uom_code`` to the item's base unit. ``None`` or the base unit
    itself returns the quantity unchanged."""
    item = Item.objects.select_related("uom").filter(pk=item_id).first()
    if item is None:
        raise ValidationFailed(f"Item {item_id} does not exist.", code="unknown_item", fields={"item": "unknown"})
    if uom_code is None or uom_code == item.uom.code:
        return Decimal(quantity)
    uom = UnitOfMeasure.objects.filter(code=uom_code).first()
    if uom is None:
        raise ValidationFailed(f"Unknown unit {uom_code!r}.", code="unknown_unit", fields={"uom": "unknown unit"})
    factor = ItemUnitConversion.objects.filter(item_id=item_id, uom=uom).values_list("factor", flat=True).first()
    if factor is None:
        raise ValidationFailed(
            f"{item.sku} has no conversion from {uom_code} to {item.uom.code}.",
            code="no_unit_conversion",
            fields={"uom": f"no conversion from {uom_code} to {item.uom.code}"},
        )
    return (Decimal(quantity) * factor).quantize(Decimal("0.0001"))


def _save(instance: Any, unique_message: str, field: str) -> Any:
    try:
        with transaction.atomic():
            instance.full_clean(validate_unique=False, validate_constraints=False)
            instance.save()
    except IntegrityError as exc:
        raise ValidationFailed(unique_message, code="duplicate", fields={field: "already exists"}) from exc
    return instance


def unit_create(*, code: str, name: str, decimals: int = 3, user) -> UnitOfMeasure:
    return _save(UnitOfMeasure(code=code, name=name, decimals=decimals), f"Unit {code} exists.", "code")


def unit_update(*, unit_id: int, user, **data: Any) -> UnitOfMeasure:
    unit = UnitOfMeasure.objects.get(pk=unit_id)
    for key, value in data.items():
        setattr(unit, key, value)
    return _save(unit, f"Unit {unit.code} exists.", "code")


def item_unit_conversion_set(*, item_id: int, uom_id: int, factor: Decimal, user) -> ItemUnitConversion:
    if Decimal(factor) <= 0:
        raise ValidationFailed("Factor must be positive.", code="invalid_factor", fields={"factor": "must be > 0"})
    item = Item.objects.get(pk=item_id)
    if item.uom_id == uom_id:
        raise ValidationFailed(
            "The base unit needs no conversion.", code="invalid_unit", fields={"uom": "is the base unit"}
        )
    conversion, _ = ItemUnitConversion.objects.update_or_create(
        item_id=item_id, uom_id=uom_id, defaults={"factor": factor}
    )
    return conversion


def item_create(*, user, **data: Any) -> Item:
    return _save(Item(**data), f"An item with SKU {data.get('sku')} exists.", "sku")


@transaction.atomic
def item_update(*, item_id: int, user, **data: Any) -> Item:
    item = Item.objects.select_for_update().filter(pk=item_id).first()
    if item is None:
        raise NotFound(f"Item {item_id} does not exist.")
    if "lot_tracked" in data and data["lot_tracked"] != item.lot_tracked:
        from inventory.models import StockMovement

        if StockMovement.objects.filter(item_id=item_id).exists():
            raise ValidationFailed(
                f"{item.sku} has stock movements; lot tracking cannot change.",
                code="lot_tracking_locked",
                fields={"lot_tracked": "item has movements"},
            )
    for key, value in data.items():
        setattr(item, key, value)
    return _save(item, f"An item with SKU {item.sku} exists.", "sku")


def warehouse_create(*, code: str, name: str, user) -> Warehouse:
    return _save(Warehouse(code=code, name=name), f"Warehouse {code} exists.", "code")


def location_create(*, user, **data: Any) -> Location:
    return _save(Location(**data), f"Location {data.get('code')} exists.", "code")


def location_update(*, location_id: int, user, **data: Any) -> Location:
    location = Location.objects.get(pk=location_id)
    for key, value in data.items():
        setattr(location, key, value)
    return _save(location, f"Location {location.code} exists.", "code")


def lot_create(*, item_id: int, lot_number: str, expiry_date=None, user) -> Lot:
    item = Item.objects.filter(pk=item_id).first()
    if item is None:
        raise ValidationFailed(f"Item {item_id} does not exist.", code="unknown_item", fields={"item": "unknown"})
    if not item.lot_tracked:
        raise ValidationFailed(
            f"{item.sku} is not lot-tracked.", code="lot_not_allowed", fields={"item": "not lot-tracked"}
        )
    return _save(
        Lot(item=item, lot_number=lot_number, expiry_date=expiry_date),
        f"Lot {lot_number} of {item.sku} exists.",
        "lot_number",
    )
