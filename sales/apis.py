"""REST API of customers and sales orders: validate input, call a service or selector, shape
output. Integrations (token auth, role `integration`) may create, confirm and deliver."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.exceptions import ValidationFailed
from config.idempotency import idempotent
from config.roles import PLANNING_ROLES, Role
from inventory.models import Item
from production.serializers import ReasonSerializer
from sales import selectors, services
from sales.enums import SalesOrderStatus
from sales.models import Customer, SalesOrder
from sales.serializers import (
    AvailabilitySerializer,
    CustomerSerializer,
    CustomerUpdateSerializer,
    DeliverSerializer,
    DeliverySerializer,
    LineCancelSerializer,
    SalesOrderCreateSerializer,
    SalesOrderDetailSerializer,
    SalesOrderListSerializer,
    SalesOrderUpdateSerializer,
)

SALES_WRITERS = PLANNING_ROLES | {Role.INTEGRATION}


class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CustomerSerializer
    write_roles = SALES_WRITERS
    search_fields = ["code", "name"]
    ordering = ["code"]
    filterset_fields = ["is_active", "currency"]

    def get_queryset(self):
        return selectors.customer_list()

    @idempotent
    def create(self, request: Request) -> Response:
        body = CustomerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customer = services.customer_create(user=request.user, **body.validated_data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CustomerUpdateSerializer, responses={200: CustomerSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        body = CustomerUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customer = services.customer_update(customer_id=int(pk), user=request.user, **body.validated_data)
        return Response(CustomerSerializer(customer).data)


class SalesOrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=SalesOrderStatus.choices)
    customer = django_filters.NumberFilter(field_name="customer_id")
    customer_code = django_filters.CharFilter(field_name="customer__code")

    class Meta:
        model = SalesOrder
        fields = ["status", "customer"]


def _lines_input(lines: list[dict], field: str = "lines") -> list[services.LineInput]:
    skus = {ln["item_sku"] for ln in lines if "item" not in ln}
    by_sku = dict(Item.objects.filter(sku__in=skus).values_list("sku", "pk")) if skus else {}
    out = []
    for index, ln in enumerate(lines):
        item_id = ln.get("item")
        if item_id is None:
            item_id = by_sku.get(ln["item_sku"])
            if item_id is None:
                raise ValidationFailed(
                    f"Unknown item_sku {ln['item_sku']!r}.",
                    code="unknown_item",
                    fields={f"{field}[{index}].item_sku": "unknown"},
                )
        out.append(
            services.LineInput(
                item_id=item_id,
                quantity=ln["quantity"],
                requested_date=ln["requested_date"],
                unit_price=ln.get("unit_price") or 0,
            )
        )
    return out


def _customer_id(data: dict) -> int:
    if data.get("customer") is not None:
        return data["customer"]
    customer = Customer.objects.filter(code=data["customer_code"]).values_list("pk", flat=True).first()
    if customer is None:
        raise ValidationFailed(
            f"Unknown customer_code {data['customer_code']!r}.",
            code="unknown_customer",
            fields={"customer_code": "unknown"},
        )
    return customer


class SalesOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sales orders with their lines. Commands are actions that call services; create,
    confirm and deliver honour `Idempotency-Key`."""

    write_roles = SALES_WRITERS
    filterset_class = SalesOrderFilter
    ordering_fields = ["number", "created_at", "confirmed_at"]
    ordering = ["-id"]
    search_fields = ["number", "customer__code", "customer__name", "customer_reference"]

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.sales_order_detail_qs()
        return selectors.sales_order_list()

    def get_serializer_class(self):
        return SalesOrderDetailSerializer if self.action == "retrieve" else SalesOrderListSerializer

    def _detail_data(self, order: SalesOrder) -> dict:
        fulfilment = selectors.line_fulfilment_map(line_ids=[ln.pk for ln in order.lines.all()])
        return SalesOrderDetailSerializer(order, context={"fulfilment": fulfilment}).data

    def _detail(self, order_id: int, status_code: int = status.HTTP_200_OK, **extra) -> Response:
        order = selectors.sales_order_detail_qs().get(pk=order_id)
        return Response({**self._detail_data(order), **extra}, status=status_code)

    def retrieve(self, request, *args, **kwargs):
        return Response(self._detail_data(self.get_object()))

    @extend_schema(request=SalesOrderCreateSerializer, responses={201: SalesOrderDetailSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        body = SalesOrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        order = services.sales_order_create(
            customer_id=_customer_id(data),
            lines=_lines_input(data["lines"]),
            customer_reference=data.get("customer_reference", ""),
            currency=data.get("currency"),
            user=request.user,
        )
        return self._detail(order.pk, status.HTTP_201_CREATED)

    @extend_schema(request=SalesOrderUpdateSerializer, responses={200: SalesOrderDetailSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        body = SalesOrderUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.sales_order_update(
            order_id=int(pk),
            user=request.user,
            customer_id=data.get("customer"),
            customer_reference=data.get("customer_reference"),
            currency=data.get("currency"),
            lines=_lines_input(data["lines"]) if "lines" in data else None,
        )
        return self._detail(int(pk))

    @extend_schema(request=None, responses={200: SalesOrderDetailSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def confirm(self, request: Request, pk: str) -> Response:
        result = services.sales_order_confirm(order_id=int(pk), user=request.user)
        availability = AvailabilitySerializer(result.availability, many=True).data
        return self._detail(int(pk), availability=availability)

    @extend_schema(request=ReasonSerializer, responses={200: SalesOrderDetailSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.sales_order_cancel(order_id=int(pk), user=request.user, **body.validated_data)
        return self._detail(int(pk))

    @extend_schema(request=LineCancelSerializer, responses={200: SalesOrderDetailSerializer})
    @action(detail=True, methods=["post"], url_path="cancel-line")
    @idempotent
    def cancel_line(self, request: Request, pk: str) -> Response:
        body = LineCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.sales_order_line_cancel(
            order_id=int(pk),
            line_id=body.validated_data["line"],
            reason=body.validated_data["reason"],
            user=request.user,
        )
        return self._detail(int(pk))

    @extend_schema(request=None, responses={200: SalesOrderDetailSerializer})
    @action(detail=True, methods=["post"], url_path="retry-generation")
    @idempotent
    def retry_generation(self, request: Request, pk: str) -> Response:
        services.sales_order_generation_retry(order_id=int(pk), user=request.user)
        return self._detail(int(pk))

    @extend_schema(request=DeliverSerializer, responses={201: DeliverySerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def deliver(self, request: Request, pk: str) -> Response:
        body = DeliverSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        delivery = services.sales_order_deliver(
            order_id=int(pk),
            lines=[
                services.DeliveryLineInput(line_id=ln["line"], quantity=ln["quantity"], lot_id=ln.get("lot"))
                for ln in body.validated_data["lines"]
            ],
            note=body.validated_data["note"],
            user=request.user,
        )
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_201_CREATED)
