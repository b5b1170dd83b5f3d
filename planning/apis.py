"""REST endpoints of the planning app. Serializers validate shape; services decide."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.exceptions import ValidationFailed
from config.idempotency import idempotent
from planning import selectors, services
from planning.enums import BucketSize
from planning.models import (
    Calendar,
    CalendarException,
    CalendarShift,
    CostCenter,
    Routing,
    RoutingOperation,
    WorkCenter,
)

# -- serializers ----------------------------------------------------------------------------


class CostCenterSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostCenter
        fields = ["id", "code", "name", "created_at", "updated_at"]


class CalendarShiftSerializer(serializers.ModelSerializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6)

    class Meta:
        model = CalendarShift
        fields = ["weekday", "start_time", "end_time"]


class CalendarExceptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = CalendarException
        fields = ["date_from", "date_to", "working", "start_time", "end_time", "description"]
        extra_kwargs = {"working": {"default": False}}


class CalendarSerializer(serializers.ModelSerializer):
    shifts = CalendarShiftSerializer(many=True)
    exceptions = CalendarExceptionSerializer(many=True, required=False)
    weekly_hours = serializers.SerializerMethodField()

    class Meta:
        model = Calendar
        fields = ["id", "code", "name", "shifts", "exceptions", "weekly_hours", "created_at", "updated_at"]
        # Uniqueness is the service's (and the constraint's) job.
        extra_kwargs = {"code": {"validators": []}}

    def get_weekly_hours(self, obj: Calendar) -> str:
        seconds = sum(
            (s.end_time.hour * 60 + s.end_time.minute - s.start_time.hour * 60 - s.start_time.minute) * 60
            for s in obj.shifts.all()
        )
        return f"{seconds / 3600:.2f}"


class WorkCenterSerializer(serializers.ModelSerializer):
    calendar_code = serializers.CharField(source="calendar.code", read_only=True)
    cost_center_code = serializers.CharField(source="cost_center.code", read_only=True, default=None, allow_null=True)

    class Meta:
        model = WorkCenter
        fields = [
            "id",
            "code",
            "name",
            "calendar",
            "calendar_code",
            "efficiency_pct",
            "parallel_units",
            "labor_rate",
            "machine_rate",
            "overhead_rate",
            "currency",
            "cost_center",
            "cost_center_code",
            "is_active",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"code": {"validators": []}}


class RoutingOperationSerializer(serializers.ModelSerializer):
    work_center_code = serializers.CharField(source="work_center.code", read_only=True)

    class Meta:
        model = RoutingOperation
        fields = [
            "id",
            "sequence",
            "work_center",
            "work_center_code",
            "description",
            "setup_minutes",
            "run_minutes_per_unit",
            "queue_minutes",
            "move_minutes",
            "work_instructions",
            "reporting_point",
        ]


class RoutingSerializer(serializers.ModelSerializer):
    item_sku = serializers.CharField(source="item.sku", read_only=True)
    operations = RoutingOperationSerializer(many=True)

    class Meta:
        model = Routing
        fields = [
            "id",
            "item",
            "item_sku",
            "version",
            "description",
            "status",
            "valid_from",
            "valid_to",
            "operations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status"]
        extra_kwargs = {"version": {"required": False}}
        validators: list = []


class LoadBucketSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    available_hours = serializers.DecimalField(max_digits=14, decimal_places=4)
    required_hours = serializers.DecimalField(max_digits=14, decimal_places=4)
    overload = serializers.BooleanField()
    utilization_pct = serializers.DecimalField(max_digits=10, decimal_places=1, allow_null=True)


class WorkCenterLoadSerializer(serializers.Serializer):
    """A work center's load over a period; ``from`` and ``to`` are Python keywords, hence the
    fields are declared in ``get_fields``."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "work_center": serializers.CharField(help_text="The work center's code."),
            "from": serializers.DateField(),
            "to": serializers.DateField(),
            "bucket": serializers.ChoiceField(choices=BucketSize.choices),
            "overloaded_periods": serializers.IntegerField(),
            "buckets": LoadBucketSerializer(many=True),
        }


# -- views ----------------------------------------------------------------------------------


