"""Shop-floor pages for tablets and kiosks (``/floor/``): PIN sign-in on a terminal, the
work queue of the terminal's work centers, and the operation screen. Touch-first; every
write goes through the production services."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from functools import wraps

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exceptions import DomainError
from config.idempotency import idempotent
from config.roles import PLANNING_ROLES, Role, user_roles
from production import selectors
from production.enums import ScrapReason
from production.models import OrderOperation, Terminal
from production.serializers import ConfirmationSerializer, confirmation_input
from production.services import ConfirmationInput
from production.services.floor import floor_confirm, operation_clock_start, operation_clock_stop, operator_sign_in

TERMINAL_COOKIE = "floor_terminal"
TERMINAL_SALT = "floor-terminal"


def _terminal(request: HttpRequest) -> Terminal | None:
    raw = request.COOKIES.get(TERMINAL_COOKIE)
    if not raw:
        return None
    try:
        terminal_id = signing.loads(raw, salt=TERMINAL_SALT)
    except signing.BadSignature:
        return None
    return Terminal.objects.filter(pk=terminal_id, is_active=True).prefetch_related("work_centers").first()


def _operator(request: HttpRequest):
    user = request.user
    if not user.is_authenticated or Role.OPERATOR not in user_roles(user):
        return None
    return getattr(user, "operator", None)


def floor_page(view):
    """A floor page: needs a set-up terminal and a signed-in operator; each visit restarts the
    inactivity timer."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        terminal = _terminal(request)
        if terminal is None:
            return render(request, "floor/no_terminal.html", status=400)
        operator = _operator(request)
        if operator is None:
            return redirect("floor:signin")
        request.session.set_expiry(settings.FLOOR_IDLE_SECONDS)
        work_centers = set(terminal.work_centers.values_list("pk", flat=True)) & set(
            operator.work_centers.values_list("pk", flat=True)
        )
        return view(request, *args, terminal=terminal, operator=operator, work_center_ids=work_centers, **kwargs)

    return wrapper


def _context(terminal, operator=None, **extra) -> dict:
    return {"terminal": terminal, "operator": operator, "idle_seconds": settings.FLOOR_IDLE_SECONDS, **extra}


