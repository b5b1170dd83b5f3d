"""Shop-floor terminal in headless Chromium at a 10-inch tablet viewport with touch."""

import time
from decimal import Decimal

import pytest
from django.core import signing

from config.roles import Role
from production import services
from production.models import Confirmation, Operator, Terminal
from production.services.floor import operator_pin_set
from tests.conftest import screenshot
from tests.production.conftest import in_days

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def floor(plant, user_with_role):
    plant.stock()
    planner = user_with_role(Role.PLANNER)
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(5), due_date=in_days(10), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    terminal = Terminal.objects.create(code="T-1", name="Line tablet")
    terminal.work_centers.add(plant.wc_a, plant.wc_b)
    user = user_with_role(Role.OPERATOR, first_name="Olga")
    operator = Operator.objects.create(user=user, badge="4711")
    operator.work_centers.add(plant.wc_a, plant.wc_b)
    operator_pin_set(operator_id=operator.pk, pin="2468")
    return {"order": order, "terminal": terminal, "operator": operator, "planner": planner}


@pytest.fixture
def tablet(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800}, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _bind(tablet, terminal, live_server):
    tablet.context.add_cookies(
        [{"name": "floor_terminal", "value": signing.dumps(terminal.pk, salt="floor-terminal"), "url": live_server.url}]
    )


def _pad(tablet, digits: str) -> None:
    for digit in digits:
        tablet.locator(f".numpad .key[data-key='{digit}']").first.tap()


def _sign_in(tablet, badge: str, pin: str) -> None:
    tablet.goto("/floor/")
    tablet.get_by_label("Badge").tap()
    _pad(tablet, badge)
    tablet.get_by_label("PIN").tap()
    _pad(tablet, pin)
    tablet.get_by_role("button", name="Sign in").tap()


def test_operator_confirms_an_operation_from_sign_in_and_sees_it_posted(
    floor, tablet, live_server, celery_worker, plant
):
    _bind(tablet, floor["terminal"], live_server)
    started = time.monotonic()

    _sign_in(tablet, "4711", "2468")
    tablet.get_by_role("heading", name="Work queue").wait_for()
    screenshot(tablet, "floor-queue")
    tablet.get_by_text(f"{floor['order'].number} · op 20").tap()
    tablet.get_by_role("button", name="Start").tap()
    tablet.get_by_role("button", name="Pause").wait_for()
    tablet.get_by_label("Good").tap()
    _pad(tablet, "2")
    # The live preview follows what is typed: 2 good × 2 P-BACK per unit.
    tablet.locator("#preview tr", has_text="P-BACK").locator("td.strong", has_text="4").wait_for()
    screenshot(tablet, "floor-operation")
    tablet.get_by_role("button", name="Confirm").tap()
    tablet.get_by_text("posted ✓").wait_for(timeout=20_000)
    elapsed = time.monotonic() - started

    screenshot(tablet, "floor-confirmed")
    confirmation = Confirmation.objects.get()
    assert confirmation.good_quantity == Decimal(2)
    assert confirmation.operator == floor["operator"].user
    assert confirmation.labor_minutes >= 0
    assert confirmation.posting_status == "posted"
    assert confirmation.clocks.count() == 1
    assert elapsed < 30, f"sign-in to posted took {elapsed:.1f} s"


def test_a_double_tap_on_confirm_confirms_once(floor, tablet, live_server):
    _bind(tablet, floor["terminal"], live_server)
    _sign_in(tablet, "4711", "2468")
    tablet.get_by_role("heading", name="Work queue").wait_for()
    operation = floor["order"].operations.get(sequence=10)
    tablet.goto(f"/floor/operations/{operation.pk}/")
    tablet.get_by_label("Good").tap()
    _pad(tablet, "1")

    tablet.get_by_role("button", name="Confirm").dblclick()
    tablet.get_by_text("Confirmed #").wait_for()
    # A retry after a network drop resends the same key: the server answers with the first one.
    key = tablet.locator("#confirm-form").get_attribute("data-key")
    replay = tablet.evaluate(
        """async ([url, key]) => {
            const csrf = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken'];
            const r = await fetch(url, {method: 'POST', credentials: 'same-origin',
              headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf, 'Idempotency-Key': key},
              body: JSON.stringify({good_quantity: '1', scrap_quantity: '0', final: false})});
            return [r.status, r.headers.get('Idempotent-Replayed')];
        }""",
        [f"/floor/operations/{operation.pk}/confirm/", key],
    )

    assert replay == [201, "true"]
    assert Confirmation.objects.count() == 1


