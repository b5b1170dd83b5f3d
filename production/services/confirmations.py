"""Shop-floor confirmations, exactly-once backflush and goods receipt, reversal.

A confirmation is written with its outbox row in one transaction, under the order lock,
and decides there exactly what it will post (``PostingOutbox.payload``). The posting runs
in a Celery task, in its own transaction, keyed so that it can happen only once:
the confirmation row is locked and must still be ``pending``, and every stock posting
carries a unique ``posting_key``. A lost task is re-queued by the sweeper; a posting
refused for lack of stock is marked failed with the shortage list and retried when stock
arrives. Nothing is ever half-posted.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, partial
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from config.coalesce import delay_coalesced
from config.db import (
    all_or_nothing,
    column_count,
    execute_prepared,
    insert_parts,
    instance_from_row,
    prepared_instances,
    select_columns,
    service_atomic,
    update_parts,
)
from config.exceptions import Forbidden, NotFound, StateConflict, ValidationFailed
from config.fields import QTY_PLACES, ZERO
from config.locks import advisory_key
from config.roles import REVERSING_ROLES, Role, user_roles
from inventory.enums import MovementType
from inventory.models import Item, Lot, StockPosting, UnitOfMeasure
from inventory.services import (
    DocumentRef,
    PostingLine,
    PostingRequest,
    ReserveAgain,
    stock_post_groups,
    stock_posting_reverse,
)
from planning.models import WorkCenter
from production.enums import (
    DOCUMENT_TYPE,
    CostCategory,
    Flushing,
    OperationStatus,
    OrderStatus,
    OutboxStatus,
    PostingStatus,
)
from production.locks import order_components_qs_select_for_update, production_order_qs_select_for_update
from production.models import (
    OPERATION_CONFIRMED_TOTALS,
    Confirmation,
    OrderComponent,
    OrderCost,
    OrderOperation,
    OrderReceived,
    PostingOutbox,
    ProductionOrder,
)
from production.services.common import audit, set_status
from production.services.costs import planned_unit_costs

HUNDRED = Decimal(100)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfirmationInput:
    operation_id: int
    good_quantity: Decimal = ZERO
    scrap_quantity: Decimal = ZERO
    scrap_reason: str = ""
    rework_quantity: Decimal = ZERO
    setup_minutes: Decimal = ZERO
    labor_minutes: Decimal = ZERO
    machine_minutes: Decimal = ZERO
    final: bool = False
    output_lot_number: str = ""
    confirmed_at: dt.datetime | None = None


@dataclass(frozen=True)
class BackflushLine:
    component_id: int
    item_id: int
    sku: str
    location_id: int
    quantity_per_unit: Decimal
    required: Decimal
    issued: Decimal
    quantity: Decimal  # what this confirmation writes off (negative: a by-product received)


class ComponentRow(NamedTuple):
    """What a backflush needs of an order component (read as plain values on the hot path)."""

    pk: int
    item_id: int
    sku: str
    decimals: int
    flushing: str
    operation_sequence: int | None
    quantity_per_unit: Decimal
    required_quantity: Decimal
    issued_quantity: Decimal
    issue_location_id: int

    @classmethod
    def of(cls, c: OrderComponent) -> ComponentRow:
        return cls(
            c.pk,
            c.item_id,
            c.item.sku,
            c.item.uom.decimals,
            c.flushing,
            c.operation_sequence,
            c.quantity_per_unit,
            c.required_quantity,
            c.issued_quantity,
            c.issue_location_id,
        )


@cache
def _component_rows_sql() -> str:
    return (
        "SELECT c.id, c.item_id, i.sku, u.decimals, c.flushing, c.operation_sequence, c.quantity_per_unit, "  # noqa: S608
        "c.required_quantity, c.issued_quantity, c.issue_location_id "
        f"FROM {OrderComponent._meta.db_table} c JOIN {Item._meta.db_table} i ON i.id = c.item_id "
        f"JOIN {UnitOfMeasure._meta.db_table} u ON u.id = i.uom_id WHERE c.order_id = %s ORDER BY c.position"
    )


def component_rows(order_id: int) -> list[ComponentRow]:
    with connection.cursor() as cursor:
        execute_prepared(cursor, _component_rows_sql(), [order_id])
        return [ComponentRow(*row) for row in cursor.fetchall()]


_PLACES = tuple(Decimal(1).scaleb(-d) for d in range(QTY_PLACES + 1))


def _round(value: Decimal, decimals: int) -> Decimal:
    return Decimal(value).quantize(_PLACES[min(decimals, QTY_PLACES)], rounding=ROUND_HALF_UP)


def _consuming_sequences(operation: OrderOperation, operations: list[OrderOperation]) -> set[int] | None:
    """Which operations' backflush components a confirmation of ``operation`` writes off:
    a reporting point (or the last operation) flushes its own and those of the operations
    since the previous reporting point. None when it flushes nothing."""
    sequences = sorted(op.sequence for op in operations)
    last = sequences[-1]
    if not (operation.reporting_point or operation.sequence == last):
        return None
    previous = max(
        (op.sequence for op in operations if op.reporting_point and op.sequence < operation.sequence),
        default=None,
    )
    return {s for s in sequences if (previous is None or s > previous) and s <= operation.sequence}


def backflush_lines(
    *,
    order: ProductionOrder,
    operation: OrderOperation,
    operations: list[OrderOperation],
    components: list[ComponentRow],
    quantity_before: Decimal,
    quantity_after: Decimal,
) -> list[BackflushLine]:
    """Backflush of a confirmation that moves the operation's confirmed (good + scrap) from
    ``quantity_before`` to ``quantity_after``: per component quantity per unit × the
    difference, rounded on the cumulative figures so that rounding never drifts."""
    covered = _consuming_sequences(operation, operations)
    if covered is None:
        return []
    all_sequences = {op.sequence for op in operations}
    last = max(all_sequences)
    lines = []
    for c in components:
        if c.flushing != Flushing.BACKWARD:
            continue
        # Components with no (or an unknown) consuming operation go with the last one.
        sequence = c.operation_sequence if c.operation_sequence in all_sequences else last
        if sequence not in covered:
            continue
        decimals = c.decimals
        quantity = _round(c.quantity_per_unit * quantity_after, decimals) - _round(
            c.quantity_per_unit * quantity_before, decimals
        )
        if quantity == 0:
            continue
        lines.append(
            BackflushLine(
                component_id=c.pk,
                item_id=c.item_id,
                sku=c.sku,
                location_id=c.issue_location_id,
                quantity_per_unit=c.quantity_per_unit,
                required=c.required_quantity,
                issued=c.issued_quantity,
                quantity=quantity,
            )
        )
    return lines


def _validate(data: ConfirmationInput) -> None:
    fields = {}
    for name in (
        "good_quantity",
        "scrap_quantity",
        "rework_quantity",
        "setup_minutes",
        "labor_minutes",
        "machine_minutes",
    ):
        if Decimal(getattr(data, name)) < 0:
            fields[name] = "must not be negative"
    if fields:
        raise ValidationFailed(f"{', '.join(fields)} must not be negative.", code="invalid_quantity", fields=fields)
    reported = data.good_quantity + data.scrap_quantity + data.rework_quantity
    minutes = data.setup_minutes + data.labor_minutes + data.machine_minutes
    if reported == 0 and minutes == 0 and not data.final:
        raise ValidationFailed(
            "Nothing to confirm: report a quantity, times, or set final.",
            code="empty_confirmation",
            fields={"good_quantity": "report good, scrap or rework quantity"},
        )
    if data.scrap_quantity > 0 and not data.scrap_reason:
        raise ValidationFailed(
            "A scrap quantity needs a scrap reason.",
            code="scrap_reason_required",
            fields={"scrap_reason": "required"},
        )


def ensure_may_confirm(user, work_center_id: int) -> None:
    """Operators confirm at their own work centers only; planners, admins and machines
    (integration) anywhere."""
    roles = user_roles(user)
    if roles & {Role.PLANNER, Role.ADMIN, Role.INTEGRATION}:
        return
    if Role.OPERATOR in roles:
        operator = getattr(user, "operator", None)
        if operator is not None and operator.work_centers.filter(pk=work_center_id).exists():
            return
        raise Forbidden("You may confirm only at your own work centers.", code="not_your_work_center")
    raise Forbidden("Your role does not allow confirmations.")


@cache
def _lock_sql() -> str:
    order, operation = ProductionOrder._meta.db_table, OrderOperation._meta.db_table
    # One row per operation, the order's columns on each. Rows are locked in the sorted
    # order, the order row with the first of them: order first, then its operations by id,
    # as everything that changes operations locks them.
    # The unit the order's item is counted in comes along (unlocked): it bounds the decimals
    # of the quantities confirmed.
    return (
        f"SELECT {select_columns(ProductionOrder, 'o')}, {select_columns(OrderOperation, 'op')}, wc.code, "  # noqa: S608
        "u.code, u.decimals "
        f"FROM {order} o JOIN {operation} op ON op.order_id = o.id "
        f"JOIN {WorkCenter._meta.db_table} wc ON wc.id = op.work_center_id "
        f"JOIN {Item._meta.db_table} i ON i.id = o.item_id JOIN {UnitOfMeasure._meta.db_table} u ON u.id = i.uom_id "
        f"WHERE o.id = (SELECT order_id FROM {operation} WHERE id = %s) ORDER BY op.id FOR NO KEY UPDATE OF o, op"
    )


class _Unit(NamedTuple):
    """The unit of measure of an order's item, as the lock statement reads it."""

    code: str
    decimals: int


