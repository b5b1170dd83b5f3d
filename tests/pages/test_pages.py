"""Planner pages through Django's test client: role checks and constant query counts."""

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from config.roles import Role
from planning.models import WorkCenter
from production import services
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/production/orders/",
    "/production/gantt/",
    "/planning/capacity/",
    "/planning/work-centers/",
    "/planning/routings/",
    "/inventory/items/",
    "/kpis/",
]


@pytest.fixture
def client_for(user_with_role):
    def make(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return make


@pytest.mark.parametrize("path", PAGES)
def test_pages_role_required_viewer_reads(client_for, plant, path):
    assert client_for(Role.VIEWER).get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES[1:])
def test_pages_role_required_operator_forbidden(client_for, path):
    assert client_for(Role.OPERATOR).get(path).status_code == 403


def test_dashboard_sends_operators_to_the_floor(client_for):
    response = client_for(Role.OPERATOR).get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/floor/")


def test_pages_anonymous_goes_to_login(client):
    response = client.get("/production/orders/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_order_create_page_viewer_forbidden(client_for, plant):
    viewer = client_for(Role.VIEWER)
    page = viewer.get("/production/orders/new/")
    assert page.status_code == 403
    # A page of the app that says which role it takes, not the server's bare "403 Forbidden".
    assert "This page needs the role admin or planner; you have viewer." in page.content.decode()
    assert 'href="/"' in page.content.decode()
    response = viewer.post("/production/orders/new/", {"item": plant.finished.pk, "quantity": "1"})
    assert response.status_code == 403


def test_order_release_page_viewer_forbidden_and_nothing_changes(client_for, plant, planner):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(1), due_date=in_days(5), user=planner
    )
    assert client_for(Role.VIEWER).post(f"/production/orders/{order.pk}/release/").status_code == 403
    order.refresh_from_db()
    assert order.status == "planned"


def test_bulk_release_gives_a_result_per_order(client_for, plant, planner):
    # given one order that can be released and one that is short
    plant.stock(back=10, fwd=100, phantom_part=100, lot=(30, 30))
    ok = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(5), user=planner
    )
    short = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(50), due_date=in_days(5), user=planner
    )
    client = client_for(Role.PLANNER)

    # when both are bulk-released
    response = client.post("/production/orders/", {"order": [ok.pk, short.pk]}, follow=True)

    # then each has its own line
    results = {r["number"]: r for r in response.context["results"]}
    assert results[ok.number]["ok"] is True
    assert results[short.number]["ok"] is False
    assert "cannot be released" in results[short.number]["message"]


def test_order_edit_stale_version_is_refused(client_for, plant, planner):
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(5), user=planner
    )
    client = client_for(Role.PLANNER)
    stale = order.version
    services.production_order_update(order_id=order.pk, user=planner, priority=2)

    response = client.post(
        f"/production/orders/{order.pk}/edit/", {"version": stale, "quantity": "3", "priority": "4"}, follow=True
    )

    assert "changed by someone else" in response.content.decode()
    order.refresh_from_db()
    assert order.quantity == Decimal(2)


@pytest.mark.parametrize(
    ("command", "extra"),
    [("release", {}), ("close", {"reason": "done"}), ("cancel", {"reason": "not needed"})],
)
def test_order_command_from_a_stale_page_shows_the_message_and_changes_nothing(
    client_for, plant, planner, command, extra
):
    # given an order page showing version N, and another planner's change since
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(5), user=planner
    )
    if command == "close":
        order = services.production_order_release(order_id=order.pk, user=planner)
    client = client_for(Role.PLANNER)
    shown = client.get(f"/production/orders/{order.pk}/").content.decode()
    assert f'name="version" value="{order.version}"' in shown
    services.production_order_update(order_id=order.pk, user=planner, priority=2)
    status_before = order.status

    # when the dialog is posted with the version the page showed
    response = client.post(
        f"/production/orders/{order.pk}/{command}/", {"version": order.version, **extra}, follow=True
    )

    # then the page says so, and the order keeps its status
    assert "changed by someone else" in response.content.decode()
    order.refresh_from_db()
    assert order.status == status_before


