"""Shop-floor terminals: operator PIN sign-in with lockout, operation clocks, confirming
with the clocked time."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.exceptions import Forbidden, NotFound, StateConflict, ValidationFailed
from config.fields import ZERO
from production.locks import production_order_qs_select_for_update
from production.models import Confirmation, OperationClock, Operator, OrderOperation, Terminal
from production.services.confirmations import ConfirmationInput, confirmation_create, ensure_may_confirm

PIN_PATTERN = re.compile(r"^\d{4,8}$")
logger = logging.getLogger(__name__)


def operator_pin_set(*, operator_id: int, pin: str, user=None) -> Operator:
    if not PIN_PATTERN.match(pin or ""):
        raise ValidationFailed("The PIN must be 4 to 8 digits.", code="invalid_pin", fields={"pin": "4 to 8 digits"})
    operator = Operator.objects.filter(pk=operator_id).first()
    if operator is None:
        raise NotFound(f"Operator {operator_id} does not exist.")
    operator.pin_hash = make_password(pin)
    operator.failed_pin_attempts = 0
    operator.locked_until = None
    operator.save(update_fields=["pin_hash", "failed_pin_attempts", "locked_until", "updated_at"])
    return operator


class SignInRefused(Forbidden):
    default_code = "sign_in_refused"


# One answer for an unknown badge, a wrong PIN and a locked badge: a terminal must not tell
# which badge numbers exist (a count of tries left, or "locked", would).
SIGN_IN_REFUSED = "Badge or PIN is wrong, or the badge is locked after too many wrong PINs (ask a planner)."


@functools.cache
def _dummy_pin_hash() -> str:
    return make_password("0000")


def operator_sign_in(*, terminal: Terminal, badge: str, pin: str) -> Operator:
    """Check badge and PIN. Every wrong PIN counts; after ``FLOOR_PIN_MAX_ATTEMPTS`` the badge
    is locked for ``FLOOR_PIN_LOCK_MINUTES``. The count is committed even though the sign-in
    fails, so the lockout cannot be dodged by retrying. An unknown badge, a wrong PIN and a
    locked badge get the same message and cost the same PIN hash, so neither the answer nor
    its timing reveals whether a badge exists."""
    refusal: SignInRefused | None = None
    with transaction.atomic():
        operator = (
            Operator.objects.select_for_update().select_related("user").filter(badge=(badge or "").strip()).first()
        )
        now = timezone.now()
        known = operator is not None and operator.user.is_active and bool(operator.pin_hash)
        pin_ok = check_password(pin or "", operator.pin_hash if known else _dummy_pin_hash()) and known
        if not known:
            refusal = SignInRefused(SIGN_IN_REFUSED)
        elif operator.locked_until and operator.locked_until > now:
            logger.info("Floor sign-in refused: badge %s is locked until %s.", operator.badge, operator.locked_until)
            refusal = SignInRefused(SIGN_IN_REFUSED)
        elif not pin_ok:
            operator.failed_pin_attempts += 1
            if operator.failed_pin_attempts >= settings.FLOOR_PIN_MAX_ATTEMPTS:
                operator.locked_until = now + dt.timedelta(minutes=settings.FLOOR_PIN_LOCK_MINUTES)
                operator.failed_pin_attempts = 0
                logger.warning("Floor sign-in: badge %s locked after too many wrong PINs.", operator.badge)
            refusal = SignInRefused(SIGN_IN_REFUSED)
            operator.save(update_fields=["failed_pin_attempts", "locked_until", "updated_at"])
        elif not operator.work_centers.filter(pk__in=terminal.work_centers.all()).exists():
            refusal = SignInRefused(
                f"You are not assigned to the work centers of terminal {terminal.code}.", code="wrong_terminal"
            )
        else:
            if operator.failed_pin_attempts or operator.locked_until:
                operator.failed_pin_attempts = 0
                operator.locked_until = None
                operator.save(update_fields=["failed_pin_attempts", "locked_until", "updated_at"])
    if refusal is not None:
        raise refusal
    return operator


def _operation_for(operation_id: int, user) -> OrderOperation:
    operation = OrderOperation.objects.select_related("order").filter(pk=operation_id).first()
    if operation is None:
        raise NotFound(f"Operation {operation_id} does not exist.")
    ensure_may_confirm(user, operation.work_center_id)
    return operation


def operation_clock_start(*, operation_id: int, user) -> OperationClock:
    """Start (or resume) work on an operation. Starting twice keeps the running clock."""
    operation = _operation_for(operation_id, user)
    if operation.order.status not in ("released", "in_progress"):
        raise StateConflict(f"Order {operation.order.number} is not open for work.", code="order_not_open")
    try:
        with transaction.atomic():
            return OperationClock.objects.create(operation=operation, operator=user, started_at=timezone.now())
    except IntegrityError:
        return OperationClock.objects.get(operation=operation, operator=user, stopped_at__isnull=True)


def operation_clock_stop(*, operation_id: int, user) -> OperationClock | None:
    """Pause: stop the running clock, if any."""
    _operation_for(operation_id, user)
    clock = OperationClock.objects.filter(operation_id=operation_id, operator=user, stopped_at__isnull=True).first()
    if clock is not None:
        OperationClock.objects.filter(pk=clock.pk, stopped_at__isnull=True).update(stopped_at=timezone.now())
        clock.refresh_from_db()
    return clock


def clocked_minutes(*, operation_id: int, user, until: dt.datetime | None = None) -> Decimal:
    """Minutes clocked on the operation by this operator and not yet confirmed."""
    until = until or timezone.now()
    total = ZERO
    for clock in OperationClock.objects.filter(operation_id=operation_id, operator=user, confirmation__isnull=True):
        end = clock.stopped_at or until
        total += Decimal(max((end - clock.started_at).total_seconds(), 0)) / 60
    return total.quantize(Decimal("0.01"))


@transaction.atomic
def floor_confirm(*, data: ConfirmationInput, user) -> Confirmation:
    """Confirm from a terminal: the operator's clocked time becomes the labor time, and the
    clocks are attributed to the confirmation in the same transaction."""
    now = timezone.now()
    # The order row first, as every write to an order and its children locks it; then the
    # clocks; confirmation_create then takes the order (already held) and its operations.
    list(production_order_qs_select_for_update().filter(operations__id=data.operation_id).values_list("pk"))
    clocks = list(
        OperationClock.objects.select_for_update()
        .filter(operation_id=data.operation_id, operator=user, confirmation__isnull=True)
        .order_by("pk")
    )
    minutes = ZERO
    for clock in clocks:
        end = clock.stopped_at or now
        minutes += Decimal(max((end - clock.started_at).total_seconds(), 0)) / 60
    labor = data.labor_minutes + minutes.quantize(Decimal("0.01"))
    confirmation = confirmation_create(data=ConfirmationInput(**{**data.__dict__, "labor_minutes": labor}), user=user)
    for clock in clocks:
        clock.stopped_at = clock.stopped_at or now
        clock.confirmation = confirmation
        clock.save(update_fields=["stopped_at", "confirmation"])
    return confirmation
