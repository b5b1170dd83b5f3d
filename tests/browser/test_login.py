"""Sign-in in real headless Chromium."""

import pytest

from config.roles import Role
from tests.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_planner_signs_in_and_sees_the_dashboard(page, user_with_role):
    user = user_with_role(Role.PLANNER)

    login(page, user.username)

    page.get_by_role("heading", name="Dashboard").wait_for()
    assert "planner" in page.locator(".who").inner_text()
    screenshot(page, "dashboard")


def test_wrong_password_shows_an_error_and_stays_on_login(page, user_with_role):
    user = user_with_role(Role.VIEWER)

    login(page, user.username, password="wrong")

    assert page.get_by_role("alert").is_visible()
    assert "/login/" in page.url
    screenshot(page, "login-error")


def test_static_assets_are_served_by_the_app(page, user_with_role):
    user = user_with_role(Role.VIEWER)
    login(page, user.username)

    loaded = page.evaluate("typeof window.htmx")

    assert loaded == "object"
