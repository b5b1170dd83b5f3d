"""Sales order pages through Django's test client: roles, create with lines and field
errors, actions, constant query counts."""

from decimal import Decimal

import pytest
from django.test import Client

from config.roles import Role
from sales import services
from sales.models import SalesOrder
from sales.services import LineInput
from tests.sales.conftest import in_days
from tests.sales.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(user_with_role):
    def make(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return make


def _draft(plant, user, n_lines=1, **kwargs) -> SalesOrder:
    return services.sales_order_create(
        customer_id=plant.customer.pk,
        lines=[LineInput(item_id=plant.mts.pk, quantity=Decimal(1), requested_date=in_days(10))] * n_lines,
        user=user,
        **kwargs,
    )


def _form(customer_id, rows, **extra):
    data = {"customer": customer_id, "customer_reference": "PO-4711", "lines-TOTAL_FORMS": str(len(rows))}
    data |= {"lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "100"}
    for i, row in enumerate(rows):
        data |= {f"lines-{i}-{k}": v for k, v in row.items()}
    return data | extra


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PLANNER, Role.INTEGRATION, Role.ADMIN])
def test_sales_order_pages_office_roles_read(client_for, splant, user_with_role, role):
    order = _draft(splant, user_with_role(Role.PLANNER))
    client = client_for(role)
    assert client.get("/sales/orders/").status_code == 200
    assert client.get(f"/sales/orders/{order.pk}/").status_code == 200


def test_sales_order_pages_operator_forbidden(client_for, splant, user_with_role):
    order = _draft(splant, user_with_role(Role.PLANNER))
    operator = client_for(Role.OPERATOR)
    assert operator.get("/sales/orders/").status_code == 403
    assert operator.get(f"/sales/orders/{order.pk}/").status_code == 403
    assert operator.get("/sales/orders/new/").status_code == 403


def test_sales_order_confirm_viewer_forbidden_and_sees_no_buttons(client_for, splant, user_with_role):
    # given a draft
    order = _draft(splant, user_with_role(Role.PLANNER))
    viewer = client_for(Role.VIEWER)

    # then a viewer sees no action and cannot post one
    assert ">Confirm</button>" not in viewer.get(f"/sales/orders/{order.pk}/").content.decode()
    assert viewer.get("/sales/orders/new/").status_code == 403
    assert viewer.post(f"/sales/orders/{order.pk}/confirm/").status_code == 403
    order.refresh_from_db()
    assert order.status == "draft"


def test_sales_order_create_page_two_lines_skips_empty_rows(client_for, splant):
    # when an integration user posts two filled rows and an empty one
    rows = [
        {"item": splant.mts.pk, "quantity": "2", "requested_date": in_days(7).isoformat(), "unit_price": "9.50"},
        {"item": splant.mto.pk, "quantity": "1", "requested_date": in_days(9).isoformat()},
        {"item": "", "quantity": "", "requested_date": "", "unit_price": ""},
    ]
    response = client_for(Role.INTEGRATION).post("/sales/orders/new/", _form(splant.customer.pk, rows))

    # then a draft with two lines exists and the page goes to it
    order = SalesOrder.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/sales/orders/{order.pk}/"
    assert order.customer_reference == "PO-4711"
    assert [(ln.item_id, ln.quantity, ln.unit_price) for ln in order.lines.order_by("position")] == [
        (splant.mts.pk, Decimal(2), Decimal("9.50")),
        (splant.mto.pk, Decimal(1), Decimal(0)),
    ]


def test_sales_order_create_page_service_error_next_to_the_line_field(client_for, splant):
    # given a second line with a quantity the service refuses
    rows = [
        {"item": splant.mts.pk, "quantity": "2", "requested_date": in_days(7).isoformat()},
        {"item": splant.mto.pk, "quantity": "0", "requested_date": in_days(9).isoformat()},
    ]

    # when it is posted
    response = client_for(Role.PLANNER).post("/sales/orders/new/", _form(splant.customer.pk, rows))

    # then nothing is written, the input is kept and the error sits at line 2's quantity
    html = response.content.decode()
    assert response.status_code == 400
    assert not SalesOrder.objects.exists()
    assert 'id="id_lines-1-quantity_error"' in html
    assert "must be &gt; 0" in html
    assert 'value="PO-4711"' in html


