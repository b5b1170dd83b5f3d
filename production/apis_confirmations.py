"""REST API of confirmations and the posting error queue."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.idempotency import idempotent
from config.roles import ALL_ROLES, REVERSING_ROLES, Role
from production import selectors, services
from production.enums import PostingStatus
from production.models import Confirmation
from production.serializers import (
    ConfirmationCreateSerializer,
    ConfirmationPreviewQuerySerializer,
    ConfirmationSerializer,
    ConsumptionPreviewSerializer,
    ReasonSerializer,
    ReversalSerializer,
    confirmation_input,
    confirmation_representation,
)

CONFIRMING_ROLES = frozenset({Role.OPERATOR, Role.PLANNER, Role.ADMIN, Role.INTEGRATION})
# Undoing a confirmation (config.roles.REVERSING_ROLES, enforced by the service too): planners,
# admins and machines (integration), which confirm anywhere and must be able to take back a
# miscount they reported without a person in the loop. Every reversal is audited with user and
# reason. Not the operator: a mistake on the floor goes to the planner.


class ConfirmationFilter(django_filters.FilterSet):
    posting_status = django_filters.MultipleChoiceFilter(choices=PostingStatus.choices)
    work_center = django_filters.NumberFilter(field_name="work_center_id")

    class Meta:
        model = Confirmation
        fields = ["order", "operation", "posting_status", "final"]


class ConfirmationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Confirmations of operations. `POST` honours `Idempotency-Key`: a machine or a double
    tap that sends the same confirmation twice gets the first one back, posted once."""

    serializer_class = ConfirmationSerializer
    filterset_class = ConfirmationFilter
    ordering_fields = ["confirmed_at", "id"]
    ordering = ["-id"]
    # The operator reads them too: the floor's confirm screen polls the posting status.
    read_roles = ALL_ROLES
    write_roles = CONFIRMING_ROLES
    action_roles = {"reverse": REVERSING_ROLES}

    def get_queryset(self):
        return selectors.confirmation_list_for(user=self.request.user)

    def _respond(self, confirmation_id: int, code: int) -> Response:
        return Response(ConfirmationSerializer(selectors.confirmation_list().get(pk=confirmation_id)).data, status=code)

    @extend_schema(request=ConfirmationCreateSerializer, responses={201: ConfirmationSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        data = confirmation_input(request.data)
        confirmation = services.confirmation_create(
            data=services.ConfirmationInput(operation_id=data.pop("operation"), **data), user=request.user
        )
        # The service returns it with order, operation, work center and operator attached.
        return Response(confirmation_representation(confirmation), status=status.HTTP_201_CREATED)

    # Documented with the reason required; parsed leniently so that a missing or blank one
    # gets the service's own error (reason_required).
    @extend_schema(request=ReversalSerializer, responses={201: ConfirmationSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def reverse(self, request: Request, pk: str) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reversal = services.confirmation_reverse(confirmation_id=int(pk), user=request.user, **body.validated_data)
        return self._respond(reversal.pk, status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[ConfirmationPreviewQuerySerializer],
        responses={200: ConsumptionPreviewSerializer(many=True)},
    )
    @action(detail=False, methods=["get"])
    def preview(self, request: Request) -> Response:
        """What a confirmation of these quantities would backflush, per component, next to the
        BOM standard and the order's required, reserved and issued quantities."""
        query = ConfirmationPreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.confirmation_preview(
            operation_id=query.validated_data["operation"],
            good_quantity=query.validated_data["good_quantity"],
            scrap_quantity=query.validated_data["scrap_quantity"],
        )
        return Response(ConsumptionPreviewSerializer(rows, many=True).data)


class PostingErrorViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Confirmations whose backflush or receipt could not be posted (usually a shortage).
    They are retried automatically when the missing stock arrives, or by hand here."""

    serializer_class = ConfirmationSerializer
    filterset_fields = ["order", "work_center"]
    ordering = ["id"]

    def get_queryset(self):
        return selectors.confirmation_list().filter(posting_status=PostingStatus.FAILED)

    @extend_schema(request=None, responses={200: ConfirmationSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def retry(self, request: Request, pk: str) -> Response:
        confirmation = services.confirmation_posting_retry(confirmation_id=int(pk), user=request.user)
        return Response(ConfirmationSerializer(selectors.confirmation_list().get(pk=confirmation.pk)).data)