def _lock_order_of_operation(
    operation_id: int,
) -> tuple[ProductionOrder, OrderOperation, list[OrderOperation], _Unit]:
    """Lock the order of an operation and its operations (as
    ``production_order_qs_select_for_update`` and ``select_for_update(no_key=True)`` would),
    in one hand-written statement because this runs on every confirmation; with them the
    unit of the order's item."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, _lock_sql(), [operation_id])
        rows = cursor.fetchall()
    if not rows:
        raise NotFound(f"Operation {operation_id} does not exist.", fields={"operation": "unknown"})
    width = column_count(ProductionOrder)
    order = instance_from_row(ProductionOrder, rows[0][:width])
    operations = []
    for row in rows:
        op = instance_from_row(OrderOperation, row[width:-3])
        op.work_center = WorkCenter.from_db(DEFAULT_DB_ALIAS, ("id", "code"), (op.work_center_id, row[-3]))
        operations.append(op)
    operation = next(op for op in operations if op.pk == operation_id)
    operations.sort(key=lambda op: op.sequence)
    return order, operation, operations, _Unit(*rows[0][-2:])


_COUNTED_QUANTITIES = {"good_quantity": "good", "scrap_quantity": "scrap", "rework_quantity": "rework"}


def _ensure_whole_units(data: ConfirmationInput, order: ProductionOrder, unit: _Unit) -> None:
    """Quantities are counted in the order item's unit: no more decimals than it allows (a
    receipt of 0.1 pcs could never be posted, and backflush would round a fraction)."""
    place = _PLACES[min(unit.decimals, QTY_PLACES)]
    got = {}
    for name, label in _COUNTED_QUANTITIES.items():
        value = Decimal(getattr(data, name))
        if value != value.quantize(place):
            got[name] = f"{label} {value.normalize():f}"
    if got:
        raise ValidationFailed(
            f"The item of {order.number} is counted in {unit.code}, which allows {unit.decimals} decimals; got "
            f"{' and '.join(got.values())}.",
            code="too_many_decimals",
            fields={name: f"at most {unit.decimals} decimals ({unit.code})" for name in got},
        )


def _preceding_reporting_point(operation: OrderOperation, operations: list[OrderOperation]) -> OrderOperation | None:
    """The nearest earlier reporting point: the operation whose confirmations backflush the
    components before this operation's share (``operations`` sorted by sequence)."""
    earlier = [op for op in operations if op.sequence < operation.sequence and op.reporting_point]
    return earlier[-1] if earlier else None


