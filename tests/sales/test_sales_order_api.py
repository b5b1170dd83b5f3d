"""REST: customers and sales orders over token auth; roles, error shapes, idempotency keys,
constant list queries."""

from __future__ import annotations

import pytest

from sales import services
from sales.models import Customer, SalesOrder, SalesOrderLine
from tests.sales.conftest import in_days
from tests.sales.helpers import order_for

URL = "/api/v1/sales-orders/"


def _body(splant, **overrides):
    body = {
        "customer_code": "C-TEST",
        "customer_reference": "PO-4711",
        "lines": [
            {
                "item_sku": "FG-MTS",
                "quantity": "2",
                "requested_date": str(in_days(10)),
                "unit_price": "310.00",
            },
            {"item": splant.mto.pk, "quantity": "1", "requested_date": str(in_days(20)), "unit_price": "720"},
        ],
    }
    body.update(overrides)
    return body


def test_sales_order_create_and_confirm_by_integration(splant, integration_api, django_capture_on_commit_callbacks):
    # when an integration creates an order with two lines and confirms it with a key
    response = integration_api.post(URL, _body(splant), format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["status"] == "draft" and [ln["item_sku"] for ln in order["lines"]] == ["FG-MTS", "FG-MTO"]
    replay = integration_api.post(URL, _body(splant), format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        confirm = integration_api.post(f"{URL}{order['id']}/confirm/", HTTP_IDEMPOTENCY_KEY="confirm-1")
        again = integration_api.post(f"{URL}{order['id']}/confirm/", HTTP_IDEMPOTENCY_KEY="confirm-1")

    # then the replays return the first responses, and only one generation was queued
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert SalesOrder.objects.count() == 1
    assert confirm.status_code == 200, confirm.json()
    assert confirm.json()["status"] == "confirmed"
    assert [a["shortfall"] for a in confirm.json()["availability"]] == ["0.0000", "0.0000"]
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert len(queued) == 1


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"customer_code": "NOPE"}, "customer_code", "unknown_customer"),
        ({"customer": 999999, "customer_code": None}, "customer", "unknown_customer"),
        (
            {"lines": [{"item_sku": "NOPE", "quantity": "1", "requested_date": "2099-01-01"}]},
            "lines[0].item_sku",
            "unknown_item",
        ),
        (
            {"lines": [{"item_sku": "FG-MTS", "quantity": "0", "requested_date": "2099-01-01"}]},
            "lines[0].quantity",
            "invalid_quantity",
        ),
        (
            {"lines": [{"item_sku": "FG-MTS", "quantity": "-2", "requested_date": "2099-01-01"}]},
            "lines[0].quantity",
            "invalid_quantity",
        ),
        (
            {"lines": [{"item_sku": "FG-MTS", "quantity": "1.5", "requested_date": "2099-01-01"}]},
            "lines[0].quantity",
            "too_many_decimals",
        ),
        (
            {"lines": [{"item_sku": "FG-MTS", "quantity": "1", "requested_date": "2020-01-01"}]},
            "lines[0].requested_date",
            "date_in_past",
        ),
        ({"lines": []}, "lines.non_field_errors", "invalid"),
    ],
)
def test_sales_order_create_bad_input(splant, planner_api, change, field, code):
    body = {k: v for k, v in {**_body(splant), **change}.items() if v is not None}

    response = planner_api.post(URL, body, format="json")

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == code and field in error["fields"], error
    assert not SalesOrder.objects.exists() and not SalesOrderLine.objects.exists()


def test_sales_order_confirm_conflicts(splant, planner, planner_api, django_capture_on_commit_callbacks):
    # given a confirmed order and a draft without lines
    order = order_for(splant, planner, (splant.mts, 1))
    empty = order_for(splant, planner, (splant.mts, 1))
    SalesOrderLine.objects.filter(order=empty).delete()
    with django_capture_on_commit_callbacks(execute=False):
        planner_api.post(f"{URL}{order.pk}/confirm/")

    # when confirmed again / confirmed empty
    twice = planner_api.post(f"{URL}{order.pk}/confirm/")
    blank = planner_api.post(f"{URL}{empty.pk}/confirm/")

    # then 409 naming what is wrong
    assert twice.status_code == 409 and twice.json()["code"] == "already_confirmed"
    assert blank.status_code == 409 and blank.json()["code"] == "empty_order" and "lines" in blank.json()["fields"]


