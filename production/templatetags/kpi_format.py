"""Template filters of the KPI page."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()

NO_VALUE = "–"


@register.filter
def pct(value: Decimal | None) -> str:
    """A ratio as a percentage (0.6667 → "66.67 %"); a dash for no value. Two decimals: the
    ratios have four, so the percentage is exact rather than rounded a second time."""
    if value is None:
        return NO_VALUE
    return f"{(Decimal(value) * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)} %"


@register.filter
def meter_width(value: Decimal | None) -> int:
    """Width of a meter bar in percent, 0..100."""
    if value is None:
        return 0
    return int(min(max(Decimal(value), Decimal(0)), Decimal(1)) * 100)
