"""GET /api/v1/kpis/: the figures of the known week, roles, invalid filters, and a query count
that does not grow with the data."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.roles import Role
from tests.production.kpi_scenario import WEEK_FROM, WEEK_TO, build_week

URL = "/api/v1/kpis/"
WEEK = {"date_from": WEEK_FROM.isoformat(), "date_to": WEEK_TO.isoformat()}
# Token and roles (2), item (1), confirmations per work center, work centers, the calendars
# (3) and planned load (1), completed orders, WIP, cost variance (1 each).
QUERIES = 11


def test_the_week_over_the_api(plant, planner, planner_api):
    build_week(plant, planner)

    response = planner_api.get(URL, WEEK)

    assert response.status_code == 200
    body = response.json()
    assert (body["date_from"], body["date_to"], body["item"], body["work_center"]) == (
        "2025-03-03",
        "2025-03-09",
        None,
        None,
    )
    assert body["currency"] == "EUR"
    assert body["on_time_completion"] == {"value": "0.6667", "numerator": 2, "denominator": 3}
    assert body["schedule_adherence"] == {"value": "0.3333", "numerator": 1, "denominator": 3}
    assert body["yield_rate"] == {"value": "0.9412", "numerator": "32.0000", "denominator": "34.0000"}
    assert body["scrap_rate"]["value"] == "0.0588"
    assert body["lead_time"] == {"average_days": "3.5000", "median_days": "3.0000", "count": 3}
    wip = body["wip"]
    assert (wip["value"], wip["material"], wip["conversion"], wip["received"], wip["count"]) == (
        "9.2500",
        "27.0000",
        "19.0000",
        "36.7500",
        1,
    )
    assert body["cost_variance"] == {
        "value": "-52.5000",
        "percent": "-30.00",
        "planned": "175.0000",
        "actual": "122.5000",
        "count": 1,
    }
    wc_a, wc_b = body["work_centers"]
    assert (wc_a["code"], wc_a["available_hours"], wc_a["occupied_hours"]) == ("WC-A", "40.00", "2.95")
    assert wc_a["utilization"] == {"value": "0.0738", "numerator": "177.0000", "denominator": "2400.0000"}
    assert (wc_a["availability"]["value"], wc_a["performance"]["value"], wc_a["quality"]["value"]) == (
        "0.0488",
        "0.8718",
        "0.9412",
    )
    assert (wc_a["oee"], wc_b["oee"]) == ("0.0400", "0.0255")


def test_filters_over_the_api(plant, planner, viewer_api):
    week = build_week(plant, planner)

    by_item = viewer_api.get(URL, {**WEEK, "item": week.fin2.pk}).json()
    by_center = viewer_api.get(URL, {**WEEK, "work_center": plant.wc_a.pk}).json()

    assert (by_item["item"], by_item["item_sku"]) == (week.fin2.pk, "FIN2")
    assert by_item["yield_rate"]["value"] == "0.5000"
    assert by_item["wip"]["value"] is None
    assert (by_center["work_center"], by_center["work_center_code"]) == (plant.wc_a.pk, "WC-A")
    assert by_center["on_time_completion"]["value"] == "0.5000"
    assert [row["code"] for row in by_center["work_centers"]] == ["WC-A"]


def test_no_data_gives_nulls(plant, integration_api):
    body = integration_api.get(URL, WEEK).json()

    assert body["on_time_completion"] == {"value": None, "numerator": 0, "denominator": 0}
    assert body["yield_rate"]["value"] is None
    assert body["lead_time"] == {"average_days": None, "median_days": None, "count": 0}
    assert body["wip"]["value"] is None and body["cost_variance"]["value"] is None
    assert body["cost_variance"]["percent"] is None
    assert body["work_centers"][0]["oee"] is None


@pytest.mark.parametrize("role", [Role.PLANNER, Role.VIEWER, Role.INTEGRATION, Role.ADMIN])
def test_office_roles_read_the_kpis(plant, api_client_for, role):
    assert api_client_for(role).get(URL).status_code == 200


def test_operators_and_strangers_do_not(plant, operator_api, client):
    assert operator_api.get(URL).status_code == 403
    assert client.get(URL).status_code in (401, 403)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2025-13-01"}, "date_from"),
        ({"date_to": "tomorrow"}, "date_to"),
        ({"date_from": "2025-03-09", "date_to": "2025-03-03"}, "date_from"),
        ({"date_from": "2020-01-01", "date_to": "2025-03-03"}, "date_to"),
        ({"item": "abc"}, "item"),
        ({"item": "999999"}, "item"),
        ({"work_center": "999999"}, "work_center"),
        ({"work_center": "0"}, "work_center"),
    ],
)
def test_invalid_filters_give_400_naming_the_field(plant, planner_api, params, field):
    response = planner_api.get(URL, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]
    assert field in body["message"]


def test_the_query_count_does_not_grow_with_the_data(plant, planner, planner_api, django_assert_num_queries):
    with django_assert_num_queries(QUERIES):
        assert planner_api.get(URL, {**WEEK, "item": plant.finished.pk}).status_code == 200

    build_week(plant, planner)
    with CaptureQueriesContext(connection) as queries:
        body = planner_api.get(URL, {**WEEK, "item": plant.finished.pk}).json()

    assert body["lead_time"]["count"] == 2 and len(body["work_centers"]) == 2
    assert len(queries) == QUERIES
