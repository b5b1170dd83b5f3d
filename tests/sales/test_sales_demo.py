from django.core.management import call_command

from sales.models import Customer, SalesOrder


def test_sales_demo_load_is_idempotent(db):
    # given the whole demo factory loaded twice
    call_command("demo_data")
    call_command("demo_data")

    # then the customers and the two draft orders exist once
    assert set(Customer.objects.values_list("code", flat=True)) >= {"C-ACME", "C-VELO", "C-SHOP"}
    orders = SalesOrder.objects.filter(customer_reference__startswith="DEMO-")
    assert orders.count() == 2
    mixed = orders.get(customer_reference="DEMO-MIXED")
    assert mixed.status == "draft"
    assert list(mixed.lines.values_list("item__sku", "item__strategy")) == [
        ("FG-1000", "MTS"),
        ("FG-2000", "MTO"),
        ("FG-4000", "ATO"),
        ("FG-3000", "ETO"),
    ]
