"""REST API of the production KPIs: ``GET /api/v1/kpis/`` (``production.kpis``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.fields import MONEY_PLACES
from production.kpis import DEFAULT_PERIOD_DAYS, MAX_PERIOD_DAYS, kpis_get

RATIO = {"max_digits": 12, "decimal_places": 4}
AMOUNT = {"max_digits": 20, "decimal_places": 4}
# Money as everywhere in the API: the stored places (``config.fields``).
MONEY = {"max_digits": 20, "decimal_places": MONEY_PLACES}
HOURS = {"max_digits": 20, "decimal_places": 2}


class KpiQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(
        required=False,
        help_text=f"First day of the period (ISO date); default {DEFAULT_PERIOD_DAYS - 1} days before date_to.",
    )
    date_to = serializers.DateField(
        required=False,
        help_text=f"Last day of the period, included; default today. The period spans at most {MAX_PERIOD_DAYS} days.",
    )
    item = serializers.IntegerField(required=False, min_value=1, help_text="Only orders of this item (id).")
    work_center = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Only orders with an operation at this work center (id), and only confirmations reported there.",
    )


class KpiCountRatioSerializer(serializers.Serializer):
    value = serializers.DecimalField(
        **RATIO, allow_null=True, help_text="numerator / denominator (0..1); null when the denominator is 0."
    )
    numerator = serializers.IntegerField(help_text="Orders that meet the KPI.")
    denominator = serializers.IntegerField(help_text="Orders the KPI is based on.")


class KpiQuantityRatioSerializer(serializers.Serializer):
    value = serializers.DecimalField(
        **RATIO, allow_null=True, help_text="numerator / denominator; null when the denominator is 0."
    )
    numerator = serializers.DecimalField(**AMOUNT)
    denominator = serializers.DecimalField(**AMOUNT)


class KpiLeadTimeSerializer(serializers.Serializer):
    average_days = serializers.DecimalField(**RATIO, allow_null=True)
    median_days = serializers.DecimalField(**RATIO, allow_null=True)
    count = serializers.IntegerField(help_text="Completed orders measured.")


class KpiWipValueSerializer(serializers.Serializer):
    value = serializers.DecimalField(
        **MONEY, allow_null=True, help_text="material + conversion − received; null without open orders."
    )
    material = serializers.DecimalField(**MONEY, help_text="Components issued and backflushed, net.")
    conversion = serializers.DecimalField(**MONEY, help_text="Confirmed times at the work centers' rates.")
    received = serializers.DecimalField(**MONEY, help_text="Output received, at the ledger's value.")
    count = serializers.IntegerField(help_text="Open (released, in progress) orders.")
    as_of = serializers.DateTimeField(help_text="WIP is a snapshot now; the period does not apply.")


class KpiCostVarianceSerializer(serializers.Serializer):
    value = serializers.DecimalField(
        **MONEY, allow_null=True, help_text="actual − planned cost; null without orders closed in the period."
    )
    percent = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text="value / planned × 100; null when planned is 0."
    )
    planned = serializers.DecimalField(**MONEY)
    actual = serializers.DecimalField(**MONEY)
    count = serializers.IntegerField(help_text="Orders closed in the period.")


class KpiWorkCenterSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="work_center.pk")
    code = serializers.CharField(source="work_center.code")
    name = serializers.CharField(source="work_center.name")
    available_hours = serializers.DecimalField(**HOURS, help_text="Calendar hours × parallel units in the period.")
    setup_hours = serializers.DecimalField(**HOURS)
    run_hours = serializers.DecimalField(**HOURS, help_text="Per confirmation the longer of machine and labour time.")
    occupied_hours = serializers.DecimalField(**HOURS, help_text="setup + run hours.")
    standard_hours = serializers.DecimalField(
        **HOURS, help_text="(good + scrap) × the operation's run minutes per unit."
    )
    good = serializers.DecimalField(**AMOUNT)
    scrap = serializers.DecimalField(**AMOUNT)
    utilization = KpiQuantityRatioSerializer(help_text="occupied / available minutes; may exceed 1 (overtime).")
    availability = KpiQuantityRatioSerializer(help_text="run / available minutes, clamped to [0, 1].")
    performance = KpiQuantityRatioSerializer(help_text="standard / run minutes, clamped to [0, 1].")
    quality = KpiQuantityRatioSerializer(help_text="good / (good + scrap).")
    oee = serializers.DecimalField(
        **RATIO, allow_null=True, help_text="availability × performance × quality; null when a factor is null."
    )


class KpisSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    item = serializers.IntegerField(source="item.pk", allow_null=True)
    item_sku = serializers.CharField(source="item.sku", allow_null=True)
    work_center = serializers.IntegerField(source="work_center.pk", allow_null=True)
    work_center_code = serializers.CharField(source="work_center.code", allow_null=True)
    currency = serializers.CharField(help_text="Currency of the money figures.")
    on_time_completion = KpiCountRatioSerializer(
        help_text="Orders completed in the period on or before their due date / orders completed in the period."
    )
    schedule_adherence = KpiCountRatioSerializer(
        help_text="Completed orders that started no earlier than their scheduled start day and finished no later "
        "than their scheduled end day / completed orders with a schedule."
    )
    yield_rate = KpiQuantityRatioSerializer(help_text="good / (good + scrap) of the period's confirmations.")
    scrap_rate = KpiQuantityRatioSerializer(help_text="scrap / (good + scrap) of the period's confirmations.")
    lead_time = KpiLeadTimeSerializer(help_text="Days from release to completion of the orders completed.")
    wip = KpiWipValueSerializer(help_text="Value of the open orders now.")
    cost_variance = KpiCostVarianceSerializer(help_text="Orders closed in the period: actual − planned cost.")
    work_centers = KpiWorkCenterSerializer(many=True, help_text="Capacity utilization and OEE per work center.")


class KpiView(APIView):
    """Production KPIs over a period (read by the office roles, not operators)."""

    @extend_schema(
        operation_id="kpis_retrieve",
        parameters=[KpiQuerySerializer],
        responses=KpisSerializer,
        description=(
            "On-time completion, schedule adherence, yield and scrap rate, production lead time, capacity "
            "utilization and OEE per work center, WIP value and cost variance for the period `date_from` .. "
            "`date_to` (both included, the factory's time zone; default the last 30 days), optionally for one "
            "item and/or work center. Every KPI carries what it is based on (numerator and denominator, or a "
            "count) and is null where there is nothing to measure. Reversed confirmations and their reversals "
            "are left out. An invalid or unknown filter gives 400 naming it."
        ),
    )
    def get(self, request: Request) -> Response:
        query = KpiQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        kpis = kpis_get(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            item_id=data.get("item"),
            work_center_id=data.get("work_center"),
        )
        return Response(KpisSerializer(kpis).data)


kpis = KpiView.as_view()
