"""``POST /api/v1/production-orders/{id}/merge/`` and ``/split/``: the one error shape with a
code, If-Match, Idempotency-Key replays, role checks, and the order detail's links."""

from __future__ import annotations

from decimal import Decimal

import pytest

from production import services
from production.enums import OrderStatus
from production.models import ProductionOrder
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db
URL = "/api/v1/production-orders/"


def _order(plant, planner, qty, days=30, **extra) -> ProductionOrder:
    return services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(qty), due_date=in_days(days), user=planner, **extra
    )


def _merge(api, target, body, **headers):
    return api.post(f"{URL}{target.pk}/merge/", body, format="json", **headers)


def _split(api, order, body, **headers):
    return api.post(f"{URL}{order.pk}/split/", body, format="json", **headers)


def test_merge_answers_the_merged_order_with_its_shares(plant, planner, planner_api):
    target = _order(plant, planner, 4, days=30)
    source = _order(plant, planner, 2, days=10)
    etag = planner_api.get(f"{URL}{target.pk}/").headers["ETag"]

    response = _merge(planner_api, target, {"source_orders": [source.pk], "reason": "one setup"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["quantity"] == "6.0000"
    assert body["due_date"] == str(in_days(10))
    assert response.headers["ETag"] == f'"{body["version"]}"' != etag
    assert [(s["order"], s["quantity"], s["is_target"], s["demand"]) for s in body["merge_sources"]] == [
        (source.pk, "2.0000", False, "stock"),
        (target.pk, "4.0000", True, "stock"),
    ]
    merged = planner_api.get(f"{URL}{source.pk}/").json()
    assert merged["status"] == OrderStatus.MERGED
    assert merged["merged_into"] == target.pk
    assert merged["merge_sources"] == body["merge_sources"]
    # merged orders can be filtered out of (or into) lists by status
    listed = planner_api.get(URL, {"status": "merged"}).json()
    assert [o["id"] for o in listed["results"]] == [source.pk]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 400, "invalid", "source_orders"),
        ({"source_orders": []}, 400, "invalid", "source_orders"),
        ({"source_orders": ["x"]}, 400, "invalid", "source_orders[0]"),
        ("self", 400, "self_merge", "source_orders"),
        ("twice", 400, "duplicate_source", "source_orders"),
        ({"source_orders": [987654]}, 400, "unknown_order", "source_orders"),
        ("mto", 400, "order_type_mismatch", "source_orders"),
        ("cancelled", 409, "invalid_status", "source_orders"),
    ],
    ids=["missing", "empty", "not-an-id", "self", "twice", "unknown", "other-type", "cancelled"],
)
def test_merge_refusals_use_the_error_shape_and_write_nothing(body, status, code, field, plant, planner, planner_api):
    target = _order(plant, planner, 4)
    other = _order(plant, planner, 1)
    mto = _order(plant, planner, 1, order_type="MTO")
    cancelled = services.production_order_cancel(order_id=_order(plant, planner, 1).pk, user=planner)
    named = {
        "self": {"source_orders": [target.pk]},
        "twice": {"source_orders": [other.pk, other.pk]},
        "mto": {"source_orders": [mto.pk]},
        "cancelled": {"source_orders": [cancelled.pk]},
    }
    body = named[body] if isinstance(body, str) else body
    before = list(ProductionOrder.objects.order_by("pk").values("status", "quantity", "version"))

    response = _merge(planner_api, target, body)

    assert response.status_code == status, response.content
    error = response.json()
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    assert field in error["fields"], error
    assert list(ProductionOrder.objects.order_by("pk").values("status", "quantity", "version")) == before


def test_merge_with_a_stale_if_match_is_412_and_writes_nothing(plant, planner, planner_api):
    target = _order(plant, planner, 4)
    source = _order(plant, planner, 1)
    etag = planner_api.get(f"{URL}{target.pk}/").headers["ETag"]
    services.production_order_update(order_id=target.pk, user=planner, priority=2)

    response = _merge(planner_api, target, {"source_orders": [source.pk]}, HTTP_IF_MATCH=etag)

    assert response.status_code == 412
    assert response.json()["code"] == "stale_version"
    source.refresh_from_db()
    assert source.status == OrderStatus.PLANNED


