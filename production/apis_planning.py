"""Planned orders of the planning run, served from production because firming creates
production orders (planning must not import production outside ``planning.mrp``)."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.idempotency import idempotent
from planning.apis_mrp import PeggingSerializer
from planning.enums import PlannedOrderStatus
from planning.models import PlannedOrder
from planning.mrp import selectors
from production import services


class PlannedOrderSerializer(serializers.ModelSerializer):
    item_sku = serializers.CharField(source="item.sku", read_only=True)
    peggings = PeggingSerializer(many=True, read_only=True)

    class Meta:
        model = PlannedOrder
        fields = [
            "id",
            "run",
            "item",
            "item_sku",
            "quantity",
            "start_date",
            "due_date",
            "level",
            "status",
            "production_order_id",
            "firmed_at",
            "peggings",
        ]


class FirmOverrideSerializer(serializers.Serializer):
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4, required=False, min_value=0)
    due_date = serializers.DateField(required=False)
    start_date = serializers.DateField(required=False)


class FirmBulkSerializer(serializers.Serializer):
    planned_order_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000
    )
    overrides = serializers.DictField(child=FirmOverrideSerializer(), required=False)


class FirmedSerializer(serializers.Serializer):
    planned_order = serializers.IntegerField()
    production_order = serializers.IntegerField()
    number = serializers.CharField()


class PlannedOrderFilter(django_filters.FilterSet):
    item = django_filters.NumberFilter(field_name="item_id")
    run = django_filters.NumberFilter(field_name="run_id")
    status = django_filters.ChoiceFilter(choices=PlannedOrderStatus.choices)
    due_from = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_to = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")
    start_from = django_filters.DateFilter(field_name="start_date", lookup_expr="gte")
    start_to = django_filters.DateFilter(field_name="start_date", lookup_expr="lte")
    item_type = django_filters.CharFilter(field_name="item__item_type")

    class Meta:
        model = PlannedOrder
        fields = ["item", "run", "status", "level"]


def _firmed(planned_ids: list[int], orders) -> list[dict]:
    return [
        {"planned_order": pk, "production_order": o.pk, "number": o.number}
        for pk, o in zip(planned_ids, orders, strict=True)
    ]


class PlannedOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Planned orders of the live plan (``?run=`` for a simulation's). ``POST /firm/`` on
    the list firms many at once, ``POST /{id}/firm/`` one; both may change quantity and
    dates first."""

    serializer_class = PlannedOrderSerializer
    filterset_class = PlannedOrderFilter
    ordering = ["due_date", "id"]

    def get_queryset(self):
        run = self.request.query_params.get("run")
        return selectors.planned_order_list(run_id=int(run) if run and run.isdigit() else None)

    # Both actions' paths end in /firm/, so the default operationIds would collide.
    @extend_schema(
        operation_id="api_v1_planned_orders_firm_bulk_create",
        request=FirmBulkSerializer,
        responses={201: FirmedSerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="firm")
    @idempotent
    def firm_bulk(self, request: Request) -> Response:
        body = FirmBulkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = sorted(set(body.validated_data["planned_order_ids"]))
        overrides = {int(k): v for k, v in body.validated_data.get("overrides", {}).items() if str(k).isdigit()}
        orders = services.planned_orders_firm(planned_order_ids=ids, overrides=overrides, user=request.user)
        return Response(_firmed(ids, orders), status=status.HTTP_201_CREATED)

    @extend_schema(request=FirmOverrideSerializer, responses={201: FirmedSerializer(many=True)})
    @action(detail=True, methods=["post"])
    @idempotent
    def firm(self, request: Request, pk: str) -> Response:
        body = FirmOverrideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        orders = services.planned_orders_firm(
            planned_order_ids=[int(pk)], overrides={int(pk): dict(body.validated_data)}, user=request.user
        )
        return Response(_firmed([int(pk)], orders), status=status.HTTP_201_CREATED)