def _ensure_within_preceding_yield(
    order: ProductionOrder, operation: OrderOperation, operations: list[OrderOperation], after: Decimal
) -> None:
    """A backflushing operation (a reporting point or the last) reports no more pieces (good
    and scrap) than the reporting point before it has confirmed good: the pieces pass through
    it first, and its confirmation is what writes off the material of the operations up to
    it. Without this, confirming only the last operation would receive finished goods whose
    earlier material was never consumed (nor traced in the lot genealogy)."""
    if not (operation.reporting_point or operation is operations[-1]):
        return
    preceding = _preceding_reporting_point(operation, operations)
    if preceding is None or after <= preceding.confirmed_good:
        return
    room = _fmt_quantity(max(preceding.confirmed_good - operation.confirmed_good - operation.confirmed_scrap, ZERO))
    confirmed = _fmt_quantity(preceding.confirmed_good)
    raise StateConflict(
        f"Operation {operation.sequence} of {order.number} would report {_fmt_quantity(after)} "
        f"{'piece' if after == 1 else 'pieces'}, but the "
        f"reporting point before it, operation {preceding.sequence}, has confirmed {confirmed} good; confirm "
        f"operation {preceding.sequence} first (its confirmation writes off the material up to it).",
        code="exceeds_preceding_operation",
        fields={"good_quantity": f"at most {room} (good + scrap) until operation {preceding.sequence} confirms more"},
    )


_OPERATION_CONFIRMED_FIELDS = (*OPERATION_CONFIRMED_TOTALS, "actual_start", "actual_end", "status")


@service_atomic
def confirmation_create(*, data: ConfirmationInput, user, operator=None) -> Confirmation:
    """Record work on one operation; queue its backflush and goods receipt (exactly once)."""
    _validate(data)
    order, operation, operations, unit = _lock_order_of_operation(data.operation_id)
    ensure_may_confirm(user, operation.work_center_id)
    _ensure_whole_units(data, order, unit)
    if order.status not in (OrderStatus.RELEASED, OrderStatus.IN_PROGRESS):
        hint = " Reverse a confirmation first to reopen it." if order.status == OrderStatus.COMPLETED else ""
        raise StateConflict(
            f"Order {order.number} is {OrderStatus(order.status).label.lower()}; it takes no confirmations.{hint}",
            code="order_not_open_for_confirmations",
            fields={"status": order.status},
        )
    if operation.status == OperationStatus.CONFIRMED:
        raise StateConflict(
            f"Operation {operation.sequence} of {order.number} is finally confirmed; reverse that "
            "confirmation to report more.",
            code="operation_finally_confirmed",
        )
    if order.is_campaign and data.final:
        # A campaign has no final quantity: it runs until the planner closes it.
        raise ValidationFailed(
            f"{order.number} is a campaign: it is not finished by a final confirmation but closed when the "
            "campaign ends.",
            code="campaign_no_final",
            fields={"final": "not allowed on a campaign order"},
        )
    before = operation.confirmed_good + operation.confirmed_scrap
    after = before + data.good_quantity + data.scrap_quantity
    _ensure_within_preceding_yield(order, operation, operations, after)
    tolerance = Decimal(settings.CONFIRMATION_TOLERANCE_PERCENT)
    limit = order.quantity * (1 + tolerance / HUNDRED)
    # A campaign's quantity is a target for its period, not a limit.
    if after > limit and not order.is_campaign:
        room = max(limit - before - data.scrap_quantity, ZERO)
        more = f"at most {_fmt_quantity(room)} more" if room else "nothing more: it has its full quantity"
        raise StateConflict(
            f"Operation {operation.sequence} of {order.number} would be confirmed for {_fmt_quantity(after)} of "
            f"{_fmt_quantity(order.quantity)} (tolerance {_fmt_quantity(tolerance)} %, at most "
            f"{_fmt_quantity(limit)}); good quantity: {more}.",
            code="over_confirmation",
            fields={"good_quantity": more},
        )
    now = timezone.now()
    confirmed_at = data.confirmed_at or now
    is_last = operation.sequence == operations[-1].sequence
    lines = backflush_lines(
        order=order,
        operation=operation,
        operations=operations,
        components=component_rows(order.pk),
        quantity_before=before,
        quantity_after=after,
    )
    receipt = data.good_quantity if is_last else ZERO
    needs_posting = bool(lines) or receipt > 0

    with audit(user, "confirm"):
        confirmation = Confirmation(
            order=order,
            operation=operation,
            work_center=operation.work_center,
            good_quantity=data.good_quantity,
            scrap_quantity=data.scrap_quantity,
            scrap_reason=data.scrap_reason,
            rework_quantity=data.rework_quantity,
            setup_minutes=data.setup_minutes,
            labor_minutes=data.labor_minutes,
            machine_minutes=data.machine_minutes,
            final=data.final,
            output_lot_number=data.output_lot_number,
            operator=operator or user,
            created_by=user,
            confirmed_at=confirmed_at,
            posting_status=PostingStatus.PENDING if needs_posting else PostingStatus.NONE,
        )
        operation.confirmed_good += data.good_quantity
        operation.confirmed_scrap += data.scrap_quantity
        operation.confirmed_rework += data.rework_quantity
        operation.actual_setup_minutes += data.setup_minutes
        operation.actual_labor_minutes += data.labor_minutes
        operation.actual_machine_minutes += data.machine_minutes
        operation.actual_start = operation.actual_start or confirmed_at
        operation.status = OperationStatus.CONFIRMED if data.final else OperationStatus.STARTED
        if data.final:
            operation.actual_end = confirmed_at
        outbox = None
        if needs_posting:
            outbox = PostingOutbox(
                payload={
                    "backflush": [
                        {
                            "component_id": ln.component_id,
                            "item_id": ln.item_id,
                            "location_id": ln.location_id,
                            "quantity": str(ln.quantity),
                        }
                        for ln in lines
                    ],
                    "receipt": str(receipt),
                },
            )
        _write_confirmation(confirmation, operation, outbox)

        if order.status == OrderStatus.RELEASED:
            order.actual_start = order.actual_start or confirmed_at
            order.save(update_fields=["actual_start"])
            set_status(order, OrderStatus.IN_PROGRESS, user=user, reason="first confirmation")
        if is_last and data.scrap_quantity:
            order.scrap_quantity += data.scrap_quantity
            order.save(update_fields=["scrap_quantity"])
        if is_last and data.final:
            order.actual_end = confirmed_at
            order.save(update_fields=["actual_end"])
            set_status(order, OrderStatus.COMPLETED, user=user, reason="final confirmation of the last operation")
        if needs_posting:
            _queue_posting(confirmation.pk)
    return confirmation