def test_sales_order_edit_only_while_draft(splant, planner, planner_api, django_capture_on_commit_callbacks):
    order = order_for(splant, planner, (splant.mts, 1))
    new_lines = [{"item_sku": "FG-ATO", "quantity": "3", "requested_date": str(in_days(15))}]

    edited = planner_api.patch(f"{URL}{order.pk}/", {"lines": new_lines}, format="json")
    with django_capture_on_commit_callbacks(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)
    locked = planner_api.patch(f"{URL}{order.pk}/", {"customer_reference": "x"}, format="json")

    assert edited.status_code == 200
    assert [(ln["item_sku"], ln["quantity"]) for ln in edited.json()["lines"]] == [("FG-ATO", "3.0000")]
    assert locked.status_code == 409 and locked.json()["code"] == "order_locked"


def test_sales_order_roles(splant, planner, viewer_api, operator_api):
    order = order_for(splant, planner, (splant.mts, 1))

    assert viewer_api.get(URL).status_code == 200
    assert operator_api.get(f"{URL}{order.pk}/").status_code == 403  # the floor sees no sales
    assert viewer_api.post(URL, _body(splant), format="json").status_code == 403
    assert operator_api.post(f"{URL}{order.pk}/confirm/").status_code == 403
    assert viewer_api.post("/api/v1/customers/", {"code": "X", "name": "X"}).status_code == 403


def test_sales_order_deliver_api_over_delivery(splant, planner, planner_api, django_capture_on_commit_callbacks):
    order = order_for(splant, planner, (splant.mts, 2))
    with django_capture_on_commit_callbacks(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)
    services.sales_order_generate(order_id=order.pk)
    line = order.lines.get()

    too_much = planner_api.post(
        f"{URL}{order.pk}/deliver/", {"lines": [{"line": line.pk, "quantity": "3"}]}, format="json"
    )
    ok = planner_api.post(
        f"{URL}{order.pk}/deliver/",
        {"lines": [{"line": line.pk, "quantity": "2"}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="ship-1",
    )
    replay = planner_api.post(
        f"{URL}{order.pk}/deliver/",
        {"lines": [{"line": line.pk, "quantity": "2"}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="ship-1",
    )

    assert too_much.status_code == 409 and too_much.json()["code"] == "over_delivery"
    assert "lines[0].quantity" in too_much.json()["fields"]
    assert ok.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert planner_api.get(f"{URL}{order.pk}/").json()["status"] == "delivered"


def test_sales_order_list_costs_a_constant_number_of_queries(
    splant, planner, planner_api, django_assert_max_num_queries
):
    order_for(splant, planner, (splant.mts, 1))
    with django_assert_max_num_queries(10) as one:
        planner_api.get(URL)
    for _ in range(20):
        order_for(splant, planner, (splant.mts, 1), (splant.mto, 2))

    with django_assert_max_num_queries(len(one.captured_queries)):
        response = planner_api.get(URL)

    assert response.json()["count"] == 21


def test_sales_order_detail_costs_a_constant_number_of_queries(
    splant, planner, planner_api, django_assert_max_num_queries
):
    small = order_for(splant, planner, (splant.mts, 1))
    big = order_for(splant, planner, *[(splant.mts, 1)] * 25)
    with django_assert_max_num_queries(15) as one:
        planner_api.get(f"{URL}{small.pk}/")

    with django_assert_max_num_queries(len(one.captured_queries)):
        response = planner_api.get(f"{URL}{big.pk}/")

    assert len(response.json()["lines"]) == 25


def test_customer_create_list_and_duplicate(integration_api, viewer_api, django_assert_max_num_queries):
    created = integration_api.post("/api/v1/customers/", {"code": "C-NEW", "name": "New"}, format="json")
    duplicate = integration_api.post("/api/v1/customers/", {"code": "C-NEW", "name": "Again"}, format="json")
    for n in range(20):
        Customer.objects.create(code=f"C-{n:03d}", name="x")
    with django_assert_max_num_queries(6):
        listed = viewer_api.get("/api/v1/customers/")

    assert created.status_code == 201 and created.json()["currency"] == "EUR"
    assert duplicate.status_code == 400 and duplicate.json()["fields"] == {"code": ["already exists"]}
    assert listed.json()["count"] == 21
