"""REST endpoints of the planning run: start and watch runs, read their results."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.idempotency import idempotent
from planning.enums import ExceptionKind, RunMode
from planning.models import Pegging, PlanningException, PlanningRun, PurchaseRequisition
from planning.mrp import selectors
from planning.mrp import services as mrp_services


class PlanningRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanningRun
        fields = [
            "id",
            "mode",
            "status",
            "is_simulation",
            "scenario",
            "progress",
            "summary",
            "error",
            "started_at",
            "finished_at",
            "created_at",
        ]


class PlanningRunStartSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=RunMode.choices, default=RunMode.REGENERATIVE)
    simulation = serializers.JSONField(required=False, allow_null=True)


class RunDifferenceSerializer(serializers.Serializer):
    """How a run's proposals for one item differ from the live plan's."""

    item = serializers.IntegerField()
    sku = serializers.CharField()
    live_quantity = serializers.DecimalField(max_digits=18, decimal_places=4)
    simulation_quantity = serializers.DecimalField(max_digits=18, decimal_places=4)
    difference = serializers.DecimalField(max_digits=18, decimal_places=4)
    live_orders = serializers.IntegerField()
    simulation_orders = serializers.IntegerField()


class RunCapacitySerializer(serializers.Serializer):
    """Hours a run's planned orders need at one work center in one ISO week."""

    work_center = serializers.IntegerField()
    work_center_code = serializers.CharField()
    week = serializers.CharField(help_text="ISO week, e.g. 2026-W49.")
    hours = serializers.DecimalField(max_digits=14, decimal_places=2)


class PeggingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Pegging
        fields = ["quantity", "demand_date", "source_type", "source_id", "source_ref"]


class PurchaseRequisitionSerializer(serializers.ModelSerializer):
    item_sku = serializers.CharField(source="item.sku", read_only=True)
    peggings = PeggingSerializer(many=True, read_only=True)

    class Meta:
        model = PurchaseRequisition
        fields = ["id", "run", "item", "item_sku", "quantity", "release_date", "due_date", "status", "peggings"]


class PlanningExceptionSerializer(serializers.ModelSerializer):
    item_sku = serializers.CharField(source="item.sku", read_only=True)

    class Meta:
        model = PlanningException
        fields = [
            "id",
            "run",
            "item",
            "item_sku",
            "kind",
            "message",
            "date",
            "suggested_date",
            "source_type",
            "source_id",
        ]


class PlanningRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """POST starts a run (409 ``run_in_progress`` while one is queued or running); GET shows
    status, progress (level k of n, items done) and the summary."""

    serializer_class = PlanningRunSerializer
    filterset_fields = ["status", "mode", "is_simulation"]
    ordering = ["-id"]

    def get_queryset(self):
        return selectors.planning_run_list()

    @extend_schema(request=PlanningRunStartSerializer, responses={202: PlanningRunSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        body = PlanningRunStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = mrp_services.planning_run_start(
            mode=body.validated_data["mode"],
            simulation=body.validated_data.get("simulation"),
            user=request.user,
        )
        return Response(PlanningRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: RunDifferenceSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def compare(self, request: Request, pk: str) -> Response:
        """Per-item differences between this run's proposals and the live plan."""
        return Response(RunDifferenceSerializer(selectors.planning_run_compare(run=self.get_object()), many=True).data)

    @extend_schema(responses={200: RunCapacitySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def capacity(self, request: Request, pk: str) -> Response:
        """Hours per work center and week that this run's planned orders need."""
        return Response(RunCapacitySerializer(selectors.planning_run_capacity(run=self.get_object()), many=True).data)

    @action(detail=True, methods=["post"])
    @idempotent
    def discard(self, request: Request, pk: str) -> Response:
        run = mrp_services.planning_run_discard(run_id=int(pk), user=request.user)
        return Response(PlanningRunSerializer(run).data)

    @action(detail=True, methods=["post"])
    @idempotent
    def commit(self, request: Request, pk: str) -> Response:
        run = mrp_services.planning_run_commit(run_id=int(pk), user=request.user)
        return Response(PlanningRunSerializer(run).data)


class ResultFilter(django_filters.FilterSet):
    item = django_filters.NumberFilter(field_name="item_id")
    run = django_filters.NumberFilter(field_name="run_id")
    due_from = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_to = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")


class PurchaseRequisitionFilter(ResultFilter):
    class Meta:
        model = PurchaseRequisition
        fields = ["item", "run", "status"]


class PurchaseRequisitionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Requisitions of the live plan; ``?run=`` shows a simulation's."""

    serializer_class = PurchaseRequisitionSerializer
    filterset_class = PurchaseRequisitionFilter
    ordering = ["due_date", "id"]

    def get_queryset(self):
        run = self.request.query_params.get("run")
        return selectors.purchase_requisition_list(run_id=int(run) if run and run.isdigit() else None)


class PlanningExceptionFilter(django_filters.FilterSet):
    item = django_filters.NumberFilter(field_name="item_id")
    run = django_filters.NumberFilter(field_name="run_id")
    kind = django_filters.MultipleChoiceFilter(choices=ExceptionKind.choices)
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = PlanningException
        fields = ["item", "run", "kind"]


class PlanningExceptionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = PlanningExceptionSerializer
    filterset_class = PlanningExceptionFilter
    ordering = ["item_id", "id"]

    def get_queryset(self):
        run = self.request.query_params.get("run")
        return selectors.planning_exception_list(run_id=int(run) if run and run.isdigit() else None)
