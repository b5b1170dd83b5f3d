"""Shared pieces of the production services: transition guard, audit, numbering."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pghistory
from django.db import connection
from django.utils import timezone

from config.exceptions import PreconditionFailed, StateConflict
from planning.mrp.services import planning_mark_dirty
from production.enums import ORDER_TRANSITIONS, STRUCTURE_EDITABLE, OrderStatus
from production.models import OrderNumberSequence, OrderStatusChange, ProductionOrder


def ensure_transition(order: ProductionOrder, to_status: str) -> None:
    """The status guard; call it only after the order row is locked."""
    if to_status not in ORDER_TRANSITIONS[order.status]:
        raise StateConflict(
            f"Order {order.number} is {OrderStatus(order.status).label.lower()}; it cannot be "
            f"{OrderStatus(to_status).label.lower()}.",
            code="invalid_transition",
            fields={"status": order.status},
        )


def ensure_version(order: ProductionOrder, expected_version: int | None) -> None:
    """Optimistic concurrency: a command based on a stale version of the order is refused
    (412), so two planners never overwrite each other silently. Call it only after the order
    row is locked, before any other guard: a client with a stale view learns that first."""
    if expected_version is not None and order.version != expected_version:
        raise PreconditionFailed(
            f"Order {order.number} was changed by someone else (version {order.version}, you had "
            f"{expected_version}): look at the current order and apply your change again.",
            code="stale_version",
            fields={"version": "stale"},
        )


def ensure_structure_editable(order: ProductionOrder) -> None:
    if order.status in STRUCTURE_EDITABLE or (order.in_engineering and order.status == OrderStatus.PLANNED):
        return
    raise StateConflict(
        f"Order {order.number} is {OrderStatus(order.status).label.lower()}: quantity, item and structure "
        "can no longer change. To change it, close the order and plan a new one.",
        code="order_locked",
        fields={"status": order.status},
    )


def set_status(order: ProductionOrder, to_status: str, *, user, reason: str = "") -> None:
    """Move a locked order to a new status and record who, when, from, to and why."""
    ensure_transition(order, to_status)
    OrderStatusChange.objects.create(
        order=order, from_status=order.status, to_status=to_status, reason=reason, user=user
    )
    order.status = to_status
    order.version += 1
    order.save(update_fields=["status", "version", "updated_at"])
    mark_planning_dirty([order])


def mark_planning_dirty(orders) -> None:
    """An order's supply (its item) and demand (its components) changed: the next
    net-change planning run re-plans those items."""
    from production.models import OrderComponent

    ids = {o.item_id for o in orders}
    ids.update(OrderComponent.objects.filter(order__in=[o.pk for o in orders]).values_list("item_id", flat=True))
    planning_mark_dirty(item_ids=ids)


def order_numbers_next(count: int = 1) -> list[str]:
    """The next ``count`` gap-free numbers of the current year, as one block; must run inside
    the creating transaction (the sequence row stays locked until it commits)."""
    year = timezone.localdate().year
    OrderNumberSequence.objects.bulk_create([OrderNumberSequence(year=year)], ignore_conflicts=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {OrderNumberSequence._meta.db_table} SET last_number = last_number + %s "  # noqa: S608
            "WHERE year = %s RETURNING last_number",
            [count, year],
        )
        last = cursor.fetchone()[0]
    return [f"PO-{year}-{number:06d}" for number in range(last - count + 1, last + 1)]


@contextlib.contextmanager
def audit(user, action: str, reason: str = "") -> Iterator[None]:
    """Attach who/what/why to every field change the history triggers record."""
    with pghistory.context(user_id=user.pk, username=user.get_username(), action=action, reason=reason):
        yield
