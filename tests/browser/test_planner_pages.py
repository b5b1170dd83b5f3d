"""The planner's pages in real headless Chromium."""

from decimal import Decimal

import pytest

from config.roles import Role
from production import services
from production.models import ProductionOrder
from tests.conftest import login, screenshot
from tests.production.conftest import in_days

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_planner_creates_releases_and_sees_reservations(page, plant, user_with_role):
    # given a planner and a plant with stock
    plant.stock()
    user = user_with_role(Role.PLANNER)
    login(page, user.username)
    page.get_by_role("heading", name="Dashboard").wait_for()
    screenshot(page, "pages-dashboard-empty")

    # when they create an order through the form
    page.goto("/production/orders/new/")
    page.get_by_label("Item").select_option(label=str(plant.finished))
    page.get_by_label("Quantity").fill("4")
    page.get_by_label("Due date").fill(in_days(10).isoformat())
    page.get_by_label("Priority").fill("3")
    screenshot(page, "pages-order-create")
    page.get_by_role("button", name="Create order").click()

    # then it opens, and it is in the list
    order = ProductionOrder.objects.get()
    page.get_by_role("heading", name=order.number).wait_for()
    page.goto("/production/orders/")
    row = page.get_by_role("row", name=order.number)
    assert "Planned" in row.inner_text()
    screenshot(page, "pages-order-list")

    # when they open and release it
    page.get_by_role("link", name=order.number).click()
    page.get_by_role("button", name="Release", exact=True).click()
    page.get_by_role("button", name="Confirm release").click()

    # then the components are reserved
    page.get_by_text("Order released: components reserved.").wait_for()
    order.refresh_from_db()
    assert order.status == "released"
    back_row = page.get_by_role("row", name="P-BACK")
    assert "8" in back_row.locator("td").nth(6).inner_text()  # reserved column: 2 per unit x 4
    screenshot(page, "pages-order-detail-released")

    page.goto(f"/production/orders/{order.pk}/traveler/")
    assert page.locator(".barcode svg rect").count() > 20
    screenshot(page, "pages-traveler")


def test_release_with_shortages_shows_the_service_message(page, plant, user_with_role):
    # given an order whose components are not in stock
    user = user_with_role(Role.PLANNER)
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(5), due_date=in_days(10), user=user
    )
    login(page, user.username)

    # when the planner releases it without force
    page.goto(f"/production/orders/{order.pk}/")
    page.get_by_role("button", name="Release", exact=True).click()
    page.get_by_role("button", name="Confirm release").click()

    # then the service's message is shown and the order stays planned
    alert = page.locator(".msg-error")
    alert.wait_for()
    assert "cannot be released" in alert.inner_text()
    assert "P-BACK" in alert.inner_text()
    assert page.locator("tr.short").count() >= 1
    order.refresh_from_db()
    assert order.status == "planned"
    screenshot(page, "pages-release-shortage")


def test_form_error_is_shown_next_to_its_field(page, plant, user_with_role):
    # given a planner on the create form
    user = user_with_role(Role.PLANNER)
    login(page, user.username)
    page.goto("/production/orders/new/")

    # when they submit a bought item and quantity zero
    page.get_by_label("Item").select_option(label=str(plant.part_back))
    page.get_by_label("Quantity").fill("0")
    page.get_by_label("Due date").fill(in_days(5).isoformat())
    page.get_by_role("button", name="Create order").click()

    # then the error sits under the quantity field, linked by aria-describedby, input kept
    quantity = page.get_by_label("Quantity")
    error_id = quantity.get_attribute("aria-describedby")
    assert error_id and "id_quantity_error" in error_id
    assert "must be > 0" in page.locator("#id_quantity_error").inner_text()
    assert quantity.input_value() == "0"
    assert not ProductionOrder.objects.exists()
    screenshot(page, "pages-form-error")


def test_capacity_chart_and_gantt_show_the_scheduled_order(page, plant, user_with_role):
    # given a scheduled order
    user = user_with_role(Role.PLANNER)
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(40), due_date=in_days(7), user=user
    )
    login(page, user.username)

    # when the planner opens the capacity chart
    page.goto("/planning/capacity/")
    # then each work center has a chart with bars
    assert page.locator("figure.chart").count() == 2
    assert page.locator("figure.chart rect.bar").count() > 0
    screenshot(page, "pages-capacity")

    # when they open the Gantt
    page.goto("/production/gantt/")
    bar = page.locator(".g-bar").first
    bar.wait_for()
    assert page.locator(".g-bar").count() == 2
    bar.click()
    page.get_by_text(order.number).first.wait_for()
    screenshot(page, "pages-gantt")

    # and reschedule from the bar's popover
    popover = page.locator(".g-pop:popover-open")
    popover.get_by_label("New due date").fill(in_days(12).isoformat())
    popover.get_by_role("button", name="Reschedule").click()
    page.get_by_text("Rescheduled to").wait_for()
    order.refresh_from_db()
    assert order.due_date == in_days(12)


def test_viewer_sees_no_action_buttons(page, plant, user_with_role):
    planner = user_with_role(Role.PLANNER)
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(9), user=planner
    )
    viewer = user_with_role(Role.VIEWER)
    login(page, viewer.username)

    page.goto(f"/production/orders/{order.pk}/")
    page.get_by_role("heading", name=order.number).wait_for()

    for name in ("Release", "Close", "Cancel order", "Edit", "Reschedule"):
        assert page.get_by_role("button", name=name, exact=True).count() == 0
    page.goto("/production/orders/")
    assert page.get_by_role("button", name="Release selected").count() == 0
    assert page.get_by_role("link", name="New production order").count() == 0
    screenshot(page, "pages-viewer-detail")