def test_sales_order_create_page_add_line_keeps_input_without_errors(client_for, splant):
    rows = [{"item": splant.mts.pk, "quantity": "", "requested_date": in_days(7).isoformat()}]

    response = client_for(Role.PLANNER).post("/sales/orders/new/", _form(splant.customer.pk, rows, add_line="1"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="lines-1-item"' in html
    assert "field-error" not in html
    assert f'<option value="{splant.mts.pk}" selected>' in html
    assert not SalesOrder.objects.exists()


def test_sales_order_confirm_and_cancel_from_the_page(
    client_for, splant, user_with_role, django_capture_on_commit_callbacks
):
    order = _draft(splant, user_with_role(Role.PLANNER))
    planner = client_for(Role.PLANNER)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        planner.post(f"/sales/orders/{order.pk}/confirm/")
    order.refresh_from_db()
    assert order.status == "confirmed"
    assert len(callbacks) == 1  # generation queued

    # a cancel without reason is refused with the service's message
    response = planner.post(f"/sales/orders/{order.pk}/cancel/", {"reason": ""}, follow=True)
    order.refresh_from_db()
    assert order.status == "confirmed"
    assert "msg-error" in response.content.decode()

    planner.post(f"/sales/orders/{order.pk}/cancel/", {"reason": "customer withdrew"})
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.cancel_reason == "customer withdrew"


def test_sales_order_deliver_from_the_page(client_for, splant, user_with_role):
    # given a generated MTS order (reserved from stock)
    planner_user = user_with_role(Role.PLANNER)
    order = _draft(splant, planner_user)
    services.sales_order_confirm(order_id=order.pk, user=planner_user)
    services.sales_order_generate(order_id=order.pk)
    line = order.lines.get()
    planner = client_for(Role.PLANNER)
    assert 'data-open="dlg-deliver"' in planner.get(f"/sales/orders/{order.pk}/").content.decode()

    # when the planner delivers the line's quantity
    response = planner.post(
        f"/sales/orders/{order.pk}/deliver/", {f"qty-{line.pk}": "1", "note": "truck 3"}, follow=True
    )

    # then it is delivered and listed
    order.refresh_from_db()
    assert order.status == "delivered"
    assert "truck 3" in response.content.decode()


def test_sales_order_list_filters_and_search(client_for, splant, user_with_role):
    user = user_with_role(Role.PLANNER)
    mine = _draft(splant, user, customer_reference="ACME-77")
    other_customer = CustomerFactory(code="C-OTHER")
    other = services.sales_order_create(
        customer_id=other_customer.pk,
        lines=[LineInput(item_id=splant.mts.pk, quantity=Decimal(1), requested_date=in_days(10))],
        user=user,
    )
    viewer = client_for(Role.VIEWER)

    by_ref = viewer.get("/sales/orders/?q=acme-7").content.decode()
    by_customer = viewer.get(f"/sales/orders/?customer={other_customer.pk}").content.decode()
    by_status = viewer.get("/sales/orders/?status=confirmed").content.decode()

    assert mine.number in by_ref and other.number not in by_ref
    assert other.number in by_customer and mine.number not in by_customer
    assert mine.number not in by_status and other.number not in by_status


def test_sales_order_list_constant_queries(client_for, splant, user_with_role, django_assert_max_num_queries):
    user = user_with_role(Role.PLANNER)
    viewer = client_for(Role.VIEWER)
    _draft(splant, user, n_lines=2)
    viewer.get("/sales/orders/")
    with django_assert_max_num_queries(12) as one:
        assert viewer.get("/sales/orders/").status_code == 200
    for _ in range(21):
        _draft(splant, user, n_lines=3)
    with django_assert_max_num_queries(len(one.captured_queries)) as many:
        html = viewer.get("/sales/orders/").content.decode()
    assert html.count('href="/sales/orders/') >= 22
    assert len(many.captured_queries) == len(one.captured_queries)


def test_sales_order_detail_constant_queries(client_for, splant, user_with_role, django_assert_max_num_queries):
    user = user_with_role(Role.PLANNER)
    viewer = client_for(Role.VIEWER)
    small, big = _draft(splant, user, n_lines=1), _draft(splant, user, n_lines=20)
    viewer.get(f"/sales/orders/{small.pk}/")
    with django_assert_max_num_queries(15) as one:
        viewer.get(f"/sales/orders/{small.pk}/")
    with django_assert_max_num_queries(len(one.captured_queries)):
        viewer.get(f"/sales/orders/{big.pk}/")


def test_sales_order_edit_replaces_lines_of_a_draft_and_is_refused_once_confirmed(
    client_for, splant, user_with_role, django_capture_on_commit_callbacks
):
    planner = user_with_role(Role.PLANNER)
    order = _draft(splant, planner, n_lines=2)
    client = Client()
    client.force_login(planner)
    page = client.get(f"/sales/orders/{order.pk}/edit/")
    assert page.status_code == 200 and f"Edit {order.number}" in page.content.decode()

    row = {"item": splant.mto.pk, "quantity": "3", "requested_date": str(in_days(12)), "unit_price": "10"}
    response = client.post(f"/sales/orders/{order.pk}/edit/", _form(splant.customer.pk, [row]))

    assert response.status_code == 302
    lines = list(order.lines.all())
    assert [(ln.item_id, ln.quantity) for ln in lines] == [(splant.mto.pk, Decimal(3))]
    with django_capture_on_commit_callbacks(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)
    refused = client.post(f"/sales/orders/{order.pk}/edit/", _form(splant.customer.pk, [row | {"quantity": "5"}]))
    assert refused.status_code == 400
    assert order.lines.get().quantity == Decimal(3)
