"""Column types shared by all apps. Quantities and money are Decimal, never float."""

from decimal import Decimal

from django.db import models

QTY_DIGITS, QTY_PLACES = 18, 4
MONEY_DIGITS, MONEY_PLACES = 18, 4
ZERO = Decimal("0")


class QuantityField(models.DecimalField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", QTY_DIGITS)
        kwargs.setdefault("decimal_places", QTY_PLACES)
        super().__init__(*args, **kwargs)


class MoneyField(models.DecimalField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MONEY_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_PLACES)
        super().__init__(*args, **kwargs)


class CurrencyField(models.CharField):
    def __init__(self, *args, **kwargs):
        from django.conf import settings

        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("default", settings.BASE_CURRENCY)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("default", None)
        return name, path, args, kwargs
