"""Actual cost follows the postings and confirmed times while an order is open, and is
fixed at close."""

from decimal import Decimal

from production import selectors, services
from production.services import ConfirmationInput
from tests.production.conftest import in_days


def _by_category(rows) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        key = row["category"] if isinstance(row, dict) else row.category
        value = row["actual"] if isinstance(row, dict) else row.actual
        totals[key] = totals.get(key, Decimal(0)) + Decimal(value)
    return totals


def test_actual_costs_move_with_confirmations_while_in_progress(plant, planner, planner_api):
    # Given a released order (2 × P-FWD at 5 issued at release) at a work center costing 1 a minute
    plant.stock()
    plant.wc_a.labor_rate = Decimal(60)
    plant.wc_a.save(update_fields=["labor_rate"])
    order = services.production_order_create(item_id=plant.finished.pk, quantity=2, due_date=in_days(20), user=planner)
    services.production_order_release(order_id=order.pk, user=planner)
    first, last = order.operations.order_by("sequence")
    before = _by_category(planner_api.get(f"/api/v1/production-orders/{order.pk}/costs/").json())
    assert before["material"] == Decimal("10")
    assert before["labor"] == Decimal("0")

    # When 1 piece is confirmed on both operations (30 labour minutes on the first) and the
    # reporting point's backflush posts: 2 × P-BACK at 2 and 3 × P-PHA at 1
    for operation, minutes in ((first, 30), (last, 0)):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(operation_id=operation.pk, good_quantity=Decimal(1), labor_minutes=Decimal(minutes)),
            user=planner,
        )
        services.confirmation_post(confirmation_id=confirmation.pk)

    # Then the costs endpoint, the order detail and the selector show it at once
    costs = planner_api.get(f"/api/v1/production-orders/{order.pk}/costs/").json()
    detail = planner_api.get(f"/api/v1/production-orders/{order.pk}/").json()["costs"]
    order.refresh_from_db()
    live = _by_category(selectors.production_order_costs(order=order))
    for totals in (_by_category(costs), _by_category(detail), live):
        assert totals["material"] == Decimal("17")
        assert totals["labor"] == Decimal("30")
    # and nothing was written: the stored rows keep the figures of the release
    assert order.costs.get(category="material").actual == Decimal("10")

    # When the order is closed, the figures are fixed with their variance
    services.production_order_close(order_id=order.pk, user=planner, reason="done")
    order.refresh_from_db()
    stored = _by_category(selectors.production_order_costs(order=order))
    assert stored["material"] == Decimal("17") and stored["labor"] == Decimal("30")
    material = order.costs.get(category="material")
    assert material.variance == material.actual - material.planned