def _write_confirmation(confirmation: Confirmation, operation: OrderOperation, outbox: PostingOutbox | None) -> None:
    """Insert the confirmation, add it to its operation and write its outbox row in one
    statement (data-modifying CTEs): one round trip on the shop floor's hottest write."""
    columns, params = insert_parts(confirmation)
    assignments, op_params = update_parts(operation, _OPERATION_CONFIRMED_FIELDS)
    sql = (
        f"WITH op AS (UPDATE {OrderOperation._meta.db_table} SET {assignments} WHERE id = %s), "  # noqa: S608
        f"c AS (INSERT INTO {Confirmation._meta.db_table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id)"
    )
    params = [*op_params, operation.pk, *params]
    if outbox is not None:
        ob_columns, ob_params = insert_parts(outbox, exclude=["confirmation_id"])
        sql += (
            f", ob AS (INSERT INTO {PostingOutbox._meta.db_table} (confirmation_id, {', '.join(ob_columns)}) "  # noqa: S608
            f"SELECT c.id, {', '.join(['%s'] * len(ob_columns))} FROM c)"
        )
        params += ob_params
    with connection.cursor() as cursor:
        cursor.execute(sql + " SELECT id FROM c", params)  # noqa: S608 - identifiers from the models only
        confirmation.pk = cursor.fetchone()[0]
    confirmation._state.adding = False
    confirmation._state.db = DEFAULT_DB_ALIAS
    if outbox is not None:
        outbox.confirmation = confirmation
        outbox._state.adding = False


def _queue_posting(confirmation_id: int) -> None:
    """After commit, make sure a posting run is queued: one queued run posts every
    confirmation pending when it starts, so a burst of confirmations queues one task."""
    from production.tasks import confirmation_post_task

    transaction.on_commit(partial(delay_coalesced, confirmation_post_task, confirmation_id))


def confirmation_post(*, confirmation_id: int) -> str:
    """Post what a confirmation owes the ledger, together with whatever else is pending
    (group commit). Safe to call any number of times: only a call that finds it pending
    posts it. Returns the confirmation's resulting posting status."""
    handled = confirmations_post_pending(first_id=confirmation_id)
    status = handled.get(confirmation_id)
    # Drain until nothing is pending, a batch per transaction.
    while handled:
        handled = confirmations_post_pending()
    if status is None:
        status = Confirmation.objects.filter(pk=confirmation_id).values_list("posting_status", flat=True).first()
    if status is None:
        raise NotFound(f"Confirmation {confirmation_id} does not exist.")
    return status


class _Pending(NamedTuple):
    """What the posting worker needs of a pending confirmation (and its outbox row)."""

    pk: int
    order_id: int
    created_by_id: int
    output_lot_number: str
    payload: dict


@cache
def _posting_sql() -> dict[str, str]:
    """The posting worker's statements, hand-written and prepared: it runs them for every
    batch, and the ORM spent about a millisecond compiling each."""
    confirmation, outbox = Confirmation._meta.db_table, PostingOutbox._meta.db_table
    order, item = ProductionOrder._meta.db_table, Item._meta.db_table
    component, received = OrderComponent._meta.db_table, OrderReceived._meta.db_table
    return {
        # The oldest pending outbox rows (``first`` among them), their confirmations locked.
        "pending": (
            f"SELECT c.id, c.order_id, c.created_by_id, c.output_lot_number, ob.payload::text "  # noqa: S608
            f"FROM {confirmation} c JOIN {outbox} ob ON ob.confirmation_id = c.id "
            f"WHERE c.id IN (SELECT confirmation_id FROM {outbox} WHERE status = %s "
            "ORDER BY confirmation_id = %s DESC, id LIMIT %s) "
            "AND c.posting_status = %s AND ob.status = %s ORDER BY c.id FOR UPDATE OF c"
        ),
        # Orders with their items and planned costs (as ``planned_unit_costs`` reads them).
        "orders": (
            f"SELECT {select_columns(ProductionOrder, 'o')}, {select_columns(Item, 'i')}, "  # noqa: S608
            f"(SELECT SUM(planned) FROM {OrderCost._meta.db_table} WHERE order_id = o.id AND category <> %s) "
            f"FROM {order} o JOIN {item} i ON i.id = o.item_id WHERE o.id = ANY(%s)"
        ),
        "components": (
            f"SELECT {select_columns(OrderComponent, 'c')} FROM {component} c WHERE c.id = ANY(%s) "  # noqa: S608
            "ORDER BY c.id FOR NO KEY UPDATE OF c"
        ),
        # Everything a posted batch changes outside the ledger, in one statement: issued per
        # component, received per order (rows in order id order), confirmations (with the
        # lot their receipt went into) and outbox rows marked posted. Each part writes other
        # rows, all locked earlier but the received totals, which come last in the lock
        # order anyway.
        "posted": (
            f"WITH comp AS (UPDATE {component} c SET issued_quantity = v.q "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, q) WHERE c.id = v.id), "
            f"rec AS (INSERT INTO {received} (order_id, quantity) "
            "SELECT v.id, v.q FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, q) ORDER BY v.id "
            f"ON CONFLICT (order_id) DO UPDATE SET quantity = {received}.quantity + EXCLUDED.quantity), "
            f"conf AS (UPDATE {confirmation} c SET posting_status = %s, posted_at = %s, posting_error = NULL, "
            "output_lot_number = v.lot FROM unnest(%s::bigint[], %s::varchar[]) AS v(id, lot) WHERE c.id = v.id) "
            f"UPDATE {outbox} SET status = %s, attempts = attempts + 1, processed_at = %s, "
            "last_error = '' WHERE confirmation_id = ANY(%s)"
        ),
    }


