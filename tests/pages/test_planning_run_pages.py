"""Planning run pages through Django's test client: roles, starting a run (and the 409 of a
second one), the progress partial, firming from the planned-order list, constant queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.roles import Role
from planning.models import PlannedOrder, PlanningRun
from production.models import ProductionOrder
from production.services import planned_orders_firm
from tests.planning.mrp.conftest import forecast, run_plan, tree  # noqa: F401

pytestmark = pytest.mark.django_db

PAGES = ["/planning/runs/", "/planning/planned-orders/", "/planning/requisitions/", "/planning/exceptions/"]


@pytest.fixture
def client_for(user_with_role):
    def make(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return make


@pytest.fixture
def planned(tree):  # noqa: F811
    forecast(tree.fin, d10=10)
    return run_plan()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PLANNER, Role.INTEGRATION, Role.ADMIN])
def test_planning_run_pages_office_roles_read(client_for, planned, role):
    client = client_for(role)
    for path in [*PAGES, f"/planning/runs/{planned.pk}/", f"/planning/runs/{planned.pk}/progress/"]:
        assert client.get(path).status_code == 200, path


def test_planning_run_pages_operator_forbidden(client_for, planned):
    operator = client_for(Role.OPERATOR)
    for path in [*PAGES, f"/planning/runs/{planned.pk}/"]:
        assert operator.get(path).status_code == 403, path
    assert operator.post("/planning/runs/", {"mode": "regenerative"}).status_code == 403
    assert operator.post("/planning/planned-orders/", {"planned_order": "1"}).status_code == 403


def test_planning_run_pages_viewer_sees_no_buttons_and_cannot_act(client_for, planned):
    # given a live plan and a viewer
    viewer = client_for(Role.VIEWER)
    order = PlannedOrder.objects.filter(status="planned").first()

    # then the pages show no start form, no checkboxes, no firm button
    assert "Start planning run" not in viewer.get("/planning/runs/").content.decode()
    html = viewer.get("/planning/planned-orders/").content.decode()
    assert "Firm selected" not in html and 'name="planned_order"' not in html
    assert f"PL{order.pk}" in html

    # and posting anyway is refused, with nothing written
    assert viewer.post("/planning/runs/", {"mode": "regenerative"}).status_code == 403
    assert viewer.post("/planning/planned-orders/", {"planned_order": str(order.pk)}).status_code == 403
    assert PlanningRun.objects.count() == 1
    assert not ProductionOrder.objects.exists()


def test_planning_run_start_page_queues_run_then_second_start_shows_409(client_for, tree):  # noqa: F811
    planner = client_for(Role.PLANNER)

    # when a planner starts a net-change run
    response = planner.post("/planning/runs/", {"mode": "net_change"})

    # then it is queued and the planner lands on its detail, which polls the progress partial
    run = PlanningRun.objects.get()
    assert (run.mode, run.status) == ("net_change", "queued")
    assert response.status_code == 302 and response.url == f"/planning/runs/{run.pk}/"
    detail = planner.get(response.url).content.decode()
    assert f'hx-get="/planning/runs/{run.pk}/progress/"' in detail and 'hx-trigger="every 1s"' in detail

    # when they start another while it is queued
    second = planner.post("/planning/runs/", {"mode": "regenerative"})

    # then the service's 409 message shows on the form and no run is added
    assert second.status_code == 409
    assert f"Planning run {run.pk} is queued; wait for it to finish." in second.content.decode()
    assert PlanningRun.objects.count() == 1


def test_planning_run_start_page_unknown_mode_is_a_field_error(client_for, tree):  # noqa: F811
    response = client_for(Role.PLANNER).post("/planning/runs/", {"mode": "everything"})
    assert response.status_code == 400
    assert "id_mode_error" in response.content.decode()
    assert not PlanningRun.objects.exists()


def test_planning_run_progress_partial_shows_level_while_running_and_summary_when_done(client_for, planned):
    client = client_for(Role.VIEWER)
    # given a run that is running on level 2 of 3
    running = PlanningRun.objects.create(
        mode="regenerative", status="running", progress={"level": 2, "levels": 3, "items_done": 5, "items_total": 9}
    )
    html = client.get(f"/planning/runs/{running.pk}/progress/").content.decode()
    assert "level 2 of 3" in html and "5 of 9 items done" in html and "every 1s" in html

    # then a finished run's partial stops polling and shows the summary
    html = client.get(f"/planning/runs/{planned.pk}/progress/").content.decode()
    assert "hx-trigger" not in html
    assert "Planned orders" in html and f">{planned.summary['planned_orders']}</a>" in html


def test_planned_orders_firm_page_firms_selected_and_shows_numbers(client_for, planned, tree):  # noqa: F811
    planner = client_for(Role.PLANNER)
    fin = PlannedOrder.objects.get(item=tree.fin)
    sub = PlannedOrder.objects.get(item=tree.sub)

    # when the planner firms both planned orders
    response = planner.post("/planning/planned-orders/", {"planned_order": [str(sub.pk), str(fin.pk)]})

    # then two production orders exist and the list shows their numbers
    assert response.status_code == 302
    orders = {o.item_id: o for o in ProductionOrder.objects.all()}
    assert set(orders) == {tree.fin.pk, tree.sub.pk}
    html = planner.get(response.url).content.decode()
    assert "2 production orders created." in html
    for item_id, po in orders.items():
        assert f"<strong>{po.number}</strong>" in html
        assert PlannedOrder.objects.get(item_id=item_id).production_order_id == po.pk

    # when they firm one of them again (a stale page)
    again = planner.post("/planning/planned-orders/", {"planned_order": str(fin.pk)}, follow=True)

    # then the service's message shows and nothing more is created
    assert f"Planned order {fin.pk} is already firmed" in again.content.decode()
    assert ProductionOrder.objects.count() == 2


def test_planned_orders_firm_page_nothing_selected_shows_message(client_for, planned):
    response = client_for(Role.PLANNER).post("/planning/planned-orders/", {}, follow=True)
    assert "Select at least one planned order." in response.content.decode()
    assert not ProductionOrder.objects.exists()


def test_planned_order_list_filters_item_status_and_due_range(client_for, tree):  # noqa: F811
    forecast(tree.fin, d10=10, d20=5)
    run_plan()
    client = client_for(Role.VIEWER)
    fin = list(PlannedOrder.objects.filter(item=tree.fin).order_by("due_date"))
    html = client.get("/planning/planned-orders/?item=FIN").content.decode()
    assert all(f"PL{o.pk}<" in html for o in fin)
    assert f"PL{PlannedOrder.objects.filter(item=tree.sub).first().pk}<" not in html
    late = fin[1].due_date.isoformat()
    html = client.get(f"/planning/planned-orders/?item=FIN&due_from={late}&status=planned").content.decode()
    assert f"PL{fin[1].pk}<" in html and f"PL{fin[0].pk}<" not in html
    html = client.get("/planning/planned-orders/?item_type=finished").content.decode()
    assert f"PL{fin[0].pk}<" in html and "SUB " not in html


def test_purchase_requisition_and_exception_lists_filter_by_item(client_for, planned, tree):  # noqa: F811
    client = client_for(Role.VIEWER)
    assert "RAW" in client.get("/planning/requisitions/?item=RAW").content.decode()
    assert "No purchase requisitions match" in client.get("/planning/requisitions/?item=FIN").content.decode()
    assert client.get("/planning/exceptions/?kind=late&date_from=2000-01-01").status_code == 200


def test_planned_order_list_query_count_constant(client_for, tree, planner, django_assert_max_num_queries):  # noqa: F811
    # given a plan of one FIN (and its SUB), one of them firmed
    client = client_for(Role.PLANNER)
    forecast(tree.fin, d10=1)
    run_plan()
    planned_orders_firm(planned_order_ids=[PlannedOrder.objects.get(item=tree.fin).pk], user=planner)
    url = "/planning/planned-orders/?status="
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200

    # when the plan grows to 24 days of demand (48 planned orders), 12 of them firmed
    forecast(tree.fin, **{f"d{n}": 1 for n in range(11, 34)})
    run_plan()
    ids = list(PlannedOrder.objects.filter(status="planned").order_by("due_date", "pk").values_list("pk", flat=True))
    planned_orders_firm(planned_order_ids=ids[:12], user=planner)
    assert PlannedOrder.objects.count() >= 40

    # then the page costs no more queries
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
