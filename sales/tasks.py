from celery import shared_task
from django.db import OperationalError

from sales import services


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, retry_backoff_max=60, max_retries=5, acks_late=True)
def sales_order_generate_task(order_id: int) -> dict:
    """Generate the production orders and reservations of a confirmed sales order. Safe to
    redeliver: the service locks the order and pegging rows are unique per line and path."""
    result = services.sales_order_generate(order_id=order_id)
    return {
        "status": result.status,
        "production_orders_created": result.production_orders_created,
        "reservations_created": result.reservations_created,
        "error": result.error,
    }


@shared_task
def sales_orders_status_refresh_task() -> int:
    return services.sales_orders_status_refresh()