def test_operator_gets_403_on_a_planner_page(page, user_with_role):
    operator = user_with_role(Role.OPERATOR)
    login(page, operator.username)

    response = page.goto("/production/orders/")

    assert response.status == 403


def test_master_data_pages(page, plant, user_with_role):
    plant.stock()
    user = user_with_role(Role.VIEWER)
    login(page, user.username)

    page.goto("/inventory/items/")
    page.get_by_role("link", name="FIN").click()
    page.get_by_role("link", name="Version 1").click()
    # the phantom is exploded through: its part shows, the phantom does not
    explosion = page.locator("table.tree")
    assert "P-PHA" in explosion.inner_text()
    assert "PHA " not in explosion.inner_text().replace("P-PHA", "")
    screenshot(page, "pages-bom")
    page.goto(f"/inventory/items/{plant.part_back.pk}/")
    assert "FIN" in page.get_by_role("region", name="Bills of material").inner_text()
    screenshot(page, "pages-item")
    page.goto("/planning/work-centers/")
    assert page.get_by_role("cell", name="WC-A", exact=True).count() == 1
    page.goto("/planning/routings/")
    screenshot(page, "pages-routings")


def test_release_of_an_order_changed_meanwhile_shows_the_stale_message(page, plant, user_with_role):
    # given a planner looking at an order that another planner then changes
    plant.stock()
    user = user_with_role(Role.PLANNER)
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(10), user=user
    )
    login(page, user.username)
    page.goto(f"/production/orders/{order.pk}/")
    page.get_by_role("heading", name=order.number).wait_for()
    services.production_order_update(order_id=order.pk, user=user_with_role(Role.PLANNER), quantity=Decimal(3))

    # when the first planner releases what they saw
    page.get_by_role("button", name="Release", exact=True).click()
    page.get_by_role("button", name="Confirm release").click()

    # then they are told it changed, and the order is not released
    alert = page.locator(".msg-error")
    alert.wait_for()
    assert "changed by someone else" in alert.inner_text()
    order.refresh_from_db()
    assert order.status == "planned"
    screenshot(page, "pages-release-stale-version")


def test_planner_reverses_a_confirmation_giving_a_reason_in_a_dialog(page, plant, user_with_role):
    from production.models import Confirmation
    from production.services import ConfirmationInput

    # given an order with a posted confirmation
    plant.stock()
    user = user_with_role(Role.PLANNER)
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(4), due_date=in_days(10), user=user
    )
    services.production_order_release(order_id=order.pk, user=user)
    confirmation = services.confirmation_create(
        data=ConfirmationInput(operation_id=order.operations.get(sequence=20).pk, good_quantity=Decimal(2)),
        user=user,
    )
    services.confirmation_post(confirmation_id=confirmation.pk)
    login(page, user.username)
    page.goto(f"/production/orders/{order.pk}/")

    # when they reverse it, the dialog asks why
    page.get_by_role("row", name=f"{confirmation.pk}").get_by_role("button", name="Reverse").click()
    dialog = page.get_by_role("dialog", name=f"Reverse confirmation #{confirmation.pk}?")
    dialog.get_by_label("Reason").fill("booked on the wrong order")
    screenshot(page, "pages-reverse-dialog")
    dialog.get_by_role("button", name="Confirm reversal").click()

    # then it is reversed with that reason, posted, and the order's reservation is back
    page.get_by_text("Confirmation reversed").wait_for()
    reversal = Confirmation.objects.get(reversal_of=confirmation)
    assert reversal.reason == "booked on the wrong order"
    assert reversal.posting_status == "posted"
    back_row = page.get_by_role("row", name="P-BACK")
    assert "8" in back_row.locator("td").nth(6).inner_text()  # reserved again: 2 per unit x 4


def test_planner_merges_an_order_through_the_dialog_and_splits_one_off(page, plant, user_with_role):
    # given two planned orders for the same item
    user = user_with_role(Role.PLANNER)
    target = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(4), due_date=in_days(20), user=user
    )
    source = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(10), user=user
    )
    login(page, user.username)

    # when the planner opens the merge dialog, which loads the candidates, and merges one
    page.goto(f"/production/orders/{target.pk}/")
    page.get_by_role("button", name="Merge…").click()
    page.get_by_label(source.number).check()
    screenshot(page, "pages-order-merge-dialog")
    page.get_by_role("button", name="Merge", exact=True).click()

    # then the order carries both, and shows the merged order with its share
    page.get_by_text(f"Merged 1 order into {target.number}.").wait_for()
    panel = page.get_by_role("region", name="Merged orders")
    assert source.number in panel.inner_text()
    target.refresh_from_db()
    assert target.quantity == Decimal(6)
    screenshot(page, "pages-order-merged")

    # when they split 1 off through the split dialog
    page.goto(f"/production/orders/{source.pk}/")
    assert "Merged into" in page.content()
    page.goto(f"/production/orders/{target.pk}/")
    assert page.get_by_role("button", name="Split…").count() == 0  # a merge target is not split
    other = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(3), due_date=in_days(20), user=user
    )
    page.goto(f"/production/orders/{other.pk}/")
    page.get_by_role("button", name="Split…").click()
    page.get_by_label("Quantity to split off").fill("1")
    page.get_by_role("button", name="Split", exact=True).click()

    # then the new order is linked
    new = ProductionOrder.objects.get(split_from=other)
    page.get_by_text(f"Split 1 off into {new.number}.").wait_for()
    other.refresh_from_db()
    assert other.quantity == Decimal(2)
