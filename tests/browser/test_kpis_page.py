"""The KPI page in real headless Chromium: the known week, filtered in place by htmx."""

import re

import pytest

from config.roles import Role
from tests.conftest import login, screenshot
from tests.production.kpi_scenario import WEEK_FROM, WEEK_TO, build_week

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_planner_filters_the_kpis_in_place(page, plant, user_with_role):
    # given the known week and a planner on the KPI page for it, reached from the navigation
    planner = user_with_role(Role.PLANNER)
    build_week(plant, planner)
    login(page, planner.username)
    page.get_by_role("link", name="KPIs").click()
    page.get_by_role("heading", name="KPIs").wait_for()
    page.get_by_label("From", exact=True).fill(WEEK_FROM.isoformat())
    page.get_by_label("To", exact=True).fill(WEEK_TO.isoformat())
    page.get_by_role("button", name="Show").click()
    on_time = page.locator('[data-kpi="on-time"] .stat-n')
    page.wait_for_function("document.querySelector('[data-kpi=\"on-time\"] .stat-n').textContent === '66.67 %'")
    assert page.locator('[data-work-center="WC-A"] td').last.inner_text() == "4.00 %"
    screenshot(page, "pages-kpis")
    page.evaluate("window.__stillTheSamePage = true")

    # when they pick a work center: the results change without a page load, the URL follows
    page.get_by_label("Work center", exact=True).select_option(label="WC-A")
    page.wait_for_function("document.querySelector('[data-kpi=\"on-time\"] .stat-n').textContent === '50.00 %'")
    assert on_time.inner_text() == "50.00 %"
    assert page.locator("[data-work-center]").count() == 1
    assert page.evaluate("window.__stillTheSamePage") is True
    assert re.search(rf"work_center={plant.wc_a.pk}", page.url)

    # when they type an unknown item: the error is next to the field and nothing is shown
    page.get_by_label("Item SKU").fill("NOPE")
    page.get_by_label("Item SKU").press("Enter")
    page.get_by_text("No item has the SKU NOPE.").wait_for()
    assert page.locator('[data-kpi="on-time"]').count() == 0
    assert page.evaluate("window.__stillTheSamePage") is True
    screenshot(page, "pages-kpis-error")