def test_issue_from_a_stale_page_shows_the_message_and_posts_nothing(client_for, plant, planner):
    # given an order page showing version N with an issue form per component, and a change since
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(5), user=planner
    )
    order = services.production_order_release(order_id=order.pk, user=planner)
    component = order.components.get(item=plant.part_lot)
    client = client_for(Role.PLANNER)
    shown = client.get(f"/production/orders/{order.pk}/").content.decode()
    issue_form = shown[shown.index(f"/production/orders/{order.pk}/issue/") :].split("</form>")[0]
    assert f'name="version" value="{order.version}"' in issue_form
    services.production_order_update(order_id=order.pk, user=planner, priority=2)

    # when the issue form is posted with the version the page showed
    response = client.post(
        f"/production/orders/{order.pk}/issue/",
        {"version": order.version, "component": component.pk, "quantity": "1"},
        follow=True,
    )

    # then the page says so, and nothing was issued
    assert "changed by someone else" in response.content.decode()
    component.refresh_from_db()
    assert component.issued_quantity == 0


def test_issue_from_a_current_page_goes_through(client_for, plant, planner):
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(5), user=planner
    )
    order = services.production_order_release(order_id=order.pk, user=planner)
    component = order.components.get(item=plant.part_lot)

    response = client_for(Role.PLANNER).post(
        f"/production/orders/{order.pk}/issue/",
        {"version": order.version, "component": component.pk, "quantity": "1"},
        follow=True,
    )

    assert "Material issued." in response.content.decode()
    component.refresh_from_db()
    assert component.issued_quantity == 1


def test_order_command_from_a_current_page_goes_through(client_for, plant, planner):
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(5), user=planner
    )

    client_for(Role.PLANNER).post(f"/production/orders/{order.pk}/release/", {"version": order.version})

    order.refresh_from_db()
    assert order.status == "released"


def test_bulk_release_refuses_an_order_changed_since_the_list_was_shown(client_for, plant, planner):
    # given a list showing two planned orders, one of which another planner changes
    plant.stock()
    kept, changed = (
        services.production_order_create(
            item_id=plant.finished.pk, quantity=Decimal(1), due_date=in_days(5), user=planner
        )
        for _ in range(2)
    )
    client = client_for(Role.PLANNER)
    listed = client.get("/production/orders/").content.decode()
    assert f'name="version-{changed.pk}" value="{changed.version}"' in listed
    services.production_order_update(order_id=changed.pk, user=planner, quantity=Decimal(40))

    # when both are bulk-released with the versions the list showed
    response = client.post(
        "/production/orders/",
        {"order": [kept.pk, changed.pk], f"version-{kept.pk}": kept.version, f"version-{changed.pk}": changed.version},
        follow=True,
    )

    # then the unchanged one is released and the changed one is not, with the reason
    results = {r["number"]: r for r in response.context["results"]}
    assert results[kept.number]["ok"] is True
    assert results[changed.number]["ok"] is False
    assert "changed by someone else" in results[changed.number]["message"]
    changed.refresh_from_db()
    assert changed.status == "planned"


def test_code128_svg_encodes_the_order_number():
    from production.views import code128_svg

    svg = code128_svg("PO-2026-000001")
    assert svg.startswith("<svg")
    # Code 128: start + 14 data + check + stop symbols, 11 modules each (stop 13): bars vary, but
    # the width in modules is fixed by the symbol count.
    assert svg.count("<rect") > 30


def _orders(planner, plant, n):
    for _ in range(n):
        services.production_order_create(
            item_id=plant.finished.pk, quantity=Decimal(1), due_date=in_days(5), user=planner
        )


@pytest.mark.parametrize("path", ["/production/orders/", "/production/gantt/", "/"])
def test_order_pages_query_count_constant(client_for, plant, planner, django_assert_max_num_queries, path):
    client = client_for(Role.PLANNER)
    _orders(planner, plant, 1)
    client.get(path)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert client.get(path).status_code == 200
    _orders(planner, plant, 21)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/inventory/items/", "/planning/work-centers/", "/planning/routings/"])