def test_five_wrong_pins_lock_the_badge(floor, tablet, live_server):
    _bind(tablet, floor["terminal"], live_server)

    messages = set()
    for _ in range(5):
        _sign_in(tablet, "4711", "0000")
        tablet.get_by_role("alert").wait_for()
        messages.add(tablet.get_by_role("alert").inner_text())
    _sign_in(tablet, "4711", "2468")  # the right PIN no longer helps
    tablet.get_by_role("alert").wait_for()
    messages.add(tablet.get_by_role("alert").inner_text())
    _sign_in(tablet, "0815", "2468")  # nor does the answer tell a real badge from an unknown one
    tablet.get_by_role("alert").wait_for()
    messages.add(tablet.get_by_role("alert").inner_text())

    assert len(messages) == 1
    assert "locked" in messages.pop()
    assert "/floor/queue/" not in tablet.url
    screenshot(tablet, "floor-locked")


def test_an_operator_guessing_a_planner_page_gets_403(floor, tablet, live_server):
    _bind(tablet, floor["terminal"], live_server)
    _sign_in(tablet, "4711", "2468")
    tablet.get_by_role("heading", name="Work queue").wait_for()

    setup = tablet.goto("/floor/setup/")
    api = tablet.evaluate(
        """async () => (await fetch('/api/v1/production-orders/', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json',
                      'X-CSRFToken': JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || ''},
            body: '{}'})).status"""
    )
    admin = tablet.goto("/admin/")

    assert setup.status == 403
    assert api == 403
    assert "/admin/login/" in tablet.url and admin.status == 200  # not staff: the admin asks for another login


def test_a_device_that_is_not_a_terminal_is_told_so(tablet):
    response = tablet.goto("/floor/")

    assert response.status == 400
    assert tablet.get_by_role("heading", name="This device is not set up as a terminal").is_visible()


def test_a_planner_binds_the_device_to_a_terminal(floor, tablet, plant):
    from tests.conftest import login

    login(tablet, floor["planner"].username)
    tablet.goto("/floor/setup/")
    tablet.get_by_role("button", name="T-1 · Line tablet").tap()

    tablet.get_by_role("heading", name="Sign in").wait_for()
    assert "T-1" in tablet.title()