@transaction.atomic
def confirmations_post_pending(*, first_id: int | None = None, limit: int | None = None) -> dict[int, str]:
    """Post pending confirmations in one transaction (``first_id`` among them if it is still
    pending): the shop floor's burst of confirmations costs one lock round and a few
    statements instead of a few dozen statements each. Locks confirmations, components,
    then stock (inside ``stock_post_many``), then received totals; never the orders. A confirmation the
    ledger refuses (usually a shortage) is marked failed with the reason and the others are
    posted without it; nothing is half-posted. Returns {confirmation id: status} of those it
    handled."""
    limit = limit or settings.CONFIRMATION_POSTING_BATCH
    # One posting run at a time: every batch needs the same hot stock rows, so two runs would
    # only queue on them. A run that waits keeps trying until it has the lock and then finds
    # what the other left, so no wake-up is lost. It polls rather than blocking in
    # pg_advisory_xact_lock: a statement blocked there holds its snapshot, and a snapshot
    # held for the length of another run's batches keeps Postgres from pruning the dead
    # versions of the hot balance rows every batch rewrites, which slows each batch down.
    # Asynchronous commit for this transaction only (set by the same statement): it need not
    # wait for its WAL flush. A crash may forget the last few milliseconds of postings, but
    # only whole transactions (ledger rows together with the confirmations' "posted" and the
    # outbox's "done"), and the outbox rows they came from were committed durably with the
    # confirmations, so the sweeper posts them again: nothing is lost, nothing is doubled.
    key = advisory_key("production:confirmation-posting")
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('synchronous_commit', 'off', true), pg_try_advisory_xact_lock(%s)", [key])
            if cursor.fetchone()[1]:
                break
        time.sleep(0.005)
    started = time.monotonic()
    cpu0 = time.process_time()
    sql = _posting_sql()
    # No order locks: the shop floor holds them all the time. Confirmations, components and
    # stock rows are what a posting changes, locked in that order (as a reversal does);
    # the received totals come last, with one upsert.
    with connection.cursor() as cursor:
        pending = PostingStatus.PENDING
        execute_prepared(cursor, sql["pending"], [OutboxStatus.PENDING, first_id or 0, limit, pending, pending])
        confirmations = [_Pending(*row[:4], json.loads(row[4])) for row in cursor.fetchall()]
    if not confirmations:
        return {}
    orders, planned = {}, {}
    order_ids = sorted({c.order_id for c in confirmations})
    for order in prepared_instances(ProductionOrder, sql["orders"], [CostCategory.OUTPUT, order_ids]):
        order.item = instance_from_row(Item, order._extra[:-1])
        orders[order.pk] = order
        planned[order.pk] = order._extra[-1]
    component_ids = sorted({ln["component_id"] for c in confirmations for ln in c.payload["backflush"]})
    components = {c.pk: c for c in prepared_instances(OrderComponent, sql["components"], [component_ids])}
    # The ledger only needs who: a reference by id, no user rows to read.
    user_model = get_user_model()
    users = {c.created_by_id: user_model(pk=c.created_by_id) for c in confirmations}
    unit_costs = planned_unit_costs(
        [orders[c.order_id] for c in confirmations if Decimal(c.payload["receipt"])], totals=planned
    )
    output_lots = _output_lots(confirmations, orders, components)

    requests, owners, lots_used = _posting_requests(confirmations, orders, components, users, unit_costs, output_lots)
    # A confirmation the ledger refuses fails alone; the others are posted without it.
    with all_or_nothing():
        failed = stock_post_groups(postings=requests, groups=owners)[1] if requests else {}

    posted = [c for c in confirmations if c.pk not in failed]
    now = timezone.now()
    _book_posted(posted, components, now, lots_used)
    by_id = {c.pk: c for c in confirmations}
    for confirmation_id, error in failed.items():
        Confirmation.objects.filter(pk=confirmation_id).update(
            posting_status=PostingStatus.FAILED, posting_error=_posting_error(error, by_id[confirmation_id], components)
        )
    if failed:
        PostingOutbox.objects.filter(confirmation_id__in=failed).update(
            status=OutboxStatus.FAILED, attempts=F("attempts") + 1, processed_at=now
        )
        for confirmation_id, error in failed.items():
            PostingOutbox.objects.filter(confirmation_id=confirmation_id).update(last_error=error.message)
    logger.info(
        "posted %d confirmations (%d failed) in %.0f ms cpu %.0f",
        len(posted),
        len(failed),
        (time.monotonic() - started) * 1000,
        (time.process_time() - cpu0) * 1000,
    )
    return {c.pk: (PostingStatus.FAILED if c.pk in failed else PostingStatus.POSTED) for c in confirmations}


def _output_lots(confirmations, orders, components) -> dict[tuple[int, str], int]:
    """Lots the receipts of lot-tracked output (and by-products) go into: the confirmation's
    output lot number or the order number, created if new (one insert, one read)."""
    wanted: set[tuple[int, str]] = set()
    for c in confirmations:
        order = orders[c.order_id]
        number = c.output_lot_number or order.number
        if Decimal(c.payload["receipt"]) > 0 and order.item.lot_tracked:
            wanted.add((order.item_id, number))
        for ln in c.payload["backflush"]:
            if Decimal(ln["quantity"]) < 0:
                wanted.add((ln["item_id"], number))
    if not wanted:
        return {}
    tracked = set(Item.objects.filter(pk__in={i for i, _ in wanted}, lot_tracked=True).values_list("pk", flat=True))
    wanted = {w for w in wanted if w[0] in tracked}
    if not wanted:
        return {}
    Lot.objects.bulk_create([Lot(item_id=i, lot_number=n) for i, n in sorted(wanted)], ignore_conflicts=True)
    q = Q(pk__in=[])
    for item_id, number in wanted:
        q |= Q(item_id=item_id, lot_number=number)
    return {(lot.item_id, lot.lot_number): lot.pk for lot in Lot.objects.filter(q)}


def _posting_error(error, confirmation, components) -> dict:
    """What a refused posting records: the ledger's refusal and, for a shortage, every
    component that is short (the ledger stops at the first), so the planner sees all that
    must arrive before the posting can go through. Message, fields and list give the same
    figures: what the posting needs and what it may take, as the ledger counts it."""
    recorded = error.as_dict()
    if error.code == "insufficient_stock":
        shortages = _shortages(confirmation.payload, components)
        if not shortages:
            return {**recorded, "shortages": [{k: v[0] for k, v in error.fields.items()}]}
        recorded["shortages"] = shortages
        if len(shortages) == 1:
            [s] = shortages
            recorded["message"] = (
                f"Insufficient stock of {s['item']} at {s['location']}: needed {s['needed']}, available "
                f"{s['available']} (short {s['short']})."
            )
        else:
            recorded["message"] = (
                "Insufficient stock: "
                + "; ".join(
                    f"{s['item']} at {s['location']} needed {s['needed']}, available {s['available']} "
                    f"(short {s['short']})"
                    for s in shortages
                )
                + "."
            )
        ledger = (error.fields.get("item"), error.fields.get("location"))
        first = next((s for s in shortages if ([s["item"]], [s["location"]]) == ledger), shortages[0])
        recorded["fields"] = {key: [first[key]] for key in ("item", "location", "needed", "available", "short")}
    return recorded


