"""Planner pages of the planning app: capacity load chart, work centers, routings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from config.exceptions import DomainError
from config.pages import office_required, paginate, query_without
from planning import selectors
from planning.calendars import seconds_to_hours, work_center_times
from planning.enums import BucketSize

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
    charts, error = [], None
    for wc in work_centers[:MAX_CHART_WORK_CENTERS]:
        try:
            buckets = selectors.work_center_load(work_center_id=wc.pk, date_from=start, date_to=end, bucket=bucket)
        except DomainError as exc:
            error = exc.message
            break
        charts.append({"wc": wc, "overloads": sum(1 for b in buckets if b.overload), **_bar_chart(buckets, bucket)})
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