class _ServiceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """CRUD whose writes go through services: ``perform_*`` hand validated data to them."""

    def _reply(self, instance: Any, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=instance.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._reply(self.create_object(serializer.validated_data), status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return self._reply(self.update_object(instance, serializer.validated_data))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.delete_object(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def create_object(self, data: dict) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def update_object(self, instance: Any, data: dict) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def delete_object(self, instance: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class CostCenterViewSet(_ServiceViewSet):
    serializer_class = CostCenterSerializer
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]

    def get_queryset(self):
        return selectors.cost_center_list()

    def create_object(self, data: dict) -> CostCenter:
        return services.cost_center_create(code=data["code"], name=data["name"], user=self.request.user)

    def update_object(self, instance: CostCenter, data: dict) -> CostCenter:
        return services.cost_center_update(cost_center_id=instance.pk, user=self.request.user, **data)

    def delete_object(self, instance: CostCenter) -> None:
        services.cost_center_delete(cost_center_id=instance.pk, user=self.request.user)


def _shifts(rows: list[dict] | None) -> list[services.ShiftData] | None:
    return None if rows is None else [services.ShiftData(**row) for row in rows]


def _exceptions(rows: list[dict] | None) -> list[services.ExceptionData] | None:
    return None if rows is None else [services.ExceptionData(**row) for row in rows]


class CalendarViewSet(_ServiceViewSet):
    serializer_class = CalendarSerializer
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]

    def get_queryset(self):
        return selectors.calendar_list()

    def create_object(self, data: dict) -> Calendar:
        return services.calendar_create(
            code=data["code"],
            name=data["name"],
            shifts=_shifts(data["shifts"]) or [],
            exceptions=_exceptions(data.get("exceptions")) or [],
            user=self.request.user,
        )

    def update_object(self, instance: Calendar, data: dict) -> Calendar:
        return services.calendar_update(
            calendar_id=instance.pk,
            code=data.get("code"),
            name=data.get("name"),
            shifts=_shifts(data.get("shifts")),
            exceptions=_exceptions(data.get("exceptions")),
            user=self.request.user,
        )

    def delete_object(self, instance: Calendar) -> None:
        services.calendar_delete(calendar_id=instance.pk, user=self.request.user)


def _work_center_kwargs(data: dict) -> dict:
    out = dict(data)
    if "calendar" in out:
        out["calendar_id"] = out.pop("calendar").pk
    if "cost_center" in out:
        cost_center = out.pop("cost_center")
        out["cost_center_id"] = cost_center.pk if cost_center else None
    return out


class WorkCenterViewSet(_ServiceViewSet):
    serializer_class = WorkCenterSerializer
    filterset_fields = ["is_active", "calendar", "cost_center"]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]

    def get_queryset(self):
        return selectors.work_center_list()

    def create_object(self, data: dict) -> WorkCenter:
        return services.work_center_create(**_work_center_kwargs(data), user=self.request.user)

    def update_object(self, instance: WorkCenter, data: dict) -> WorkCenter:
        return services.work_center_update(
            work_center_id=instance.pk, **_work_center_kwargs(data), user=self.request.user
        )

    def delete_object(self, instance: WorkCenter) -> None:
        services.work_center_delete(work_center_id=instance.pk, user=self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="first day (ISO date); default today"),
            OpenApiParameter("to", str, description="last day (ISO date); default from + 27 days"),
            OpenApiParameter("bucket", str, enum=BucketSize.values, description="day or week"),
        ],
        responses=WorkCenterLoadSerializer,
    )
    @action(detail=True, methods=["get"])
    def load(self, request: Request, pk: str | None = None) -> Response:
        """Available against required hours per day or week, with overloads flagged."""
        work_center = self.get_object()
        date_from = _date_param(request, "from") or timezone.localdate()
        date_to = _date_param(request, "to") or date_from + timedelta(days=27)
        bucket = request.query_params.get("bucket", BucketSize.DAY)
        rows = selectors.work_center_load(
            work_center_id=work_center.pk, date_from=date_from, date_to=date_to, bucket=bucket
        )
        return Response(
            WorkCenterLoadSerializer(
                {
                    "work_center": work_center.code,
                    "from": date_from,
                    "to": date_to,
                    "bucket": bucket,
                    "overloaded_periods": sum(1 for row in rows if row.overload),
                    "buckets": rows,
                }
            ).data
        )


def _date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed(f"'{name}' must be an ISO date (YYYY-MM-DD).", fields={name: "Not a date."}) from exc


def _operations(rows: list[dict] | None) -> list[services.RoutingOperationData] | None:
    if rows is None:
        return None
    out = []
    for row in rows:
        values = dict(row)
        values["work_center_id"] = values.pop("work_center").pk
        out.append(services.RoutingOperationData(**values))
    return out


class RoutingViewSet(_ServiceViewSet):
    serializer_class = RoutingSerializer
    filterset_fields = ["item", "status"]
    search_fields = ["item__sku", "description"]
    ordering_fields = ["item__sku", "version", "valid_from"]

    def get_queryset(self):
        return selectors.routing_list()

    def create_object(self, data: dict) -> Routing:
        return services.routing_create(
            item_id=data["item"].pk,
            version=data.get("version"),
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            description=data.get("description", ""),
            operations=_operations(data["operations"]) or [],
            user=self.request.user,
        )

    def update_object(self, instance: Routing, data: dict) -> Routing:
        if "item" in data and data["item"].pk != instance.item_id:
            raise ValidationFailed("A routing's item cannot change.", fields={"item": "Cannot change."})
        if "version" in data and data["version"] != instance.version:
            raise ValidationFailed("A routing's version cannot change.", fields={"version": "Cannot change."})
        return services.routing_update(
            routing_id=instance.pk,
            valid_from=data.get("valid_from"),
            valid_to=data.get("valid_to"),
            clear_valid_to="valid_to" in data and data["valid_to"] is None,
            description=data.get("description"),
            operations=_operations(data.get("operations")),
            user=self.request.user,
        )

    def delete_object(self, instance: Routing) -> None:
        services.routing_delete(routing_id=instance.pk, user=self.request.user)

    @extend_schema(request=None, responses=RoutingSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def activate(self, request: Request, pk: str | None = None) -> Response:
        return self._reply(services.routing_activate(routing_id=self.get_object().pk, user=request.user))

    @extend_schema(request=None, responses=RoutingSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def obsolete(self, request: Request, pk: str | None = None) -> Response:
        return self._reply(services.routing_obsolete(routing_id=self.get_object().pk, user=request.user))