def _backflush_needs(payload: dict, components: dict) -> tuple[dict[tuple[int, int], Decimal], set[int]]:
    """What a posting's backflush takes per (item, location), and the reservations it
    consumes (its components')."""
    needed: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    reservations = set()
    for line in payload["backflush"]:
        quantity = Decimal(line["quantity"])
        if quantity <= 0:
            continue
        needed[(line["item_id"], line["location_id"])] += quantity
        reservation_id = components[line["component_id"]].reservation_id
        if reservation_id:
            reservations.add(reservation_id)
    return needed, reservations


def _shortages(payload: dict, components: dict) -> list[dict]:
    """Per item and location, what this posting's backflush needs against what it may take,
    as the ledger counts it: its own reservations as far as stock backs them (oldest claim
    first) and what no reservation claims (``stock_available_to``). Read after the batch's
    postings were written, in the batch's transaction; only for a refused posting."""
    from inventory.models import Location
    from inventory.selectors import stock_available_to

    needed, reservations = _backflush_needs(payload, components)
    if not needed:
        return []
    available_to = stock_available_to(pairs=needed, reservation_ids=reservations)
    locations = Location.objects.in_bulk({loc for _, loc in needed})
    skus = dict(Item.objects.filter(pk__in={i for i, _ in needed}).values_list("pk", "sku"))
    shortages = []
    for (item_id, location_id), quantity in sorted(needed.items(), key=lambda kv: (skus[kv[0][0]], kv[0][1])):
        location = locations[location_id]
        available = available_to[(item_id, location_id)]
        if available < quantity and not location.allow_negative:
            shortages.append(
                {
                    "item": skus[item_id],
                    "location": location.code,
                    "needed": _fmt_quantity(quantity),
                    "available": _fmt_quantity(available),
                    "short": _fmt_quantity(quantity - available),
                }
            )
    return shortages


def _fmt_quantity(value: Decimal) -> str:
    """3, not 3.0000, as the ledger's own messages write it."""
    return f"{value.normalize():f}"


def _posting_requests(confirmations, orders, components, users, unit_costs, output_lots):
    """The backflush and receipt postings of each confirmation, keyed so that each can be
    made only once, which confirmation each request belongs to, and the lot number each
    confirmation's receipt goes into (of those that receive into a lot)."""
    requests: list[PostingRequest] = []
    owners: list[int] = []
    lots_used: dict[int, str] = {}
    for c in confirmations:
        order = orders[c.order_id]
        payload = c.payload
        user = users.get(c.created_by_id)
        reference = DocumentRef(
            document_type=DOCUMENT_TYPE, document_id=order.pk, document_number=order.number, document_line_id=c.pk
        )
        lot_number = c.output_lot_number or order.number
        consumption: list[PostingLine] = []
        by_products: list[PostingLine] = []
        for line in payload["backflush"]:
            component = components[line["component_id"]]
            quantity = Decimal(line["quantity"])
            if quantity > 0:
                consumption.append(
                    PostingLine(
                        item_id=component.item_id,
                        location_id=line["location_id"],
                        quantity=-quantity,
                        reservation_id=component.reservation_id,
                        document_line_id=component.pk,
                        pick_lots=True,
                    )
                )
            else:
                by_products.append(
                    PostingLine(
                        item_id=component.item_id,
                        location_id=order.receipt_location_id,
                        quantity=-quantity,
                        lot_id=output_lots.get((component.item_id, lot_number)),
                        document_line_id=component.pk,
                    )
                )
        receipt = Decimal(payload["receipt"])
        if receipt > 0:
            by_products.insert(
                0,
                PostingLine(
                    item_id=order.item_id,
                    location_id=order.receipt_location_id,
                    quantity=receipt,
                    lot_id=output_lots.get((order.item_id, lot_number)),
                    unit_cost=unit_costs[order.pk],
                ),
            )
        if any(line.lot_id for line in by_products):
            lots_used[c.pk] = lot_number
        key = f"{DOCUMENT_TYPE}:confirmation:{c.pk}"
        for movement_type, lines, suffix in (
            (MovementType.BACKFLUSH, consumption, "backflush"),
            (MovementType.PRODUCTION_RECEIPT, by_products, "receipt"),
        ):
            if lines:
                requests.append(
                    PostingRequest(
                        movement_type=movement_type,
                        lines=lines,
                        reference=reference,
                        user=user,
                        posting_key=f"{key}:{suffix}",
                    )
                )
                owners.append(c.pk)
    return requests, owners, lots_used


def received_add(quantities: dict[int, Decimal]) -> None:
    """Add to orders' received totals, rows in order id order: one upsert for receipts (a
    CHECK is evaluated on the row proposed for insert, so reductions — reversals — are a
    plain UPDATE of rows that exist)."""
    table = OrderReceived._meta.db_table
    statements = (
        (
            lambda q: q > 0,
            f"INSERT INTO {table} (order_id, quantity) VALUES {{rows}} "  # noqa: S608
            f"ON CONFLICT (order_id) DO UPDATE SET quantity = {table}.quantity + EXCLUDED.quantity",
        ),
        (
            lambda q: q < 0,
            f"UPDATE {table} t SET quantity = t.quantity + v.q FROM (VALUES {{rows}}) v(id, q) "  # noqa: S608
            "WHERE t.order_id = v.id",
        ),
    )
    with connection.cursor() as cursor:
        for wanted, sql in statements:
            rows = [(pk, q) for pk, q in sorted(quantities.items()) if wanted(q)]
            if rows:
                values = ", ".join(["(%s::bigint, %s::numeric)"] * len(rows))
                cursor.execute(sql.format(rows=values), [v for row in rows for v in row])


