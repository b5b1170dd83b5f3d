"""Master data pages of the inventory app: items with stock, BOMs exploded and where-used."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from config.exceptions import DomainError
from config.pages import office_required, paginate, query_without
from inventory import selectors, services
from inventory.enums import BomStatus, ItemType
from inventory.models import Bom, Item, StockBalance


def _stock_totals():
    totals = (
        StockBalance.objects.filter(item=OuterRef("pk")).values("item").annotate(total=Sum("on_hand")).values("total")
    )
    reserved = (
        StockBalance.objects.filter(item=OuterRef("pk")).values("item").annotate(total=Sum("reserved")).values("total")
    )
    zero = Value(Decimal(0), output_field=DecimalField(max_digits=18, decimal_places=4))
    return {"on_hand": Coalesce(Subquery(totals), zero), "reserved_total": Coalesce(Subquery(reserved), zero)}


@office_required
def item_list(request: HttpRequest) -> HttpResponse:
    rows = Item.objects.select_related("uom").annotate(**_stock_totals())
    q = request.GET.get("q", "").strip()
    if q:
        rows = rows.filter(Q(sku__icontains=q) | Q(name__icontains=q))
    item_type = request.GET.get("type", "")
    if item_type in ItemType.values:
        rows = rows.filter(item_type=item_type)
    page = paginate(request, rows.order_by("sku"))
    return render(
        request,
        "inventory/item_list.html",
        {
            "page_obj": page,
            "keep_query": query_without(request, "page"),
            "q": q,
            "item_type": item_type,
            "types": ItemType.choices,
        },
    )


@office_required
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Item.objects.select_related("uom"), pk=pk)
    balances = (
        selectors.stock_balance_list().filter(item=item).exclude(on_hand=0, reserved=0).order_by("location__code")
    )
    boms = list(selectors.bom_list().filter(item=item).order_by("-version"))
    return render(
        request,
        "inventory/item_detail.html",
        {
            "item": item,
            "balances": balances,
            "boms": boms,
            "where_used": services.bom_where_used(item_id=item.pk),
        },
    )


@office_required
def bom_detail(request: HttpRequest, pk: int) -> HttpResponse:
    bom = get_object_or_404(selectors.bom_list().select_related("item__uom"), pk=pk)
    try:
        quantity = Decimal(request.GET.get("quantity") or bom.base_quantity)
    except InvalidOperation:
        quantity = bom.base_quantity
    explosion, error = [], None
    if bom.status == BomStatus.ACTIVE:
        try:
            explosion = services.bom_explode(bom_id=bom.pk, quantity=quantity)
        except DomainError as exc:
            error = exc.message
    else:
        error = f"This BOM is {bom.get_status_display().lower()}; only active BOMs are exploded."
    items = Item.objects.in_bulk({line.item_id for line in explosion})
    return render(
        request,
        "inventory/bom_detail.html",
        {
            "bom": bom,
            "lines": sorted(bom.lines.all(), key=lambda line: line.position),
            "explosion": [(line, items.get(line.item_id)) for line in explosion],
            "quantity": quantity,
            "error": error,
            "other_versions": Bom.objects.filter(item=bom.item).exclude(pk=bom.pk).order_by("-version"),
        },
    )
