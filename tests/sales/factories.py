import datetime as dt
from decimal import Decimal

import factory

from sales.models import Customer, SalesOrder, SalesOrderLine
from tests.factories import UserFactory
from tests.inventory.factories import ItemFactory


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"C-{n:04d}")
    name = factory.LazyAttribute(lambda c: f"Customer {c.code}")
    currency = "EUR"


class SalesOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesOrder

    number = factory.Sequence(lambda n: f"SO-T-{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    currency = "EUR"
    created_by = factory.SubFactory(UserFactory)


class SalesOrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesOrderLine

    order = factory.SubFactory(SalesOrderFactory)
    position = factory.Sequence(lambda n: (n + 1) * 10)
    item = factory.SubFactory(ItemFactory)
    quantity = Decimal(1)
    requested_date = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=20))
    unit_price = Decimal("100")