def _book_posted(posted: list[_Pending], components, now, lots_used: dict[int, str]) -> None:
    """What the posted confirmations change on their orders: issued per component, received
    per order, and the confirmations and outbox rows marked posted, each confirmation with
    the lot number its receipt went into (``lots_used``; a generated one is the order
    number). One statement."""
    if not posted:
        return
    changed_components = set()
    received: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for c in posted:
        for line in c.payload["backflush"]:
            components[line["component_id"]].issued_quantity += Decimal(line["quantity"])
            changed_components.add(line["component_id"])
        receipt = Decimal(c.payload["receipt"])
        if receipt > 0:
            received[c.order_id] += receipt
    component_ids = sorted(changed_components)
    order_ids = sorted(received)
    ids = [c.pk for c in posted]
    params = [
        component_ids,
        [components[pk].issued_quantity for pk in component_ids],
        order_ids,
        [received[pk] for pk in order_ids],
        PostingStatus.POSTED,
        now,
        ids,
        [lots_used.get(c.pk, c.output_lot_number) for c in posted],
        OutboxStatus.DONE,
        now,
        ids,
    ]
    with connection.cursor() as cursor:
        execute_prepared(cursor, _posting_sql()["posted"], params)


@transaction.atomic
def confirmation_posting_retry(*, confirmation_id: int, user=None) -> Confirmation:
    """Put a failed posting back in the queue (a planner's retry, or the sweeper once the
    missing stock has arrived)."""
    confirmation = Confirmation.objects.select_for_update(of=("self",)).filter(pk=confirmation_id).first()
    if confirmation is None:
        raise NotFound(f"Confirmation {confirmation_id} does not exist.")
    if confirmation.posting_status != PostingStatus.FAILED:
        raise StateConflict(
            f"Confirmation {confirmation_id} is {PostingStatus(confirmation.posting_status).label.lower()}, "
            "not failed.",
            code="not_failed",
        )
    Confirmation.objects.filter(pk=confirmation_id).update(posting_status=PostingStatus.PENDING)
    PostingOutbox.objects.filter(confirmation_id=confirmation_id).update(
        status=OutboxStatus.PENDING, queued_at=timezone.now()
    )
    _queue_posting(confirmation_id)
    confirmation.refresh_from_db()
    return confirmation


def confirmation_posting_retry_now(*, confirmation_id: int, user=None) -> Confirmation:
    """A planner's retry on the posting-errors page: queue the posting again and post it at
    once, so the page can say whether it went through. Whoever comes first, this or the
    worker, posts it, and only once. Not in a caller's transaction: the retry must commit
    before the posting run can see it pending."""
    confirmation_posting_retry(confirmation_id=confirmation_id, user=user)
    confirmations_post_pending(first_id=confirmation_id, limit=1)
    return Confirmation.objects.get(pk=confirmation_id)


def posting_outbox_sweep(*, older_than_seconds: int | None = None, batch: int = 500) -> dict[str, int]:
    """Re-queue postings whose task was lost (pending too long), and failed postings whose
    missing stock has arrived. Returns what it did."""
    from production.tasks import confirmation_post_task

    seconds = settings.POSTING_OUTBOX_REQUEUE_SECONDS if older_than_seconds is None else older_than_seconds
    now = timezone.now()
    stale = list(
        PostingOutbox.objects.filter(status=OutboxStatus.PENDING, queued_at__lte=now - dt.timedelta(seconds=seconds))
        .order_by("queued_at")
        .values_list("confirmation_id", flat=True)[:batch]
    )
    if stale:
        PostingOutbox.objects.filter(confirmation_id__in=stale).update(queued_at=now)
        for confirmation_id in stale:
            confirmation_post_task.delay(confirmation_id)
    ready = _failed_now_coverable(batch)
    for confirmation_id in ready:
        confirmation_posting_retry(confirmation_id=confirmation_id)
    return {"requeued": len(stale), "retried": len(ready)}


def _failed_now_coverable(batch: int) -> list[int]:
    """Failed postings (oldest first) whose shortage has cleared: each backflush needs no
    more than it may take, as the ledger counts it (its own reservations as far as stock
    backs them, and what no reservation claims), the ones before it having taken theirs."""
    from inventory.models import Location
    from inventory.selectors import stock_cover

    # Only shortages clear by themselves; another refusal waits for a planner's retry.
    failed = list(
        PostingOutbox.objects.filter(
            status=OutboxStatus.FAILED, confirmation__posting_error__code="insufficient_stock"
        ).order_by("processed_at")[:batch]
    )
    if not failed:
        return []
    component_ids = {line["component_id"] for outbox in failed for line in outbox.payload.get("backflush", [])}
    components = OrderComponent.objects.only("reservation_id").in_bulk(component_ids)
    needs = [_backflush_needs({"backflush": outbox.payload.get("backflush", [])}, components) for outbox in failed]
    pairs = {pair for needed, _ in needs for pair in needed}
    cover = stock_cover(pairs=pairs)
    free = dict(cover.free)
    backed = {r.reservation_id: (r.item_id, r.location_id, r.on_hand) for r in cover.reservations}
    negative = set(
        Location.objects.filter(pk__in={loc for _, loc in pairs}, allow_negative=True).values_list("pk", flat=True)
    )
    ready = []
    for outbox, (needed, reservations) in zip(failed, needs, strict=True):
        own: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
        for pk in reservations:
            if pk in backed:
                own[backed[pk][:2]] += backed[pk][2]
        if any(quantity > own[pair] + free[pair] for pair, quantity in needed.items() if pair[1] not in negative):
            continue
        ready.append(outbox.confirmation_id)
        # It takes its own backed stock first, then free stock.
        for pair, quantity in needed.items():
            free[pair] -= max(quantity - own[pair], ZERO)
            left = quantity
            for pk in sorted(reservations):
                item_id, location_id, on_hand = backed.get(pk, (None, None, ZERO))
                if (item_id, location_id) == pair:
                    take = min(on_hand, left)
                    backed[pk] = (item_id, location_id, on_hand - take)
                    left -= take
    return ready


