"""The planning run pages in real headless Chromium with the real Celery worker."""

from __future__ import annotations

import pytest

from config.roles import Role
from planning.models import PlannedOrder, PlanningRun
from production.models import ProductionOrder
from tests.conftest import login, screenshot
from tests.planning.mrp.conftest import forecast, tree  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.celery
def test_planning_run_start_watch_and_firm_planned_order(page, tree, user_with_role, celery_worker):  # noqa: F811
    # given forecast demand for 10 FIN and a planner
    forecast(tree.fin, d10=10)
    user = user_with_role(Role.PLANNER)
    login(page, user.username)
    page.on("dialog", lambda dialog: dialog.accept())

    # when they start a regenerative run from the Planning page
    page.goto("/")
    page.get_by_role("link", name="Planning", exact=True).click()
    page.get_by_label("Regenerative").check()
    page.get_by_role("button", name="Start planning run").click()

    # then the run's page polls until the worker has finished and shows the summary
    run = PlanningRun.objects.get()
    page.get_by_role("heading", name=f"Planning run {run.pk}").wait_for()
    page.locator('#run-progress [data-status="done"]').wait_for(timeout=30_000)
    run.refresh_from_db()
    assert run.status == "done"
    page.get_by_text("Items planned").wait_for()
    screenshot(page, "planning-run-done")

    # when they open the planned orders, select FIN's and firm it
    page.locator("#run-progress").get_by_role("link", name=f"{run.summary['planned_orders']} planned orders").click()
    fin = PlannedOrder.objects.get(item=tree.fin)
    page.get_by_label(f"Select planned order {fin.pk}").check()
    page.get_by_role("button", name="Firm selected").click()

    # then the production order's number shows and links to it
    page.get_by_text("1 production order created.").wait_for()
    order = ProductionOrder.objects.get()
    assert (order.item_id, order.quantity) == (tree.fin.pk, 10)
    page.get_by_role("link", name=order.number).first.wait_for()
    screenshot(page, "planning-planned-orders-firmed")
    page.get_by_role("link", name=order.number).first.click()
    page.get_by_role("heading", name=order.number).wait_for()
