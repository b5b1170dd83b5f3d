"""The audit trail of an order's operations and components: every change of a tracked field
is logged once with who and why; posting-derived totals (confirmed quantities and times,
issued quantities) are not logged, their history is the confirmations and the ledger."""

from decimal import Decimal

from django.apps import apps

from production import services
from production.services import ConfirmationInput
from tests.production.conftest import in_days


def _events(model_name: str, obj_ids) -> list:
    model = apps.get_model("production", model_name)
    return list(model.objects.filter(pgh_obj_id__in=list(obj_ids), pgh_label="update").order_by("pgh_id"))


def test_confirmations_log_status_changes_only(plant, planner):
    # Given a released order
    plant.stock()
    order = services.production_order_create(item_id=plant.finished.pk, quantity=5, due_date=in_days(20), user=planner)
    services.production_order_release(order_id=order.pk, user=planner)
    first = order.operations.get(sequence=10)
    components = list(order.components.values_list("pk", flat=True))
    before = len(_events("OrderOperationEvent", [first.pk]))  # release scheduled it
    components_before = len(_events("OrderComponentEvent", components))

    # When the first operation is confirmed three times (the first confirmation starts it)
    for _ in range(3):
        confirmation = services.confirmation_create(
            data=ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(1), labor_minutes=Decimal(5)),
            user=planner,
        )
        services.confirmation_post(confirmation_id=confirmation.pk)

    # Then the operation's history has one update: its status and start, with who and why
    [started] = _events("OrderOperationEvent", [first.pk])[before:]
    assert started.status == "started" and started.actual_start is not None
    assert started.pgh_context.metadata["action"] == "confirm"
    assert started.pgh_context.metadata["user_id"] == planner.pk
    # and the components, whose issued quantities the postings moved, have none
    assert len(_events("OrderComponentEvent", components)) == components_before


def test_tracked_component_change_is_logged(plant, planner):
    order = services.production_order_create(item_id=plant.finished.pk, quantity=5, due_date=in_days(20), user=planner)
    component = order.components.order_by("position").first()

    services.production_order_component_update(
        order_id=order.pk,
        component_id=component.pk,
        data=services.ComponentInput(
            item_id=component.item_id,
            quantity_per_unit=component.quantity_per_unit + 1,
            scrap_percent=component.scrap_percent,
            flushing=component.flushing,
            operation_sequence=component.operation_sequence,
            issue_location_id=component.issue_location_id,
        ),
        user=planner,
    )

    [changed] = _events("OrderComponentEvent", [component.pk])
    assert changed.quantity_per_unit == component.quantity_per_unit + 1