def test_master_data_pages_query_count_constant(client_for, plant, django_assert_max_num_queries, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.inventory.factories import ItemFactory
    from tests.planning.factories import RoutingFactory, RoutingOperationFactory, WorkCenterFactory

    client = client_for(Role.VIEWER)
    client.get(path)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    for i in range(21):
        item = ItemFactory()
        wc = WorkCenterFactory(code=f"WC-X{i}")
        RoutingOperationFactory(routing=RoutingFactory(item=item), sequence=10, work_center=wc)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(path).status_code == 200


def test_dashboard_load_costs_the_same_queries_for_2_and_for_10_work_centers(client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from planning.scheduling import RequirementSpec
    from planning.services import capacity_requirements_replace
    from tests.planning.factories import WorkCenterFactory

    def add_work_centers(n: int) -> None:
        for _ in range(n):
            wc = WorkCenterFactory()
            capacity_requirements_replace(
                source_type="demo",
                source_id=wc.pk,
                requirements=[RequirementSpec(work_center_id=wc.pk, date=timezone.localdate(), hours=Decimal(3))],
            )

    client = client_for(Role.PLANNER)
    add_work_centers(2)
    client.get("/")
    with CaptureQueriesContext(connection) as for_two:
        assert len(client.get("/").context["load"]) == 2
    add_work_centers(8)
    with CaptureQueriesContext(connection) as for_ten:
        response = client.get("/")

    assert len(response.context["load"]) == 10
    assert all(bucket.required_hours == 3 for _, bucket, _ in response.context["load"])
    assert len(for_ten.captured_queries) == len(for_two.captured_queries)


def _work_center_with_load(hours_on: dict[date, int]) -> WorkCenter:
    """A Mon-Fri 06:00-14:00 work center (8 h a day) with the given required hours per day."""
    from planning.scheduling import RequirementSpec
    from planning.services import capacity_requirements_replace
    from tests.planning.factories import WorkCenterFactory

    wc = WorkCenterFactory()
    capacity_requirements_replace(
        source_type="demo",
        source_id=wc.pk,
        requirements=[RequirementSpec(work_center_id=wc.pk, date=day, hours=Decimal(h)) for day, h in hours_on.items()],
    )
    return wc


MONDAY = "2025-01-06"


def test_capacity_page_costs_the_same_queries_for_2_and_for_10_work_centers(client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(Role.PLANNER)
    for _ in range(2):
        _work_center_with_load({date(2025, 1, 6): 3})
    client.get(f"/planning/capacity/?from={MONDAY}")
    with CaptureQueriesContext(connection) as for_two:
        assert len(client.get(f"/planning/capacity/?from={MONDAY}").context["charts"]) == 2
    for _ in range(8):
        _work_center_with_load({date(2025, 1, 6): 3})
    with CaptureQueriesContext(connection) as for_ten:
        response = client.get(f"/planning/capacity/?from={MONDAY}")

    assert len(response.context["charts"]) == 10
    assert all(c["bars"][0]["b"].required_hours == 3 for c in response.context["charts"])
    assert len(for_ten.captured_queries) == len(for_two.captured_queries)


@pytest.mark.parametrize("bucket", ["day", "week"])
def test_capacity_page_shows_each_work_centers_own_load(client_for, bucket):
    from planning.selectors import work_center_load

    # given one work center loaded 3 h on Monday and one overloaded (10 h of 8) on Tuesday
    light = _work_center_with_load({date(2025, 1, 6): 3})
    heavy = _work_center_with_load({date(2025, 1, 6): 2, date(2025, 1, 7): 10})

    # when the planner opens the chart from that Monday
    response = client_for(Role.PLANNER).get(f"/planning/capacity/?from={MONDAY}&bucket={bucket}")

    # then each chart has that work center's figures, the same as the one-work-center read
    charts = {c["wc"].pk: c for c in response.context["charts"]}
    for wc in (light, heavy):
        shown = [bar["b"] for bar in charts[wc.pk]["bars"]]
        end = date(2025, 1, 26) if bucket == "day" else date(2025, 3, 30)
        assert shown == work_center_load(work_center_id=wc.pk, date_from=date(2025, 1, 6), date_to=end, bucket=bucket)
    html = response.content.decode()
    if bucket == "day":
        assert "Mon 2025-01-06: 3.0 h required / 8.0 h available (37.5 %)" in html
        assert "Tue 2025-01-07: 10.0 h required / 8.0 h available (125.0 %) — OVERLOAD" in html
        assert charts[heavy.pk]["overloads"] == 1
        assert charts[light.pk]["overloads"] == 0
    else:
        assert "Mon 2025-01-06: 3.0 h required / 40.0 h available (7.5 %)" in html
        assert "Mon 2025-01-06: 12.0 h required / 40.0 h available (30.0 %)" in html
        assert charts[heavy.pk]["overloads"] == 0
