"""Planner pages of the planning app: capacity load chart, work centers, routings, and the
planning run (start and watch runs, planned orders with firming, requisitions, exceptions)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from config.exceptions import DomainError
from config.pages import can_plan, office_required, paginate, planner_required, query_without, run_service
from planning import selectors
from planning.calendars import seconds_to_hours, work_center_times
from planning.enums import RUN_ACTIVE_STATUSES, BucketSize, PlannedOrderStatus
from planning.forms import ExceptionFilterForm, PlannedOrderFilterForm, RequisitionFilterForm, RunStartForm
from planning.models import PlanningRun
from planning.mrp import selectors as mrp_selectors
from planning.mrp import services as mrp_services
from production.models import ProductionOrder
from production.services import firming

CHART_HEIGHT = 160
MAX_CHART_WORK_CENTERS = 20


def _bar_chart(buckets, bucket: str) -> dict:
    """Geometry of an inline SVG bar chart: one bar of required hours per period against a
    tick of available hours; overloaded periods are marked."""
    top = max([b.required_hours for b in buckets] + [b.available_hours for b in buckets] + [Decimal(1)])
    width = 28 if bucket == BucketSize.DAY else 56
    bars = []
    for i, b in enumerate(buckets):
        req_h = float(b.required_hours / top) * CHART_HEIGHT
        cap_y = CHART_HEIGHT - float(b.available_hours / top) * CHART_HEIGHT
        bars.append(
            {
                "b": b,
                "x": i * width + 4,
                "w": width - 8,
                "y": CHART_HEIGHT - req_h,
                "h": req_h,
                "cap_y": cap_y,
                "label": b.period_start.strftime("%d" if bucket == BucketSize.DAY else "W%V"),
            }
        )
    return {"bars": bars, "width": len(buckets) * width + 8, "height": CHART_HEIGHT, "top": top}


@office_required
def capacity(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    bucket = request.GET.get("bucket", BucketSize.DAY)
    if bucket not in BucketSize.values:
        bucket = BucketSize.DAY
    try:
        start = dt.date.fromisoformat(request.GET["from"]) if request.GET.get("from") else today
    except ValueError:
        start = today
    days = 21 if bucket == BucketSize.DAY else 12 * 7
    end = start + dt.timedelta(days=days - 1)
    work_centers = selectors.work_center_list().filter(is_active=True)
    if request.GET.get("work_center", "").isdigit():
        work_centers = work_centers.filter(pk=int(request.GET["work_center"]))
    work_centers = list(work_centers[:MAX_CHART_WORK_CENTERS])
    error = None
    try:
        # All charts from one set-based read: the same queries for 2 or 20 work centers.
        loads = selectors.work_centers_load(
            work_center_ids=[wc.pk for wc in work_centers], date_from=start, date_to=end, bucket=bucket
        )
    except DomainError as exc:
        error, loads = exc.message, {}
    charts = [
        {"wc": wc, "overloads": sum(1 for b in loads[wc.pk] if b.overload), **_bar_chart(loads[wc.pk], bucket)}
        for wc in work_centers
        if wc.pk in loads
    ]
    return render(
        request,
        "planning/capacity.html",
        {
            "charts": charts,
            "error": error,
            "bucket": bucket,
            "start": start,
            "end": end,
            "all_work_centers": selectors.work_center_list().filter(is_active=True),
            "selected": request.GET.get("work_center", ""),
        },
    )


@office_required
def work_center_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.work_center_list()
    if request.GET.get("q"):
        rows = rows.filter(code__icontains=request.GET["q"].strip())
    page = paginate(request, rows)
    today = timezone.localdate()
    # Capacity of the coming week from the calendars of the whole page at once.
    times = work_center_times([wc.pk for wc in page])
    for wc in page:
        wc.week_hours = sum(
            (seconds_to_hours(times[wc.pk].capacity_seconds(today + dt.timedelta(days=i))) for i in range(7)),
            Decimal(0),
        )
    return render(
        request,
        "planning/work_center_list.html",
        {"page_obj": page, "keep_query": query_without(request, "page"), "q": request.GET.get("q", "")},
    )


@office_required
def routing_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.routing_list().order_by("item__sku", "version")
    if request.GET.get("q"):
        rows = rows.filter(item__sku__icontains=request.GET["q"].strip())
    page = paginate(request, rows)
    return render(
        request,
        "planning/routing_list.html",
        {"page_obj": page, "keep_query": query_without(request, "page"), "q": request.GET.get("q", "")},
    )


@office_required
def routing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    routing = get_object_or_404(selectors.routing_list(), pk=pk)
    return render(request, "planning/routing_detail.html", {"routing": routing})


# ------------------------------------------------------------------ planning run (MRP)
# The pages sit on top of both apps like the MRP run itself: firming is production's
# service, so these views call it (planning's models and services never import production).


def _run_context(run: PlanningRun) -> dict:
    progress = run.progress or {}
    levels, total = progress.get("levels") or 0, progress.get("items_total") or 0
    return {
        "run": run,
        "active": run.status in RUN_ACTIVE_STATUSES,
        "progress": progress,
        "pct": int(progress.get("items_done", 0) * 100 / total) if total else 0,
        "level_text": f"level {progress.get('level', 0)} of {levels}" if levels else "",
    }


@office_required
def run_list(request: HttpRequest) -> HttpResponse:
    form = RunStartForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not can_plan(request):
            raise PermissionDenied("Your role does not allow starting a planning run.")
        if form.is_valid():
            ok, run = run_service(request, mrp_services.planning_run_start, form=form, mode=form.cleaned_data["mode"])
            if ok:
                messages.success(request, f"Planning run {run.pk} queued.")
                return redirect("planning:run-detail", pk=run.pk)
            # The service's own status: 409 while another run is queued or running.
            status = run.status_code
        else:
            status = 400
    page = paginate(request, mrp_selectors.planning_run_list().order_by("-pk"), per_page=15)
    return render(
        request,
        "planning/run_list.html",
        {"form": form, "page_obj": page, "keep_query": query_without(request, "page"), "can_plan": can_plan(request)},
        status=status,
    )


@office_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(mrp_selectors.planning_run_list(), pk=pk)
    return render(request, "planning/run_detail.html", _run_context(run))


@office_required
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The small partial the detail page polls every second while the run is active; once
    the run has finished it renders without the polling trigger, which stops the polling."""
    run = get_object_or_404(mrp_selectors.planning_run_list(), pk=pk)
    return render(request, "planning/_run_progress.html", _run_context(run))


