"""Planner pages for sales orders: list, create with lines, detail with fulfilment and the
actions the order's status allows. Reads through selectors, writes through services
(``run_service``)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from config.exceptions import DomainError
from config.pages import (
    OFFICE_ROLES,
    attach_domain_error,
    paginate,
    query_without,
    role_required,
    run_reason_command,
    run_service,
)
from config.roles import PLANNING_ROLES, Role, user_roles
from inventory.models import Item
from sales import selectors, services
from sales.enums import DELIVERABLE, SALES_ORDER_TRANSITIONS, LineFulfilment, LineStatus, SalesOrderStatus
from sales.forms import LineFormSet, SalesOrderFilterForm, SalesOrderHeaderForm, SalesOrderLineForm
from sales.models import SalesOrder

# The API lets integrations create, confirm and deliver; the pages allow the same.
SALES_ROLES = PLANNING_ROLES | {Role.INTEGRATION}
sales_required = role_required(SALES_ROLES)
office_required = role_required(OFFICE_ROLES)

LINE_ERROR = re.compile(r"^lines\[(\d+)\]\.(\w+)$")
LINE_FIELDS = {
    "item": "item",
    "item_id": "item",
    "quantity": "quantity",
    "requested_date": "requested_date",
    "unit_price": "unit_price",
}


def can_sell(request: HttpRequest) -> bool:
    return bool(user_roles(request.user) & SALES_ROLES)


# ------------------------------------------------------------------ list


@office_required
def order_list(request: HttpRequest) -> HttpResponse:
    filter_form = SalesOrderFilterForm(request.GET or None)
    rows = selectors.sales_order_list()
    if filter_form.is_valid():
        data = filter_form.cleaned_data
        if data["status"]:
            rows = rows.filter(status=data["status"])
        if data["customer"]:
            rows = rows.filter(customer=data["customer"])
        if q := data["q"].strip():
            rows = rows.filter(Q(number__icontains=q) | Q(customer_reference__icontains=q))
    page = paginate(request, rows.order_by("-pk"))
    return render(
        request,
        "sales/order_list.html",
        {
            "filter_form": filter_form or SalesOrderFilterForm(),
            "page_obj": page,
            "keep_query": query_without(request, "page"),
            "can_sell": can_sell(request),
        },
    )


# ------------------------------------------------------------------ create


def _item_choices() -> list[tuple[int, str]]:
    return [
        (pk, f"{sku} {name}")
        for pk, sku, name in Item.objects.filter(is_active=True).order_by("sku").values_list("pk", "sku", "name")
    ]


def _with_extra_row(data: QueryDict) -> QueryDict:
    """The posted data with one more (empty) line row: "Add line" without JavaScript."""
    data = data.copy()
    total = int(data.get("lines-TOTAL_FORMS") or 0)
    data["lines-TOTAL_FORMS"] = str(min(total + 1, LineFormSet.max_num))
    return data


@sales_required
def order_create(request: HttpRequest) -> HttpResponse:
    return _order_form(request, order=None)


@sales_required
def order_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a draft: header and lines (the lines are replaced as a whole)."""
    order = get_object_or_404(SalesOrder.objects.prefetch_related("lines"), pk=pk)
    return _order_form(request, order=order)


def _order_form(request: HttpRequest, *, order: SalesOrder | None) -> HttpResponse:
    choices = _item_choices()
    context = {"order": order}
    if request.method != "POST":
        if order is None:
            header = SalesOrderHeaderForm()
            formset = LineFormSet(prefix="lines", form_kwargs={"item_choices": choices})
        else:
            header = SalesOrderHeaderForm(
                initial={"customer": order.customer_id, "customer_reference": order.customer_reference}
            )
            initial = [
                {
                    "item": line.item_id,
                    "quantity": line.quantity,
                    "requested_date": line.requested_date,
                    "unit_price": line.unit_price,
                }
                for line in order.lines.all()
            ]
            formset = LineFormSet(prefix="lines", initial=initial, form_kwargs={"item_choices": choices})
        return render(request, "sales/order_form.html", {"form": header, "formset": formset, **context})
    if "add_line" in request.POST:
        # Keep what was typed, one row more; no validation yet, so no errors on half-typed rows.
        data = _with_extra_row(request.POST)
        header = SalesOrderHeaderForm(initial=_raw(data, "", ("customer", "customer_reference")))
        rows = int(data["lines-TOTAL_FORMS"])
        initial = [_raw(data, f"lines-{i}-", ("item", "quantity", "requested_date", "unit_price")) for i in range(rows)]
        formset = LineFormSet(prefix="lines", initial=initial, form_kwargs={"item_choices": choices})
        formset.extra = 0
        return render(request, "sales/order_form.html", {"form": header, "formset": formset, **context})
    header = SalesOrderHeaderForm(request.POST)
    formset = LineFormSet(request.POST, prefix="lines", form_kwargs={"item_choices": choices})
    header_ok, lines_ok = header.is_valid(), formset.is_valid()
    used = [f for f in formset.forms if f.cleaned_data and (f.has_changed() or order is not None)]
    if header_ok and lines_ok:
        lines = [
            services.LineInput(
                item_id=f.cleaned_data["item"],
                quantity=f.cleaned_data["quantity"],
                requested_date=f.cleaned_data["requested_date"],
                unit_price=f.cleaned_data["unit_price"] or Decimal(0),
            )
            for f in used
        ]
        try:
            if order is None:
                order = services.sales_order_create(
                    customer_id=header.cleaned_data["customer"].pk,
                    customer_reference=header.cleaned_data["customer_reference"],
                    lines=lines,
                    user=request.user,
                )
                message = f"Sales order {order.number} created as a draft."
            else:
                order = services.sales_order_update(
                    order_id=order.pk,
                    customer_id=header.cleaned_data["customer"].pk,
                    customer_reference=header.cleaned_data["customer_reference"],
                    lines=lines,
                    user=request.user,
                )
                message = f"Sales order {order.number} saved."
        except DomainError as exc:
            _attach_line_errors(exc, header, used)
        else:
            messages.success(request, message)
            return redirect("sales:order-detail", pk=order.pk)
    return render(request, "sales/order_form.html", {"form": header, "formset": formset, **context}, status=400)


