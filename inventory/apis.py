"""REST views of the inventory app. Writes go through services; reads through selectors.

Stock postings: ``POST /stock-movements/`` posts a receipt, issue, transfer or adjustment
(honours ``Idempotency-Key``) and answers with the posting and its movements;
``POST /stock-postings/{id}/reverse/`` reverses a posting.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.exceptions import ValidationFailed, request_field_names
from config.idempotency import idempotent
from inventory import selectors, services
from inventory.enums import MovementType
from inventory.models import Bom, StockBalance, StockMovement, StockPosting, Warehouse
from inventory.serializers import (
    BomExplosionSerializer,
    BomSerializer,
    GenealogySerializer,
    ItemSerializer,
    LocationSerializer,
    LotSerializer,
    ReservationSerializer,
    ReverseSerializer,
    StockBalanceSerializer,
    StockMovementCreateSerializer,
    StockMovementSerializer,
    StockPostingSerializer,
    UnitSerializer,
    WhereUsedSerializer,
)
from inventory.services import DocumentRef, PostingLine


class _ServiceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Create/update call ``create_service`` / ``update_service`` with validated data."""

    create = idempotent(mixins.CreateModelMixin.create)

    def perform_create(self, serializer) -> None:
        serializer.instance = self.create_service(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer) -> None:
        serializer.instance = self.update_service(
            serializer.instance.pk, user=self.request.user, **serializer.validated_data
        )


class UnitViewSet(_ServiceViewSet):
    serializer_class = UnitSerializer
    queryset = selectors.unit_list()
    filterset_fields = ["code"]

    def create_service(self, **data):
        return services.unit_create(**data)

    def update_service(self, pk, **data):
        return services.unit_update(unit_id=pk, **data)


class ItemViewSet(_ServiceViewSet):
    serializer_class = ItemSerializer
    queryset = selectors.item_list()
    filterset_fields = ["sku", "item_type", "procurement", "strategy", "lot_tracked", "is_active"]
    search_fields = ["sku", "name"]
    ordering_fields = ["sku", "low_level_code"]

    def create_service(self, **data):
        return services.item_create(**data)

    def update_service(self, pk, **data):
        return services.item_update(item_id=pk, **data)


class LocationViewSet(_ServiceViewSet):
    serializer_class = LocationSerializer
    queryset = selectors.location_list()
    filterset_fields = ["code", "allow_negative", "is_active"]

    def _warehouse(self, data):
        code = data.pop("warehouse_code", None)
        if code is not None:
            warehouse = Warehouse.objects.filter(code=code).first()
            if warehouse is None:
                raise ValidationFailed(
                    f"Unknown warehouse {code}.",
                    code="unknown_warehouse",
                    fields={"warehouse_code": "unknown"},
                )
            data["warehouse"] = warehouse
        return data

    def create_service(self, **data):
        data = self._warehouse(data)
        if "warehouse" not in data:
            raise ValidationFailed("A warehouse is required.", code="required", fields={"warehouse_code": "required"})
        return services.location_create(**data)

    def update_service(self, pk, **data):
        return services.location_update(location_id=pk, **self._warehouse(data))


class LotViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = LotSerializer
    queryset = selectors.lot_list()
    filterset_fields = ["item", "lot_number"]
    create = idempotent(mixins.CreateModelMixin.create)

    @extend_schema(
        parameters=[OpenApiParameter("direction", str, enum=["backward", "forward"])],
        responses={200: GenealogySerializer},
    )
    @action(detail=True, methods=["get"])
    def genealogy(self, request: Request, pk: str) -> Response:
        """Backward: which component lots went into this lot, level by level. Forward: which
        lots this lot went into (a recall's question)."""
        lot = self.get_object()
        links = selectors.lot_genealogy(lot_id=lot.pk, direction=request.query_params.get("direction", "backward"))
        return Response(GenealogySerializer({"lot": lot.lot_number, "item": lot.item.sku, "links": links}).data)

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.lot_create(
            item_id=data["item"].pk,
            lot_number=data["lot_number"],
            expiry_date=data.get("expiry_date"),
            user=self.request.user,
        )


class StockBalanceFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(field_name="item__sku")

    class Meta:
        model = StockBalance
        fields = ["item", "location", "lot", "sku"]


class StockBalanceViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StockBalanceSerializer
    queryset = selectors.stock_balance_list()
    filterset_class = StockBalanceFilter


class StockMovementFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(field_name="item__sku")
    posted_after = django_filters.IsoDateTimeFilter(field_name="posted_at", lookup_expr="gte")
    posted_before = django_filters.IsoDateTimeFilter(field_name="posted_at", lookup_expr="lt")
    document_type = django_filters.CharFilter(field_name="posting__document_type")
    document_id = django_filters.NumberFilter(field_name="posting__document_id")

    class Meta:
        model = StockMovement
        fields = ["item", "location", "lot", "movement_type", "posting", "sku"]


# The posting services name their arguments in errors (``lines[0].lot_id``); a request to
# POST /stock-movements/ is one flat line (``lot``). A transfer posts two lines, out of
# ``location`` (lines[0]) and into ``to_location`` (lines[1]).
_LINE_FIELD = re.compile(r"lines\[(\d+)\]\.(\w+)")
_MOVEMENT_FIELDS = {"item_id": "item", "location_id": "location", "lot_id": "lot", "to_location_id": "to_location"}