def test_merge_replays_with_the_same_idempotency_key(plant, planner, planner_api):
    target = _order(plant, planner, 4)
    source = _order(plant, planner, 1)
    other = _order(plant, planner, 1)

    first = _merge(planner_api, target, {"source_orders": [source.pk]}, HTTP_IDEMPOTENCY_KEY="merge-1")
    again = _merge(planner_api, target, {"source_orders": [source.pk]}, HTTP_IDEMPOTENCY_KEY="merge-1")
    reused = _merge(planner_api, target, {"source_orders": [other.pk]}, HTTP_IDEMPOTENCY_KEY="merge-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert reused.status_code == 422
    target.refresh_from_db()
    assert target.quantity == Decimal(5)
    other.refresh_from_db()
    assert other.status == OrderStatus.PLANNED


def test_split_answers_201_with_the_new_order(plant, planner, planner_api):
    order = _order(plant, planner, 5)
    etag = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]

    response = _split(
        planner_api, order, {"quantity": "2", "due_date": str(in_days(40)), "reason": "later"}, HTTP_IF_MATCH=etag
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["quantity"] == "2.0000"
    assert body["split_from"] == order.pk
    assert body["due_date"] == str(in_days(40))
    assert response.headers["Location"] == f"{URL}{body['id']}/"
    assert response.headers["ETag"] == f'"{body["version"]}"'
    origin = planner_api.get(f"{URL}{order.pk}/")
    assert origin.json()["quantity"] == "3.0000"
    assert origin.json()["split_orders"] == [body["id"]]
    assert origin.headers["ETag"] != etag


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"quantity": "0"}, 400, "invalid_quantity"),
        ({"quantity": "5"}, 400, "quantity_too_large"),
        ({"quantity": "9"}, 400, "quantity_too_large"),
    ],
)
def test_split_refusals_name_the_quantity(body, status, code, plant, planner, planner_api):
    order = _order(plant, planner, 5)

    response = _split(planner_api, order, body)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert "quantity" in response.json()["fields"]
    assert ProductionOrder.objects.count() == 1


def test_split_of_an_order_with_postings_is_409(plant, planner, planner_api):
    plant.stock()
    order = services.production_order_release(order_id=_order(plant, planner, 5).pk, user=planner)

    response = _split(planner_api, order, {"quantity": "2"})

    assert response.status_code == 409
    assert response.json()["code"] == "has_postings"
    assert ProductionOrder.objects.count() == 1


def test_split_with_a_stale_if_match_is_412(plant, planner, planner_api):
    order = _order(plant, planner, 5)
    etag = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]
    services.production_order_update(order_id=order.pk, user=planner, priority=2)

    response = _split(planner_api, order, {"quantity": "2"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 412
    assert ProductionOrder.objects.count() == 1


def test_split_replays_with_the_same_idempotency_key(plant, planner, planner_api):
    order = _order(plant, planner, 5)

    first = _split(planner_api, order, {"quantity": "2"}, HTTP_IDEMPOTENCY_KEY="split-1")
    again = _split(planner_api, order, {"quantity": "2"}, HTTP_IDEMPOTENCY_KEY="split-1")

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert ProductionOrder.objects.count() == 2
    order.refresh_from_db()
    assert order.quantity == Decimal(3)


@pytest.mark.parametrize("role_api", ["viewer_api", "operator_api", "integration_api"])
def test_merge_and_split_are_for_planners_and_admins(role_api, request, plant, planner, api_client_for):
    api = request.getfixturevalue(role_api)
    target = _order(plant, planner, 4)
    source = _order(plant, planner, 1)

    assert _merge(api, target, {"source_orders": [source.pk]}).status_code == 403
    assert _split(api, target, {"quantity": "1"}).status_code == 403
    assert ProductionOrder.objects.count() == 2
    source.refresh_from_db()
    assert source.status == OrderStatus.PLANNED
    admin = api_client_for("admin")
    assert _split(admin, target, {"quantity": "1"}).status_code == 201