@transaction.atomic
def confirmation_reverse(*, confirmation_id: int, user, reason: str) -> Confirmation:
    """Undo a confirmation: opposite counts and times on the operation, opposite movements
    for everything it posted, and the order reopened if it was completed. A reversal of a
    reversal, or a second reversal, is refused; the reason is required."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            "A reversal needs a reason.", code="reason_required", fields={"reason": "required for a reversal"}
        )
    order_id = Confirmation.objects.filter(pk=confirmation_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"Confirmation {confirmation_id} does not exist.")
    order = production_order_qs_select_for_update().get(pk=order_id)
    original = Confirmation.objects.select_for_update(of=("self",)).get(pk=confirmation_id)
    if not user_roles(user) & REVERSING_ROLES:
        raise Forbidden("Your role does not allow reversing confirmations.", code="not_allowed_to_reverse")
    if original.is_reversal:
        raise StateConflict("A reversal cannot be reversed; confirm again instead.", code="reversal_of_reversal")
    if Confirmation.objects.filter(reversal_of=original).exists():
        raise StateConflict(f"Confirmation {original.pk} is already reversed.", code="already_reversed")
    if original.posting_status == PostingStatus.PENDING:
        raise StateConflict(
            f"Confirmation {original.pk} is still being posted; reverse it in a moment.",
            code="posting_pending",
        )
    if order.status in (OrderStatus.CLOSED, OrderStatus.CANCELLED):
        raise StateConflict(
            f"Order {order.number} is {OrderStatus(order.status).label.lower()}; nothing can be reversed.",
            code="order_closed",
        )
    operation = OrderOperation.objects.select_for_update(of=("self",)).get(pk=original.operation_id)
    now = timezone.now()
    # What the original posted, the reversal posts back in this transaction: posted at once.
    posts = original.posting_status == PostingStatus.POSTED
    with audit(user, "confirmation_reverse", reason):
        reversal = Confirmation.objects.create(
            order=order,
            operation=operation,
            work_center_id=original.work_center_id,
            good_quantity=-original.good_quantity,
            scrap_quantity=-original.scrap_quantity,
            scrap_reason=original.scrap_reason,
            rework_quantity=-original.rework_quantity,
            setup_minutes=-original.setup_minutes,
            labor_minutes=-original.labor_minutes,
            machine_minutes=-original.machine_minutes,
            final=False,
            operator=user,
            created_by=user,
            confirmed_at=now,
            reversal_of=original,
            reason=reason,
            posting_status=PostingStatus.POSTED if posts else PostingStatus.NONE,
            posted_at=now if posts else None,
        )
        operation.confirmed_good -= original.good_quantity
        operation.confirmed_scrap -= original.scrap_quantity
        operation.confirmed_rework -= original.rework_quantity
        operation.actual_setup_minutes -= original.setup_minutes
        operation.actual_labor_minutes -= original.labor_minutes
        operation.actual_machine_minutes -= original.machine_minutes
        if original.final or operation.status == OperationStatus.CONFIRMED:
            operation.actual_end = None
        has_quantities = operation.confirmed_good + operation.confirmed_scrap + operation.confirmed_rework > 0
        operation.status = OperationStatus.STARTED if has_quantities else OperationStatus.RELEASED
        operation.save()

        is_last = not order.operations.filter(sequence__gt=operation.sequence).exists()
        reopens = order.status == OrderStatus.COMPLETED and is_last and bool(original.final or original.good_quantity)
        if posts:
            # An order that stays open consumes its components again: what comes back is
            # reserved for it again. A completed one takes no more confirmations.
            reserve = order.status in (OrderStatus.RELEASED, OrderStatus.IN_PROGRESS) or reopens
            _reverse_postings(order, original, reversal, user, reason, reserve=reserve)
        elif original.posting_status == PostingStatus.FAILED:
            # Nothing reached the ledger: the failed posting simply leaves the error queue.
            Confirmation.objects.filter(pk=original.pk).update(posting_status=PostingStatus.NONE)
            PostingOutbox.objects.filter(confirmation=original).update(
                status=OutboxStatus.DONE,
                last_error="reversed before it was posted",
                processed_at=now,
            )
        if is_last and original.scrap_quantity:
            ProductionOrder.objects.filter(pk=order.pk).update(
                scrap_quantity=F("scrap_quantity") - original.scrap_quantity
            )
            order.refresh_from_db(fields=["scrap_quantity"])
        if reopens:
            order.actual_end = None
            order.save(update_fields=["actual_end"])
            set_status(order, OrderStatus.IN_PROGRESS, user=user, reason=f"confirmation {original.pk} reversed")
    return reversal


def _reverse_postings(
    order: ProductionOrder, original: Confirmation, reversal: Confirmation, user, reason: str, *, reserve: bool
) -> None:
    """Post the opposite of everything ``original`` posted; with ``reserve``, the components
    it consumed are reserved for the order again, up to what each still needs."""
    prefix = f"{DOCUMENT_TYPE}:confirmation:{original.pk}:"
    postings = list(
        StockPosting.objects.filter(posting_key__startswith=prefix).prefetch_related("movements").order_by("pk")
    )
    # Components before stock, as the posting worker locks them.
    components = {c.pk: c for c in order_components_qs_select_for_update(order.pk)}
    issued: dict[int, Decimal] = defaultdict(lambda: ZERO)
    received = ZERO
    for posting in postings:
        for movement in posting.movements.all():
            if movement.item_id == order.item_id and posting.movement_type == MovementType.PRODUCTION_RECEIPT:
                received += movement.quantity
            elif movement.document_line_id:
                issued[movement.document_line_id] -= movement.quantity
    for posting in postings:
        stock_posting_reverse(
            posting_id=posting.pk,
            user=user,
            reason=reason,
            posting_key=f"{DOCUMENT_TYPE}:confirmation:{reversal.pk}:reverses:{posting.pk}",
            reserve_again=_reserve_again(posting, components, issued) if reserve else (),
        )
    for component_id, quantity in issued.items():
        OrderComponent.objects.filter(pk=component_id, order=order).update(
            issued_quantity=F("issued_quantity") - quantity
        )
    received_add({order.pk: -received} if received else {})


def _reserve_again(
    posting: StockPosting, components: dict[int, OrderComponent], issued: dict[int, Decimal]
) -> list[ReserveAgain]:
    """What the reversal of ``posting`` gives back to the reservations of the components it
    consumed: what it puts back at the component's issue location, keeping each reservation
    open for no more than the component still needs once the reversal is booked (required −
    issued; ``issued``: what the reversed confirmation issued per component)."""
    returned: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for movement in posting.movements.all():
        component = components.get(movement.document_line_id)
        if (
            component is not None
            and movement.quantity < 0
            and (movement.item_id, movement.location_id) == (component.item_id, component.issue_location_id)
        ):
            returned[component.pk] -= movement.quantity
    again = []
    for component_id, quantity in sorted(returned.items()):
        component = components[component_id]
        if component.reservation_id is None:
            continue
        still_needed = component.required_quantity - (component.issued_quantity - issued[component_id])
        if still_needed > 0:
            again.append(ReserveAgain(component.reservation_id, quantity, still_needed))
    return again
