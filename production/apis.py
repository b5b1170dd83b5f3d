"""REST API of production orders: validate input, call a service or selector, shape output."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.exceptions import ValidationFailed
from config.idempotency import idempotent
from inventory.models import Item
from production import selectors, services
from production.enums import OrderStatus, OrderType
from production.models import ProductionOrder
from production.serializers import (
    AuditEventSerializer,
    AvailabilitySerializer,
    ComponentInputSerializer,
    ComponentSerializer,
    CostSerializer,
    IssueSerializer,
    OperationInputSerializer,
    OperationSerializer,
    ProductionOrderCreateSerializer,
    ProductionOrderDetailSerializer,
    ProductionOrderListSerializer,
    ProductionOrderUpdateSerializer,
    ReasonSerializer,
    ReleaseSerializer,
    RescheduleSerializer,
    StatusChangeSerializer,
)


class ProductionOrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    order_type = django_filters.MultipleChoiceFilter(choices=OrderType.choices)
    item = django_filters.NumberFilter(field_name="item_id")
    item_sku = django_filters.CharFilter(field_name="item__sku")
    work_center = django_filters.NumberFilter(method="filter_work_center")
    due_from = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_to = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")
    sales_order_line = django_filters.NumberFilter(field_name="sales_order_line_id")
    late = django_filters.BooleanFilter(field_name="late_by_minutes", lookup_expr="isnull", exclude=True)

    class Meta:
        model = ProductionOrder
        fields = ["status", "order_type", "item", "priority"]

    def filter_work_center(self, queryset, name, value):
        from production.models import OrderOperation

        return queryset.filter(pk__in=OrderOperation.objects.filter(work_center_id=value).values("order_id"))


def _expected_version(request: Request) -> int | None:
    raw = request.headers.get("If-Match")
    if not raw:
        return None
    raw = raw.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise ValidationFailed("If-Match must be the order's ETag.", fields={"If-Match": "not an ETag"})
    return int(raw)


def _etag(order: ProductionOrder) -> str:
    return f'"{order.version}"'


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

    def retrieve(self, request, *args, **kwargs):
        order = self.get_object()
        return Response(self.get_serializer(order).data, headers={"ETag": _etag(order)})

    @extend_schema(request=ProductionOrderCreateSerializer, responses={201: ProductionOrderDetailSerializer})
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

    @extend_schema(
        request=ProductionOrderUpdateSerializer,
        responses={200: ProductionOrderDetailSerializer},
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, description="ETag of the order")],
    )
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

    def destroy(self, request: Request, pk: str) -> Response:
        services.production_order_delete(order_id=int(pk), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ReleaseSerializer, responses={200: ProductionOrderDetailSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def release(self, request: Request, pk: str) -> Response:
        body = ReleaseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_order_release(order_id=int(pk), user=request.user, **body.validated_data)
        return self._detail(int(pk))

    @extend_schema(request=ReasonSerializer, responses={200: ProductionOrderDetailSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def close(self, request: Request, pk: str) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_order_close(order_id=int(pk), user=request.user, **body.validated_data)
        return self._detail(int(pk))

    @extend_schema(request=ReasonSerializer, responses={200: ProductionOrderDetailSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_order_cancel(order_id=int(pk), user=request.user, **body.validated_data)
        return self._detail(int(pk))

    @extend_schema(request=ReasonSerializer, responses={200: ProductionOrderDetailSerializer})
    @action(detail=True, methods=["post"], url_path="approve-engineering")
    @idempotent
    def approve_engineering(self, request: Request, pk: str) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_order_engineering_approve(order_id=int(pk), user=request.user, **body.validated_data)
        return self._detail(int(pk))

    @extend_schema(request=RescheduleSerializer, responses={200: ProductionOrderDetailSerializer})
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: str) -> Response:
        body = RescheduleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.production_order_reschedule(order_id=int(pk), user=request.user, **body.validated_data)
        return self._detail(int(pk))

    @extend_schema(responses={200: AvailabilitySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def availability(self, request: Request, pk: str) -> Response:
        order = get_object_or_404(ProductionOrder, pk=pk)
        rows = selectors.production_order_availability(order=order)
        return Response(
            {
                "order": order.number,
                "ready": all(r.short == 0 for r in rows),
                "components": AvailabilitySerializer(rows, many=True).data,
            }
        )

    @extend_schema(request=IssueSerializer, responses={201: ComponentSerializer(many=True)})
    @action(detail=True, methods=["post"])
    @idempotent
    def issue(self, request: Request, pk: str) -> Response:
        """Manual material issue (positive quantities) or return (negative) against the order."""
        body = IssueSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        posting = services.production_order_issue(
            order_id=int(pk),
            user=request.user,
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
        )

    # Components and operations are edited the same way: list/add on the collection,
    # update/remove on one child; both answer with the order's whole list.
    def _children(self, request: Request, pk: str, *, input_serializer, to_input, add, related, output) -> Response:
        if request.method == "POST":
            body = input_serializer(data=request.data)
            body.is_valid(raise_exception=True)
            add(order_id=int(pk), data=to_input(body.validated_data), user=request.user)
        order = selectors.production_order_detail_qs().get(pk=int(pk))
        return Response(
            output(getattr(order, related).all(), many=True).data,
            status=status.HTTP_201_CREATED if request.method == "POST" else status.HTTP_200_OK,
        )

    def _child(
        self, request: Request, pk: str, child: dict, *, input_serializer, to_input, update, remove, related, output
    ) -> Response:
        if request.method == "DELETE":
            remove(order_id=int(pk), user=request.user, **child)
            return Response(status=status.HTTP_204_NO_CONTENT)
        body = input_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        update(order_id=int(pk), data=to_input(body.validated_data), user=request.user, **child)
        order = selectors.production_order_detail_qs().get(pk=int(pk))
        return Response(output(getattr(order, related).all(), many=True).data)

    @extend_schema(request=ComponentInputSerializer, responses={200: ComponentSerializer(many=True)})
    @action(detail=True, methods=["get", "post"])
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

    @extend_schema(request=ComponentInputSerializer, responses={200: ComponentSerializer(many=True)})
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

    @extend_schema(request=OperationInputSerializer, responses={200: OperationSerializer(many=True)})
    @action(detail=True, methods=["get", "post"])
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

    @extend_schema(request=OperationInputSerializer, responses={200: OperationSerializer(many=True)})
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

    @extend_schema(responses={200: CostSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def costs(self, request: Request, pk: str) -> Response:
        order = get_object_or_404(ProductionOrder, pk=pk)
        return Response(CostSerializer(order.costs.all(), many=True).data)

    @extend_schema(responses={200: AuditEventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def audit(self, request: Request, pk: str) -> Response:
        """Status transitions (who, when, from, to, why) and every field change of the order,
        its components and operations."""
        order = get_object_or_404(ProductionOrder, pk=pk)
        audit = selectors.production_order_audit(order=order)
        return Response(
            {
                "transitions": StatusChangeSerializer(audit.transitions, many=True).data,
                "changes": AuditEventSerializer(audit.changes, many=True).data,
            }
        )


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
