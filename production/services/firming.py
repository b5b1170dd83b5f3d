"""Firming: turning MRP's planned orders into production orders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction

from config.exceptions import ValidationFailed
from planning.mrp.services import planned_orders_lock, planned_orders_mark_firmed
from production.enums import OrderType
from production.models import ProductionOrder
from production.services.orders import OrderDraft, production_orders_create_bulk


def _override(raw: dict[str, Any], pk: int) -> tuple[Decimal | None, dt.date | None, dt.date | None]:
    field = f"overrides.{pk}"
    qty = raw.get("quantity")
    if qty is not None:
        qty = Decimal(str(qty))
        if qty <= 0:
            raise ValidationFailed(f"{field}.quantity must be positive.", fields={f"{field}.quantity": "not > 0"})
    due, start = raw.get("due_date"), raw.get("start_date")
    try:
        due = dt.date.fromisoformat(str(due)) if due is not None and not isinstance(due, dt.date) else due
        start = dt.date.fromisoformat(str(start)) if start is not None and not isinstance(start, dt.date) else start
    except ValueError:
        raise ValidationFailed(f"{field}: dates must be YYYY-MM-DD.", fields={field: "invalid date"}) from None
    return qty, due, start


@transaction.atomic
def planned_orders_firm(
    *, planned_order_ids: Iterable[int], user, overrides: dict[int, dict[str, Any]] | None = None
) -> list[ProductionOrder]:
    """Create one MTS production order per planned order (all or nothing) and mark each
    planned order firmed with its production order. ``overrides`` lets the planner change
    ``quantity``, ``due_date`` or ``start_date`` of a planned order first. The next run does
    not touch firmed orders: they are open production orders, i.e. supply."""
    planned = planned_orders_lock(planned_order_ids=planned_order_ids)
    overrides = {int(k): v for k, v in (overrides or {}).items()}
    unknown = set(overrides) - {p.pk for p in planned}
    if unknown:
        raise ValidationFailed(
            "overrides name planned orders that are not being firmed.", fields={"overrides": sorted(unknown)}
        )
    drafts = []
    for p in planned:
        qty, due, start = _override(overrides.get(p.pk, {}), p.pk)
        if start is None:
            # A moved due date invalidates the planned start; production schedules it anew.
            start = p.start_date if due is None else None
        due = due or p.due_date
        if start is not None and start > due:
            raise ValidationFailed(
                f"Planned order {p.pk}: start_date is after due_date.", fields={f"overrides.{p.pk}": "start > due"}
            )
        drafts.append(
            OrderDraft(
                item_id=p.item_id, quantity=qty or p.quantity, due_date=due, start_date=start, order_type=OrderType.MTS
            )
        )
    orders = production_orders_create_bulk(drafts=drafts, user=user)
    planned_orders_mark_firmed(links={p.pk: o.pk for p, o in zip(planned, orders, strict=True)}, user=user)
    return orders