@login_required
def terminal_setup(request: HttpRequest) -> HttpResponse:
    """A planner binds this device to a terminal once; the binding is a signed cookie."""
    if not (user_roles(request.user) & PLANNING_ROLES):
        return HttpResponseForbidden("Only planners and admins set up terminals.")
    terminals = Terminal.objects.filter(is_active=True).prefetch_related("work_centers").order_by("code")
    if request.method == "POST":
        terminal = get_object_or_404(Terminal, pk=request.POST.get("terminal"), is_active=True)
        response = redirect("floor:signin")
        response.set_cookie(
            TERMINAL_COOKIE,
            signing.dumps(terminal.pk, salt=TERMINAL_SALT),
            max_age=60 * 60 * 24 * 365,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
        logout(request)
        return response
    return render(request, "floor/setup.html", {"terminals": terminals})


def signin(request: HttpRequest) -> HttpResponse:
    terminal = _terminal(request)
    if terminal is None:
        return render(request, "floor/no_terminal.html", status=400)
    if request.method != "POST" and _operator(request) is not None:
        return redirect("floor:queue")  # signed in already: the entry page is their queue
    error = None
    badge = ""
    if request.method == "POST":
        badge = request.POST.get("badge", "")
        try:
            operator = operator_sign_in(terminal=terminal, badge=badge, pin=request.POST.get("pin", ""))
        except DomainError as exc:
            error = exc.message
        else:
            login(request, operator.user, backend="django.contrib.auth.backends.ModelBackend")
            request.session.set_expiry(settings.FLOOR_IDLE_SECONDS)
            return redirect("floor:queue")
    status = 403 if error else 200
    return render(request, "floor/signin.html", _context(terminal, error=error, badge=badge), status=status)


def signout(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("floor:signin")


@floor_page
def queue(request: HttpRequest, *, terminal, operator, work_center_ids) -> HttpResponse:
    entries = selectors.floor_queue(work_center_ids=work_center_ids, user=request.user)
    return render(request, "floor/queue.html", _context(terminal, operator, entries=entries))


def _operation_in_reach(operation_id: int, work_center_ids: set[int]) -> OrderOperation:
    operation = get_object_or_404(
        OrderOperation.objects.select_related("order", "order__item", "order__item__uom", "work_center"),
        pk=operation_id,
    )
    if operation.work_center_id not in work_center_ids:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("This operation is not at your work centers.")
    return operation


def _decimal(raw: str | None) -> Decimal:
    try:
        value = Decimal(raw or "0")
    except InvalidOperation:
        return Decimal(0)
    return max(value, Decimal(0))


@floor_page
def operation(request: HttpRequest, operation_id: int, *, terminal, operator, work_center_ids) -> HttpResponse:
    op = _operation_in_reach(operation_id, work_center_ids)
    queue = selectors.floor_queue(work_center_ids=[op.work_center_id], user=request.user)
    entry = next((e for e in queue if e.operation.pk == op.pk), None)
    preview = selectors.confirmation_preview(operation_id=op.pk, good_quantity=Decimal(0), scrap_quantity=Decimal(0))
    from production.services.floor import clocked_minutes

    return render(
        request,
        "floor/operation.html",
        _context(
            terminal,
            operator,
            op=op,
            entry=entry,
            preview=[row for row in preview if row.flushing == "backward"],
            scrap_reasons=ScrapReason.choices,
            idempotency_key=uuid.uuid4().hex,
            clocked=clocked_minutes(operation_id=op.pk, user=request.user),
            running=bool(entry and entry.running),
            # Quantities are counted in the order item's unit: the decimal point is disabled
            # where it allows none, keeping the pad's layout (the service refuses fractions anyway).
            whole_units=op.order.item.uom.decimals == 0,
        ),
    )


@floor_page
def operation_preview(request: HttpRequest, operation_id: int, *, terminal, operator, work_center_ids) -> HttpResponse:
    """htmx partial: what the quantities being typed would backflush."""
    op = _operation_in_reach(operation_id, work_center_ids)
    good, scrap = _decimal(request.GET.get("good_quantity")), _decimal(request.GET.get("scrap_quantity"))
    rows = selectors.confirmation_preview(operation_id=op.pk, good_quantity=good, scrap_quantity=scrap)
    return render(
        request,
        "floor/_preview.html",
        {"preview": [row for row in rows if row.flushing == "backward"], "good": good, "scrap": scrap},
    )


@require_POST
@floor_page
def clock(request: HttpRequest, operation_id: int, *, terminal, operator, work_center_ids) -> HttpResponse:
    op = _operation_in_reach(operation_id, work_center_ids)
    try:
        if request.POST.get("action") == "start":
            operation_clock_start(operation_id=op.pk, user=request.user)
        else:
            operation_clock_stop(operation_id=op.pk, user=request.user)
    except DomainError as exc:
        from django.contrib import messages

        messages.error(request, exc.message)
    return redirect(reverse("floor:operation", args=[op.pk]))


class FloorConfirmView(APIView):
    """The terminal's confirm button. Session-authenticated (CSRF enforced) and keyed with the
    Idempotency-Key the page was rendered with, so a double tap or a retry after a network
    drop confirms once."""

    write_roles = frozenset({Role.OPERATOR, *PLANNING_ROLES})

    @idempotent
    def post(self, request: Request, operation_id: int) -> Response:
        data = confirmation_input({**request.data, "operation": operation_id})
        data = ConfirmationInput(operation_id=data.pop("operation"), **data)
        confirmation = floor_confirm(data=data, user=request.user)
        return Response(ConfirmationSerializer(selectors.confirmation_list().get(pk=confirmation.pk)).data, status=201)
