from django.db import models


class SalesOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    CONFIRMED = "confirmed", "Confirmed (generation queued)"
    GENERATION_FAILED = "generation_failed", "Generation failed"
    IN_PRODUCTION = "in_production", "In production"
    READY = "ready", "Ready"
    PARTIALLY_DELIVERED = "partially_delivered", "Partially delivered"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


S = SalesOrderStatus
# The status machine, as data: from -> the statuses it may move to. Once anything was
# delivered the order can no longer be cancelled as a whole (cancel the open lines instead).
SALES_ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.IN_PRODUCTION, S.READY, S.GENERATION_FAILED, S.CANCELLED}),
    S.GENERATION_FAILED: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.IN_PRODUCTION: frozenset({S.READY, S.PARTIALLY_DELIVERED, S.DELIVERED, S.CANCELLED}),
    S.READY: frozenset({S.IN_PRODUCTION, S.PARTIALLY_DELIVERED, S.DELIVERED, S.CANCELLED}),
    S.PARTIALLY_DELIVERED: frozenset({S.PARTIALLY_DELIVERED, S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
}
EDITABLE = frozenset({S.DRAFT})
# Generation has run: goods may leave the store.
DELIVERABLE = frozenset({S.IN_PRODUCTION, S.READY, S.PARTIALLY_DELIVERED})
# Lines of these orders are demand for the planning run.
DEMAND_STATUSES = frozenset({S.CONFIRMED, S.GENERATION_FAILED, S.IN_PRODUCTION, S.READY, S.PARTIALLY_DELIVERED})


class LineStatus(models.TextChoices):
    """Stored life of a line; how far production got is derived (see LineFulfilment)."""

    OPEN = "open", "Open"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


class LineFulfilment(models.TextChoices):
    """Derived at read time from pegged production orders, reservations and deliveries."""

    PENDING = "pending", "Not generated yet"
    AWAITING_SUPPLY = "awaiting_supply", "Awaiting supply (left to planning)"
    IN_PRODUCTION = "in_production", "In production"
    READY = "ready", "Ready"
    PARTIALLY_DELIVERED = "partially_delivered", "Partially delivered"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


class PeggingKind(models.TextChoices):
    PRODUCTION_ORDER = "production_order", "Production order"
    RESERVATION = "reservation", "Stock reservation"
