"""The planning REST API: validation as 400 with code and field, nested writes, load,
roles and constant query counts for lists."""

from datetime import date
from decimal import Decimal

import pytest

from planning.enums import RoutingStatus
from planning.models import Routing
from planning.scheduling import RequirementSpec
from planning.selectors import routing_for_item
from planning.services import capacity_requirements_replace
from tests.planning.factories import (
    CalendarFactory,
    ItemFactory,
    RoutingFactory,
    RoutingOperationFactory,
    WorkCenterFactory,
)

pytestmark = pytest.mark.django_db

WEEK = [{"weekday": d, "start_time": "06:00", "end_time": "14:00"} for d in range(5)]


def test_calendar_create_with_nested_shifts_and_exceptions(planner_api):
    body = {
        "code": "5x8",
        "name": "Day shift",
        "shifts": WEEK,
        "exceptions": [{"date_from": "2025-12-24", "date_to": "2025-12-26", "description": "Christmas"}],
    }

    response = planner_api.post("/api/v1/calendars/", body)

    assert response.status_code == 201, response.json()
    assert len(response.json()["shifts"]) == 5
    assert response.json()["weekly_hours"] == "40.00"
    assert response.json()["exceptions"][0]["working"] is False


@pytest.mark.parametrize(
    ("shifts", "exceptions", "code", "field"),
    [
        (
            [*WEEK, {"weekday": 0, "start_time": "13:00", "end_time": "18:00"}],
            [],
            "overlapping_shifts",
            "shifts[5].start_time",
        ),
        (
            WEEK,
            [
                {"date_from": "2025-12-24", "date_to": "2025-12-26"},
                {"date_from": "2025-12-26", "date_to": "2025-12-31"},
            ],
            "overlapping_exceptions",
            "exceptions[1].date_from",
        ),
        ([], [], "zero_capacity_calendar", "shifts"),
    ],
)
def test_calendar_create_refuses_invalid_calendars(planner_api, shifts, exceptions, code, field):
    response = planner_api.post(
        "/api/v1/calendars/", {"code": "BAD", "name": "x", "shifts": shifts, "exceptions": exceptions}
    )

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert field in response.json()["fields"]


def test_work_center_create_and_refuses_zero_efficiency(planner_api):
    calendar = CalendarFactory()
    body = {"code": "WC-X", "name": "X", "calendar": calendar.pk, "efficiency_pct": "0", "parallel_units": 1}

    bad = planner_api.post("/api/v1/work-centers/", body)
    good = planner_api.post("/api/v1/work-centers/", {**body, "efficiency_pct": "95"})

    assert bad.status_code == 400
    assert "efficiency_pct" in bad.json()["fields"]
    assert good.status_code == 201
    assert good.json()["calendar_code"] == calendar.code


def test_viewer_may_read_but_not_write(viewer_api):
    assert viewer_api.get("/api/v1/work-centers/").status_code == 200
    assert viewer_api.post("/api/v1/cost-centers/", {"code": "X", "name": "X"}).status_code == 403


def _routing_body(item, wc, **op):
    return {
        "item": item.pk,
        "valid_from": "2025-01-01",
        "operations": [
            {"sequence": 10, "work_center": wc.pk, "setup_minutes": "20", "run_minutes_per_unit": "6", **op},
        ],
    }


def test_routing_create_activate_and_routing_for_item(planner_api):
    # given
    item, wc = ItemFactory(), WorkCenterFactory()

    # when
    created = planner_api.post(
        "/api/v1/routings/",
        _routing_body(item, wc, work_instructions="See https://docs/x.pdf", reporting_point=True),
    )
    activated = planner_api.post(f"/api/v1/routings/{created.json()['id']}/activate/")

    # then
    assert created.status_code == 201, created.json()
    assert created.json()["version"] == 1
    assert created.json()["operations"][0]["work_center_code"] == wc.code
    assert activated.status_code == 200
    assert activated.json()["status"] == "active"
    found = routing_for_item(item_id=item.pk, on_date=date(2025, 6, 1))
    assert found is not None and found.pk == created.json()["id"]
    assert routing_for_item(item_id=item.pk, on_date=date(2024, 12, 31)) is None


