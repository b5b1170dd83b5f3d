"""Planner pages for production orders: dashboard, list, create, detail with actions,
traveler, Gantt. Reads through selectors, writes through services (``run_service``)."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter, defaultdict
from decimal import Decimal

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from config.exceptions import DomainError
from config.pages import (
    OFFICE_ROLES,
    attach_domain_error,
    can_plan,
    office_required,
    paginate,
    planner_required,
    query_without,
    role_required,
    run_reason_command,
    run_service,
)
from config.roles import user_roles
from planning import selectors as planning_selectors
from production import selectors, services
from production.enums import COMBINABLE_STATUSES, ORDER_TRANSITIONS, OrderStatus, OrderType, PostingStatus
from production.forms import (
    SORTS,
    IssueForm,
    KpiFilterForm,
    OrderCreateForm,
    OrderEditForm,
    OrderFilterForm,
    ReleaseForm,
    RescheduleForm,
    SplitForm,
)
from production.kpis import kpis_default_period, kpis_get
from production.models import OrderOperation, ProductionOrder

# Rows of the dashboard's load table (the capacity page has them all); their load is read in a
# fixed number of queries however many rows there are.
DASHBOARD_WORK_CENTERS = 30


@role_required()
def dashboard(request: HttpRequest) -> HttpResponse:
    if not user_roles(request.user) & OFFICE_ROLES:
        # Operators work at terminals; their home is the floor screen.
        return redirect("floor:signin")
    counts = dict(
        ProductionOrder.objects.values_list("status").annotate(n=Count("pk")).order_by().values_list("status", "n")
    )
    # Merged orders live on in the order they were merged into: not counted as orders.
    by_status = [
        (value, label, counts.get(value, 0)) for value, label in OrderStatus.choices if value != OrderStatus.MERGED
    ]
    late = (
        selectors.production_order_list()
        .filter(late_by_minutes__isnull=False, status__in=[OrderStatus.PLANNED, OrderStatus.RELEASED, "in_progress"])
        .order_by("-late_by_minutes")[:10]
    )
    today = timezone.localdate()
    work_centers = list(planning_selectors.work_center_list().filter(is_active=True)[:DASHBOARD_WORK_CENTERS])
    loads = planning_selectors.work_centers_load(
        work_center_ids=[wc.pk for wc in work_centers], date_from=today, date_to=today
    )
    load = [
        (wc, bucket, _pct(bucket.required_hours, bucket.available_hours))
        for wc in work_centers
        for bucket in loads[wc.pk]
    ]
    return render(
        request,
        "production/dashboard.html",
        {
            "by_status": by_status,
            "late": late,
            "shortages": selectors.production_order_shortage_list(limit=10),
            "failed_postings": selectors.confirmation_list().filter(posting_status=PostingStatus.FAILED).count(),
            "load": load,
            "today": today,
        },
    )


@office_required
def kpis(request: HttpRequest) -> HttpResponse:
    """KPIs for a period, an item and a work center. The filter form reloads the results in
    place (htmx; the form itself stays, so nothing typed into it is lost) and pushes the URL,
    so a filtered view can be bookmarked and shared."""
    data = request.GET.copy()
    if "date_from" not in data and "date_to" not in data:
        default_from, default_to = kpis_default_period()
        data["date_from"], data["date_to"] = default_from.isoformat(), default_to.isoformat()
    form = KpiFilterForm(data)
    result = None
    if form.is_valid():
        item, work_center = form.cleaned_data["item"], form.cleaned_data["work_center"]
        try:
            result = kpis_get(
                date_from=form.cleaned_data["date_from"],
                date_to=form.cleaned_data["date_to"],
                item_id=item.pk if item else None,
                work_center_id=work_center.pk if work_center else None,
            )
        except DomainError as exc:
            attach_domain_error(form, exc)
    template = "production/_kpi_results.html" if request.htmx else "production/kpis.html"
    return render(request, template, {"form": form, "kpis": result})


def _pct(part: Decimal, whole: Decimal) -> int:
    if not whole:
        return 100 if part else 0
    return int(part * 100 / whole)


# ------------------------------------------------------------------ list


@office_required
def order_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _bulk_release(request)
    filter_form = OrderFilterForm(request.GET or None)
    rows = selectors.production_order_list()
    sort = "due"
    if filter_form.is_valid():
        data = filter_form.cleaned_data
        if data["status"]:
            rows = rows.filter(status=data["status"])
        if data["order_type"]:
            rows = rows.filter(order_type=data["order_type"])
        if data["item"]:
            rows = rows.filter(item__sku__icontains=data["item"].strip())
        if data["work_center"]:
            rows = rows.filter(pk__in=OrderOperation.objects.filter(work_center=data["work_center"]).values("order_id"))
        if data["due_from"]:
            rows = rows.filter(due_date__gte=data["due_from"])
        if data["due_to"]:
            rows = rows.filter(due_date__lte=data["due_to"])
        sort = data["sort"] or sort
    rows = rows.order_by(SORTS.get(sort, "due_date"), "pk")
    page = paginate(request, rows)
    return render(
        request,
        "production/order_list.html",
        {
            "filter_form": filter_form or OrderFilterForm(),
            "page_obj": page,
            "keep_query": query_without(request, "page"),
            "can_plan": can_plan(request),
            "results": request.session.pop("bulk_results", None),
        },
    )


@planner_required
def _bulk_release(request: HttpRequest) -> HttpResponse:
    """Release each selected order on its own: one failure does not stop the others, and
    each order gets its own result line."""
    ids = [int(i) for i in request.POST.getlist("order") if i.isdigit()]
    numbers = dict(ProductionOrder.objects.filter(pk__in=ids).values_list("pk", "number"))
    results = []
    for order_id in ids:
        try:
            services.production_order_release(
                order_id=order_id, user=request.user, expected_version=_posted_version(request, f"version-{order_id}")
            )
        except DomainError as exc:
            results.append({"number": numbers.get(order_id, order_id), "ok": False, "message": exc.message})
        else:
            results.append({"number": numbers.get(order_id, order_id), "ok": True, "message": "Released"})
    if not ids:
        messages.error(request, "Select at least one order to release.")
    request.session["bulk_results"] = results
    return redirect(f"{reverse('production:order-list')}?{request.GET.urlencode()}")


# ------------------------------------------------------------------ create


@planner_required
def order_create(request: HttpRequest) -> HttpResponse:
    form = OrderCreateForm(request.POST or None, initial={"due_date": timezone.localdate() + dt.timedelta(days=14)})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, order = run_service(
            request,
            services.production_order_create,
            form=form,
            item_id=data["item"].pk,
            quantity=data["quantity"],
            # A campaign is due when it ends: the due date field (prefilled) is not its.
            due_date=None if data["is_campaign"] else data["due_date"],
            order_type=data["order_type"] or None,
            priority=data["priority"],
            is_campaign=data["is_campaign"],
            campaign_start=data["campaign_start"],
            campaign_end=data["campaign_end"],
        )
        if ok:
            messages.success(request, f"Order {order.number} created.")
            return redirect("production:order-detail", pk=order.pk)
    return render(request, "production/order_form.html", {"form": form}, status=400 if form.errors else 200)


# ------------------------------------------------------------------ detail


def _actions(order: ProductionOrder, merge_shares: list) -> dict[str, bool]:
    """Which buttons the detail page shows; the services check again under the lock."""
    allowed = ORDER_TRANSITIONS[order.status]
    combinable = order.status in COMBINABLE_STATUSES and not order.confirmations.all()
    is_merge_target = any(share.source_id == order.pk for share in merge_shares)
    return {
        "merge": combinable and order.order_type != OrderType.ETO,
        "split": combinable and not is_merge_target,
        "release": OrderStatus.RELEASED in allowed,
        "close": OrderStatus.CLOSED in allowed,
        "cancel": OrderStatus.CANCELLED in allowed,
        "edit": order.status == OrderStatus.PLANNED,
        "reschedule": order.status in (OrderStatus.PLANNED, OrderStatus.RELEASED, OrderStatus.IN_PROGRESS),
        "issue": order.status in (OrderStatus.RELEASED, OrderStatus.IN_PROGRESS),
    }


@office_required
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(selectors.production_order_detail_qs(), pk=pk)
    components = list(order.components.all())
    availability = {
        a.component_id: a for a in selectors.production_order_availability(order=order, components=components)
    }
    operations = list(order.operations.all())
    for op in operations:
        op.order = order  # total_minutes reads the order's quantity; no query per row
    costs = selectors.production_order_costs(order=order)
    totals = {
        "planned": sum((c.planned for c in costs), Decimal(0)),
        "actual": sum((c.actual for c in costs), Decimal(0)),
    }
    merge_shares = selectors.merge_allocation(order=order, costs=costs)
    return render(
        request,
        "production/order_detail.html",
        {
            "order": order,
            "rows": [(c, availability[c.pk]) for c in components],
            "operations": operations,
            "costs": costs,
            "totals": totals,
            "audit": selectors.production_order_audit(order=order),
            "confirmations": list(
                selectors.confirmation_list().filter(order=order).select_related("reversed_by").order_by("-id")[:100]
            ),
            "lots": _produced_lots(order),
            "actions": _actions(order, merge_shares) if can_plan(request) else {},
            "merge_shares": merge_shares,
            "merge_totals": {
                "quantity": sum((s.quantity for s in merge_shares), Decimal(0)),
                "output": sum((s.allocated_output for s in merge_shares), Decimal(0)),
                "cost": sum((s.allocated_cost for s in merge_shares), Decimal(0)),
            },
            "split_orders": list(order.split_orders.order_by("pk").only("pk", "number", "quantity", "status")),
            # Its own ids: the edit dialog on the same page has a quantity field too.
            "split_form": SplitForm(initial={"version": order.version}, auto_id="split-%s"),
            "edit_form": OrderEditForm(
                initial={
                    "version": order.version,
                    "quantity": order.quantity,
                    "due_date": order.due_date,
                    "priority": order.priority,
                    "is_campaign": order.is_campaign,
                    "campaign_start": order.campaign_start,
                    "campaign_end": order.campaign_end,
                }
            ),
            "reschedule_form": _reschedule_form(order),
            "campaign_overdue": order.campaign_overdue(timezone.localdate()),
            "campaign": _campaign_table(order),
        },
    )


def _reschedule_form(order: ProductionOrder) -> RescheduleForm:
    form = RescheduleForm(initial={"version": order.version, "due_date": order.due_date})
    if order.is_campaign:
        # A campaign is due when it ends: rescheduling it moves its end.
        form.fields["due_date"].label = "New campaign end"
    return form


def _campaign_table(order: ProductionOrder) -> dict | None:
    """The campaign report by week as table rows: one column per component consumed."""
    if not order.is_campaign:
        return None
    report = selectors.production_order_campaign_report(order=order, bucket="week")
    columns = report.consumption
    rows = []
    for period in report.periods:
        used = {c.item_id: c.quantity for c in period.consumption}
        rows.append((period, [used.get(c.item_id, Decimal(0)) for c in columns]))
    return {"report": report, "columns": columns, "rows": rows}


def _produced_lots(order) -> list[dict]:
    """The lots this order produced, each with what went into it (backward genealogy)."""
    from inventory.models import Lot, StockMovement
    from inventory.selectors import lot_genealogy

    lot_ids = (
        StockMovement.objects.filter(
            posting__document_type="production_order",
            posting__document_id=order.pk,
            item_id=order.item_id,
            lot__isnull=False,
        )
        .values_list("lot_id", flat=True)
        .distinct()[:5]
    )
    return [
        {"lot": lot, "links": lot_genealogy(lot_id=lot.pk, direction="backward")}
        for lot in Lot.objects.filter(pk__in=list(lot_ids)).order_by("lot_number")
    ]


@require_POST
@planner_required
def confirmation_reverse(request: HttpRequest, pk: int, confirmation_id: int) -> HttpResponse:
    run_reason_command(
        request,
        services.confirmation_reverse,
        confirmation_id=confirmation_id,
        success="Confirmation reversed: its movements are posted back.",
    )
    return _back(pk)


def _back(order_id: int) -> HttpResponse:
    return redirect("production:order-detail", pk=order_id)


def _posted_version(request: HttpRequest, name: str = "version") -> int | None:
    """The order version the page showed when the planner clicked: the service refuses the
    command if someone changed the order since (a message, not a silent overwrite)."""
    raw = request.POST.get(name, "").strip()
    return int(raw) if raw.isdigit() else None


@require_POST
@planner_required
def order_release(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReleaseForm(request.POST)
    form.is_valid()
    run_service(
        request,
        services.production_order_release,
        order_id=pk,
        expected_version=form.cleaned_data.get("version"),
        force=form.cleaned_data.get("force", False),
        reason=form.cleaned_data.get("reason", ""),
        success="Order released: components reserved.",
    )
    return _back(pk)


@require_POST
@planner_required
def order_close(request: HttpRequest, pk: int) -> HttpResponse:
    run_reason_command(
        request,
        services.production_order_close,
        order_id=pk,
        expected_version=_posted_version(request),
        success="Order closed.",
    )
    return _back(pk)


@require_POST
@planner_required
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run_reason_command(
        request,
        services.production_order_cancel,
        order_id=pk,
        expected_version=_posted_version(request),
        success="Order cancelled.",
    )
    return _back(pk)


@require_POST
@planner_required
def order_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Header edit against the version the page showed: a stale page gets the service's
    'changed by someone else, reload' message instead of overwriting."""
    form = OrderEditForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        run_service(
            request,
            services.production_order_update,
            order_id=pk,
            expected_version=data["version"],
            quantity=data["quantity"],
            due_date=None if data["is_campaign"] else data["due_date"],
            priority=data["priority"],
            is_campaign=data["is_campaign"],
            campaign_start=data["campaign_start"],
            campaign_end=data["campaign_end"],
            success="Order updated.",
        )
    else:
        messages.error(request, "Check the values: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    return _back(pk)


@require_POST
@planner_required
def order_reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    form = RescheduleForm(request.POST)
    if form.is_valid():
        run_service(
            request,
            services.production_order_update,
            order_id=pk,
            expected_version=form.cleaned_data["version"],
            due_date=form.cleaned_data["due_date"],
            success=f"Rescheduled to {form.cleaned_data['due_date']:%Y-%m-%d}.",
        )
    else:
        messages.error(request, "Choose a valid new due date.")
    nxt = request.POST.get("next", "")
    if nxt.startswith("/production/"):
        return redirect(nxt)
    return _back(pk)


@require_POST
@planner_required
def order_issue(request: HttpRequest, pk: int) -> HttpResponse:
    form = IssueForm(request.POST)
    if form.is_valid():
        run_service(
            request,
            services.production_order_issue,
            order_id=pk,
            expected_version=form.cleaned_data.get("version"),
            lines=[
                services.IssueLine(quantity=form.cleaned_data["quantity"], component_id=form.cleaned_data["component"])
            ],
            success="Material issued.",
        )
    else:
        messages.error(request, "Enter the quantity to issue.")
    return _back(pk)


@planner_required
def order_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the merge dialog's list of orders that could be merged into this one (loaded with
    htmx when the dialog opens). POST: merge the ticked ones into it."""
    order = get_object_or_404(ProductionOrder.objects.select_related("item"), pk=pk)
    if request.method != "POST":
        candidates = list(selectors.production_order_merge_candidates(order=order))
        labels = selectors.sales_line_labels(c.sales_order_line_id for c in candidates)
        for candidate in candidates:
            candidate.demand = labels.get(candidate.sales_order_line_id, "stock")
        return render(request, "production/_merge_candidates.html", {"order": order, "candidates": candidates})
    raw = request.POST.getlist("source_orders")
    source_ids = [int(value) for value in raw if value.strip().isdigit()]
    if len(source_ids) != len(raw):
        messages.error(request, "Choose the orders to merge from the list.")
        return _back(pk)
    run_service(
        request,
        services.production_orders_merge,
        target_id=pk,
        source_ids=source_ids,
        expected_version=_posted_version(request),
        reason=request.POST.get("reason", "").strip(),
        success=f"Merged {len(source_ids)} order{'s' if len(source_ids) != 1 else ''} into {order.number}.",
    )
    return _back(pk)


@require_POST
@planner_required
def order_split(request: HttpRequest, pk: int) -> HttpResponse:
    form = SplitForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            "Enter the quantity to split off" + (" and a valid due date." if "due_date" in form.errors else "."),
        )
        return _back(pk)
    ok, result = run_service(
        request,
        services.production_order_split,
        order_id=pk,
        quantity=form.cleaned_data["quantity"],
        due_date=form.cleaned_data.get("due_date"),
        expected_version=form.cleaned_data.get("version"),
        reason=form.cleaned_data.get("reason", ""),
    )
    if ok:
        messages.success(request, f"Split {form.cleaned_data['quantity'].normalize():f} off into {result.number}.")
    return _back(pk)


# ------------------------------------------------------------------ posting errors


@office_required
def posting_errors(request: HttpRequest) -> HttpResponse:
    """Confirmations whose backflush/receipt posting failed (mostly a shortage), oldest
    first: the ones waiting longest are retried first."""
    rows = (
        selectors.confirmation_list()
        .filter(posting_status=PostingStatus.FAILED)
        .select_related("order__item__uom")
        .order_by("confirmed_at", "pk")
    )
    return render(
        request,
        "production/posting_errors.html",
        {
            "page_obj": paginate(request, rows),
            "keep_query": query_without(request, "page"),
            "can_plan": can_plan(request),
        },
    )


@require_POST
@planner_required
def posting_retry(request: HttpRequest, pk: int) -> HttpResponse:
    ok, confirmation = run_service(request, services.confirmation_posting_retry_now, confirmation_id=pk)
    if ok and confirmation.posting_status == PostingStatus.POSTED:
        messages.success(request, f"Confirmation {pk} of {confirmation.order.number} is posted.")
    elif ok and confirmation.posting_status == PostingStatus.FAILED:
        messages.error(
            request,
            f"Confirmation {pk} of {confirmation.order.number} is still not posted: "
            f"{(confirmation.posting_error or {}).get('message', 'see the error below')}",
        )
    elif ok:
        messages.info(request, f"Posting of confirmation {pk} is queued again.")
    # The form's action carries the list's query string, so the planner stays on their page.
    return redirect(f"{reverse('production:posting-errors')}?{request.GET.urlencode()}")


# ------------------------------------------------------------------ traveler


def code128_svg(text: str) -> str:
    """The order number as an inline Code 128 SVG (python-barcode's SVG writer), without
    the XML prolog so it can sit inside the HTML page."""
    import barcode
    from barcode.writer import SVGWriter

    out = io.BytesIO()
    barcode.get("code128", text, writer=SVGWriter()).write(
        out, options={"module_height": 12.0, "module_width": 0.3, "write_text": False, "quiet_zone": 2.0}
    )
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]


@office_required
def order_traveler(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(selectors.production_order_detail_qs(), pk=pk)
    operations = list(order.operations.all())
    for op in operations:
        op.order = order
    return render(
        request,
        "production/traveler.html",
        {
            "order": order,
            "components": list(order.components.all()),
            "operations": operations,
            "barcode": mark_safe(code128_svg(order.number)),  # noqa: S308 - SVG generated here from our own order number
            "printed_at": timezone.localtime(),
        },
    )


# ------------------------------------------------------------------ gantt

GANTT_MAX_DAYS = 62


@office_required
def gantt(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    try:
        start = dt.date.fromisoformat(request.GET.get("from", "")) if request.GET.get("from") else today
        days = min(max(int(request.GET.get("days", 14)), 1), GANTT_MAX_DAYS)
    except ValueError:
        start, days = today, 14
    end = start + dt.timedelta(days=days)
    tz = timezone.get_current_timezone()
    t0 = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    span = (end - start).total_seconds()
    lanes: dict[object, list[dict]] = defaultdict(list)
    statuses: Counter = Counter()
    for op in selectors.order_operation_schedule(date_from=start, date_to=end)[:2000]:
        left = max((op.scheduled_start - t0).total_seconds(), 0)
        right = min((op.scheduled_end - t0).total_seconds(), span)
        lanes[op.work_center].append(
            {
                "op": op,
                "left": round(left * 100 / span, 3),
                "width": round(max(right - left, span / 2000) * 100 / span, 3),
                "late": op.order.late_by_minutes is not None,
            }
        )
        statuses[op.order.status] += 1
    return render(
        request,
        "production/gantt.html",
        {
            "lanes": sorted(lanes.items(), key=lambda kv: kv[0].code),
            "days": [
                {
                    "date": start + dt.timedelta(days=i),
                    "left": round(i * 100 / days, 3),
                    "weekend": (start + dt.timedelta(days=i)).weekday() >= 5,
                }
                for i in range(days)
            ],
            "start": start,
            "end": end,
            "span_days": days,
            "prev": start - dt.timedelta(days=days),
            "next": end,
            "can_plan": can_plan(request),
            "today_left": round((today - start).days * 100 / days, 3) if start <= today < end else None,
        },
    )
