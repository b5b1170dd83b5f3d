"""The KPI page: cards and the work-center table of the known week, the htmx filter swap,
errors next to the filters, roles, and a query count that does not grow with the data."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.roles import Role
from tests.production.kpi_scenario import WEEK_FROM, WEEK_TO, build_week

URL = "/kpis/"
WEEK = {"date_from": WEEK_FROM.isoformat(), "date_to": WEEK_TO.isoformat()}


@pytest.fixture
def planner_client(planner) -> Client:
    client = Client()
    client.force_login(planner)
    return client


def _card(html: str, kpi: str) -> str:
    match = re.search(rf'data-kpi="{kpi}">(.*?)</div>', html, re.S)
    assert match, kpi
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match[1])).strip()


def _row(html: str, code: str) -> list[str]:
    match = re.search(rf'data-work-center="{code}">(.*?)</tr>', html, re.S)
    assert match, code
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", match[1], re.S)
    ]


def test_the_page_shows_the_week(plant, planner, planner_client):
    build_week(plant, planner)

    response = planner_client.get(URL, WEEK)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<a href="/kpis/" aria-current="page">KPIs</a>' in html
    assert _card(html, "on-time") == "66.67 % On-time completion 2 of 3 completed orders on time"
    assert _card(html, "adherence") == "33.33 % Schedule adherence 1 of 3 within their window"
    assert _card(html, "yield") == "94.12 % Yield 32 good of 34 reported"
    assert _card(html, "scrap") == "5.88 % Scrap rate 2 scrap of 34 reported"
    assert _card(html, "lead-time") == "3.5 d Lead time, release to completion median 3.0 d · 3 orders"
    assert _card(html, "wip") == (
        "9.25 WIP value now, EUR 1 open order: material 27.00 + conversion 19.00 − received 36.75"
    )
    assert _card(html, "cost-variance") == (
        "-52.50 Cost variance, EUR (-30.00 %) 1 order closed: actual 122.50 vs planned 175.00"
    )
    assert _row(html, "WC-A") == [
        "WC-A Work center WC-A",
        "40.0",
        "3.0",
        "7.38 %",
        "4.88 %",
        "87.18 %",
        "94.12 %",
        "4.00 %",
    ]
    assert _row(html, "WC-B")[-1] == "2.55 %"


def test_an_htmx_filter_request_gets_the_results_only(plant, planner, planner_client):
    build_week(plant, planner)

    response = planner_client.get(URL, {**WEEK, "item": "fin2"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert "<html" not in html and 'id="kpi-results"' in html
    assert "<form" not in html  # the form stays as it is in the browser
    assert "item <strong>FIN2</strong>" in html
    assert _card(html, "yield") == "50.00 % Yield 1 good of 2 reported"
    assert _card(html, "wip") == "– WIP value now, EUR no open order"


def test_the_work_center_filter(plant, planner, planner_client):
    build_week(plant, planner)

    html = planner_client.get(URL, {**WEEK, "work_center": plant.wc_a.pk}).content.decode()

    assert "work center <strong>WC-A</strong>" in html
    assert 'data-work-center="WC-B"' not in html
    assert _card(html, "on-time").startswith("50.00 %")


def test_without_filters_the_last_30_days_show_dashes(plant, planner_client):
    html = planner_client.get(URL).content.decode()

    today = dt.date.today()
    assert f'value="{(today - dt.timedelta(days=29)).isoformat()}"' in html
    assert f'value="{today.isoformat()}"' in html
    assert _card(html, "on-time") == "– On-time completion no order completed"
    assert _card(html, "cost-variance") == "– Cost variance, EUR no order closed"
    assert _row(html, "WC-A")[3:] == ["0.00 %", "0.00 %", "–", "–", "–"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "2025-03-09", "date_to": "2025-03-03"}, "Must not be after date_to."),
        ({"date_from": "2020-01-01", "date_to": "2025-03-03"}, "The period spans at most 731 days."),
        ({"item": "NOPE"}, "No item has the SKU NOPE."),
        ({"work_center": "999999"}, "Select a valid choice."),
        ({"date_from": "yesterday"}, "Enter a valid date."),
    ],
)
def test_invalid_filters_are_shown_next_to_the_field(plant, planner_client, params, message):
    response = planner_client.get(URL, {**WEEK, **params})

    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<p id="id_\w+_error" class="field-error" role="alert">[^<]*' + re.escape(message), html)
    assert 'data-kpi="on-time"' not in html


def test_an_htmx_request_sends_the_field_errors_out_of_band(plant, planner_client):
    response = planner_client.get(URL, {**WEEK, "item": "NOPE"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert (
        '<p id="id_item_error" class="field-error" role="alert" hx-swap-oob="true">No item has the SKU NOPE.</p>'
        in html
    )
    # and the other fields' messages are cleared
    assert '<p id="id_date_from_error" class="field-error" role="alert" hx-swap-oob="true" hidden></p>' in html


def test_operators_may_not_see_kpis(user_with_role):
    client = Client()
    client.force_login(user_with_role(Role.OPERATOR))
    assert client.get(URL).status_code == 403


def test_the_query_count_does_not_grow_with_the_data(plant, planner, planner_client):
    with CaptureQueriesContext(connection) as empty:
        planner_client.get(URL, {**WEEK, "item": "FIN"})
    build_week(plant, planner)
    with CaptureQueriesContext(connection) as full:
        html = planner_client.get(URL, {**WEEK, "item": "FIN"}).content.decode()

    assert 'data-work-center="WC-B"' in html
    assert len(full) == len(empty) <= 16
