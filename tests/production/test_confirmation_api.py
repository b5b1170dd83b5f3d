from decimal import Decimal

import pytest

from config.roles import Role
from production import services
from production.enums import PostingStatus
from production.models import Confirmation, Operator
from tests.conftest import wait_until
from tests.inventory.helpers import assert_ledger_consistent
from tests.production.conftest import in_days

URL = "/api/v1/confirmations/"


def _released(plant, planner, qty=10):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(qty), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    return order


@pytest.mark.celery
def test_same_idempotency_key_twice_gives_one_confirmation_posted_once(plant, planner, integration_api, celery_worker):
    plant.stock()
    order = _released(plant, planner)
    last = order.operations.get(sequence=20)
    body = {"operation": last.pk, "good_quantity": "3", "labor_minutes": "12"}

    first = integration_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="mes-4711")
    second = integration_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="mes-4711")
    other_body = integration_api.post(
        URL, {**body, "good_quantity": "4"}, format="json", HTTP_IDEMPOTENCY_KEY="mes-4711"
    )

    assert first.status_code == 201, first.json()
    assert second.status_code == 201 and second.json()["id"] == first.json()["id"]
    assert other_body.status_code == 422
    assert Confirmation.objects.count() == 1
    wait_until(lambda: Confirmation.objects.get().posting_status == PostingStatus.POSTED)
    detail = integration_api.get(f"{URL}{first.json()['id']}/").json()
    assert detail["posting_status"] == "posted"
    order_detail = integration_api.get(f"/api/v1/production-orders/{order.pk}/").json()
    assert order_detail["posting_summary"] == {"pending": 0, "posted": 1, "failed": 0}
    assert_ledger_consistent()


@pytest.mark.django_db
def test_preview_shows_what_a_confirmation_would_backflush(plant, planner, operator_api):
    plant.stock()
    order = _released(plant, planner)
    last = order.operations.get(sequence=20)

    response = operator_api.get(f"{URL}preview/", {"operation": last.pk, "good_quantity": "4", "scrap_quantity": "1"})

    assert response.status_code == 200
    rows = {r["sku"]: r for r in response.json()}
    assert rows["P-BACK"]["backflush_now"] == "10.0000"
    assert rows["P-BACK"]["required"] == "20.0000" and rows["P-BACK"]["reserved"] == "20.0000"
    assert rows["P-FWD"]["backflush_now"] == "0.0000" and rows["P-FWD"]["issued"] == "10.0000"
    assert rows["P-LOT"]["flushing"] == "manual"


