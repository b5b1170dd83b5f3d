"""Sales orders and posting errors in real headless Chromium."""

from decimal import Decimal

import pytest

from config.roles import Role
from production import services as production_services
from production.enums import PostingStatus
from production.models import Confirmation
from production.services import ConfirmationInput
from sales.models import SalesOrder
from tests.conftest import login, screenshot, wait_until
from tests.inventory.helpers import receive
from tests.production.conftest import in_days

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fill_line(page, n: int, item, quantity: str, date) -> None:
    page.get_by_label(f"Item of line {n}").select_option(label=f"{item.sku} {item.name}")
    page.get_by_label(f"Quantity of line {n}").fill(quantity)
    page.get_by_label(f"Requested date of line {n}").fill(date.isoformat())


@pytest.mark.celery
def test_sales_order_create_confirm_and_see_generated_production_order(page, splant, user_with_role, celery_worker):
    # given a planner
    user = user_with_role(Role.PLANNER)
    login(page, user.username)
    page.on("dialog", lambda dialog: dialog.accept())

    # when they enter a sales order with two lines (adding a third row, left empty)
    page.goto("/sales/orders/")
    page.get_by_role("link", name="New sales order").click()
    page.locator("#id_customer").select_option(label=str(splant.customer))
    page.get_by_label("Customer reference").fill("PO-BROWSER-1")
    _fill_line(page, 1, splant.mts, "3", in_days(7))
    _fill_line(page, 2, splant.mto, "2", in_days(20))
    page.get_by_role("button", name="Add line").click()
    page.get_by_label("Item of line 3").wait_for()
    assert page.get_by_label("Quantity of line 2").input_value() == "2"  # input kept
    screenshot(page, "sales-order-create")
    page.get_by_role("button", name="Create sales order").click()

    # then the draft opens with its two lines
    order = SalesOrder.objects.get()
    page.get_by_role("heading", name=order.number).wait_for()
    assert order.lines.count() == 2

    # when they confirm it, with the real worker generating
    page.get_by_role("button", name="Confirm", exact=True).click()
    page.get_by_text("Order confirmed").wait_for()

    # then the page refreshes by itself until the generated production order shows on the MTO line
    mto_line = order.lines.get(item=splant.mto)
    link = page.locator(f"#line-{mto_line.pk} a").first
    link.wait_for(timeout=30_000)
    order.refresh_from_db()
    assert order.status == "in_production"
    po_number = link.inner_text()
    assert po_number.startswith("PO") or po_number
    assert "reserved" in page.locator(f"#line-{order.lines.get(item=splant.mts).pk}").inner_text()
    screenshot(page, "sales-order-generated")

    # and the link leads to the production order
    link.click()
    page.get_by_role("heading", name=po_number).wait_for()

    # and the list finds it by customer reference
    page.goto("/sales/orders/?q=browser")
    assert order.number in page.get_by_role("row", name=order.number).inner_text()
    screenshot(page, "sales-order-list")


def test_sales_order_form_error_shown_next_to_its_field(page, splant, user_with_role):
    user = user_with_role(Role.PLANNER)
    login(page, user.username)

    # when a line's requested date is in the past
    page.goto("/sales/orders/new/")
    page.locator("#id_customer").select_option(label=str(splant.customer))
    _fill_line(page, 1, splant.mts, "1", in_days(5))
    _fill_line(page, 2, splant.mto, "1", in_days(-3))
    page.get_by_role("button", name="Create sales order").click()

    # then the error sits at line 2's date, tied to it, and nothing was saved
    error = page.locator("#id_lines-1-requested_date_error")
    error.wait_for()
    assert "in the past" in error.inner_text()
    date_input = page.get_by_label("Requested date of line 2")
    assert date_input.get_attribute("aria-invalid") == "true"
    assert "id_lines-1-requested_date_error" in date_input.get_attribute("aria-describedby")
    assert page.get_by_label("Quantity of line 1").input_value() == "1"
    assert not SalesOrder.objects.exists()
    screenshot(page, "sales-order-field-error")


def test_failed_posting_shows_and_retry_posts_it_once_stock_arrived(
    page, plant, user_with_role, celery_worker, django_capture_on_commit_callbacks
):
    # given a confirmation whose backflush failed for lack of P-BACK
    plant.stock(back=1)
    user = user_with_role(Role.PLANNER)
    order = production_services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(30), user=user
    )
    production_services.production_order_release(order_id=order.pk, user=user, force=True, reason="short")
    with django_capture_on_commit_callbacks(execute=False):
        confirmation = production_services.confirmation_create(
            data=ConfirmationInput(operation_id=order.operations.get(sequence=20).pk, good_quantity=Decimal(2)),
            user=user,
        )
    assert production_services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.FAILED

    # when the planner opens the dashboard and follows the failed-posting count
    login(page, user.username)
    page.get_by_role("link", name="1 failed posting").click()
    row = page.get_by_role("row", name=order.number)
    assert "P-BACK" in row.inner_text()
    screenshot(page, "posting-errors")

    # and, once the missing stock has arrived, presses Retry
    receive(plant.part_back, plant.rm, 10)
    row.get_by_role("button", name="Retry").click()

    # then it is posted there and then, and leaves the queue
    page.get_by_text(f"Confirmation {confirmation.pk} of {order.number} is posted.").wait_for()
    page.get_by_text("No failed postings.").wait_for()
    wait_until(lambda: Confirmation.objects.get(pk=confirmation.pk).posting_status == PostingStatus.POSTED)
    screenshot(page, "posting-errors-after-retry")
