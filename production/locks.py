from django.db.models import QuerySet

from production.models import OrderComponent, ProductionOrder


def production_order_qs_select_for_update() -> QuerySet[ProductionOrder]:
    """Lock the order header first; every write to an order and its children starts here."""
    return ProductionOrder.objects.select_for_update(of=("self",), no_key=True)


def order_components_qs_select_for_update(order_id: int) -> QuerySet[OrderComponent]:
    return OrderComponent.objects.filter(order_id=order_id).select_for_update(of=("self",), no_key=True).order_by("pk")
