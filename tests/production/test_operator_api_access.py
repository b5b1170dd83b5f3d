"""What the shop-floor operator may do over the API: see and post confirmations at their own
work centers and preview one, and nothing else (spec "Who uses it", "Roles"). Every other
endpoint answers 403 in the error shape, with a token or with the floor's session."""

from decimal import Decimal

import pytest
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.test import APIClient

from config.roles import Role
from production import services
from production.models import Confirmation, Operator
from tests.production.conftest import in_days

URL = "/api/v1/confirmations/"
# The endpoints the shop floor uses (floor.js polls a confirmation's posting status).
OPERATOR_READS = {"/api/v1/me/", URL, f"{URL}preview/"}


def _released(plant, planner, qty=10):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(qty), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    return order


def _posted_confirmation(order, planner, sequence=20) -> Confirmation:
    confirmation = services.confirmation_create(
        data=services.ConfirmationInput(
            operation_id=order.operations.get(sequence=sequence).pk, good_quantity=Decimal(2)
        ),
        user=planner,
    )
    services.confirmation_post(confirmation_id=confirmation.pk)
    return confirmation


def _operator_at(client: APIClient, *work_centers) -> APIClient:
    Operator.objects.create(user=client.user, badge=f"B-{client.user.pk}").work_centers.add(*work_centers)
    return client


def _assert_forbidden(response) -> None:
    assert response.status_code == 403, (response.request["PATH_INFO"], response.status_code)
    assert set(response.json()) == {"code", "message", "fields"}
    assert response.json()["code"] == "permission_denied"


def _list_endpoints() -> list[str]:
    return sorted(
        {
            path
            for path, _, method, _ in EndpointEnumerator().get_api_endpoints()
            if method == "GET" and path.startswith("/api/v1/") and "{" not in path
        }
    )


@pytest.mark.parametrize("path", [p for p in _list_endpoints() if p not in OPERATOR_READS])
def test_operator_token_is_refused_every_read_the_floor_does_not_need(api_client_for, path):
    operator = api_client_for(Role.OPERATOR)

    _assert_forbidden(operator.get(path))


def test_operator_reads_of_orders_costs_sales_and_stock_are_refused(plant, planner, api_client_for):
    plant.stock()
    order = _released(plant, planner)
    operator = _operator_at(api_client_for(Role.OPERATOR), plant.wc_a, plant.wc_b)

    for path in (
        "/api/v1/customers/",
        "/api/v1/sales-orders/",
        "/api/v1/stock-movements/",
        "/api/v1/production-orders/",
        f"/api/v1/production-orders/{order.pk}/",
        f"/api/v1/production-orders/{order.pk}/costs/",
    ):
        _assert_forbidden(operator.get(path))


def test_operator_cannot_reverse_a_confirmation_even_at_their_work_center(
    plant, planner, api_client_for, django_capture_on_commit_callbacks
):
    plant.stock()
    order = _released(plant, planner)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = _posted_confirmation(order, planner)
    operator = _operator_at(api_client_for(Role.OPERATOR), plant.wc_b)

    response = operator.post(f"{URL}{confirmation.pk}/reverse/", {"reason": "oops"}, format="json")

    _assert_forbidden(response)
    assert not Confirmation.objects.filter(reversal_of=confirmation).exists()


def test_operator_confirms_at_their_work_center_and_reads_it_back(
    plant, planner, api_client_for, django_capture_on_commit_callbacks
):
    plant.stock()
    order = _released(plant, planner)
    operation = order.operations.get(sequence=20)
    operator = _operator_at(api_client_for(Role.OPERATOR), plant.wc_b)

    with django_capture_on_commit_callbacks(execute=False):
        created = operator.post(URL, {"operation": operation.pk, "good_quantity": "1"}, format="json")
    status = operator.get(f"{URL}{created.json()['id']}/")
    preview = operator.get(f"{URL}preview/", {"operation": operation.pk, "good_quantity": "1"})

    assert created.status_code == 201, created.json()
    assert status.status_code == 200 and status.json()["posting_status"] == "pending"
    assert preview.status_code == 200
    assert operator.get("/api/v1/me/").json()["roles"] == ["operator"]


def test_floor_session_of_an_operator_has_the_same_limits(
    plant, planner, user_with_role, django_capture_on_commit_callbacks
):
    plant.stock()
    order = _released(plant, planner)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = _posted_confirmation(order, planner)
    user = user_with_role(Role.OPERATOR)
    Operator.objects.create(user=user, badge="B-FLOOR").work_centers.add(plant.wc_b)
    floor = APIClient()
    floor.force_login(user)

    assert floor.get(f"{URL}{confirmation.pk}/").status_code == 200
    _assert_forbidden(floor.get("/api/v1/customers/"))
    _assert_forbidden(floor.get(f"/api/v1/production-orders/{order.pk}/costs/"))


@pytest.mark.parametrize("role", [Role.PLANNER, Role.ADMIN, Role.INTEGRATION])
def test_planners_admins_and_machines_reverse_confirmations(
    plant, planner, api_client_for, role, django_capture_on_commit_callbacks
):
    plant.stock()
    order = _released(plant, planner)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = _posted_confirmation(order, planner)
        response = api_client_for(role).post(f"{URL}{confirmation.pk}/reverse/", {"reason": "miscount"}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["reversal_of"] == confirmation.pk


def test_viewer_cannot_reverse(plant, planner, viewer_api, django_capture_on_commit_callbacks):
    plant.stock()
    order = _released(plant, planner)
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = _posted_confirmation(order, planner)

    _assert_forbidden(viewer_api.post(f"{URL}{confirmation.pk}/reverse/", {"reason": "x"}, format="json"))


def test_planner_still_reads_everything_the_operator_may_not(plant, planner, planner_api):
    plant.stock()
    order = _released(plant, planner)

    for path in [*_list_endpoints(), f"/api/v1/production-orders/{order.pk}/costs/"]:
        response = planner_api.get(path)
        # Past the role check: the two queries without their parameters are invalid.
        expected = 400 if path in (f"{URL}preview/", "/api/v1/boms/where-used/") else 200
        assert response.status_code == expected, (path, response.status_code)


def test_operator_reads_only_the_confirmations_of_their_work_centers(
    plant, planner, api_client_for, planner_api, django_capture_on_commit_callbacks
):
    plant.stock()
    order = _released(plant, planner)
    with django_capture_on_commit_callbacks(execute=False):
        at_a = _posted_confirmation(order, planner, sequence=10)
        at_b = _posted_confirmation(order, planner, sequence=20)
    operator = _operator_at(api_client_for(Role.OPERATOR), plant.wc_a)

    listed = operator.get(URL).json()
    other = operator.get(f"{URL}{at_b.pk}/")

    assert [c["id"] for c in listed["results"]] == [at_a.pk]
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    assert operator.get(f"{URL}{at_a.pk}/").status_code == 200
    assert planner_api.get(URL).json()["count"] == 2


def test_operator_without_work_centers_reads_no_confirmations(plant, planner, operator_api):
    plant.stock()
    _posted_confirmation(_released(plant, planner), planner)

    assert operator_api.get(URL).json()["count"] == 0