def _movement_request_field(name: str) -> str:
    line = _LINE_FIELD.fullmatch(name)
    if line is None:
        return _MOVEMENT_FIELDS.get(name, name)
    index, argument = int(line[1]), line[2]
    if argument == "location_id" and index == 1:
        return "to_location"
    return _MOVEMENT_FIELDS.get(argument, argument)


class StockMovementViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = selectors.stock_movement_list()
    filterset_class = StockMovementFilter

    def get_serializer_class(self):
        return StockMovementCreateSerializer if self.action == "create" else StockMovementSerializer

    @extend_schema(request=StockMovementCreateSerializer, responses={201: StockPostingSerializer})
    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = StockMovementCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with request_field_names(_movement_request_field):
            posting = self._post_movement(request, serializer.validated_data)
        posting = selectors.stock_posting_list().get(pk=posting.pk)
        return Response(StockPostingSerializer(posting).data, status=status.HTTP_201_CREATED)

    def _post_movement(self, request: Request, data: dict) -> StockPosting:
        quantity = services.quantity_to_base(item_id=data["item"], quantity=data["quantity"], uom_code=data.get("uom"))
        reference = DocumentRef(
            document_type=data["document_type"],
            document_id=data["document_id"],
            document_number=data["document_number"],
        )
        if data["movement_type"] == MovementType.TRANSFER:
            posting = services.stock_transfer(
                item_id=data["item"],
                from_location_id=data["location"],
                to_location_id=data["to_location"],
                quantity=quantity,
                lot_id=data.get("lot"),
                reference=reference,
                user=request.user,
            )
        else:
            signed = -quantity if data["movement_type"] == MovementType.ISSUE else quantity
            posting = services.stock_post(
                movement_type=data["movement_type"],
                lines=[
                    PostingLine(
                        item_id=data["item"],
                        location_id=data["location"],
                        quantity=signed,
                        lot_id=data.get("lot"),
                        unit_cost=data.get("unit_cost"),
                    )
                ],
                reference=reference,
                user=request.user,
                note=data["note"],
            )
        return posting


class StockPostingViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StockPostingSerializer
    queryset = selectors.stock_posting_list()
    filterset_fields = ["movement_type", "document_type", "document_id", "posting_key"]

    @extend_schema(request=ReverseSerializer, responses={201: StockPostingSerializer})
    @action(detail=True, methods=["post"], serializer_class=ReverseSerializer)
    @idempotent
    def reverse(self, request: Request, pk: str) -> Response:
        serializer = ReverseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        posting = services.stock_posting_reverse(
            posting_id=int(pk), user=request.user, reason=serializer.validated_data["reason"]
        )
        posting = selectors.stock_posting_list().get(pk=posting.pk)
        return Response(StockPostingSerializer(posting).data, status=status.HTTP_201_CREATED)


class ReservationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ReservationSerializer
    queryset = selectors.reservation_list()
    filterset_fields = ["item", "location", "status", "document_type", "document_id"]


def _lines(data: list[dict]) -> list[dict]:
    return [
        {**{k: v for k, v in line.items() if k != "component"}, "component_id": line["component"].pk} for line in data
    ]


class BomViewSet(viewsets.ModelViewSet):
    serializer_class = BomSerializer
    queryset = selectors.bom_list()
    filterset_fields = ["item", "status", "version"]
    create = idempotent(mixins.CreateModelMixin.create)

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        serializer.instance = services.bom_create(
            item_id=data.pop("item").pk, lines=_lines(data.pop("lines")), user=self.request.user, **data
        )

    def perform_update(self, serializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("item", None)
        lines = _lines(data.pop("lines")) if "lines" in data else None
        serializer.instance = services.bom_update(
            bom_id=serializer.instance.pk, lines=lines, user=self.request.user, **data
        )

    def perform_destroy(self, instance: Bom) -> None:
        services.bom_delete(bom_id=instance.pk, user=self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("quantity", str, description="Quantity of the parent to explode; default 1."),
            OpenApiParameter("date", str, description="Valid on this day (ISO date); default today."),
        ],
        responses={200: BomExplosionSerializer},
    )
    @action(detail=True, methods=["get"])
    def explode(self, request: Request, pk: str) -> Response:
        try:
            quantity = Decimal(request.query_params.get("quantity", "1"))
        except InvalidOperation as exc:
            raise ValidationFailed(
                "quantity is not a number.", code="invalid", fields={"quantity": "not a number"}
            ) from exc
        raw_date = request.query_params.get("date")
        try:
            on_date = dt.date.fromisoformat(raw_date) if raw_date else None
        except ValueError as exc:
            raise ValidationFailed("date is not YYYY-MM-DD.", code="invalid", fields={"date": "YYYY-MM-DD"}) from exc
        lines = services.bom_explode(bom_id=int(pk), quantity=quantity, on_date=on_date)
        return Response(BomExplosionSerializer({"bom": int(pk), "quantity": quantity, "lines": lines}).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("item", int, required=True, description="The component item's id."),
            OpenApiParameter("include_draft", str, enum=["1"], description="1: draft BOMs count too."),
        ],
        responses={200: WhereUsedSerializer},
    )
    @action(detail=False, methods=["get"], url_path="where-used")
    def where_used(self, request: Request) -> Response:
        item = request.query_params.get("item")
        if not item or not item.isdigit():
            raise ValidationFailed("item (an id) is required.", code="required", fields={"item": "required"})
        lines = services.bom_where_used(
            item_id=int(item), include_draft=request.query_params.get("include_draft") == "1"
        )
        return Response(WhereUsedSerializer({"item": int(item), "lines": lines}).data)
