"""REST API of production orders: validate input, call a service or selector, shape output."""

from __future__ import annotations

import re

import django_filters
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.exceptions import ValidationFailed, request_field_names
from config.idempotency import idempotent
from inventory.models import Item
from production import selectors, services
from production.enums import OrderStatus, OrderType
from production.models import ProductionOrder
from production.serializers import (
    CampaignReportQuerySerializer,
    CampaignReportSerializer,
    ComponentInputSerializer,
    ComponentSerializer,
    CostSerializer,
    IssueSerializer,
    MergeSerializer,
    OperationInputSerializer,
    OperationSerializer,
    OrderAuditSerializer,
    OrderAvailabilitySerializer,
    ProductionOrderCreateSerializer,
    ProductionOrderDetailSerializer,
    ProductionOrderListSerializer,
    ProductionOrderUpdateSerializer,
    ReasonSerializer,
    ReleaseSerializer,
    RescheduleSerializer,
    SplitSerializer,
)

# The stock posting behind a manual issue names its arguments in errors
# (``lines[1].lot_id``); the request's lines have ``lot``, ``location`` and ``component``
# (whose reservation the issue consumes). One posting line per request line, same index.
_ISSUE_LINE_FIELD = re.compile(r"(lines\[\d+\]\.)(item|location|lot|reservation)_id")


def _issue_request_field(name: str) -> str:
    line = _ISSUE_LINE_FIELD.fullmatch(name)
    if line is None:
        return name
    return line[1] + ("component" if line[2] == "reservation" else line[2])


class ProductionOrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    order_type = django_filters.MultipleChoiceFilter(choices=OrderType.choices)
    item = django_filters.NumberFilter(field_name="item_id")
    item_sku = django_filters.CharFilter(field_name="item__sku")
    work_center = django_filters.NumberFilter(method="filter_work_center")
    due_from = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_to = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")
    sales_order_line = django_filters.NumberFilter(field_name="sales_order_line_id")
    is_campaign = django_filters.BooleanFilter()
    late = django_filters.BooleanFilter(field_name="late_by_minutes", lookup_expr="isnull", exclude=True)

    class Meta:
        model = ProductionOrder
        fields = ["status", "order_type", "item", "priority"]

    def filter_work_center(self, queryset, name, value):
        from production.models import OrderOperation

        return queryset.filter(pk__in=OrderOperation.objects.filter(work_center_id=value).values("order_id"))


def _expected_version(request: Request) -> int | None:
    """The version named by ``If-Match``; None when absent or ``*`` (any current version)."""
    raw = (request.headers.get("If-Match") or "").strip()
    if not raw or raw == "*":
        return None
    raw = raw.removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise ValidationFailed("If-Match must be the order's ETag.", fields={"If-Match": "not an ETag"})
    return int(raw)


def _etag(order: ProductionOrder) -> str:
    return f'"{order.version}"'


def _etag_of(order_id: int) -> str:
    return f'"{ProductionOrder.objects.values_list("version", flat=True).get(pk=order_id)}"'


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="The order's ETag as you last read it. If the order changed since, the command is refused "
    "with 412 (code `stale_version`) and nothing is written. Without it the command is not checked.",
)
ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201, 204],
    description="The order's version after this request; send it as If-Match with your next command.",
)
STALE = OpenApiResponse(
    description="If-Match names an older version of the order: the error shape "
    '`{"code": "stale_version", "message": ..., "fields": {"version": ["stale"]}}`; nothing was written.'
)


ISSUE_RESULT = inline_serializer(
    "IssueResult",
    {
        "posting": serializers.IntegerField(help_text="The stock posting of the issue or return."),
        "components": ComponentSerializer(many=True),
    },
)


def order_command(
    *, request=None, ok=ProductionOrderDetailSerializer, status_code: int = 200, methods=None, etag: bool = True
):
    """OpenAPI of a command that changes the order: optional If-Match, ETag back, 412 when stale."""
    return extend_schema(
        methods=methods,
        request=request,
        responses={status_code: ok, 412: STALE},
        parameters=[IF_MATCH, ETAG] if etag else [IF_MATCH],
    )


class ProductionOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Production orders. Commands are actions that call services; every command that a
    client may repeat honours `Idempotency-Key`."""

    filterset_class = ProductionOrderFilter
    ordering_fields = ["due_date", "priority", "number", "scheduled_start", "created_at"]
    ordering = ["-id"]
    search_fields = ["number", "item__sku", "item__name"]

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.production_order_detail_qs()
        return selectors.production_order_list()

    def get_serializer_class(self):
        return ProductionOrderDetailSerializer if self.action == "retrieve" else ProductionOrderListSerializer

    def _detail(self, order_id: int, status_code: int = status.HTTP_200_OK) -> Response:
        order = selectors.production_order_detail_qs().get(pk=order_id)
        return Response(ProductionOrderDetailSerializer(order).data, status=status_code, headers={"ETag": _etag(order)})

    @extend_schema(parameters=[ETAG])
    def retrieve(self, request, *args, **kwargs):
        order = self.get_object()
        return Response(self.get_serializer(order).data, headers={"ETag": _etag(order)})

    @extend_schema(
        request=ProductionOrderCreateSerializer, responses={201: ProductionOrderDetailSerializer}, parameters=[ETAG]
    )
    @idempotent
    def create(self, request: Request) -> Response:
        body = ProductionOrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if "item" not in data:
            item = Item.objects.filter(sku=data.pop("item_sku")).first()
            if item is None:
                raise ValidationFailed("Unknown item_sku.", code="unknown_item", fields={"item_sku": "unknown"})
            data["item"] = item.pk
        data.pop("item_sku", None)
        order = services.production_order_create(
            item_id=data.pop("item"),
            cost_center_id=data.pop("cost_center", None),
            issue_location_id=data.pop("issue_location", None),
            receipt_location_id=data.pop("receipt_location", None),
            parent_id=data.pop("parent", None),
            user=request.user,
            **data,
        )
        return self._detail(order.pk, status.HTTP_201_CREATED)

    @order_command(request=ProductionOrderUpdateSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        body = ProductionOrderUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        order = services.production_order_update(
            order_id=int(pk),
            user=request.user,
            expected_version=_expected_version(request),
            cost_center_id=data.pop("cost_center", None),
            **data,
        )
        return self._detail(order.pk)

    @order_command(ok=None, status_code=204, etag=False)
    def destroy(self, request: Request, pk: str) -> Response:
        services.production_order_delete(
            order_id=int(pk), user=request.user, expected_version=_expected_version(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @order_command(request=ReleaseSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def release(self, request: Request, pk: str) -> Response:
        body = ReleaseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_order_release(
            order_id=int(pk), user=request.user, expected_version=_expected_version(request), **body.validated_data
        )
        return self._detail(int(pk))

    @order_command(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def close(self, request: Request, pk: str) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_order_close(
            order_id=int(pk), user=request.user, expected_version=_expected_version(request), **body.validated_data
        )
        return self._detail(int(pk))

    @order_command(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_order_cancel(
            order_id=int(pk), user=request.user, expected_version=_expected_version(request), **body.validated_data
        )
        return self._detail(int(pk))

    @order_command(request=ReasonSerializer)
    @action(detail=True, methods=["post"], url_path="approve-engineering")
    @idempotent
    def approve_engineering(self, request: Request, pk: str) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_order_engineering_approve(
            order_id=int(pk), user=request.user, expected_version=_expected_version(request), **body.validated_data
        )
        return self._detail(int(pk))

    @order_command(request=RescheduleSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def reschedule(self, request: Request, pk: str) -> Response:
        body = RescheduleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_order_reschedule(
            order_id=int(pk), user=request.user, expected_version=_expected_version(request), **body.validated_data
        )
        return self._detail(int(pk))

    @extend_schema(
        request=MergeSerializer,
        responses={200: ProductionOrderDetailSerializer, 412: STALE},
        parameters=[IF_MATCH, ETAG],
        description="Merge the named orders into this one. They must be for the same item, BOM version, "
        "routing, order type and receipt location, all planned or all released, pegged alike (all to sales "
        "lines or none), not ETO, and nothing may be posted on any of them. This order's quantity becomes the "
        "sum, its due date the earliest, its priority the most urgent; each source becomes `merged` with "
        "`merged_into` set, and `merge_sources` lists every share with its demand and the output and cost "
        "allocated to it. `If-Match` is this order's ETag. Errors: 400 `self_merge`, `duplicate_source`, "
        "`unknown_order`, `item_mismatch`, `bom_mismatch`, `routing_mismatch`, `order_type_mismatch`, "
        "`location_mismatch`, `pegging_mismatch`, `eto_not_mergeable`; 409 `invalid_status`, `status_mismatch`, "
        "`has_postings`; 412 `stale_version`.",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def merge(self, request: Request, pk: str) -> Response:
        body = MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_orders_merge(
            target_id=int(pk),
            source_ids=body.validated_data["source_orders"],
            reason=body.validated_data["reason"],
            user=request.user,
            expected_version=_expected_version(request),
        )
        return self._detail(int(pk))

    @extend_schema(
        request=SplitSerializer,
        responses={201: ProductionOrderDetailSerializer, 412: STALE},
        parameters=[IF_MATCH],
        description="Move `quantity` out of this order into a new order of the same item, BOM and routing, in "
        "the same status (a copy of this order's structure, scaled; `split_from` points here; same sales "
        "order line and parent). Answers 201 with the new order (its ETag, `Location` to it); this order's "
        "quantity, components, reservations and schedule shrink accordingly. Only planned or released orders "
        "with nothing posted can be split: an order in progress has issued material and confirmed work that "
        "belong to it (close it short and plan anew instead). `If-Match` is this order's ETag. Errors: 400 "
        "`invalid_quantity`, `quantity_too_large`; 409 `invalid_status`, `has_postings`, `merged_order`; "
        "412 `stale_version`.",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def split(self, request: Request, pk: str) -> Response:
        body = SplitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        new = services.production_order_split(
            order_id=int(pk), user=request.user, expected_version=_expected_version(request), **body.validated_data
        )
        response = self._detail(new.pk, status.HTTP_201_CREATED)
        response["Location"] = reverse("production-order-detail", args=[new.pk])
        return response

    @extend_schema(responses={200: OrderAvailabilitySerializer})
    @action(detail=True, methods=["get"])
    def availability(self, request: Request, pk: str) -> Response:
        order = get_object_or_404(ProductionOrder, pk=pk)
        rows = selectors.production_order_availability(order=order)
        return Response(
            OrderAvailabilitySerializer(
                {"order": order.number, "ready": all(r.short == 0 for r in rows), "components": rows}
            ).data
        )

    @order_command(request=IssueSerializer, ok=ISSUE_RESULT, status_code=201)
    @action(detail=True, methods=["post"])
    @idempotent
    def issue(self, request: Request, pk: str) -> Response:
        """Manual material issue (positive quantities) or return (negative) against the order.
        An item the order does not list is added as an unplanned component, which moves the
        order's version (ETag)."""
        body = IssueSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with request_field_names(_issue_request_field):
            posting = services.production_order_issue(
                order_id=int(pk),
                user=request.user,
                expected_version=_expected_version(request),
                note=body.validated_data["note"],
                lines=[
                    services.IssueLine(
                        quantity=line["quantity"],
                        component_id=line.get("component"),
                        item_id=line.get("item"),
                        lot_id=line.get("lot"),
                        location_id=line.get("location"),
                    )
                    for line in body.validated_data["lines"]
                ],
            )
        order = selectors.production_order_detail_qs().get(pk=int(pk))
        return Response(
            {
                "posting": posting.pk,
                "components": ComponentSerializer(order.components.all(), many=True).data,
            },
            status=status.HTTP_201_CREATED,
            headers={"ETag": _etag(order)},
        )

    # Components and operations are edited the same way: list/add on the collection,
    # update/remove on one child; both answer with the order's whole list.
    def _children(self, request: Request, pk: str, *, input_serializer, to_input, add, related, output) -> Response:
        if request.method == "POST":
            body = input_serializer(data=request.data)
            body.is_valid(raise_exception=True)
            add(
                order_id=int(pk),
                data=to_input(body.validated_data),
                user=request.user,
                expected_version=_expected_version(request),
            )
        order = selectors.production_order_detail_qs().get(pk=int(pk))
        return Response(
            output(getattr(order, related).all(), many=True).data,
            status=status.HTTP_201_CREATED if request.method == "POST" else status.HTTP_200_OK,
            headers={"ETag": _etag(order)},
        )

    def _child(
        self, request: Request, pk: str, child: dict, *, input_serializer, to_input, update, remove, related, output
    ) -> Response:
        expected_version = _expected_version(request)
        if request.method == "DELETE":
            remove(order_id=int(pk), user=request.user, expected_version=expected_version, **child)
            return Response(status=status.HTTP_204_NO_CONTENT, headers={"ETag": _etag_of(int(pk))})
        body = input_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        update(
            order_id=int(pk),
            data=to_input(body.validated_data),
            user=request.user,
            expected_version=expected_version,
            **child,
        )
        order = selectors.production_order_detail_qs().get(pk=int(pk))
        return Response(output(getattr(order, related).all(), many=True).data, headers={"ETag": _etag(order)})

    @extend_schema(methods=["GET"], responses={200: ComponentSerializer(many=True)}, parameters=[ETAG])
    @order_command(
        methods=["POST"], request=ComponentInputSerializer, ok=ComponentSerializer(many=True), status_code=201
    )
    @action(detail=True, methods=["get", "post"])
    @idempotent
    def components(self, request: Request, pk: str) -> Response:
        return self._children(
            request,
            pk,
            input_serializer=ComponentInputSerializer,
            to_input=_component_input,
            add=services.production_order_component_add,
            related="components",
            output=ComponentSerializer,
        )

    @order_command(methods=["PUT"], request=ComponentInputSerializer, ok=ComponentSerializer(many=True))
    @order_command(methods=["DELETE"], ok=None, status_code=204)
    @action(detail=True, methods=["put", "delete"], url_path=r"components/(?P<component_id>\d+)")
    def component(self, request: Request, pk: str, component_id: str) -> Response:
        return self._child(
            request,
            pk,
            {"component_id": int(component_id)},
            input_serializer=ComponentInputSerializer,
            to_input=_component_input,
            update=services.production_order_component_update,
            remove=services.production_order_component_remove,
            related="components",
            output=ComponentSerializer,
        )

    @extend_schema(methods=["GET"], responses={200: OperationSerializer(many=True)}, parameters=[ETAG])
    @order_command(
        methods=["POST"], request=OperationInputSerializer, ok=OperationSerializer(many=True), status_code=201
    )
    @action(detail=True, methods=["get", "post"])
    @idempotent
    def operations(self, request: Request, pk: str) -> Response:
        return self._children(
            request,
            pk,
            input_serializer=OperationInputSerializer,
            to_input=_operation_input,
            add=services.production_order_operation_add,
            related="operations",
            output=OperationSerializer,
        )

    @order_command(methods=["PUT"], request=OperationInputSerializer, ok=OperationSerializer(many=True))
    @order_command(methods=["DELETE"], ok=None, status_code=204)
    @action(detail=True, methods=["put", "delete"], url_path=r"operations/(?P<operation_id>\d+)")
    def operation(self, request: Request, pk: str, operation_id: str) -> Response:
        return self._child(
            request,
            pk,
            {"operation_id": int(operation_id)},
            input_serializer=OperationInputSerializer,
            to_input=_operation_input,
            update=services.production_order_operation_update,
            remove=services.production_order_operation_remove,
            related="operations",
            output=OperationSerializer,
        )

    @extend_schema(
        parameters=[CampaignReportQuerySerializer],
        responses={
            200: CampaignReportSerializer,
            400: OpenApiResponse(
                description="`not_a_campaign`: the order is not a campaign; `invalid_bucket`: bucket is not "
                "day, week or month."
            ),
        },
    )
    @action(detail=True, methods=["get"], url_path="campaign-report")
    def campaign_report(self, request: Request, pk: str) -> Response:
        """A campaign's output (good received, scrap reported) and consumption per component,
        per day, week or month of the campaign, each period with its share of the target.
        400 (`not_a_campaign`) for an order that is not a campaign, (`invalid_bucket`) for
        another bucket."""
        query = CampaignReportQuerySerializer(data=request.query_params)
        if not query.is_valid():
            raise ValidationFailed(
                "bucket must be one of day, week, month.",
                code="invalid_bucket",
                fields={"bucket": "one of day, week, month"},
            )
        order = get_object_or_404(ProductionOrder.objects.select_related("item__uom"), pk=pk)
        report = selectors.production_order_campaign_report(order=order, bucket=query.validated_data["bucket"])
        return Response(CampaignReportSerializer(report).data)

    @extend_schema(responses={200: CostSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def costs(self, request: Request, pk: str) -> Response:
        """Planned cost (fixed at release), actual cost so far (from the postings and confirmed
        times; fixed at close) and variance (at close) per category and cost center."""
        order = get_object_or_404(ProductionOrder, pk=pk)
        return Response(CostSerializer(selectors.production_order_costs(order=order), many=True).data)

    @extend_schema(responses={200: OrderAuditSerializer})
    @action(detail=True, methods=["get"])
    def audit(self, request: Request, pk: str) -> Response:
        """Status transitions (who, when, from, to, why) and every field change of the order,
        its components and operations."""
        order = get_object_or_404(ProductionOrder, pk=pk)
        audit = selectors.production_order_audit(order=order)
        return Response(OrderAuditSerializer({"transitions": audit.transitions, "changes": audit.changes}).data)


def _component_input(data: dict) -> services.ComponentInput:
    return services.ComponentInput(
        item_id=data["item"],
        quantity_per_unit=data["quantity_per_unit"],
        scrap_percent=data["scrap_percent"],
        flushing=data["flushing"],
        operation_sequence=data.get("operation_sequence"),
        issue_location_id=data.get("issue_location"),
    )


def _operation_input(data: dict) -> services.OperationInput:
    return services.OperationInput(
        sequence=data["sequence"],
        work_center_id=data["work_center"],
        setup_minutes=data["setup_minutes"],
        run_minutes_per_unit=data["run_minutes_per_unit"],
        queue_minutes=data["queue_minutes"],
        move_minutes=data["move_minutes"],
        description=data["description"],
        instructions=data["instructions"],
        reporting_point=data["reporting_point"],
    )