def _raw(data: QueryDict, prefix: str, names: tuple[str, ...]) -> dict[str, str]:
    return {name: data.get(prefix + name, "") for name in names if data.get(prefix + name)}


def _attach_line_errors(exc: DomainError, header: SalesOrderHeaderForm, used: list[SalesOrderLineForm]) -> None:
    """The service names line fields as ``lines[i].field`` over the lines it was given,
    which are the non-empty rows in page order: put each message next to its input."""
    placed = False
    for key, values in exc.fields.items():
        match = LINE_ERROR.match(key)
        if match and int(match[1]) < len(used) and match[2] in LINE_FIELDS:
            text = values if isinstance(values, str) else " ".join(str(v) for v in values)
            # The service speaks of "lines[1].requested_date"; next to the input that is noise.
            message = re.sub(r"^lines\[\d+\]\.\w+ ", "", exc.message)
            used[int(match[1])].add_error(LINE_FIELDS[match[2]], f"{message} ({text})")
            placed = True
    if not placed:
        attach_domain_error(header, exc)


# ------------------------------------------------------------------ detail


def _actions(order: SalesOrder) -> dict[str, bool]:
    """Which buttons the detail page shows; the services check again under the lock."""
    allowed = SALES_ORDER_TRANSITIONS[order.status]
    return {
        "confirm": order.status == SalesOrderStatus.DRAFT,
        "edit": order.status == SalesOrderStatus.DRAFT,
        "cancel": SalesOrderStatus.CANCELLED in allowed,
        "retry": order.status == SalesOrderStatus.GENERATION_FAILED,
        "deliver": order.status in DELIVERABLE,
    }


@office_required
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(selectors.sales_order_detail_qs(), pk=pk)
    if request.headers.get("HX-Request") and request.GET.get("poll") == order.status:
        # The page polls while generation is queued: nothing changed, nothing to swap.
        return HttpResponse(status=204)
    if request.headers.get("HX-Request") and request.GET.get("poll"):
        return HttpResponse(headers={"HX-Refresh": "true"})
    lines = list(order.lines.all())
    fulfilment = selectors.line_fulfilment_map(line_ids=[ln.pk for ln in lines])
    by_id = {ln.pk: ln for ln in lines}
    deliveries = [(d, [(by_id.get(dl.line_id), dl) for dl in d.lines.all()]) for d in order.deliveries.all()]
    return render(
        request,
        "sales/order_detail.html",
        {
            "order": order,
            "rows": [(ln, fulfilment[ln.pk], LineFulfilment(fulfilment[ln.pk].status).label) for ln in lines],
            "open_lines": [ln for ln in lines if ln.status == LineStatus.OPEN and ln.open_quantity > 0],
            "deliveries": deliveries,
            "total": sum((ln.quantity * ln.unit_price for ln in lines), Decimal(0)),
            "actions": _actions(order) if can_sell(request) else {},
            "polling": order.status == SalesOrderStatus.CONFIRMED,
        },
    )


def _back(order_id: int) -> HttpResponse:
    return redirect("sales:order-detail", pk=order_id)


@require_POST
@sales_required
def order_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    run_service(
        request,
        services.sales_order_confirm,
        order_id=pk,
        success="Order confirmed: production orders and reservations are being generated.",
    )
    return _back(pk)


@require_POST
@sales_required
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run_reason_command(request, services.sales_order_cancel, order_id=pk, success="Sales order cancelled.")
    return _back(pk)


@require_POST
@sales_required
def order_generation_retry(request: HttpRequest, pk: int) -> HttpResponse:
    run_service(
        request,
        services.sales_order_generation_retry,
        order_id=pk,
        success="Generation queued again.",
    )
    return _back(pk)


@require_POST
@sales_required
def order_deliver(request: HttpRequest, pk: int) -> HttpResponse:
    """One quantity input per open line (``qty-<line id>``); empty inputs are skipped."""
    lines = []
    for key, value in request.POST.items():
        if not key.startswith("qty-") or not value.strip():
            continue
        try:
            quantity = Decimal(value.strip().replace(",", "."))
            line_id = int(key[4:])
        except (InvalidOperation, ValueError):
            messages.error(request, f"{value!r} is not a quantity.")
            return _back(pk)
        lines.append(services.DeliveryLineInput(line_id=line_id, quantity=quantity))
    run_service(
        request,
        services.sales_order_deliver,
        order_id=pk,
        lines=lines,
        note=request.POST.get("note", ""),
        success="Delivery posted.",
    )
    return _back(pk)