def _date_and_item_filters(rows, data: dict, *, date_field: str = "due_date", prefix: str = "due"):
    if data.get("item"):
        rows = rows.filter(item__sku__icontains=data["item"].strip())
    if data.get(f"{prefix}_from"):
        rows = rows.filter(**{f"{date_field}__gte": data[f"{prefix}_from"]})
    if data.get(f"{prefix}_to"):
        rows = rows.filter(**{f"{date_field}__lte": data[f"{prefix}_to"]})
    return rows


@office_required
def planned_order_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _firm_selected(request)
    # Unfiltered, the list shows what is left to firm; "Any" status shows firmed ones too.
    filter_form = PlannedOrderFilterForm(request.GET or {"status": PlannedOrderStatus.PLANNED})
    rows = mrp_selectors.planned_order_list()
    if filter_form.is_valid():
        data = filter_form.cleaned_data
        rows = _date_and_item_filters(rows, data)
        if data["status"]:
            rows = rows.filter(status=data["status"])
        if data["item_type"]:
            rows = rows.filter(item__item_type=data["item_type"])
    page = paginate(request, rows.select_related("item__uom").order_by("due_date", "pk"))
    # Firmed rows link to their production order: one query for the whole page.
    numbers = dict(
        ProductionOrder.objects.filter(
            pk__in=[o.production_order_id for o in page if o.production_order_id]
        ).values_list("pk", "number")
    )
    for o in page:
        o.production_order_number = numbers.get(o.production_order_id, "")
    return render(
        request,
        "planning/planned_order_list.html",
        {
            "filter_form": filter_form,
            "page_obj": page,
            "keep_query": query_without(request, "page"),
            "can_plan": can_plan(request),
            "results": request.session.pop("firm_results", None),
        },
    )


@planner_required
def _firm_selected(request: HttpRequest) -> HttpResponse:
    """All selected planned orders become production orders in one transaction, or none
    does and the service's message says why."""
    ids = [int(i) for i in request.POST.getlist("planned_order") if i.isdigit()]
    ok, orders = run_service(request, firming.planned_orders_firm, planned_order_ids=ids)
    if ok:
        # The service returns the orders in the (sorted) order of the planned orders.
        request.session["firm_results"] = [
            {"planned_order": p, "pk": o.pk, "number": o.number} for p, o in zip(sorted(set(ids)), orders, strict=True)
        ]
        messages.success(request, f"{len(orders)} production order{'s' if len(orders) != 1 else ''} created.")
    return redirect(f"{reverse('planning:planned-order-list')}?{request.GET.urlencode()}")


@office_required
def requisition_list(request: HttpRequest) -> HttpResponse:
    filter_form = RequisitionFilterForm(request.GET or None)
    rows = mrp_selectors.purchase_requisition_list()
    if filter_form.is_valid():
        data = filter_form.cleaned_data
        rows = _date_and_item_filters(rows, data)
        if data["status"]:
            rows = rows.filter(status=data["status"])
    page = paginate(request, rows.select_related("item__uom").order_by("due_date", "pk"))
    return render(
        request,
        "planning/requisition_list.html",
        {"filter_form": filter_form, "page_obj": page, "keep_query": query_without(request, "page")},
    )


@office_required
def exception_list(request: HttpRequest) -> HttpResponse:
    filter_form = ExceptionFilterForm(request.GET or None)
    rows = mrp_selectors.planning_exception_list()
    if filter_form.is_valid():
        data = filter_form.cleaned_data
        rows = _date_and_item_filters(rows, data, date_field="date", prefix="date")
        if data["kind"]:
            rows = rows.filter(kind=data["kind"])
    page = paginate(request, rows.order_by("item__sku", "date", "pk"))
    return render(
        request,
        "planning/exception_list.html",
        {"filter_form": filter_form, "page_obj": page, "keep_query": query_without(request, "page")},
    )
