from decimal import Decimal

import factory

from inventory.enums import BomStatus, ItemType, Procurement
from inventory.models import Bom, BomLine, Item, ItemUnitConversion, Location, Lot, UnitOfMeasure, Warehouse


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UnitOfMeasure
        django_get_or_create = ("code",)

    code = "pcs"
    name = factory.LazyAttribute(lambda u: u.code)
    decimals = 0


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    sku = factory.Sequence(lambda n: f"ITEM-{n:04d}")
    name = factory.LazyAttribute(lambda i: f"Item {i.sku}")
    item_type = ItemType.PURCHASED
    uom = factory.SubFactory(UnitFactory)
    procurement = Procurement.BUY
    standard_cost = Decimal("2.50")


class ItemUnitConversionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ItemUnitConversion

    item = factory.SubFactory(ItemFactory)
    uom = factory.SubFactory(UnitFactory, code="box", decimals=0)
    factor = Decimal("12")


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)

    code = "MAIN"
    name = "Main"


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    warehouse = factory.SubFactory(WarehouseFactory)
    code = factory.Sequence(lambda n: f"LOC-{n:04d}")
    name = factory.LazyAttribute(lambda loc: loc.code)


class LotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lot

    item = factory.SubFactory(ItemFactory, lot_tracked=True)
    lot_number = factory.Sequence(lambda n: f"L{n:05d}")


class BomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bom

    item = factory.SubFactory(ItemFactory, item_type=ItemType.FINISHED, procurement=Procurement.MAKE)
    version = 1
    status = BomStatus.ACTIVE
    base_quantity = Decimal(1)


class BomLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BomLine

    bom = factory.SubFactory(BomFactory)
    component = factory.SubFactory(ItemFactory)
    quantity = Decimal(1)