def test_routing_activate_refuses_overlapping_active_version(planner_api):
    item = ItemFactory()
    RoutingOperationFactory(routing=RoutingFactory(item=item, version=1, status=RoutingStatus.ACTIVE))
    draft = RoutingFactory(item=item, version=2, status=RoutingStatus.DRAFT, valid_from=date(2025, 1, 1))
    RoutingOperationFactory(routing=draft)

    response = planner_api.post(f"/api/v1/routings/{draft.pk}/activate/")

    assert response.status_code == 409
    assert response.json()["code"] == "overlapping_routing"


def test_active_routing_is_not_editable(planner_api):
    routing = RoutingFactory(status=RoutingStatus.ACTIVE)

    response = planner_api.patch(f"/api/v1/routings/{routing.pk}/", {"description": "x"})

    assert response.status_code == 409
    assert response.json()["code"] == "routing_not_draft"


def test_routing_refuses_inactive_work_center(planner_api):
    item, wc = ItemFactory(), WorkCenterFactory(is_active=False)

    response = planner_api.post("/api/v1/routings/", _routing_body(item, wc))

    assert response.status_code == 400
    assert response.json()["code"] == "inactive_work_center"
    assert "operations[0].work_center" in response.json()["fields"]
    assert wc.code in response.json()["message"] or str(wc.pk) in response.json()["message"]
    assert not Routing.objects.exists()


@pytest.mark.parametrize("field", ["setup_minutes", "run_minutes_per_unit", "queue_minutes", "move_minutes"])
def test_routing_refuses_negative_times(planner_api, field):
    item, wc = ItemFactory(), WorkCenterFactory()

    response = planner_api.post("/api/v1/routings/", _routing_body(item, wc, **{field: "-1"}))

    assert response.status_code == 400
    assert response.json()["code"] == "negative_time"
    assert f"operations[0].{field}" in response.json()["fields"]


def test_work_center_load_endpoint_shows_overload(viewer_api):
    # given Monday 2025-01-06 loaded with 10 h on an 8 h/day work center
    wc = WorkCenterFactory()
    capacity_requirements_replace(
        source_type="demo",
        source_id=1,
        requirements=[RequirementSpec(work_center_id=wc.pk, date=date(2025, 1, 6), hours=Decimal(10))],
    )

    # when
    day = viewer_api.get(f"/api/v1/work-centers/{wc.pk}/load/?from=2025-01-06&to=2025-01-12")
    week = viewer_api.get(f"/api/v1/work-centers/{wc.pk}/load/?from=2025-01-06&to=2025-01-19&bucket=week")
    bad = viewer_api.get(f"/api/v1/work-centers/{wc.pk}/load/?from=2025-01-06&to=2025-01-12&bucket=month")

    # then
    assert day.status_code == 200
    assert day.json()["overloaded_periods"] == 1
    monday = day.json()["buckets"][0]
    assert monday == {
        "period_start": "2025-01-06",
        "available_hours": "8.0000",
        "required_hours": "10.0000",
        "overload": True,
        "utilization_pct": "125.0",
    }
    assert [b["period_start"] for b in week.json()["buckets"]] == ["2025-01-06", "2025-01-13"]
    assert week.json()["overloaded_periods"] == 0
    assert bad.status_code == 400
    assert "bucket" in bad.json()["fields"]


def _make_rows(kind: str, n: int) -> None:
    for _ in range(n):
        if kind == "work-centers":
            WorkCenterFactory()
        elif kind == "calendars":
            CalendarFactory()
        elif kind == "cost-centers":
            WorkCenterFactory()
        else:
            routing = RoutingFactory()
            RoutingOperationFactory(routing=routing)
            RoutingOperationFactory(routing=routing)


@pytest.mark.parametrize("kind", ["work-centers", "calendars", "cost-centers", "routings"])
def test_list_query_count_is_constant(planner_api, django_assert_max_num_queries, kind):
    _make_rows(kind, 1)
    with django_assert_max_num_queries(12) as one:
        assert planner_api.get(f"/api/v1/{kind}/").status_code == 200
    _make_rows(kind, 29)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = planner_api.get(f"/api/v1/{kind}/")
    assert response.json()["count"] >= 30