@pytest.fixture
def small_tablet(browser, live_server):
    """A 10-inch tablet in landscape at 1024×768, the smallest the floor supports."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 768}, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _in_view(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and (box["x"] >= 0 and box["x"] + box["width"] <= size["width"])
    )


def _essentials(page) -> dict:
    return {
        "good": page.get_by_label("Good"),
        "scrap": page.get_by_label("Scrap", exact=True),
        **{f"key {k}": page.locator(f".numpad .key[data-key='{k}']") for k in "0123456789."},
        "delete": page.locator(".numpad .key[data-key='back']"),
        "final": page.get_by_text("Final confirmation"),
        "confirm": page.get_by_role("button", name="Confirm"),
        "status": page.locator("#confirm-status"),
    }


def test_the_operation_page_fits_a_1024x768_tablet_without_scrolling(floor, small_tablet, live_server):
    # given an operation with long work instructions
    operation = floor["order"].operations.get(sequence=10)
    operation.instructions = "\n\n".join(f"Step {n}: check the part against drawing D-{n}." for n in range(1, 41))
    operation.save(update_fields=["instructions"])
    _bind(small_tablet, floor["terminal"], live_server)
    _sign_in(small_tablet, "4711", "2468")
    small_tablet.get_by_role("heading", name="Work queue").wait_for()

    # when the operator opens it
    small_tablet.goto(f"/floor/operations/{operation.pk}/")
    screenshot(small_tablet, "floor-operation-1024x768")

    # then inputs, number pad, Confirm and the posting status are on screen, and the page does not scroll
    outside = [name for name, locator in _essentials(small_tablet).items() if not _in_view(small_tablet, locator)]
    assert outside == []
    assert small_tablet.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
    # the details are beside them, in a pane that scrolls by itself
    small_tablet.get_by_text("Step 40").scroll_into_view_if_needed()
    assert _in_view(small_tablet, small_tablet.get_by_text("Step 40"))
    assert small_tablet.evaluate("window.scrollY") == 0

    # and what the confirm button answers shows next to it
    small_tablet.get_by_label("Good").tap()
    _pad(small_tablet, "1")
    small_tablet.get_by_role("button", name="Confirm").tap()
    small_tablet.get_by_text("Confirmed #").wait_for()
    assert _in_view(small_tablet, small_tablet.locator("#confirm-status"))


@pytest.fixture
def short_floor(plant, user_with_role):
    """A released order whose backflushed part is short: its postings fail."""
    plant.stock(back=1)
    planner = user_with_role(Role.PLANNER)
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(5), due_date=in_days(10), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner, force=True, reason="test shortage")
    terminal = Terminal.objects.create(code="T-1", name="Line tablet")
    terminal.work_centers.add(plant.wc_a, plant.wc_b)
    operator = Operator.objects.create(user=user_with_role(Role.OPERATOR), badge="4711")
    operator.work_centers.add(plant.wc_a, plant.wc_b)
    operator_pin_set(operator_id=operator.pk, pin="2468")
    return {"order": order, "terminal": terminal}


def test_a_failed_posting_stays_on_screen_until_the_operator_acknowledges_it(
    short_floor, small_tablet, live_server, celery_worker
):
    # given an operator on the reporting point, whose backflushed part is short
    operation = short_floor["order"].operations.get(sequence=20)
    _bind(small_tablet, short_floor["terminal"], live_server)
    _sign_in(small_tablet, "4711", "2468")
    small_tablet.get_by_role("heading", name="Work queue").wait_for()
    small_tablet.goto(f"/floor/operations/{operation.pk}/")
    key = small_tablet.locator("#confirm-form").get_attribute("data-key")
    small_tablet.evaluate("window.notReloaded = true")

    # when they confirm 2 good and the posting fails
    small_tablet.get_by_label("Good").tap()
    _pad(small_tablet, "2")
    small_tablet.get_by_role("button", name="Confirm").tap()
    small_tablet.get_by_text("posting FAILED").wait_for(timeout=20_000)
    time.sleep(4)

    # then the message is still there, on screen, with a button to acknowledge it
    assert small_tablet.evaluate("window.notReloaded === true")
    assert small_tablet.get_by_text("posting FAILED").is_visible()
    assert _in_view(small_tablet, small_tablet.locator("#confirm-status"))
    acknowledge = small_tablet.get_by_role("button", name="OK")
    assert _in_view(small_tablet, acknowledge)
    screenshot(small_tablet, "floor-posting-failed-1024x768")
    assert Confirmation.objects.get().posting_status == "failed"

    # and acknowledging it gives a fresh form for the next confirmation
    acknowledge.tap()
    small_tablet.wait_for_function("window.notReloaded === undefined")
    small_tablet.get_by_role("button", name="Confirm").wait_for()
    assert small_tablet.locator("#confirm-form").get_attribute("data-key") != key
    assert small_tablet.get_by_role("button", name="Confirm").is_enabled()


def test_the_number_pad_has_no_decimal_point_for_whole_units_and_the_server_says_why(floor, tablet, live_server, plant):
    # Given the operation screen of an order for FIN, counted in pcs (0 decimals)
    _bind(tablet, floor["terminal"], live_server)
    _sign_in(tablet, "4711", "2468")
    tablet.get_by_role("heading", name="Work queue").wait_for()
    operation = floor["order"].operations.get(sequence=20)
    tablet.goto(f"/floor/operations/{operation.pk}/")

    # Then the pad's decimal point is disabled (in its place, the pad keeps its layout)
    tablet.get_by_role("button", name="Confirm").wait_for()
    point = tablet.locator(".numpad .key[data-key='.']")
    assert point.is_disabled()
    assert tablet.get_by_label("Good").get_attribute("inputmode") == "numeric"
    tablet.get_by_label("Good").tap()
    _pad(tablet, "1")
    point.tap(force=True)  # a tap on the disabled key types nothing
    assert tablet.get_by_label("Good").input_value() == "1"

    # When a fraction is typed anyway (a keyboard), the server's refusal is shown and nothing written
    tablet.get_by_label("Good").fill("0.5")
    tablet.get_by_role("button", name="Confirm").tap()
    tablet.get_by_text("allows 0 decimals").wait_for()
    assert not Confirmation.objects.exists()
    screenshot(tablet, "floor-whole-units")

    # And an item counted in a unit with decimals keeps its decimal point
    from tests.inventory.factories import UnitFactory

    plant.finished.uom = UnitFactory(code="kg", decimals=3)
    plant.finished.save(update_fields=["uom"])
    tablet.reload()
    tablet.get_by_role("button", name="Confirm").wait_for()
    assert tablet.locator(".numpad .key[data-key='.']").is_enabled()
    assert tablet.get_by_label("Good").get_attribute("inputmode") == "decimal"