@pytest.mark.django_db
def test_bad_confirmation_is_400_naming_the_field(plant, planner, planner_api):
    plant.stock()
    order = _released(plant, planner)

    response = planner_api.post(URL, {"operation": order.operations.first().pk, "scrap_quantity": "2"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "scrap_reason_required"
    assert "scrap_reason" in response.json()["fields"]
    assert not Confirmation.objects.exists()


@pytest.mark.django_db
def test_operator_at_another_work_center_gets_403_and_viewer_cannot_confirm(plant, planner, api_client_for, viewer_api):
    plant.stock()
    order = _released(plant, planner)
    operator = api_client_for(Role.OPERATOR)
    Operator.objects.create(user=operator.user, badge="B-7").work_centers.add(plant.wc_a)
    last = order.operations.get(sequence=20)  # at WC-B

    denied = operator.post(URL, {"operation": last.pk, "good_quantity": "1"}, format="json")
    viewer = viewer_api.post(URL, {"operation": last.pk, "good_quantity": "1"}, format="json")

    assert denied.status_code == 403 and denied.json()["code"] == "not_your_work_center"
    assert viewer.status_code == 403


@pytest.mark.django_db
def test_posting_errors_list_and_retry(plant, planner, planner_api, django_capture_on_commit_callbacks):
    plant.stock(back=1)
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(3), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner, force=True, reason="test")
    with django_capture_on_commit_callbacks(execute=False):
        c = services.confirmation_create(
            data=services.ConfirmationInput(
                operation_id=order.operations.get(sequence=20).pk, good_quantity=Decimal(3)
            ),
            user=planner,
        )
    services.confirmation_post(confirmation_id=c.pk)

    errors = planner_api.get("/api/v1/posting-errors/").json()
    assert [e["id"] for e in errors["results"]] == [c.pk]
    assert "P-BACK" in errors["results"][0]["posting_error"]["message"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        retried = planner_api.post(f"/api/v1/posting-errors/{c.pk}/retry/")
    assert retried.status_code == 200 and retried.json()["posting_status"] == "pending"
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_reverse_over_the_api(plant, planner, planner_api, django_capture_on_commit_callbacks):
    plant.stock()
    order = _released(plant, planner)
    with django_capture_on_commit_callbacks(execute=False):
        c = services.confirmation_create(
            data=services.ConfirmationInput(
                operation_id=order.operations.get(sequence=20).pk, good_quantity=Decimal(2)
            ),
            user=planner,
        )
    services.confirmation_post(confirmation_id=c.pk)

    without_reason = planner_api.post(f"{URL}{c.pk}/reverse/", {}, format="json")
    reversed_ = planner_api.post(f"{URL}{c.pk}/reverse/", {"reason": "wrong order"}, format="json")
    again = planner_api.post(f"{URL}{c.pk}/reverse/", {"reason": "wrong order"}, format="json")

    assert without_reason.status_code == 400 and without_reason.json()["code"] == "reason_required"
    assert list(without_reason.json()["fields"]) == ["reason"]
    assert reversed_.status_code == 201 and reversed_.json()["reversal_of"] == c.pk
    # The reversal posted its opposite movements at once, in its own transaction.
    assert reversed_.json()["posting_status"] == "posted" and reversed_.json()["posted_at"] is not None
    assert again.status_code == 409 and again.json()["code"] == "already_reversed"
    assert_ledger_consistent()


@pytest.mark.django_db
def test_confirmation_list_costs_constant_queries(plant, planner, planner_api, django_assert_max_num_queries):
    plant.stock()
    order = _released(plant, planner, qty=30)
    first = order.operations.get(sequence=10)
    services.confirmation_create(data=services.ConfirmationInput(operation_id=first.pk, good_quantity=1), user=planner)
    with django_assert_max_num_queries(10) as one:
        planner_api.get(URL)
    for _ in range(20):
        services.confirmation_create(
            data=services.ConfirmationInput(operation_id=first.pk, good_quantity=1), user=planner
        )

    with django_assert_max_num_queries(len(one.captured_queries)):
        assert planner_api.get(URL).json()["count"] == 21


@pytest.mark.django_db
def test_reported_quantities_cannot_be_changed_in_the_database(plant, planner):
    from django.db import InternalError, transaction

    plant.stock()
    order = _released(plant, planner)
    c = services.confirmation_create(
        data=services.ConfirmationInput(operation_id=order.operations.get(sequence=10).pk, good_quantity=Decimal(2)),
        user=planner,
    )

    with pytest.raises(InternalError), transaction.atomic():
        Confirmation.objects.filter(pk=c.pk).update(good_quantity=Decimal(5))
    with pytest.raises(InternalError), transaction.atomic():
        Confirmation.objects.filter(pk=c.pk).delete()


@pytest.mark.django_db
def test_a_fraction_of_a_piece_gets_a_400_naming_the_field_and_nothing_is_written(plant, planner, integration_api):
    plant.stock()
    order = _released(plant, planner)
    last = order.operations.get(sequence=20)

    response = integration_api.post(URL, {"operation": last.pk, "good_quantity": 0.1}, format="json")

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "too_many_decimals"
    assert list(body["fields"]) == ["good_quantity"]
    assert not Confirmation.objects.exists()
